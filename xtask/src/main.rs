//! `cargo xtask`: the project's automation, in Rust rather than shell.
//!
//! The pattern is rust-analyzer's: one binary in the workspace, reached through the cargo alias
//! in `.cargo/config.toml`, so every task runs the same way on every machine with nothing but
//! cargo installed. Each task is one module.

#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a task runner talks to its user

mod bench;
mod broker;
mod browser;
mod clients;
mod codegen;
mod exit_codes;
mod fdset;
mod fuzz;
mod go_sdk;
mod header;
mod invariants;
mod modules;
mod run;
mod submodules;
mod test;
mod tidy;
mod tools;
mod wheel;
mod workspace;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "ecsim's project automation")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Regenerate the Rust types of `proto/` (crates/ecsim-proto/src/generated), after editing a
    /// .proto file. `cargo xtask tidy` fails while they are stale.
    Codegen,
    /// Write the AliECS wire schema as a FileDescriptorSet for protobuf tools such as `pq`.
    ///
    /// Then decode a record value with: FDSET_PATH=DIR pq --msgtype events.Event < value.bin
    Fdset {
        /// Directory to write `aliecs.fdset` into (created if missing).
        #[arg(default_value = "target/fdset")]
        dir: PathBuf,
    },
    /// Run every test: the README's test command, and what `.ci/run` runs.
    ///
    /// Installs the tools the tests use when they are missing (pq), then runs the workspace's
    /// tests with cargo-nextest (or `cargo test` where nextest is not installed) and the doc
    /// tests with `cargo test --doc`.
    Test {
        /// Extra arguments for the test runner, after `--` (e.g. a test-name filter).
        #[arg(last = true)]
        runner_args: Vec<String>,
    },
    /// Check formatting (rustfmt) and lints (clippy, warnings denied), as CI does.
    Lint,
    /// Check what no compiler checks: every citation of docs/aliecs.md (§N) names a section,
    /// every Rust file over 600 lines has its reason in ARCHITECTURE.md, the core links no Kafka.
    Tidy,
    /// Run the benchmarks (criterion and end to end, against the embedded broker and tansu),
    /// and rewrite BENCHMARKS.md and the README's performance summary from their figures.
    ///
    /// Takes a few minutes; not part of the tests: figures are not pass/fail.
    Bench {
        /// Write the files from the last run's measurements (`target/criterion`,
        /// `target/bench/end-to-end.json`) instead of measuring again; the kafkajs delivery is
        /// measured anew. For when a late step failed after the long ones had run.
        #[arg(long)]
        reuse: bool,
    },
    /// Run every cargo-fuzz target of `fuzz/` for RUNS inputs each (needs nightly and
    /// cargo-fuzz; outside CI). Fails on the first target that finds a crash.
    Fuzz {
        /// Inputs per target.
        #[arg(long, default_value_t = 1_000_000)]
        runs: u64,
    },
    /// Redraw the README's picture of a report (docs/report.png) with Chromium, as the report
    /// tests open reports (installs Chromium when missing).
    Picture,
    /// The reports of the largest example scenarios: their size and how long Chromium takes
    /// to load them (BENCHMARKS.md, "Reports").
    ReportSizes,
    /// A real Kafka-API broker (tansu) on loopback.
    Broker {
        #[command(subcommand)]
        action: BrokerAction,
    },
}

#[derive(Debug, Subcommand)]
enum BrokerAction {
    /// Install tansu (once; about 11 minutes on 2 cores).
    Install,
    /// Start tansu in the background.
    Start {
        /// The port to listen on.
        #[arg(long, default_value_t = 19092)]
        port: u16,
        /// Keep messages in a SQLite file (target/tansu/tansu.db) across restarts.
        #[arg(long)]
        persistent: bool,
    },
    /// Stop the tansu started by `start`.
    Stop,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Codegen => codegen::write().and_then(|()| {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .ok_or_else(|| anyhow::anyhow!("xtask is not inside the workspace"))?;
            header::write(root)?;
            // The Go SDK's types need protoc; regenerated where it is installed.
            if std::path::Path::new("/usr/bin/protoc").is_file() {
                go_sdk::write()?;
            } else {
                println!("codegen: protoc is not installed: sdk/go/pb left as it is (cargo xtask test checks it)");
            }
            Ok(())
        }),
        Task::Fdset { dir } => fdset::write(&dir),
        Task::Test { runner_args } => test::run(&runner_args),
        Task::Lint => test::lint(),
        Task::Tidy => tidy::run(),
        Task::Bench { reuse } => bench::run(reuse),
        Task::Fuzz { runs } => fuzz::run(runs),
        Task::Picture => browser::picture(),
        Task::ReportSizes => browser::report_sizes(),
        Task::Broker {
            action: BrokerAction::Install,
        } => broker::install(),
        Task::Broker {
            action: BrokerAction::Start { port, persistent },
        } => broker::start(port, persistent),
        Task::Broker {
            action: BrokerAction::Stop,
        } => broker::stop(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
