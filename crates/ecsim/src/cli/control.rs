//! The arguments of the control API's commands: `serve`, and the `coconut`-shaped client
//! (`env`, `info`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::ProducerArgs;

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

    /// How long the task steps of environments created through the API take: `aliecs` (the
    /// default: deploy 20s, configure 30s, start, stop and reset 5s, go_error and release 2s,
    /// in the range of a small physics environment), `fast` (every step 1s or less: a creation
    /// takes 2s, well inside a GUI's 20s deadline), and/or steps, e.g. `--timing
    /// deploy=1s,configure=1s` or `--timing fast,start=3s` (deploy, configure, start, stop,
    /// reset, go_error, release).
    #[arg(long, value_name = "STEP=DURATION,…", value_parser = parse_timing)]
    pub(crate) timing: Option<TimingArg>,

    /// ALICE's detectors and their FLPs, replacing the built-in inventory: a TOML file of
    /// `[detectors]` with a list of host names each (`TPC = ["alio2-cr1-flp001", …]`).
    #[arg(long, value_name = "FILE")]
    pub(crate) inventory: Option<PathBuf>,

    /// Simulated tasks per FLP of environments created through the API.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) tasks_per_host: u16,

    /// Load the plugins of this library too, unconfigured (repeatable).
    #[arg(long = "plugin", value_name = "LIB")]
    pub(crate) plugins: Vec<PathBuf>,

    /// Load the plugins of this library too, each instance in a process of its own
    /// (repeatable): a crash of the library (a Go panic, abort(), a segfault) fails the calls
    /// in flight, and the plugin is started again at its next call, at most 3 times.
    #[arg(long = "plugin-isolated", value_name = "LIB")]
    pub(crate) isolated_plugins: Vec<PathBuf>,

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
        match part {
            "aliecs" => {
                timing = ecsim_core::Timing::default();
                continue;
            }
            "fast" => {
                timing = ecsim_core::Timing::FAST;
                continue;
            }
            _ => {}
        }
        let (step, value) = part.split_once('=').ok_or_else(|| {
            format!("{part:?} is neither a preset (aliecs, fast) nor STEP=DURATION (deploy=1s)")
        })?;
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
    use ecsim_scenario::Speed;
    match text.parse::<f64>() {
        Ok(speed) if (Speed::MIN..=Speed::MAX).contains(&speed) => Ok(speed),
        _ => Err(format!(
            "the speed is between {} and {} (1 is real time): a server runs in real time",
            Speed::MIN,
            Speed::MAX
        )),
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

/// Who a request is from: the `requestUser` every changing request carries, which AliECS writes
/// into its events as `lastRequestUser` and Bookkeeping needs the `externalId` of.
#[derive(Debug, Args)]
pub(crate) struct UserArgs {
    /// The requester's name (also ECSIM_USER).
    #[arg(
        long = "user",
        value_name = "NAME",
        env = "ECSIM_USER",
        default_value = "ecsim"
    )]
    pub(crate) name: String,

    /// The requester's CERN person id (`externalId`; also ECSIM_EXTERNAL_ID), as the Control
    /// GUI sends it. Without it the request carries a name only, as `coconut`'s do, and a
    /// consumer that needs the person (Bookkeeping) cannot tell who it was.
    #[arg(long, value_name = "N", env = "ECSIM_EXTERNAL_ID")]
    pub(crate) external_id: Option<i32>,
}

impl UserArgs {
    /// The request's user.
    pub(crate) fn user(&self) -> ecsim_proto::common::User {
        ecsim_proto::common::User {
            name: self.name.clone(),
            external_id: self.external_id,
            ..Default::default()
        }
    }
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
        #[command(flatten)]
        user: UserArgs,
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
        #[command(flatten)]
        user: UserArgs,
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
        #[command(flatten)]
        user: UserArgs,
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
