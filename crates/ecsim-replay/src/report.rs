//! What a replay did: environments, runs, requests, messages — for people (text) and
//! programs (JSON).

use std::{collections::BTreeMap, fmt};

use serde::Serialize;

/// The outcome of replaying a scenario.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The seed used.
    pub seed: u64,
    /// `virtual` or the speed factor.
    pub speed: String,
    /// Simulated time from the first to the last event.
    pub simulated_ms: u64,
    /// Wall-clock time the replay took.
    pub wall_ms: u64,
    /// What happened to environments.
    pub environments: Environments,
    /// Run numbers handed out.
    pub runs: u32,
    /// What happened to requests.
    pub requests: Requests,
    /// Every plugin function called, with how its calls ended, by plugin then function.
    pub plugin_calls: Vec<PluginCalls>,
    /// The scenario's faults that never struck, in file order (none when the timeline was not
    /// played to its end).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults_not_fired: Vec<UnfiredFault>,
    /// Messages published, per topic.
    pub messages: Messages,
    /// The AliECS ids each scenario environment had, in creation order.
    pub environment_ids: BTreeMap<String, Vec<String>>,
    /// Why the replay stopped before its timeline was done, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
}

/// Why a replay stopped before the end of its timeline.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Stopped {
    /// A signal (Ctrl-C, SIGTERM) asked it to.
    Interrupted,
    /// A panic — a bug in ecsim or in a plugin linked into it — ended it.
    Panicked {
        /// The panic's message.
        message: String,
    },
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stopped::Interrupted => f.write_str("interrupted"),
            Stopped::Panicked { message } => write!(f, "an internal error (panic: {message})"),
        }
    }
}

/// Environments in a report.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Environments {
    /// Created successfully.
    pub created: u64,
    /// Creation failed (and the environment was torn down).
    pub failed_to_create: u64,
    /// Destroyed.
    pub destroyed: u64,
    /// Still alive at the end: name, id, state.
    pub left: Vec<LeftEnvironment>,
}

/// An environment alive at the end.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeftEnvironment {
    /// Its name in the scenario.
    pub name: String,
    /// Its AliECS id.
    pub id: String,
    /// Its state.
    pub state: String,
}

/// Requests in a report.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Requests {
    /// Steps executed.
    pub total: u64,
    /// Steps whose request failed (as it would have in AliECS).
    pub failed: u64,
    /// The first failures, in order (at most [`Requests::MAX_LISTED`]).
    pub failures: Vec<RequestFailure>,
}

impl Requests {
    /// How many failures a report lists.
    pub const MAX_LISTED: usize = 50;
}

/// A request that failed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestFailure {
    /// When, from the start (ms of simulated time).
    pub at_ms: u64,
    /// The step's line in the scenario file.
    pub line: usize,
    /// The environment.
    pub environment: String,
    /// What was asked.
    pub action: String,
    /// What went wrong.
    pub error: String,
}

/// The calls to one plugin function.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PluginCalls {
    /// The plugin (`dcs`).
    pub plugin: String,
    /// The function (`StartOfRun`).
    pub function: String,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed, of every kind (critical or not).
    pub failed: u64,
    /// Of those, calls that panicked.
    pub panicked: u64,
    /// Calls that did not answer within their timeout.
    pub timed_out: u64,
    /// Calls whose isolated plugin process died, or was down.
    pub crashed: u64,
}

impl From<(String, String, ecsim_core::CallCounts)> for PluginCalls {
    fn from((plugin, function, counts): (String, String, ecsim_core::CallCounts)) -> Self {
        Self {
            plugin,
            function,
            calls: counts.calls,
            failed: counts.failed,
            panicked: counts.panicked,
            timed_out: counts.timed_out,
            crashed: counts.crashed,
        }
    }
}

impl PluginCalls {
    /// How the failures divide, in words (`2 panicked, 1 crashed`); empty when none is special.
    fn kinds(&self) -> String {
        [
            (self.panicked, "panicked"),
            (self.timed_out, "timed out"),
            (self.crashed, "crashed"),
        ]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// A scenario fault that never struck.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnfiredFault {
    /// The line of its `[[fault]]`.
    pub line: usize,
    /// Its service (`dcs`, `tasks`).
    pub service: String,
    /// Its operation (`StartOfRun`, `START_ACTIVITY`).
    pub operation: String,
    /// Its outcome (`error`).
    pub outcome: String,
    /// What the run shows of why.
    pub why: String,
}

/// Messages in a report.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Messages {
    /// All of them.
    pub total: u64,
    /// Per topic.
    pub by_topic: BTreeMap<String, u64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let simulated =
            humantime::format_duration(std::time::Duration::from_millis(self.simulated_ms));
        writeln!(
            f,
            "scenario {} (seed {}, {} time): {simulated} simulated in {} ms",
            self.scenario, self.seed, self.speed, self.wall_ms
        )?;
        if let Some(stopped) = &self.stopped {
            writeln!(
                f,
                "stopped early by {stopped}: {} step(s) done; the rest of the timeline was not played",
                self.requests.total
            )?;
        }
        let e = &self.environments;
        writeln!(
            f,
            "environments: {} created, {} failed to create, {} destroyed, {} left",
            e.created,
            e.failed_to_create,
            e.destroyed,
            e.left.len()
        )?;
        for left in e.left.iter().take(10) {
            writeln!(f, "  {} ({}) left {}", left.name, left.id, left.state)?;
        }
        if e.left.len() > 10 {
            writeln!(f, "  … and {} more", e.left.len() - 10)?;
        }
        writeln!(f, "runs: {}", self.runs)?;
        writeln!(
            f,
            "requests: {} ({} failed)",
            self.requests.total, self.requests.failed
        )?;
        for failure in self.requests.failures.iter().take(10) {
            let at = humantime::format_duration(std::time::Duration::from_millis(failure.at_ms));
            writeln!(
                f,
                "  line {} at {at}: {} {}: {}",
                failure.line,
                failure.action,
                failure.environment,
                failure.error.lines().next().unwrap_or_default()
            )?;
        }
        if !self.plugin_calls.is_empty() {
            let calls: u64 = self.plugin_calls.iter().map(|c| c.calls).sum();
            let failed: u64 = self.plugin_calls.iter().map(|c| c.failed).sum();
            writeln!(f, "plugin calls: {calls} ({failed} failed)")?;
            for function in self.plugin_calls.iter().filter(|c| c.failed > 0) {
                let kinds = function.kinds();
                writeln!(
                    f,
                    "  {}.{}: {} of {} failed{}",
                    function.plugin,
                    function.function,
                    function.failed,
                    function.calls,
                    if kinds.is_empty() {
                        String::new()
                    } else {
                        format!(" ({kinds})")
                    }
                )?;
            }
        }
        for fault in &self.faults_not_fired {
            writeln!(
                f,
                "warning: the fault at line {} ({} {} {}) never struck: {}",
                fault.line, fault.service, fault.operation, fault.outcome, fault.why
            )?;
        }
        writeln!(f, "messages: {}", self.messages.total)?;
        for (topic, count) in &self.messages.by_topic {
            writeln!(f, "  {count:>8}  {topic}")?;
        }
        Ok(())
    }
}
