//! `ecsim`: the command-line front end of the AliECS simulator.
//!
//! The binary is deliberately thin: it parses arguments (clap), sets up logging (tracing), runs
//! one command against the library crates, and turns the outcome into a documented exit code
//! (see [`exit::Exit`]). Everything a command does that is worth testing lives in a library.

mod cli;
mod commands;
mod exit;
mod logging;
mod print;

use std::process::ExitCode;

use clap::Parser as _;

use crate::{cli::Cli, exit::Exit};

// The simulator makes and drops several small allocations for every message it publishes;
// mimalloc makes a replay about 1.4 times as fast as the system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.verbosity);
    let outcome = match cli.command {
        cli::Command::Run(mut args) => {
            args.quiet = cli.verbosity.quiet;
            commands::run::run(&args)
        }
        cli::Command::Validate { scenarios } => commands::validate::run(&scenarios),
        cli::Command::Broker { port, partitions } => commands::broker::run(port, partitions),
        cli::Command::Tail(args) => commands::tail::run(&args),
        cli::Command::Verify(args) => commands::verify::run(&args),
        cli::Command::Record(args) => commands::record::run(&args),
        cli::Command::Replay(args) => commands::replay::run(&args),
        cli::Command::Decode(args) => commands::decode::run(&args),
        cli::Command::Plugin(cli::PluginCommand::Inspect { library, json }) => {
            commands::plugin::inspect(&library, json)
        }
        cli::Command::Serve(args) => commands::serve::run(&args),
        cli::Command::Env(command) => commands::env::run(&command),
        cli::Command::Info { endpoint } => commands::env::info(&endpoint),
    };
    match outcome {
        Ok(()) => Exit::Ok.into(),
        Err(error) => error.report(),
    }
}
