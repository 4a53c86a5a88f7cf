//! Command-line arguments, declared with clap's derive API.
//!
//! Help texts here are the user documentation of each flag; keep them precise.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod control;

pub(crate) use control::{EndpointArgs, EnvCommand, ServeArgs, UserArgs};

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
#[command(after_help = crate::exit::help_text())]
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
    /// Run the embedded broker on its own, for consumers under development (Ctrl-C to stop).
    ///
    /// Prints its bootstrap address (host:port) on stdout.
    Broker {
        /// Listen on this port (default: a free one).
        #[arg(long, value_name = "PORT")]
        port: Option<u16>,
        /// Partitions of the AliECS topics it creates at start.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
        partitions: i32,
        /// The most record bytes it keeps, in MiB: past them a produce is refused with a
        /// message that says so, and nothing stored is dropped.
        #[arg(long, value_name = "MIB", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        max_memory: u64,
    },
    /// Print what AliECS topics hold, one JSON line per message, without joining a consumer
    /// group or committing offsets.
    ///
    /// The value is decoded by topic: aliecs.env_state.*, aliecs.env_leave_state.* and
    /// aliecs.*_start_activity as kafka.NewStateNotification, aliecs.env_list.* as
    /// kafka.ActiveRunsList, other aliecs.* topics and dip.lhc.beam_mode as events.Event.
    Tail(TailArgs),
    /// Check a scenario's expectations against what a broker holds.
    Verify(VerifyArgs),
    /// Capture what a broker's topics hold and receive into a file, one JSON line per record
    /// (topic, partition, offset, timestamp, key, headers, value bytes, and the value decoded
    /// for people), until Ctrl-C or a stop condition.
    Record(RecordArgs),
    /// Publish a recording (from `ecsim record` or `ecsim run --record`) again: the same keys,
    /// value bytes and per-key order, at the recorded pace (or --speed).
    Replay(ReplayArgs),
    /// Check scenario files and report every problem, with file:line:column — and every check
    /// `run` makes before its first step: the plugin libraries load and have what the file
    /// names, each plugin starts with its configuration. "ok" means `run` will start.
    ///
    /// Exits with 0 when every file is valid, 3 when one is not.
    Validate {
        /// The scenario files.
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
        /// A library the scenarios are run with (`run --plugin`), loaded and started as run
        /// would (repeatable).
        #[arg(long = "plugin", value_name = "LIB")]
        plugins: Vec<PathBuf>,
        /// A library the scenarios are run with isolated (`run --plugin-isolated`).
        #[arg(long = "plugin-isolated", value_name = "LIB")]
        isolated_plugins: Vec<PathBuf>,
    },
    /// Decode one protobuf message (raw bytes, as a Kafka record value) and print it as JSON.
    ///
    /// The message type is given with --type, or chosen from the topic the bytes came from
    /// with --topic, as `ecsim tail` does: aliecs.env_state.*, aliecs.env_leave_state.* and
    /// aliecs.*_start_activity carry kafka.NewStateNotification, aliecs.env_list.* carries
    /// kafka.ActiveRunsList, every other aliecs.* topic and dip.lhc.beam_mode carry events.Event.
    Decode(DecodeArgs),
    /// Write AliECS's schema for consumers in any language: the .proto files of what AliECS
    /// writes to Kafka (protos/common.proto, events.proto, kafka.proto) and the compiled
    /// descriptor set (aliecs.binpb), from this binary — no source tree needed. Prints the
    /// files written. Messages: events.Event on aliecs.* topics, kafka.NewStateNotification on
    /// aliecs.env_state.*, aliecs.env_leave_state.* and aliecs.*_start_activity,
    /// kafka.ActiveRunsList on aliecs.env_list.*.
    Proto {
        /// The directory to write into (made if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print the JSON Schema of scenario files, for editors (completion, hover text, checks as
    /// you type): save it, and point taplo at it with a `#:schema scenario.schema.json` first
    /// line or a .taplo.toml rule. The repository ships it as scenarios/scenario.schema.json.
    Schema,
    /// Work with plugin libraries.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Serve AliECS's control API (gRPC, o2control.Control) over a live simulated core, in
    /// real time: anything that drives AliECS — its GUI, coconut, `ecsim env`, a test
    /// harness — creates environments and runs, and their messages go to Kafka as with `run`.
    ///
    /// Prints `{"grpc":"HOST:PORT","broker":"HOST:PORT"}` on stdout once serving. Ctrl-C or
    /// SIGTERM stops it: it lists the environments still alive (they are not destroyed) and
    /// flushes every message to the broker first.
    Serve(ServeArgs),
    /// Drive a control server (ecsim serve, or AliECS itself) as AliECS's `coconut
    /// environment` does.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Show what a control server reports about itself (`coconut info`).
    Info {
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Show what a plugin library declares — ABI and SDK versions, plugins, functions — and
    /// whether this ecsim would load it, with the reason if not.
    ///
    /// Exits with 0 when the library would load, 6 when it would not.
    Inspect {
        /// The library: a path, or the short name of one shipped with ecsim (mock-services).
        #[arg(value_name = "LIB")]
        library: String,
        /// Print the inspection as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check that a plugin library conforms: it loads, each plugin starts, each declared
    /// function answers representative AliECS calls (configure, start and end of run, with
    /// their triggers, variables and a 10 s timeout) in time, with replies that decode, events
    /// on its own topic and no panic; undeclared and undecodable calls fail cleanly; it stops;
    /// instances do not leak. The library runs in a process of its own, so a crash is a
    /// finding.
    ///
    /// Exits with 0 when it conforms, 6 when it does not.
    Check {
        /// The library: a path, or the short name of one shipped with ecsim (mock-services).
        #[arg(value_name = "LIB")]
        library: String,
        /// A plugin's configuration, as a scenario's [plugin.config.NAME] would give it, in JSON
        /// (repeatable): --config example='{"latency":"2s"}'.
        #[arg(long = "config", value_name = "NAME=JSON")]
        config: Vec<String>,
        /// Print the findings as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Start a plugin: write a directory with a plugin in Rust, Go or C — ecsim's example
    /// plugin (a run logbook) under a new name — that builds outside ecsim's repository and
    /// passes `ecsim plugin check`. Prints how to build and check it.
    New {
        /// The plugin's name, as workflow calls write it (`NAME.StartOfRun()`): a lowercase
        /// letter, then lowercase letters, digits or _.
        #[arg(value_name = "NAME")]
        name: String,
        /// Its language.
        #[arg(long, value_enum)]
        lang: Lang,
        /// Where to write it (default: ./NAME); it must not exist, or be empty.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The ecsim source tree whose SDKs the plugin builds on (default: the one this ecsim
        /// was built from).
        #[arg(long, value_name = "DIR")]
        source: Option<PathBuf>,
    },
    /// The host process of an isolated plugin (started by ecsim itself, speaking frames on its
    /// standard input and output; not for people).
    #[command(hide = true)]
    Host {
        /// The library.
        #[arg(value_name = "LIB")]
        library: PathBuf,
    },
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

    /// The first run number handed out, replacing the scenario's `first_run_number` (1 by
    /// default): successive runs against one consumer need not reuse run numbers.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) first_run_number: Option<u32>,

    /// Fail (exit 4) when a `[[fault]]` of the scenario never struck: the failure path it was
    /// written to test did not happen. Without it, such a fault is a warning in the summary.
    #[arg(long)]
    pub(crate) strict: bool,

    /// Load the plugins of this library too, unconfigured (repeatable). A path, relative to the
    /// working directory; workflow calls reach its plugins by name.
    #[arg(long = "plugin", value_name = "LIB")]
    pub(crate) plugins: Vec<PathBuf>,

    /// Load the plugins of this library too, each instance in a process of its own
    /// (repeatable): a crash of the library (a Go panic, abort(), a segfault) fails the calls
    /// in flight, and the plugin is started again at its next call, at most 3 times.
    #[arg(long = "plugin-isolated", value_name = "LIB")]
    pub(crate) isolated_plugins: Vec<PathBuf>,

    /// Speed, replacing the scenario's: 0 for virtual time, 1 for real time, 10 for ten times
    /// faster than real time.
    #[arg(long, value_name = "X", value_parser = parse_speed)]
    pub(crate) speed: Option<f64>,

    /// Where time starts, replacing the scenario's epoch: an RFC 3339 instant in UTC
    /// (2025-06-15T12:00:00Z), or "now" for today's timestamps.
    #[arg(long, value_name = "WHEN", value_parser = parse_epoch)]
    pub(crate) epoch: Option<Epoch>,

    /// Write the summary as JSON: to FILE, or to stderr when FILE is "-" or absent.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub(crate) summary_json: Option<PathBuf>,

    /// Also write every published record to FILE in `ecsim record`'s format, for `ecsim replay`.
    #[arg(long, value_name = "FILE")]
    pub(crate) record: Option<PathBuf>,

    /// Write a report of the run to FILE: one self-contained HTML page with a lane per
    /// environment (its states, runs and failures over simulated time), the messages per topic
    /// and the summary.
    #[arg(long, value_name = "FILE.html")]
    pub(crate) report: Option<PathBuf>,

    /// Serve a live page of the run on this port of 127.0.0.1 (0 for a free one) while it
    /// goes on: environments, states, runs, the timeline growing, the last message of every
    /// topic. Real time only (the scenario's speed or --speed, not virtual time). Its address
    /// is printed on stderr.
    #[arg(long, value_name = "PORT")]
    pub(crate) http_port: Option<u16>,

    #[command(flatten)]
    pub(crate) kafka: ProducerArgs,

    /// Keep the embedded broker running after the replay, whatever its outcome, so that other
    /// programs can read what was published. Its address is the first line of stdout (with
    /// --print, the JSON line {"broker":"…"}). Ctrl-C or SIGTERM stops it; ecsim then exits
    /// with the run's status. Only without --brokers.
    #[arg(long, conflicts_with = "brokers")]
    pub(crate) serve: bool,

    /// The embedded broker's port (default: a free one). Only without --brokers.
    #[arg(long, value_name = "PORT", conflicts_with = "brokers")]
    pub(crate) port: Option<u16>,

    /// No progress bar.
    #[arg(skip)]
    pub(crate) quiet: bool,
}

/// `--epoch`: "now" (the replay's start) or an instant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Epoch {
    Now,
    At(ecsim_core::clock::Timestamp),
}

fn parse_epoch(text: &str) -> Result<Epoch, String> {
    if text.trim() == "now" {
        return Ok(Epoch::Now);
    }
    match ecsim_scenario::parse_epoch(text) {
        Some(epoch) if epoch > ecsim_scenario::LATEST_EPOCH => Err(
            "the epoch is at the latest 2200-01-01T00:00:00Z (timestamps end in 2262)".to_owned(),
        ),
        Some(epoch) => Ok(Epoch::At(epoch)),
        None => Err(
            "the epoch is \"now\" or an RFC 3339 instant in UTC, such as 2025-06-15T12:00:00Z"
                .to_owned(),
        ),
    }
}

/// `--speed`: 0 (virtual time) or a factor within [`ecsim_scenario::Speed`]'s range.
fn parse_speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    ecsim_scenario::Speed::from_factor(speed).map(|_| speed)
}

/// Where to publish, and how.
#[derive(Debug, Args)]
pub(crate) struct ProducerArgs {
    /// Publish to this Kafka cluster (host:port,…) instead of the embedded broker.
    #[arg(long, value_name = "HOST:PORT,…")]
    pub(crate) brokers: Option<String>,

    /// A librdkafka producer property, e.g. -X acks=1 -X compression.type=lz4 (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub(crate) properties: Vec<String>,

    /// Allow a property that loads or runs code or replaces the cluster
    /// (plugin.library.paths, ssl.engine.location, ssl.providers, sasl.kerberos.kinit.cmd,
    /// test.mock.*), refused otherwise (repeatable).
    #[arg(long, value_name = "KEY")]
    pub(crate) allow_property: Vec<String>,

    /// Producer properties from a Java-style .properties file (bootstrap.servers, acks, …).
    #[arg(long, value_name = "FILE")]
    pub(crate) producer_config: Option<PathBuf>,

    /// Partitions of the topics ecsim creates.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) partitions: i32,

    /// Replication factor of the topics ecsim creates.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) replication_factor: i32,

    /// How long to wait for the cluster to answer at start.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) connect_timeout: std::time::Duration,

    /// How long to wait at the end for every message to be acknowledged.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub(crate) flush_timeout: std::time::Duration,
}

/// Where to read from.
#[derive(Debug, Args)]
pub(crate) struct ConsumerArgs {
    /// The Kafka cluster (host:port,…).
    #[arg(long, value_name = "HOST:PORT,…")]
    pub(crate) brokers: Option<String>,

    /// A librdkafka consumer property (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub(crate) properties: Vec<String>,

    /// Allow a property that loads or runs code or replaces the cluster (see `run --help`),
    /// refused otherwise (repeatable).
    #[arg(long, value_name = "KEY")]
    pub(crate) allow_property: Vec<String>,

    /// Consumer properties from a Java-style .properties file.
    #[arg(long, value_name = "FILE")]
    pub(crate) consumer_config: Option<PathBuf>,

    /// How long to wait for the cluster to answer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) connect_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    pub(crate) kafka: ConsumerArgs,

    /// Topics to read: names or patterns with * (repeatable) [default: aliecs.* and dip.lhc.beam_mode].
    #[arg(long = "topic", value_name = "PATTERN")]
    pub(crate) topics: Vec<String>,

    /// Read what the topics already hold, not only what arrives from now on.
    #[arg(long)]
    pub(crate) from_beginning: bool,

    /// Stop after N messages.
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,

    /// Stop when no message arrives for this long (default: follow until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) idle: Option<std::time::Duration>,

    /// Decode every value as this type instead of choosing by topic, e.g. events.Event.
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) message_type: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    #[command(flatten)]
    pub(crate) kafka: ConsumerArgs,

    /// Topics to record: names or patterns with * (repeatable) [default: aliecs.* and dip.lhc.beam_mode].
    #[arg(long = "topic", value_name = "PATTERN")]
    pub(crate) topics: Vec<String>,

    /// Write the recording here (JSON lines); "-" for stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: PathBuf,

    /// Only what arrives from now on, not what the topics already hold.
    #[arg(long, conflicts_with = "to_end")]
    pub(crate) from_now: bool,

    /// Stop once what the topics held when recording started is recorded.
    #[arg(long)]
    pub(crate) to_end: bool,

    /// Stop after N records.
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,

    /// Stop when no record arrives for this long (default: until Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) idle: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The recording: JSON lines from `ecsim record` or `ecsim run --record`.
    pub(crate) recording: PathBuf,

    #[command(flatten)]
    pub(crate) kafka: ProducerArgs,

    /// Pace: 1 keeps the recorded one (default), 10 is ten times faster, 0 as fast as
    /// possible. Timestamps are not changed by the pace.
    #[arg(long, value_name = "X", default_value_t = 1.0, value_parser = parse_speed)]
    pub(crate) speed: f64,

    /// Shift every timestamp so that the first record is stamped at this instant ("now", or
    /// RFC 3339 in UTC), the others keeping their distance to it [default: as recorded].
    #[arg(long, value_name = "WHEN", value_parser = parse_epoch)]
    pub(crate) epoch: Option<Epoch>,

    /// Print every record as a JSON line on stdout as it is published.
    #[arg(long)]
    pub(crate) print: bool,

    /// Write a report of what was replayed to FILE (as `run --report`): a lane per
    /// environment, its states, runs and failures, the messages per topic.
    #[arg(long, value_name = "FILE.html")]
    pub(crate) report: Option<PathBuf>,

    /// Tag each record with the run id it was recorded with (its ecsim.run header), instead of
    /// a new id per recorded run.
    #[arg(long)]
    pub(crate) keep_run_ids: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The scenario whose `[[expect]]` entries to check.
    pub(crate) scenario: PathBuf,

    #[command(flatten)]
    pub(crate) kafka: ConsumerArgs,

    /// Write the outcome of every expectation as JSON to FILE ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,

    /// Check the run whose records carry this id in their ecsim.run header (`ecsim run`
    /// prints it), or any start of it no other run shares (`--run 0f3c`) [default: the
    /// scenario's latest run on the broker].
    #[arg(long, value_name = "ID")]
    pub(crate) run: Option<String>,

    /// Check the latest run of the scenario of this name (the ecsim.scenario header of its
    /// records) [default: the file's `[scenario] name`]. Runs of other scenarios on the same
    /// broker are left out.
    #[arg(long = "scenario", value_name = "NAME", conflicts_with = "run")]
    pub(crate) scenario_name: Option<String>,

    /// Give up (exit 1) when reading the topics takes longer than this. Reading ends at the
    /// end the topics had when it started, five seconds later under steady traffic.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub(crate) deadline: std::time::Duration,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    ecsim_core::duration::parse_go_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration; write it as 10s, 2m, 1h30m"))
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

/// The libraries of `--plugin` and `--plugin-isolated`, in that order.
pub(crate) fn libraries(
    plugins: &[PathBuf],
    isolated: &[PathBuf],
) -> Vec<ecsim_replay::plugins::CommandLineLibrary> {
    use ecsim_replay::plugins::CommandLineLibrary;
    plugins
        .iter()
        .cloned()
        .map(CommandLineLibrary::in_process)
        .chain(isolated.iter().cloned().map(CommandLineLibrary::isolated))
        .collect()
}

impl RunArgs {
    /// The libraries given on the command line.
    pub(crate) fn libraries(&self) -> Vec<ecsim_replay::plugins::CommandLineLibrary> {
        libraries(&self.plugins, &self.isolated_plugins)
    }
}

impl ServeArgs {
    /// The libraries given on the command line.
    pub(crate) fn libraries(&self) -> Vec<ecsim_replay::plugins::CommandLineLibrary> {
        libraries(&self.plugins, &self.isolated_plugins)
    }
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

/// The language of a new plugin (`plugin new --lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    /// A Rust crate on `ecsim-plugin-sdk`.
    Rust,
    /// A Go package on ecsim's Go SDK (`sdk/go`), built with cgo.
    Go,
    /// A C file on `ecsim_plugin.h`.
    C,
}
