//! A validated scenario: every name resolved, every time computed, nothing left to check.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use ecsim_core::{
    DestroyOptions, EnvironmentSpec, TaskFault, TaskFaultOutcome, TaskSelector, clock::Timestamp,
    fsm::Transition,
};
use ecsim_proto::common::{BeamMode, User};
use ecsim_proto::fault::FaultSpec;

/// A scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it was read from, as given (for messages).
    pub file: String,
    /// `[scenario] name`.
    pub name: String,
    /// `[scenario] description`.
    pub description: String,
    /// Seeds every id; `--seed` overrides it.
    pub seed: u64,
    /// The wall-clock instant the simulation starts at.
    pub epoch: Timestamp,
    /// `epoch = "now"` (or `--epoch now`): the replay's own start is the epoch, so that in real
    /// time record timestamps are the wall clock's; the replay (`ecsim-replay`'s `driver::run`) sets `epoch` then.
    pub epoch_now: bool,
    /// How fast simulated time runs.
    pub speed: Speed,
    /// `[scenario] user`: who makes the requests a step does not attribute to someone else
    /// (and the destruction of what is left at the end).
    pub user: User,
    /// The first run number handed out.
    pub first_run_number: u32,
    /// How the Kafka plugin keys its messages.
    pub kafka_keys: KafkaKeys,
    /// AliECS's `integrationPlugins` setting: the plugins loaded, by name, or every plugin
    /// available when `None`. A workflow call to a plugin left out fails ("unknown name"), and
    /// without `lhc` beam dumps stop no run.
    pub integration_plugins: Option<Vec<String>>,
    /// AliECS's `enableKafka` setting: when false, nothing is published — no core event, and the
    /// Kafka plugin does not start.
    pub enable_kafka: bool,
    /// What happens to environments still alive when the timeline is done.
    pub at_end: AtEnd,
    /// The environments, `count` expanded, in file order.
    pub environments: Vec<EnvironmentSpec>,
    /// Every step, repeats expanded, in time order (file order for equal times).
    pub schedule: Vec<ScheduledStep>,
    /// What must (or must not) reach the broker.
    pub expectations: Vec<crate::expect::Expectation>,
    /// Plugin libraries to load (`[[plugin]]`), in file order.
    pub plugins: Vec<PluginLibrary>,
    /// Faults of the integrated services (`[[fault]]`), in file order.
    pub faults: Vec<Fault>,
    /// The directory relative library paths are read from: the scenario file's.
    pub base_dir: PathBuf,
}

/// A plugin library the scenario loads.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginLibrary {
    /// As written: a path, or the short name of a library shipped with ecsim (`mock-services`).
    pub library: String,
    /// Which of its plugins to load (all when `None`).
    pub only: Option<Vec<String>>,
    /// Each plugin's configuration, by plugin name, as JSON.
    pub config: BTreeMap<String, serde_json::Value>,
    /// Whether its plugins run in processes of their own (`isolate = true`).
    pub isolate: bool,
    /// How many times an isolated plugin's process is started again after it dies (`None`:
    /// the default, three).
    pub restarts: Option<u32>,
    /// Where it is declared (1-based line).
    pub line: usize,
}

/// What a fault does to the operation it hits (the contract with the plugins that play it).
pub use ecsim_proto::fault::FaultOutcome;

/// A fault in an integrated service, configured into the plugin of that name.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The plugin it configures (`dcs`).
    pub service: String,
    /// The function it hits (`StartOfRun`).
    pub operation: String,
    /// What happens.
    pub outcome: FaultOutcome,
    /// Only calls of this environment (scenario name).
    pub environment: Option<String>,
    /// Only calls of this run number.
    pub run: Option<u32>,
    /// The detectors concerned (DCS).
    pub detectors: Vec<String>,
    /// How long (`delay`, `partition-error`).
    pub delay: Option<Duration>,
    /// Armed from this time from the start of the scenario.
    pub when: Option<Duration>,
    /// How many calls it hits (all when `None`).
    pub times: Option<u32>,
    /// The service's error message, instead of the default.
    pub message: Option<String>,
    /// Where it is declared (1-based line).
    pub line: usize,
}

impl Fault {
    /// The fault as ecsim's core plays it, when it is one of the environment's tasks
    /// (`service = "tasks"`); `when` made absolute from the scenario's `epoch`.
    pub fn task_fault(&self, epoch: Timestamp) -> Option<TaskFault> {
        if self.service != "tasks" {
            return None;
        }
        let outcome = match self.outcome {
            FaultOutcome::Error => TaskFaultOutcome::Error,
            FaultOutcome::Timeout => TaskFaultOutcome::Timeout,
            _ => return None,
        };
        Some(TaskFault {
            transition: self.operation.to_ascii_uppercase().parse().ok()?,
            outcome,
            line: u32::try_from(self.line).ok(),
            message: self.message.clone(),
            times: self.times,
            from: self.when.map(|when| {
                Timestamp::from_unix_nanos(
                    epoch
                        .unix_nanos()
                        .saturating_add(i64::try_from(when.as_nanos()).unwrap_or(i64::MAX)),
                )
            }),
        })
    }

    /// The fault as the mock services read it (their `faults` configuration), with `when` made
    /// absolute from the scenario's `epoch`.
    pub fn to_json(&self, epoch: Timestamp) -> serde_json::Value {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let spec = FaultSpec {
            operation: self.operation.clone(),
            outcome: self.outcome,
            environment: self.environment.clone(),
            run: self.run,
            detectors: self.detectors.clone(),
            delay_ms: self.delay.map(millis),
            from_ms: self.when.map(|when| {
                epoch
                    .unix_millis()
                    .saturating_add(i64::try_from(when.as_millis()).unwrap_or(i64::MAX))
            }),
            times: self.times,
            message: self.message.clone(),
            line: Some(self.line),
        };
        // A struct of strings and numbers always serializes.
        serde_json::to_value(spec).unwrap_or_default()
    }
}

impl Scenario {
    /// The task faults that apply to the environment `name`: its own and the scenario-wide ones.
    pub fn task_faults_of(&self, name: &str) -> Vec<TaskFault> {
        self.faults
            .iter()
            .filter(|f| f.environment.as_ref().is_none_or(|e| e == name))
            .filter_map(|f| f.task_fault(self.epoch))
            .collect()
    }

    /// When the last step is due, from the start.
    pub fn duration(&self) -> Duration {
        self.schedule.last().map_or(Duration::ZERO, |s| s.at)
    }
}

/// How the Kafka plugin keys its messages (`[scenario] kafka_keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaKeys {
    /// By environment id (`environment`, the default): a consumer's per-environment order holds
    /// on a topic of several partitions.
    EnvironmentId,
    /// No key, as AliECS sends them (`none`).
    None,
}

/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as possible, deterministic (`speed = 0`).
    Virtual,
    /// This many simulated seconds per wall-clock second (`speed = 1` is real time).
    Factor(f64),
}

impl Speed {
    /// The slowest speed: a simulated second lasts 1000 s. Slower, a step's wait would exceed
    /// what the runtime's timers can wait for.
    pub const MIN: f64 = 1e-3;
    /// The fastest speed: a simulated day passes in 86 ms. Faster is virtual time (`0`), which
    /// is faster still and deterministic.
    pub const MAX: f64 = 1e6;

    /// The speed `factor` means: 0 is virtual time, [`Speed::MIN`]..=[`Speed::MAX`] a factor;
    /// anything else (negative, not finite, out of range) is not a speed, and the error says
    /// what is.
    pub fn from_factor(factor: f64) -> Result<Speed, String> {
        if factor == 0.0 {
            Ok(Speed::Virtual)
        } else if (Self::MIN..=Self::MAX).contains(&factor) {
            Ok(Speed::Factor(factor))
        } else {
            Err(format!(
                "the speed must be 0 (virtual time) or between {} and {}",
                Self::MIN,
                Self::MAX
            ))
        }
    }
}

/// What to do with environments still alive at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtEnd {
    /// Leave them as they are (the stream just stops).
    Leave,
    /// Destroy them (stopping runs first), so every run ends with its EOR messages.
    Destroy,
}

/// One request at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledStep {
    /// When, from the start of the scenario.
    pub at: Duration,
    /// The environment it addresses, by name (`None` for scenario-wide steps).
    pub environment: Option<String>,
    /// What to do.
    pub action: Action,
    /// Who asks.
    pub user: User,
    /// Where in the file the step is written (1-based line), for logs and reports.
    pub line: usize,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create the environment (CREATE, DEPLOY, CONFIGURE).
    Create,
    /// A client transition request.
    Transition(Transition),
    /// Destroy the environment.
    Destroy(DestroyOptions),
    /// A task goes to ERROR: its events, then GO_ERROR after half a second, the task named in
    /// the reason.
    GoError(TaskSelector),
    /// Every task reported END_OF_STREAM: the core stops the run.
    EndOfStream {
        /// For the log.
        reason: String,
    },
    /// A task reported TASK_INTERNAL_ERROR: its role goes to ERROR, the core stops the run, then
    /// GO_ERROR.
    TaskInternalError(TaskSelector),
    /// The LHC beam mode changes: a `dip.lhc.beam_mode` message, and runs stopped on a dump.
    BeamMode(Arc<BeamChange>),
    /// Nothing: marks a time (the scenario lasts at least until then).
    Wait,
}

/// A beam mode change, as ALICE's LHC client reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamChange {
    /// The new mode.
    pub mode: BeamMode,
    /// The LHC fill.
    pub fill_number: i32,
    /// The beam type (`p-p`, `Pb-Pb`).
    pub beam_type: String,
    /// The filling scheme.
    pub filling_scheme: String,
}
