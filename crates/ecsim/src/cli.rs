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

/// `ecsim serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A scenario whose setup the server takes (seed, user, first run number, plugins,
    /// `[[plugin]]` libraries, `[[fault]]`s) and whose timeline it plays in the background.
    #[arg(long, value_name = "FILE")]
    pub(crate) scenario: Option<PathBuf>,

    /// Listen for gRPC on this port (AliECS's default 32102; 0 for a free one).
    #[arg(long, value_name = "PORT", default_value_t = ecsim_control::DEFAULT_PORT)]
    pub(crate) grpc_port: u16,

    /// Listen for gRPC on this address (0.0.0.0 to accept other machines).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub(crate) grpc_host: std::net::IpAddr,

    /// Speed of the simulated clock: 1 is real time, 10 ten times faster. Virtual time (0)
    /// does not apply: a server waits for its clients.
    #[arg(long, value_name = "X", value_parser = parse_serve_speed)]
    pub(crate) speed: Option<f64>,

    /// Seed for ids, replacing the scenario's.
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,

    /// How long the task steps of environments created through the API take, e.g.
    /// `--timing deploy=1s,configure=1s` (deploy, configure, start, stop, reset, go_error,
    /// release; default: 20s, 30s, 5s, 5s, 5s, 2s, 2s).
    #[arg(long, value_name = "STEP=DURATION,…", value_parser = parse_timing)]
    pub(crate) timing: Option<TimingArg>,

    /// Simulated tasks per FLP of environments created through the API.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) tasks_per_host: u16,

    /// Load the plugins of this library too, unconfigured (repeatable).
    #[arg(long = "plugin", value_name = "LIB")]
    pub(crate) plugins: Vec<PathBuf>,

    /// Print every published message on stdout, one JSON line each.
    #[arg(long)]
    pub(crate) print: bool,

    /// Serve a live page on this port of 127.0.0.1 (0 for a free one): environments, states,
    /// runs, the timeline, the last message of every topic; environments link to their
    /// GetEnvironment data. Its address is in the announcement, as "http".
    #[arg(long, value_name = "PORT")]
    pub(crate) http_port: Option<u16>,

    #[command(flatten)]
    pub(crate) kafka: ProducerArgs,

    /// The embedded broker's port (default: a free one). Only without --brokers.
    #[arg(long, value_name = "PORT", conflicts_with = "brokers")]
    pub(crate) port: Option<u16>,
}

/// `--timing`: task step durations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimingArg(pub(crate) ecsim_core::Timing);

fn parse_timing(text: &str) -> Result<TimingArg, String> {
    let mut timing = ecsim_core::Timing::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (step, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not STEP=DURATION (deploy=1s)"))?;
        // Go durations, as a scenario's `timing` writes them.
        let duration = ecsim_core::duration::parse_go_duration(value.trim())
            .ok_or_else(|| format!("{step}: {value:?} is not a duration (1s, 500ms, 1m30s)"))?;
        let slot = timing
            .step_mut(step.trim())
            .ok_or_else(|| format!("no step {:?}: {}", step.trim(), ecsim_core::Timing::STEPS))?;
        *slot = duration;
    }
    Ok(TimingArg(timing))
}

fn parse_serve_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed > 0.0 => Ok(speed),
        _ => Err("the speed is a positive number (1 is real time)".to_owned()),
    }
}

/// Where a control server is.
#[derive(Debug, Args)]
pub(crate) struct EndpointArgs {
    /// The control server: host:port or a URL (default: AliECS's, 127.0.0.1:32102; also
    /// ECSIM_ENDPOINT).
    #[arg(
        long,
        value_name = "ENDPOINT",
        env = "ECSIM_ENDPOINT",
        default_value = "127.0.0.1:32102"
    )]
    pub(crate) endpoint: String,

    /// Print replies as JSON (the API's messages, proto3 JSON).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `ecsim env …`, after `coconut environment …`.
#[derive(Debug, Subcommand)]
pub(crate) enum EnvCommand {
    /// List the environments.
    List {
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Show one environment: state, run, detectors, variables, tasks.
    Show {
        /// Its id.
        id: String,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Create an environment and wait until it is CONFIGURED (or failed).
    Create {
        /// The workflow template.
        #[arg(short = 'w', long, default_value = "readout-dataflow")]
        workflow_template: String,
        /// The detectors, comma-separated (sets the `detectors` variable).
        #[arg(short = 'd', long, value_delimiter = ',')]
        detectors: Vec<String>,
        /// A variable, KEY=VALUE (repeatable).
        #[arg(short = 'e', long = "extra-vars", value_name = "KEY=VALUE", value_parser = parse_var)]
        vars: Vec<(String, String)>,
        /// Who asks (the request's user).
        #[arg(long, default_value = "ecsim")]
        user: String,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Request a transition: start, stop, configure, reset, deploy.
    Control {
        /// Its id.
        id: String,
        /// The transition (coconut's -e): START_ACTIVITY or start, STOP_ACTIVITY or stop, …
        #[arg(short = 'e', long = "event", value_parser = parse_transition)]
        event: i32,
        /// Who asks.
        #[arg(long, default_value = "ecsim")]
        user: String,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Destroy an environment.
    Destroy {
        /// Its id.
        id: String,
        /// Stop a RUNNING environment first rather than tear it down while running.
        #[arg(short = 'a', long)]
        allow_in_running_state: bool,
        /// Tear down whatever the state.
        #[arg(short = 'f', long)]
        force: bool,
        /// Leave the tasks running.
        #[arg(short = 'k', long)]
        keep_tasks: bool,
        /// Who asks.
        #[arg(long, default_value = "ecsim")]
        user: String,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

fn parse_transition(text: &str) -> Result<i32, String> {
    use ecsim_proto::o2control::control_environment_request::Optype;
    let upper = text.trim().to_uppercase();
    let optype = match upper.as_str() {
        "START" | "START_ACTIVITY" => Optype::StartActivity,
        "STOP" | "STOP_ACTIVITY" => Optype::StopActivity,
        "CONFIGURE" => Optype::Configure,
        "RESET" => Optype::Reset,
        "DEPLOY" => Optype::Deploy,
        _ => {
            return Err(
                "the transition is one of START_ACTIVITY, STOP_ACTIVITY, CONFIGURE, RESET, DEPLOY (or start, stop)"
                    .to_owned(),
            );
        }
    };
    Ok(optype as i32)
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

    /// Load the plugins of this library too, unconfigured (repeatable). A path, relative to the
    /// working directory; workflow calls reach its plugins by name.
    #[arg(long = "plugin", value_name = "LIB")]
    pub(crate) plugins: Vec<PathBuf>,

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
    ecsim_scenario::parse_epoch(text)
        .map(Epoch::At)
        .ok_or_else(|| {
            "the epoch is \"now\" or an RFC 3339 instant in UTC, such as 2025-06-15T12:00:00Z"
                .to_owned()
        })
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && speed >= 0.0 => Ok(speed),
        _ => Err("the speed is 0 (virtual time) or a positive number (1 is real time)".to_owned()),
    }
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
    /// prints it) [default: the latest run on the broker].
    #[arg(long, value_name = "ID")]
    pub(crate) run: Option<String>,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
