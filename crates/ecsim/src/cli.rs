//! Command-line arguments, declared with clap's derive API.
//!
//! Help texts here are the user documentation of each flag; keep them precise.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ECSIM_GIT_COMMIT"),
    ")\n",
    "wire schema: AliECS (AliceO2Group/Control) events, common and kafka packages, as of 9770b1f5 (2026-08-13)"
);

/// Simulate the ALICE Experiment Control System (AliECS) core and its Kafka events.
///
/// ecsim drives environments through AliECS's state machine, calls integration plugins at
/// AliECS's hook moments and publishes every step as AliECS's protobuf messages on AliECS's
/// Kafka topics, so that consumers and integration plugins can be built and tested without
/// AliECS.
#[derive(Debug, Parser)]
#[command(name = "ecsim", version, long_version = LONG_VERSION, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 invalid input.\n\
Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=ecsim=debug) for fine-grained control."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) verbosity: Verbosity,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How much ecsim logs to stderr.
#[derive(Debug, Args)]
pub(crate) struct Verbosity {
    /// Log more: -v info, -vv debug, -vvv trace. RUST_LOG, when set, takes precedence.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Log only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Replay a scenario on the simulated AliECS and publish what AliECS would publish.
    ///
    /// Runs in virtual time unless the scenario or --speed says otherwise: a ten-minute run
    /// takes milliseconds, and the same scenario and seed give the same messages, byte for byte.
    Run(RunArgs),
    /// Check scenario files and report every problem, with file:line:column.
    Validate {
        /// The scenario files.
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
    },
    /// Decode one protobuf message (raw bytes, as a Kafka record value) and print it as JSON.
    ///
    /// The message type is given with --type, or chosen from the topic the bytes came from
    /// with --topic, as `ecsim tail` does: aliecs.env_state.*, aliecs.env_leave_state.* and
    /// aliecs.*_start_activity carry kafka.NewStateNotification, aliecs.env_list.* carries
    /// kafka.ActiveRunsList, every other aliecs.* topic and dip.lhc.beam_mode carry events.Event.
    Decode(DecodeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The scenario file (TOML; see scenarios/README.md).
    pub(crate) scenario: PathBuf,

    /// Print every published message on stdout, one JSON line each:
    /// {"topic":…,"key":…,"type":…,"value":{…}}.
    #[arg(long)]
    pub(crate) print: bool,

    /// Seed for ids, replacing the scenario's.
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,

    /// Speed, replacing the scenario's: 0 for virtual time, 1 for real time, 10 for ten times
    /// faster than real time.
    #[arg(long, value_name = "X", value_parser = parse_speed)]
    pub(crate) speed: Option<f64>,

    /// Write the summary as JSON: to FILE, or to stderr when FILE is "-" or absent.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub(crate) summary_json: Option<PathBuf>,

    /// No progress bar.
    #[arg(skip)]
    pub(crate) quiet: bool,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed >= 0.0 => Ok(speed),
        _ => Err("the speed is 0 (virtual time) or a positive number (1 is real time)".to_owned()),
    }
}

#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// File holding the message bytes; standard input when absent or "-".
    pub(crate) file: Option<PathBuf>,

    /// Fully qualified message type, e.g. kafka.ActiveRunsList [default: events.Event].
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "topic")]
    pub(crate) message_type: Option<String>,

    /// Choose the message type from the AliECS topic the bytes were read from.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) topic: Option<String>,

    /// Indent the JSON instead of printing it on one line.
    #[arg(long)]
    pub(crate) pretty: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
