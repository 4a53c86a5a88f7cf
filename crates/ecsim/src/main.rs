//! `ecsim`: the command-line front end of the AliECS simulator.
//!
//! The binary is deliberately thin: it parses arguments (clap), sets up logging (tracing), runs
//! one command against the library crates, and turns the outcome into a documented exit code
//! (see [`exit::Exit`]). Everything a command does that is worth testing lives in a library.

#![forbid(unsafe_code)]

#[macro_use]
mod say;
mod cli;
mod commands;
mod exit;
mod logging;
mod print;
mod stop;

use std::process::ExitCode;

use clap::Parser as _;

use crate::{cli::Cli, exit::Exit};

// The simulator makes and drops several small allocations for every message it publishes;
// mimalloc makes a replay about 1.4 times as fast as the system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    stop::install_panic_hook();
    let cli = Cli::parse();
    logging::init(&cli.verbosity);
    // From here, an exit() ecsim did not decide (a plugin library's) is a failure, never 0.
    ecsim_plugin_host::exit_guard::arm(Exit::Plugin.code());
    let status = run(cli);
    ecsim_plugin_host::exit_guard::disarm();
    status
}

/// Runs the command, and turns its outcome (or a panic) into the exit status.
fn run(cli: Cli) -> ExitCode {
    // A panic on this thread ends here; on any thread, it was kept by the hook.
    let outcome = std::panic::catch_unwind(|| dispatch(cli));
    if let Some(panic) = stop::panicked() {
        if let Ok(Err(error)) = outcome {
            sayln!("error: {:#}", anyhow::Error::from(error));
        }
        sayln!(
            "error: ecsim stopped on an internal error ({panic}); what it reported is complete up to there, the rest was not done"
        );
        return Exit::Internal.into();
    }
    match outcome {
        Ok(Ok(())) => Exit::Ok.into(),
        Ok(Err(error)) => error.report(),
        // Unreachable: the hook keeps every panic. Never a success, though.
        Err(_) => Exit::Internal.into(),
    }
}

/// Runs the command `cli` names.
fn dispatch(cli: Cli) -> Result<(), exit::CliError> {
    match cli.command {
        cli::Command::Run(mut args) => {
            args.quiet = cli.verbosity.quiet;
            commands::run::run(&args)
        }
        cli::Command::Validate {
            scenarios,
            plugins,
            isolated_plugins,
        } => commands::validate::run(&scenarios, &cli::libraries(&plugins, &isolated_plugins)),
        cli::Command::Broker {
            port,
            partitions,
            max_memory,
        } => commands::broker::run(port, partitions, max_memory),
        cli::Command::Tail(args) => commands::tail::run(&args),
        cli::Command::Verify(args) => commands::verify::run(&args),
        cli::Command::Record(args) => commands::record::run(&args),
        cli::Command::Replay(args) => commands::replay::run(&args),
        cli::Command::Decode(args) => commands::decode::run(&args),
        cli::Command::Proto { out } => commands::proto::run(&out),
        cli::Command::Schema => commands::schema(),
        cli::Command::Plugin(cli::PluginCommand::Inspect { library, json }) => {
            commands::plugin::inspect(&library, json)
        }
        cli::Command::Plugin(cli::PluginCommand::Check {
            library,
            config,
            json,
        }) => commands::plugin::check(&library, &config, json),
        cli::Command::Plugin(cli::PluginCommand::New {
            name,
            lang,
            dir,
            source,
        }) => commands::plugin_new::new(&name, lang, dir.as_deref(), source.as_deref()),
        cli::Command::Plugin(cli::PluginCommand::Host { library }) => {
            commands::plugin::host(&library)
        }
        cli::Command::Serve(args) => commands::serve::run(&args),
        cli::Command::Env(command) => commands::env::run(&command),
        cli::Command::Info { endpoint } => commands::env::info(&endpoint),
    }
}
