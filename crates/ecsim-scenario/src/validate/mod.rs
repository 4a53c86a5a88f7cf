//! From a scenario file's text to a [`Scenario`], or to every problem in it.
//!
//! Checks, each reported at the offending text:
//! - TOML syntax and unknown keys (with the closest known key as a hint);
//! - values: durations (Go syntax, as AliECS), the epoch (RFC 3339, UTC), speed, seed, run type,
//!   beam mode, actions, call traits and `enabled` conditions, trigger moments;
//! - references: every step names environments that exist; `count` environments have a `{i}`
//!   in their name; removed call roles exist;
//! - time: a step's `at` cannot be earlier than the step before it; a request cannot address an
//!   environment that is not alive then (not yet created, or destroyed); two environments
//!   alive at the same time cannot share a detector.
//!
//! - plugins and faults ([`plugins`]): libraries named, fault outcomes, environments, times.
//!
//! What AliECS would accept and then fail at run time (STOP while CONFIGURED) is not a problem
//! here: the replay does what AliECS does.

use std::{collections::BTreeMap, ops::Range, sync::Arc, time::Duration};

use ecsim_core::{
    DestroyOptions, EnvironmentSpec, TaskSelector, Timing,
    clock::Timestamp,
    condition::Condition,
    duration::parse_go_duration,
    fsm::Transition,
    readout_dataflow,
    workflow::{CallSpec, known_moments, split_func},
};
use ecsim_plugin_kafka::KeyPolicy;
use ecsim_proto::common::{BeamMode, User};
use toml::{Spanned, Value};

mod plugins;
mod users;

use crate::{
    diagnostic::{InvalidScenario, Problem, line_column},
    expect::Expectation,
    model::{Action, AtEnd, BeamChange, Scenario, ScheduledStep, Speed},
    raw::{RawCall, RawEnvironment, RawExpectation, RawHeader, RawScenario, RawStep},
};

/// The task a `go_error` or `task_internal_error` step names: `task` (its role: `readout`,
/// `stfb`, `stfs`, …) and `host`, each optional.
fn task_selector(step: &RawStep) -> TaskSelector {
    let given = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    TaskSelector {
        role: given(&step.task),
        host: given(&step.host),
    }
}

/// Where virtual time starts when the scenario does not say: 2026-01-01T00:00:00Z.
pub const DEFAULT_EPOCH: Timestamp = Timestamp::from_unix_millis(1_767_225_600_000);

/// The most steps a scenario may expand to (repeats × steps × environments). A million steps
/// is a year of runs for dozens of environments; past that, the expanded timeline alone would
/// take gigabytes.
const MAX_STEPS: usize = 1_000_000;
/// The most environments a scenario may define.
const MAX_ENVIRONMENTS: i64 = 100_000;

/// AliECS's run types (`common/runtype`).
const RUN_TYPES: &[&str] = &[
    "NONE",
    "PHYSICS",
    "TECHNICAL",
    "PEDESTAL",
    "PULSER",
    "LASER",
    "CALIBRATION_ITHR_TUNING",
    "CALIBRATION_VCASN_TUNING",
    "CALIBRATION_THR_SCAN",
    "CALIBRATION_DIGITAL_SCAN",
    "CALIBRATION_ANALOG_SCAN",
    "CALIBRATION_FHR",
    "CALIBRATION_ALPIDE_SCAN",
    "CALIBRATION",
    "COSMICS",
    "SYNTHETIC",
    "NOISE",
    "CALIBRATION_PULSE_LENGTH",
    "CALIBRATION_VRESETD",
];

const ACTIONS: &[&str] = &[
    "create",
    "deploy",
    "configure",
    "reset",
    "start",
    "stop",
    "destroy",
    "go_error",
    "end_of_stream",
    "task_internal_error",
    "beam_mode",
    "wait",
];

/// Reads and checks a scenario. `name` is how errors refer to the file (its path).
pub fn parse(name: &str, text: &str) -> Result<Scenario, InvalidScenario> {
    let invalid = |problems: Vec<Problem>| InvalidScenario {
        name: name.to_owned(),
        text: Arc::new(text.to_owned()),
        problems,
    };
    let raw: RawScenario =
        toml::from_str(text).map_err(|error| invalid(vec![toml_problem(text, &error)]))?;
    let mut checker = Checker {
        text,
        problems: Vec::new(),
    };
    let scenario = checker.scenario(raw).map(|scenario| Scenario {
        file: name.to_owned(),
        ..scenario
    });
    let mut problems = checker.problems;
    if problems.is_empty()
        && let Some(scenario) = scenario
    {
        return Ok(scenario);
    }
    problems.sort_by_key(|p| p.span.start);
    problems.dedup();
    Err(invalid(problems))
}

/// A TOML error as a problem, with a hint for an unknown key.
fn toml_problem(text: &str, error: &toml::de::Error) -> Problem {
    let span = error.span().unwrap_or(0..0);
    let message = error.message().trim().to_owned();
    let mut problem = if let Some(rest) = message.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = rest
            .split("expected")
            .nth(1)
            .unwrap_or_default()
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        let mut problem = Problem::new(
            span,
            format!("unknown key `{unknown}`"),
            "ecsim does not know this key here",
        );
        if let Some(closest) = closest(unknown, expected.iter().copied()) {
            problem = problem.help(format!(
                "did you mean `{closest}`? Known keys here: {}",
                expected.join(", ")
            ));
        } else if !expected.is_empty() {
            problem = problem.help(format!("known keys here: {}", expected.join(", ")));
        }
        problem
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let missing = rest.split('`').next().unwrap_or_default();
        Problem::new(
            span,
            format!("`{missing}` is required here"),
            format!("this table needs a `{missing}`"),
        )
    } else {
        Problem::new(
            span,
            format!("this is not valid TOML for a scenario: {message}"),
            "here",
        )
    };
    // An empty span underlines nothing: widen it to the character there (or the last one).
    if problem.span.is_empty() && !text.is_empty() {
        let mut start = problem.span.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut chars = text[start..].chars();
        problem.span = match chars.next() {
            Some(c) => start..start + c.len_utf8(),
            None => {
                let last = text.chars().next_back().map_or(0, char::len_utf8);
                text.len() - last..text.len()
            }
        };
    }
    problem
}

/// The candidate `word` most likely meant: the shortest that contains it (`DUMP` →
/// `BEAM_DUMP`, `before_START` → `before_START_ACTIVITY`), else the nearest by edit distance
/// if near enough to be a typo.
fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let lower = word.to_ascii_lowercase();
    if lower.len() >= 3
        && let Some(containing) = candidates
            .iter()
            .filter(|c| c.to_ascii_lowercase().contains(&lower))
            .min_by_key(|c| c.len())
    {
        return Some(containing);
    }
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn span<T>(value: &Spanned<T>) -> Range<usize> {
    value.span()
}

/// `name` (a name or a pattern, at `at`) names none of the `defined` environments: the
/// problem, with the closest name or, failing one, the names there are.
fn unknown_environment(name: &str, at: Range<usize>, defined: &[Defined]) -> Problem {
    let problem = Problem::new(
        at,
        format!("no environment is called `{name}`"),
        "unknown environment",
    );
    match closest(name, defined.iter().map(|d| d.spec.name.as_str())) {
        Some(close) => problem.help(format!("did you mean `{close}`?")),
        None if defined.is_empty() => {
            problem.help("define environments with [[environment]] sections")
        }
        None => problem.help(format!(
            "environments: {}",
            defined
                .iter()
                .take(10)
                .map(|d| d.spec.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Replaces `{i}` (and `{i:03}`, zero-padded) with `index`.
fn expand(template: &str, index: usize) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{i") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        if let Some(close) = after.find('}') {
            let spec = &after[..close];
            let width = spec
                .strip_prefix(":0")
                .and_then(|w| w.parse::<usize>().ok());
            match (spec, width) {
                ("", _) => out.push_str(&index.to_string()),
                (_, Some(width)) => out.push_str(&format!("{index:0width$}")),
                _ => out.push_str(&rest[start..start + 3 + close]),
            }
            rest = &after[close + 1..];
        } else {
            out.push_str(&rest[start..]);
            rest = "";
        }
    }
    out.push_str(rest);
    out
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

struct Header {
    name: String,
    description: String,
    seed: u64,
    epoch: Timestamp,
    speed: Speed,
    user: User,
    first_run_number: u32,
    at_end: AtEnd,
    kafka_keys: KeyPolicy,
    integration_plugins: Option<Vec<String>>,
    enable_kafka: bool,
}

/// One expanded environment, with where it was defined.
struct Defined {
    spec: EnvironmentSpec,
    detector_spans: Vec<Range<usize>>,
}

impl Checker<'_> {
    fn report(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    fn duration(&mut self, value: &Spanned<String>, what: &str) -> Option<Duration> {
        let parsed = parse_go_duration(value.get_ref().trim());
        if parsed.is_none() {
            self.report(
                Problem::new(span(value), format!("`{}` is not a duration", value.get_ref()), format!("not a {what}"))
                    .help("write durations as Go does: 90s, 10m, 1h30m, 500ms (no spaces, no negative values)"),
            );
        }
        parsed
    }

    fn scenario(&mut self, raw: RawScenario) -> Option<Scenario> {
        let header = self.header(raw.scenario);
        let defined = self.environments(&raw.environments);
        let default_user = header
            .as_ref()
            .map_or_else(users::default_user, |h| h.user.clone());
        let schedule = self.timeline(&raw.timeline, &defined, &default_user);
        self.check_lifetimes(&schedule, &defined);
        let expectations = self.expectations(&raw.expectations, &defined);
        let plugins = self.plugins(&raw.plugins);
        let faults = self.faults(&raw.faults, &defined);
        let header = header?;
        Some(Scenario {
            file: String::new(),
            name: header.name,
            description: header.description,
            seed: header.seed,
            epoch: header.epoch,
            speed: header.speed,
            user: header.user,
            first_run_number: header.first_run_number,
            kafka_keys: header.kafka_keys,
            integration_plugins: header.integration_plugins,
            enable_kafka: header.enable_kafka,
            at_end: header.at_end,
            environments: defined.into_iter().map(|d| d.spec).collect(),
            schedule: schedule.into_iter().map(|(step, _)| step).collect(),
            expectations,
            plugins,
            faults,
            base_dir: std::path::PathBuf::from("."),
        })
    }

    fn header(&mut self, raw: Spanned<RawHeader>) -> Option<Header> {
        let raw = raw.into_inner();
        let name = raw.name.get_ref().trim().to_owned();
        if name.is_empty() {
            self.report(Problem::new(
                span(&raw.name),
                "the scenario needs a name",
                "empty",
            ));
        }
        let seed = match &raw.seed {
            None => 0,
            Some(seed) if *seed.get_ref() < 0 => {
                self.report(
                    Problem::new(span(seed), "the seed cannot be negative", "negative")
                        .help("use any number from 0 to 2^63-1"),
                );
                0
            }
            Some(seed) => *seed.get_ref() as u64,
        };
        let epoch = match &raw.epoch {
            None => DEFAULT_EPOCH,
            Some(epoch) => {
                let text = match epoch.get_ref() {
                    Value::String(text) => text.clone(),
                    Value::Datetime(datetime) => datetime.to_string(),
                    _ => String::new(),
                };
                match humantime::parse_rfc3339_weak(&text) {
                    Ok(time) => {
                        let millis = time
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis())
                            .unwrap_or(0);
                        Timestamp::from_unix_millis(i64::try_from(millis).unwrap_or(i64::MAX))
                    }
                    Err(_) => {
                        self.report(
                            Problem::new(
                                span(epoch),
                                "the epoch is not a UTC date and time",
                                "not an RFC 3339 instant in UTC",
                            )
                            .help("write it as 2025-06-15T12:00:00Z (UTC, with the Z)"),
                        );
                        DEFAULT_EPOCH
                    }
                }
            }
        };
        let speed = match &raw.speed {
            None => Speed::Virtual,
            Some(value) => {
                let number = match value.get_ref() {
                    Value::Integer(i) => Some(*i as f64),
                    Value::Float(f) => Some(*f),
                    _ => None,
                };
                match number {
                    Some(0.0) => Speed::Virtual,
                    Some(n) if n.is_finite() && n > 0.0 => Speed::Factor(n),
                    _ => {
                        self.report(
                            Problem::new(span(value), "the speed must be 0 or a positive number", "not a speed")
                                .help("0 runs in virtual time, as fast as possible; 1 is real time; 10 is ten times faster"),
                        );
                        Speed::Virtual
                    }
                }
            }
        };
        let first_run_number = match &raw.first_run_number {
            None => 1,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    self.report(Problem::new(
                        span(n),
                        "the first run number must be between 1 and 4294967295",
                        "out of range",
                    ));
                    1
                }
            },
        };
        let at_end = match raw.at_end.as_ref().map(|a| (a.get_ref().as_str(), a)) {
            None | Some(("leave", _)) => AtEnd::Leave,
            Some(("destroy", _)) => AtEnd::Destroy,
            Some((_, value)) => {
                self.report(Problem::new(
                    span(value),
                    "`at_end` is `leave` or `destroy`",
                    "unknown choice",
                ));
                AtEnd::Leave
            }
        };
        let kafka_keys = match raw.kafka_keys.as_ref().map(|k| (k.get_ref().as_str(), k)) {
            None | Some(("environment", _)) => KeyPolicy::EnvironmentId,
            Some(("none", _)) => KeyPolicy::Unkeyed,
            Some((_, value)) => {
                self.report(
                    Problem::new(
                        span(value),
                        "`kafka_keys` is `environment` or `none`",
                        "unknown choice",
                    )
                    .help("`none` sends the Kafka plugin's messages without a key, as AliECS does"),
                );
                KeyPolicy::EnvironmentId
            }
        };
        // A user with problems has been reported; the default stands in so checking goes on.
        let user = raw
            .user
            .as_ref()
            .map_or_else(users::default_user, |written| {
                self.user(written).unwrap_or_else(users::default_user)
            });
        let integration_plugins = raw
            .integration_plugins
            .as_ref()
            .map(|names| self.integration_plugins(names));
        Some(Header {
            integration_plugins,
            enable_kafka: raw.enable_kafka.unwrap_or(true),
            name,
            description: raw.description.unwrap_or_default(),
            seed,
            epoch,
            speed,
            user,
            first_run_number,
            at_end,
            kafka_keys,
        })
    }

    fn environments(&mut self, raws: &[Spanned<RawEnvironment>]) -> Vec<Defined> {
        let mut defined: Vec<Defined> = Vec::new();
        // Name → where it was first defined: a scenario may define 100,000 environments.
        let mut names: BTreeMap<String, Range<usize>> = BTreeMap::new();
        for raw in raws {
            let raw = raw.get_ref();
            let count = match &raw.count {
                None => 1,
                Some(count) if (1..=MAX_ENVIRONMENTS).contains(count.get_ref()) => {
                    *count.get_ref() as usize
                }
                Some(count) => {
                    self.report(Problem::new(
                        span(count),
                        format!("`count` must be between 1 and {MAX_ENVIRONMENTS}"),
                        "out of range",
                    ));
                    continue;
                }
            };
            if raw.count.is_some() && !raw.name.get_ref().contains("{i") {
                self.report(
                    Problem::new(
                        span(&raw.name),
                        "with `count`, every environment needs its own name",
                        "no {i} in the name",
                    )
                    .help("put {i} in the name, e.g. \"muon-{i}\" or \"env-{i:03}\""),
                );
                continue;
            }
            let Some(workflow) = self.workflow(raw) else {
                continue;
            };
            let workflow = Arc::new(workflow);
            let vars = self.vars(raw);
            let timing = self.timing(raw);
            let tasks_per_host = match &raw.tasks_per_host {
                None => 3,
                Some(n) if (0..=1000).contains(n.get_ref()) => *n.get_ref() as usize,
                Some(n) => {
                    self.report(Problem::new(
                        span(n),
                        "`tasks_per_host` must be between 0 and 1000",
                        "out of range",
                    ));
                    3
                }
            };
            if raw.detectors.get_ref().is_empty() {
                self.report(Problem::new(
                    span(&raw.detectors),
                    "an environment needs at least one detector",
                    "empty",
                ));
            }
            for index in 1..=count {
                let name = expand(raw.name.get_ref(), index);
                if name.trim().is_empty() {
                    self.report(Problem::new(
                        span(&raw.name),
                        "an environment needs a name",
                        "empty",
                    ));
                    continue;
                }
                if let Some(first) = names.get(&name) {
                    self.report(
                        Problem::new(
                            span(&raw.name),
                            format!("there is already an environment called `{name}`"),
                            "defined again here",
                        )
                        .also(first.clone(), "first defined here"),
                    );
                    continue;
                }
                names.insert(name.clone(), span(&raw.name));
                let mut detectors = Vec::new();
                let mut detector_spans = Vec::new();
                for detector in raw.detectors.get_ref() {
                    let expanded = expand(detector.get_ref(), index);
                    if expanded.trim().is_empty() {
                        self.report(Problem::new(
                            span(detector),
                            "a detector needs a name",
                            "empty",
                        ));
                    } else if detectors.contains(&expanded) {
                        self.report(Problem::new(
                            span(detector),
                            format!("detector `{expanded}` is listed twice"),
                            "again",
                        ));
                    } else {
                        detectors.push(expanded);
                        detector_spans.push(span(detector));
                    }
                }
                let hosts = raw
                    .hosts
                    .as_ref()
                    .map(|hosts| {
                        hosts
                            .get_ref()
                            .iter()
                            .map(|h| expand(h.get_ref(), index))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut spec = EnvironmentSpec::new(name, Arc::clone(&workflow), &[]);
                spec.detectors = detectors;
                spec.hosts = hosts;
                spec.tasks_per_host = tasks_per_host;
                spec.vars = vars.clone();
                spec.timing = timing;
                defined.push(Defined {
                    spec,
                    detector_spans,
                });
            }
        }
        defined
    }

    fn vars(&mut self, raw: &RawEnvironment) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        if let Some(run_type) = &raw.run_type {
            if RUN_TYPES.contains(&run_type.get_ref().as_str()) {
                vars.insert("run_type".to_owned(), run_type.get_ref().clone());
            } else {
                let mut problem = Problem::new(
                    span(run_type),
                    format!("`{}` is not an AliECS run type", run_type.get_ref()),
                    "unknown run type",
                );
                problem = match closest(run_type.get_ref(), RUN_TYPES.iter().copied()) {
                    Some(close) => problem.help(format!("did you mean `{close}`?")),
                    None => problem.help(format!("run types: {}", RUN_TYPES.join(", "))),
                };
                self.report(problem);
            }
        }
        for (key, value) in raw.vars.iter().flat_map(|v| v.get_ref().iter()) {
            let text = match value.get_ref() {
                Value::String(s) => s.clone(),
                Value::Boolean(b) => b.to_string(),
                Value::Integer(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Datetime(d) => d.to_string(),
                Value::Array(_) | Value::Table(_) => {
                    self.report(
                        Problem::new(span(value), format!("variable `{key}` must be a single value"), "a list or table")
                            .help("AliECS variables are strings; write a JSON list as a string: '[\"ITS\",\"TPC\"]'"),
                    );
                    continue;
                }
            };
            vars.insert(key.clone(), text);
        }
        vars
    }

    fn timing(&mut self, raw: &RawEnvironment) -> Timing {
        let mut timing = Timing::default();
        for (key, value) in raw.timing.iter().flat_map(|t| t.get_ref().iter()) {
            let slot = match key.as_str() {
                "deploy" => &mut timing.deploy,
                "configure" => &mut timing.configure,
                "start" => &mut timing.start,
                "stop" => &mut timing.stop,
                "reset" => &mut timing.reset,
                "go_error" => &mut timing.go_error,
                "release" => &mut timing.release,
                _ => {
                    self.report(
                        Problem::new(
                            span(value),
                            format!("unknown task step `{key}` in `timing`"),
                            "not a task step",
                        )
                        .help(
                            "task steps: deploy, configure, start, stop, reset, go_error, release",
                        ),
                    );
                    continue;
                }
            };
            if let Some(duration) = parse_go_duration(value.get_ref().trim()) {
                *slot = duration;
            } else {
                self.duration(value, "duration");
            }
        }
        timing
    }

    fn workflow(&mut self, raw: &RawEnvironment) -> Option<ecsim_core::workflow::Workflow> {
        let mut workflow = readout_dataflow::workflow();
        let mut ok = true;
        for role in &raw.remove_calls {
            if workflow.remove_calls(role.get_ref()) == 0 {
                let top_roles: Vec<&str> = {
                    let mut roles: Vec<&str> = workflow
                        .calls
                        .iter()
                        .filter_map(|c| c.role.split('.').next())
                        .collect();
                    roles.dedup();
                    roles
                };
                self.report(
                    Problem::new(
                        span(role),
                        format!("the workflow has no call role `{}`", role.get_ref()),
                        "nothing to remove",
                    )
                    .help(format!(
                        "call roles of readout-dataflow: {}",
                        top_roles.join(", ")
                    )),
                );
                ok = false;
            }
        }
        for call in &raw.call {
            match self.call(call.get_ref()) {
                Some(spec) => match workflow.calls.iter_mut().find(|c| c.role == spec.role) {
                    Some(existing) => *existing = spec,
                    None => workflow.add_call(spec),
                },
                None => ok = false,
            }
        }
        ok.then_some(workflow)
    }

    fn moment(&mut self, value: &Spanned<String>, what: &str) -> bool {
        let trigger = ecsim_core::trigger::Trigger::parse(value.get_ref());
        let known = known_moments();
        if known.contains(&trigger.moment) {
            return true;
        }
        let mut problem = Problem::new(
            span(value),
            format!(
                "`{}` is not a moment the core raises, so this {what} would never happen",
                trigger.moment
            ),
            "unknown moment",
        );
        problem = match closest(&trigger.moment, known.iter().map(String::as_str)) {
            Some(close) => problem.help(format!("did you mean `{close}`? Moments are before_/after_<EVENT>, enter_/leave_<STATE>, DESTROY")),
            None => problem.help("moments are before_/after_<EVENT>, enter_/leave_<STATE> and DESTROY, with an optional weight: before_START_ACTIVITY+10"),
        };
        self.report(problem);
        false
    }

    fn call(&mut self, raw: &RawCall) -> Option<CallSpec> {
        let mut ok = true;
        if raw.role.get_ref().trim().is_empty() {
            self.report(Problem::new(
                span(&raw.role),
                "a call needs a role name",
                "empty",
            ));
            ok = false;
        }
        if split_func(raw.func.get_ref()).is_none() {
            self.report(
                Problem::new(
                    span(&raw.func),
                    format!("`{}` is not a plugin function call", raw.func.get_ref()),
                    "not plugin.Function()",
                )
                .help("write it as AliECS workflows do: dcs.StartOfRun()"),
            );
            ok = false;
        }
        ok &= self.moment(&raw.trigger, "call");
        if let Some(await_expr) = &raw.await_expr {
            ok &= self.moment(await_expr, "await");
        }
        if let Some(timeout) = &raw.timeout
            && !timeout.get_ref().trim().starts_with("{{")
        {
            ok &= self.duration(timeout, "timeout").is_some();
        }
        let enabled = match &raw.enabled {
            None => Condition::Always,
            Some(text) => match text.get_ref().parse::<Condition>() {
                Ok(condition) => condition,
                Err(error) => {
                    self.report(Problem::new(span(text), format!("cannot read this condition: {}", error.reason), "here").help(
                        "ecsim understands `var == 'value'`, `var != 'value'`, `'DET' in detectors` and `true`, joined with `&&`",
                    ));
                    ok = false;
                    Condition::Always
                }
            },
        };
        let mut spec = CallSpec::new(
            raw.role.get_ref().trim(),
            raw.func.get_ref().trim(),
            raw.trigger.get_ref().trim(),
        )
        .critical(raw.critical.unwrap_or(true))
        .enabled_if(enabled);
        spec.await_expr = raw
            .await_expr
            .as_ref()
            .map(|a| a.get_ref().trim().to_owned());
        if let Some(timeout) = &raw.timeout {
            spec.timeout = timeout.get_ref().trim().to_owned();
        }
        spec.return_var = raw.return_var.clone().filter(|r| !r.is_empty());
        ok.then_some(spec)
    }

    fn line(&self, at: usize) -> usize {
        line_column(self.text, at).0
    }

    /// Expands the timeline into scheduled steps, each with the span it came from.
    fn timeline(
        &mut self,
        raws: &[Spanned<RawStep>],
        defined: &[Defined],
        default_user: &User,
    ) -> Vec<(ScheduledStep, Range<usize>)> {
        let mut schedule = Vec::new();
        let mut cursor = Duration::ZERO;
        for raw in raws {
            if !self.entry(
                raw,
                &mut cursor,
                None,
                defined,
                default_user,
                &mut schedule,
                false,
            ) {
                break;
            }
        }
        // Stable: steps due at the same instant keep their file order.
        schedule.sort_by_key(|(step, _): &(ScheduledStep, Range<usize>)| step.at);
        schedule
    }

    /// One timeline entry (a step or a repeated block); returns false to stop expanding.
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        raw: &Spanned<RawStep>,
        cursor: &mut Duration,
        inherited_env: Option<&Spanned<Value>>,
        defined: &[Defined],
        default_user: &User,
        schedule: &mut Vec<(ScheduledStep, Range<usize>)>,
        inside_block: bool,
    ) -> bool {
        let entry_span = span(raw);
        let step = raw.get_ref();
        match (&step.at, &step.after) {
            (Some(at), Some(_)) => {
                self.report(Problem::new(span(at), "a step has `at` or `after`, not both", "both given").help(
                    "`at` is a time from the start of the scenario; `after` is a delay from the previous step",
                ));
            }
            (Some(at), None) if inside_block => {
                self.report(Problem::new(
                    span(at),
                    "steps inside a repeated block use `after`, not `at`",
                    "absolute time in a block",
                ));
            }
            (Some(at), None) => {
                if let Some(time) = self.duration(at, "time") {
                    if time < *cursor {
                        self.report(
                            Problem::new(
                                span(at),
                                format!(
                                    "this step is at {}, before the previous step (at {})",
                                    humantime::format_duration(time),
                                    humantime::format_duration(*cursor)
                                ),
                                "earlier than the step before",
                            )
                            .help("steps are listed in time order; use `after` for a delay from the previous step"),
                        );
                    } else {
                        *cursor = time;
                    }
                }
            }
            (None, Some(after)) => {
                if let Some(delay) = self.duration(after, "delay") {
                    *cursor += delay;
                }
            }
            (None, None) => {}
        }
        let env_value = step.env.as_ref().or(inherited_env);

        if step.repeat.is_some() || step.steps.is_some() {
            if let Some(action) = &step.action {
                self.report(Problem::new(span(action), "a repeated block has `steps`, not `do`", "`do` in a block").help(
                    "put the actions in `steps = [ { do = \"start\" }, { after = \"10m\", do = \"stop\" } ]`",
                ));
                return true;
            }
            let Some(steps) = &step.steps else {
                self.report(Problem::new(
                    entry_span,
                    "`repeat` needs `steps` to repeat",
                    "no steps",
                ));
                return true;
            };
            let times = match &step.repeat {
                None => 1,
                Some(repeat) if *repeat.get_ref() >= 1 => *repeat.get_ref() as usize,
                Some(repeat) => {
                    self.report(Problem::new(
                        span(repeat),
                        "`repeat` must be 1 or more",
                        "not a count of repetitions",
                    ));
                    return true;
                }
            };
            if steps.get_ref().is_empty() {
                self.report(Problem::new(
                    span(steps),
                    "`steps` is empty",
                    "nothing to repeat",
                ));
                return true;
            }
            if times
                .saturating_mul(steps.get_ref().len())
                .saturating_add(schedule.len())
                > MAX_STEPS
            {
                self.report(
                    Problem::new(
                        entry_span,
                        format!("the timeline expands to more than {MAX_STEPS} steps"),
                        "too many",
                    )
                    .help("lower `repeat`, or split the scenario"),
                );
                return false;
            }
            for _ in 0..times {
                for inner in steps.get_ref() {
                    if !self.entry(
                        inner,
                        cursor,
                        env_value,
                        defined,
                        default_user,
                        schedule,
                        true,
                    ) {
                        return false;
                    }
                }
                if schedule.len() > MAX_STEPS {
                    self.report(
                        Problem::new(
                            entry_span,
                            format!("the timeline expands to more than {MAX_STEPS} steps"),
                            "too many",
                        )
                        .help("lower `repeat`, or split the scenario"),
                    );
                    return false;
                }
            }
            return true;
        }

        let Some(action_text) = &step.action else {
            self.report(
                Problem::new(entry_span, "a step needs `do` (what to do)", "no action")
                    .help(format!("actions: {}", ACTIONS.join(", "))),
            );
            return true;
        };
        let Some(action) = self.action(step, action_text) else {
            return true;
        };
        let scenario_wide = matches!(action, Action::BeamMode(_) | Action::Wait);
        let user = match &step.user {
            None => default_user.clone(),
            Some(written) => match self.user(written) {
                Some(user) => user,
                None => return true,
            },
        };
        let line = self.line(span(action_text).start);
        if scenario_wide {
            if let Some(env) = &step.env {
                self.report(Problem::new(
                    span(env),
                    format!(
                        "`{}` is for the whole scenario, not an environment",
                        action_text.get_ref()
                    ),
                    "remove `env`",
                ));
                return true;
            }
            schedule.push((
                ScheduledStep {
                    at: *cursor,
                    environment: None,
                    action,
                    user,
                    line,
                },
                entry_span,
            ));
            return true;
        }
        let Some(env_value) = env_value else {
            self.report(Problem::new(
                span(action_text),
                "this step needs `env`: the environment it addresses",
                "which environment?",
            ));
            return true;
        };
        let Some(names) = self.resolve_environments(env_value, defined) else {
            return true;
        };
        if let Action::GoError(which) | Action::TaskInternalError(which) = &action {
            for name in &names {
                if let Some(defined) = defined.iter().find(|d| &d.spec.name == name) {
                    self.check_task(which, &defined.spec, span(action_text));
                }
            }
        }
        let stagger = step
            .stagger
            .as_ref()
            .and_then(|s| self.duration(s, "stagger"))
            .unwrap_or(Duration::ZERO);
        for (k, name) in names.into_iter().enumerate() {
            let at = *cursor + stagger * u32::try_from(k).unwrap_or(u32::MAX);
            schedule.push((
                ScheduledStep {
                    at,
                    environment: Some(name),
                    action: action.clone(),
                    user: user.clone(),
                    line,
                },
                span(env_value),
            ));
        }
        true
    }

    /// The task a `go_error` or `task_internal_error` step names exists in the environment.
    fn check_task(&mut self, which: &TaskSelector, spec: &EnvironmentSpec, at: Range<usize>) {
        let hosts = spec.hosts_or_default();
        let roles: Vec<String> = spec
            .workflow
            .tasks_for_host(spec.tasks_per_host)
            .into_iter()
            .map(|class| class.name)
            .collect();
        if let Some(host) = &which.host
            && !hosts.contains(host)
        {
            self.report(
                Problem::new(
                    at.clone(),
                    format!("environment {} has no host {host}", spec.name),
                    "no such host",
                )
                .help(format!("its hosts: {}", hosts.join(", "))),
            );
        }
        if let Some(role) = &which.role
            && !roles.contains(role)
        {
            self.report(
                Problem::new(
                    at,
                    format!("environment {} has no task {role}", spec.name),
                    "no such task",
                )
                .help(format!("its tasks on every host: {}", roles.join(", "))),
            );
        }
    }

    fn resolve_environments(
        &mut self,
        value: &Spanned<Value>,
        defined: &[Defined],
    ) -> Option<Vec<String>> {
        let patterns: Vec<String> = match value.get_ref() {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => {
                self.report(Problem::new(
                    span(value),
                    "`env` is a name, a list of names, or a name ending in *",
                    "not a name",
                ));
                return None;
            }
        };
        let mut names = Vec::new();
        for pattern in patterns {
            let matched: Vec<String> = match pattern.strip_suffix('*') {
                Some(prefix) => defined
                    .iter()
                    .filter(|d| d.spec.name.starts_with(prefix))
                    .map(|d| d.spec.name.clone())
                    .collect(),
                None => defined
                    .iter()
                    .filter(|d| d.spec.name == pattern)
                    .map(|d| d.spec.name.clone())
                    .collect(),
            };
            if matched.is_empty() {
                self.report(unknown_environment(&pattern, span(value), defined));
                return None;
            }
            names.extend(matched);
        }
        Some(names)
    }

    fn action(&mut self, step: &RawStep, text: &Spanned<String>) -> Option<Action> {
        let name = text.get_ref().trim().to_ascii_lowercase();
        let only_for = |key: &str, actions: &str| format!("`{key}` applies only to do = {actions}");
        let action = match name.as_str() {
            "create" => Action::Create,
            "deploy" => Action::Transition(Transition::Deploy),
            "configure" => Action::Transition(Transition::Configure),
            "reset" => Action::Transition(Transition::Reset),
            "start" | "start_activity" => Action::Transition(Transition::StartActivity),
            "stop" | "stop_activity" => Action::Transition(Transition::StopActivity),
            "destroy" => Action::Destroy(DestroyOptions {
                force: step.force.unwrap_or(false),
                allow_in_running_state: step.allow_in_running_state.unwrap_or(false),
            }),
            "go_error" => Action::GoError(task_selector(step)),
            "end_of_stream" => Action::EndOfStream {
                reason: step
                    .reason
                    .clone()
                    .unwrap_or_else(|| "END_OF_STREAM".to_owned()),
            },
            "task_internal_error" => Action::TaskInternalError(task_selector(step)),
            "beam_mode" => {
                let Some(mode_text) = &step.mode else {
                    self.report(
                        Problem::new(span(text), "`beam_mode` needs `mode`", "which mode?")
                            .help("e.g. mode = \"BEAM_DUMP\""),
                    );
                    return None;
                };
                let Some(mode) = BeamMode::from_str_name(mode_text.get_ref()) else {
                    let modes = (0..=21)
                        .filter_map(|i| BeamMode::try_from(i).ok())
                        .map(|m| m.as_str_name())
                        .collect::<Vec<_>>();
                    let mut problem = Problem::new(
                        span(mode_text),
                        format!("`{}` is not an LHC beam mode", mode_text.get_ref()),
                        "unknown mode",
                    );
                    problem = match closest(mode_text.get_ref(), modes.iter().copied()) {
                        Some(close) => problem.help(format!("did you mean `{close}`?")),
                        None => problem.help(format!("beam modes: {}", modes.join(", "))),
                    };
                    self.report(problem);
                    return None;
                };
                let fill_number = match &step.fill {
                    None => 9000,
                    Some(fill) => match i32::try_from(*fill.get_ref()) {
                        Ok(fill) if fill > 0 => fill,
                        _ => {
                            self.report(Problem::new(
                                span(fill),
                                "a fill number is a positive 32-bit number",
                                "out of range",
                            ));
                            return None;
                        }
                    },
                };
                Action::BeamMode(Arc::new(BeamChange {
                    mode,
                    fill_number,
                    beam_type: step.beam_type.clone().unwrap_or_else(|| "p-p".to_owned()),
                    filling_scheme: step
                        .filling_scheme
                        .clone()
                        .unwrap_or_else(|| "25ns_2352b_2340_2004_2133_108bpi_24inj".to_owned()),
                }))
            }
            "wait" => Action::Wait,
            _ => {
                let mut problem = Problem::new(
                    span(text),
                    format!("`{}` is not something a step can do", text.get_ref()),
                    "unknown action",
                );
                problem = match closest(&name, ACTIONS.iter().copied()) {
                    Some(close) => problem.help(format!(
                        "did you mean `{close}`? Actions: {}",
                        ACTIONS.join(", ")
                    )),
                    None => problem.help(format!("actions: {}", ACTIONS.join(", "))),
                };
                self.report(problem);
                return None;
            }
        };
        let misplaced: &[(&str, bool, &str)] = &[
            (
                "force",
                step.force.is_some() && !matches!(action, Action::Destroy(_)),
                "destroy",
            ),
            (
                "allow_in_running_state",
                step.allow_in_running_state.is_some() && !matches!(action, Action::Destroy(_)),
                "destroy",
            ),
            (
                "reason",
                step.reason.is_some() && !matches!(action, Action::EndOfStream { .. }),
                "end_of_stream (AliECS names the failed task itself: choose it with `task` and `host`)",
            ),
            (
                "task",
                step.task.is_some()
                    && !matches!(action, Action::GoError(_) | Action::TaskInternalError(_)),
                "go_error, task_internal_error",
            ),
            (
                "host",
                step.host.is_some()
                    && !matches!(action, Action::GoError(_) | Action::TaskInternalError(_)),
                "go_error, task_internal_error",
            ),
            (
                "mode",
                step.mode.is_some() && !matches!(action, Action::BeamMode(_)),
                "beam_mode",
            ),
            (
                "fill",
                step.fill.is_some() && !matches!(action, Action::BeamMode(_)),
                "beam_mode",
            ),
            (
                "beam_type",
                step.beam_type.is_some() && !matches!(action, Action::BeamMode(_)),
                "beam_mode",
            ),
            (
                "filling_scheme",
                step.filling_scheme.is_some() && !matches!(action, Action::BeamMode(_)),
                "beam_mode",
            ),
        ];
        for (key, wrong, actions) in misplaced {
            if *wrong {
                self.report(Problem::new(
                    span(text),
                    only_for(key, actions),
                    format!("this step has `{key}`"),
                ));
            }
        }
        Some(action)
    }

    fn fields(
        &mut self,
        fields: &BTreeMap<String, Spanned<Value>>,
    ) -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        for (path, value) in fields {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                self.report(Problem::new(span(value), format!("`{path}` is not a field path"), "empty segment").help(
                    "a path names fields of the message as `ecsim tail` prints it, joined with dots: envInfo.runType",
                ));
                continue;
            }
            match serde_json::to_value(value.get_ref()) {
                Ok(json) => out.push((path.clone(), json)),
                Err(error) => self.report(Problem::new(
                    span(value),
                    format!("this value cannot be compared: {error}"),
                    "here",
                )),
            }
        }
        out
    }

    fn count(&mut self, value: Option<&Spanned<i64>>, what: &str) -> Option<u64> {
        let value = value?;
        match u64::try_from(*value.get_ref()) {
            Ok(n) => Some(n),
            Err(_) => {
                self.report(Problem::new(
                    span(value),
                    format!("`{what}` cannot be negative"),
                    "negative",
                ));
                None
            }
        }
    }

    fn expectations(
        &mut self,
        raws: &[Spanned<RawExpectation>],
        defined: &[Defined],
    ) -> Vec<Expectation> {
        let mut expectations = Vec::new();
        for raw_spanned in raws {
            let raw = raw_spanned.get_ref();
            let line = self.line(span(&raw.topic).start);
            if raw.topic.get_ref().trim().is_empty() {
                self.report(Problem::new(
                    span(&raw.topic),
                    "an expectation needs a topic",
                    "empty",
                ));
                continue;
            }
            if let Some(env) = &raw.env
                && !defined.iter().any(|d| &d.spec.name == env.get_ref())
            {
                self.report(unknown_environment(env.get_ref(), span(env), defined));
                continue;
            }
            let count = self.count(raw.count.as_ref(), "count");
            let min = self.count(raw.min.as_ref(), "min");
            let max = self.count(raw.max.as_ref(), "max");
            let absent = raw.absent.as_ref().is_some_and(|a| *a.get_ref());
            let (min, max) = match (count, min, max, absent) {
                (None, None, None, false) => (1, None),
                (None, None, None, true) => (0, Some(0)),
                (Some(count), None, None, false) => (count, Some(count)),
                (None, min, max, false) => {
                    let min = min.unwrap_or(0);
                    if max.is_some_and(|max| max < min) {
                        self.report(Problem::new(
                            span(raw_spanned),
                            "`min` is larger than `max`",
                            "no count can satisfy this",
                        ));
                        continue;
                    }
                    (min, max)
                }
                _ => {
                    self.report(
                        Problem::new(
                            span(raw_spanned),
                            "an expectation has one of `count`, `min`/`max`, `absent`",
                            "more than one given",
                        )
                        .help("`count = 2` is exactly two; `min = 1` at least one; `absent = true` none"),
                    );
                    continue;
                }
            };
            let fields = raw
                .fields
                .as_ref()
                .map(|f| self.fields(f.get_ref()))
                .unwrap_or_default();
            let in_order = match &raw.in_order {
                None => Vec::new(),
                Some(steps) if steps.get_ref().len() < 2 => {
                    self.report(Problem::new(
                        span(steps),
                        "`in_order` lists at least two sets of values",
                        "nothing to order",
                    ));
                    continue;
                }
                Some(steps) => steps
                    .get_ref()
                    .iter()
                    .map(|step| self.fields(step.get_ref()))
                    .collect(),
            };
            expectations.push(Expectation {
                line,
                topic: raw.topic.get_ref().trim().to_owned(),
                environment: raw.env.as_ref().map(|e| e.get_ref().clone()),
                fields,
                min,
                max,
                in_order,
            });
        }
        expectations
    }

    /// Requests only address live environments, and environments alive at the same time do not
    /// share a detector.
    fn check_lifetimes(&mut self, schedule: &[(ScheduledStep, Range<usize>)], defined: &[Defined]) {
        // environment name → (created at, span of its create step)
        let mut alive: BTreeMap<&str, (Duration, Range<usize>)> = BTreeMap::new();
        // detector → the environment holding it
        let mut holders: BTreeMap<&str, &str> = BTreeMap::new();
        let by_name: BTreeMap<&str, &Defined> =
            defined.iter().map(|d| (d.spec.name.as_str(), d)).collect();
        for (step, step_span) in schedule {
            let Some(name) = step.environment.as_deref() else {
                continue;
            };
            let Some(definition) = by_name.get(name).copied() else {
                continue;
            };
            match &step.action {
                Action::Create => {
                    if alive.contains_key(name) {
                        self.report(
                            Problem::new(
                                step_span.clone(),
                                format!("`{name}` is created again while it is alive"),
                                "already created",
                            )
                            .help("destroy it first, or remove this step"),
                        );
                        continue;
                    }
                    for (detector, detector_span) in definition
                        .spec
                        .detectors
                        .iter()
                        .zip(&definition.detector_spans)
                    {
                        if let Some(holder) = holders.get(detector.as_str()) {
                            let other = by_name.get(holder).copied();
                            let mut problem = Problem::new(
                                detector_span.clone(),
                                format!(
                                    "detector `{detector}` is used by `{holder}` and `{name}` at the same time (at {})",
                                    humantime::format_duration(step.at)
                                ),
                                format!("{name} needs it"),
                            )
                            .help(format!("AliECS gives a detector to one environment at a time; destroy `{holder}` before creating `{name}`, or give them different detectors"));
                            if let Some(other_span) = other.and_then(|o| {
                                o.spec
                                    .detectors
                                    .iter()
                                    .position(|d| d == detector)
                                    .map(|i| o.detector_spans[i].clone())
                            }) && other_span != detector_span.clone()
                            {
                                problem = problem.also(other_span, format!("{holder} holds it"));
                            }
                            self.report(problem);
                        }
                    }
                    for detector in &definition.spec.detectors {
                        holders.entry(detector.as_str()).or_insert(name);
                    }
                    alive.insert(name, (step.at, step_span.clone()));
                }
                action => {
                    if !alive.contains_key(name) {
                        self.report(
                            Problem::new(
                                step_span.clone(),
                                format!(
                                    "`{name}` does not exist at {}",
                                    humantime::format_duration(step.at)
                                ),
                                "not created yet, or already destroyed",
                            )
                            .help(format!(
                                "add a step with do = \"create\" for `{name}` before this one"
                            )),
                        );
                        continue;
                    }
                    if matches!(action, Action::Destroy(_)) {
                        alive.remove(name);
                        for detector in &definition.spec.detectors {
                            if holders.get(detector.as_str()) == Some(&name) {
                                holders.remove(detector.as_str());
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_expand_with_and_without_padding() {
        assert_eq!(expand("env-{i}", 7), "env-7");
        assert_eq!(expand("TST{i:03}", 7), "TST007");
        assert_eq!(expand("a{i}b{i:02}c", 3), "a3b03c");
        assert_eq!(expand("plain", 3), "plain");
        assert_eq!(expand("odd{ix}", 3), "odd{ix}");
        assert_eq!(expand("open{i", 3), "open{i");
    }

    #[test]
    fn typos_find_their_closest_word() {
        assert_eq!(
            closest("detector", ["detectors", "hosts", "name"]),
            Some("detectors")
        );
        assert_eq!(closest("strat", ACTIONS.iter().copied()), Some("start"));
        assert_eq!(closest("xyzzy", ACTIONS.iter().copied()), None);
        assert_eq!(
            closest("DUMP", ["RAMP", "BEAM_DUMP", "BEAM_DUMP_WARNING"]),
            Some("BEAM_DUMP")
        );
        assert_eq!(
            closest("before_START", ["before_RESET", "before_START_ACTIVITY"]),
            Some("before_START_ACTIVITY")
        );
    }
}
