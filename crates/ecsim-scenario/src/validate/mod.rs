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
//! One file per section of the format, each an `impl Checker` of its own: [`header`]
//! (`[scenario]`), [`environments`], [`timeline`] (with the lifetime and detector checks) and
//! the steps' [`actions`], [`expectations`], [`plugins`] (and faults), [`users`]. This file holds
//! the entry point, the checker and what the sections share.
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
use ecsim_proto::common::{BeamMode, User};
use toml::Value;

mod actions;
mod environments;
mod expectations;
mod header;
mod keys;
mod plugins;
mod timeline;
mod users;

use crate::{
    diagnostic::{InvalidScenario, LineIndex, Problem},
    expect::Expectation,
    model::{Action, AtEnd, BeamChange, KafkaKeys, Scenario, ScheduledStep, Speed},
    raw::{RawCall, RawEnvironment, RawExpectation, RawHeader, RawScenario, RawStep, Spanned},
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

/// The latest epoch, 2200-01-01T00:00:00Z: ten years of timeline later, timestamps are still
/// far from the end of int64 nanoseconds (2262).
pub const LATEST_EPOCH: Timestamp = Timestamp::from_unix_millis(7_258_118_400_000);

/// Where virtual time starts when the scenario does not say: 2026-01-01T00:00:00Z.
pub const DEFAULT_EPOCH: Timestamp = Timestamp::from_unix_millis(1_767_225_600_000);

/// The most steps a scenario may expand to (repeats × steps × environments). A million steps
/// is a year of runs for dozens of environments; past that, the expanded timeline alone would
/// take gigabytes.
const MAX_STEPS: usize = 1_000_000;
/// The latest a step may be due, from the start: beyond, timestamps near the end of what
/// AliECS's int64 nanoseconds hold, and the runtime's timers clamp at about 30 years.
const MAX_TIMELINE: Duration = Duration::from_secs(87_600 * 3600);
/// [`MAX_TIMELINE`], for messages.
const MAX_TIMELINE_TEXT: &str = "87600h (10 years)";
/// The most environments a scenario may define, all definitions together.
const MAX_ENVIRONMENTS: i64 = 100_000;
/// The most hosts all of a scenario's environments may have together (FLPs are counted once
/// per environment that lists them).
const MAX_HOSTS: usize = 200_000;
/// The most tasks all of a scenario's environments may have together (hosts ×
/// `tasks_per_host`). Each task is a few hundred bytes in the core and a message on every
/// transition; BENCHMARKS.md measures the memory at the limit.
const MAX_TASKS: usize = 1_000_000;
/// The longest name (of an environment, a detector, a host), after expansion.
const MAX_NAME_BYTES: usize = 253;
/// The widest `{i:0W}`: ten digits hold every index there can be.
const MAX_INDEX_WIDTH: usize = 10;

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

/// Where virtual time starts, as a scenario's `epoch` or `--epoch` gives it: an RFC 3339 instant
/// in UTC (`2025-06-15T12:00:00Z`), or `now` — the moment this is read, so that a real-time run
/// carries today's timestamps (a consumer that looks at "the last 48 hours" sees them). `None`
/// when it is neither.
pub fn parse_epoch(text: &str) -> Option<Timestamp> {
    if text.trim() == "now" {
        return Some(Timestamp::system_now());
    }
    let time = humantime::parse_rfc3339_weak(text.trim()).ok()?;
    let millis = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    Some(Timestamp::from_unix_millis(
        i64::try_from(millis).unwrap_or(i64::MAX),
    ))
}

/// Reads and checks a scenario. `name` is how errors refer to the file (its path).
pub fn parse(name: &str, text: &str) -> Result<Scenario, InvalidScenario> {
    let invalid = |problems: Vec<Problem>| InvalidScenario {
        name: name.to_owned(),
        text: Arc::new(text.to_owned()),
        problems,
    };
    // Syntax first, then every unknown key at once, then the types.
    let document = toml::de::DeTable::parse(text)
        .map_err(|error| invalid(vec![toml_problem(text, &error)]))?;
    let unknown = keys::unknown(document.get_ref());
    if !unknown.is_empty() {
        return Err(invalid(unknown));
    }
    // From the document already parsed: parsing the text again cost as much as all the checks.
    let raw =
        <RawScenario as serde::Deserialize>::deserialize(toml::de::Deserializer::from(document))
            .map_err(|error| invalid(vec![toml_problem(text, &error)]))?;
    let mut checker = Checker {
        lines: LineIndex::new(text),
        names: BTreeMap::new(),
        problems: Vec::new(),
        refused_environments: Vec::new(),
        own_detectors: false,
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

/// A TOML syntax error, or an error of deserialization (a missing key, a value of the wrong
/// type), as a problem.
fn toml_problem(text: &str, error: &toml::de::Error) -> Problem {
    let span = error.span().unwrap_or(0..0);
    let message = error.message().trim().to_owned();
    // Unknown keys never get here ([`keys`]); a missing key is said by serde only in words.
    let mut problem = if let Some(rest) = message.strip_prefix("missing field `") {
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
/// if near enough to be a typo (a swap of two letters counts as one edit: `TCP` → `TPC`).
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
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
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

struct Checker {
    /// The file's lines, for the line of each step.
    lines: LineIndex,
    /// Each defined environment's index in the definitions, by name.
    names: BTreeMap<String, usize>,
    problems: Vec<Problem>,
    /// The names (templates, with `{i}`) of environments refused for problems of their own:
    /// what refers to them is not reported again (one root cause, said once).
    refused_environments: Vec<String>,
    /// `[scenario] own_detectors = true`: detectors need not be ALICE's.
    own_detectors: bool,
}

struct Header {
    name: String,
    description: String,
    seed: u64,
    epoch: Timestamp,
    epoch_now: bool,
    speed: Speed,
    user: User,
    first_run_number: u32,
    at_end: AtEnd,
    kafka_keys: KafkaKeys,
    integration_plugins: Option<Vec<String>>,
    enable_kafka: bool,
}

/// One expanded environment, with where it was defined.
struct Defined {
    spec: EnvironmentSpec,
    detector_spans: Vec<Range<usize>>,
}

impl Checker {
    fn report(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Whether `name` (a name or a pattern) may name an environment refused for its own
    /// problems: a reference to it is not a second problem.
    fn refers_to_refused(&self, name: &str) -> bool {
        let fixed =
            |text: &str| -> String { text.split(['{', '*']).next().unwrap_or_default().to_owned() };
        let name_start = fixed(name);
        self.refused_environments.iter().any(|template| {
            template == name || {
                let start = fixed(template);
                (template.contains('{') || name.contains('*'))
                    && (name_start.starts_with(&start) || start.starts_with(&name_start))
            }
        })
    }

    fn duration(&mut self, value: &Spanned<String>, what: &str) -> Option<Duration> {
        let parsed = parse_go_duration(value.get_ref().trim());
        match parsed {
            None => self.report(
                Problem::new(span(value), format!("`{}` is not a duration", value.get_ref()), format!("not a {what}"))
                    .help("write durations as Go does: 90s, 10m, 1h30m, 500ms (no spaces, no negative values)"),
            ),
            Some(duration) if duration > MAX_TIMELINE => {
                self.report(Problem::new(
                    span(value),
                    format!(
                        "a {what} is at most {MAX_TIMELINE_TEXT}; this one is {}",
                        humantime::format_duration(duration)
                    ),
                    "too long",
                ));
                return None;
            }
            Some(_) => {}
        }
        parsed
    }

    fn scenario(&mut self, raw: RawScenario) -> Option<Scenario> {
        self.own_detectors = raw.scenario.get_ref().own_detectors.unwrap_or(false);
        let header = self.header(raw.scenario);
        let defined = self.environments(&raw.environments);
        self.names = defined
            .iter()
            .enumerate()
            .map(|(i, d)| (d.spec.name.clone(), i))
            .collect();
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
            epoch_now: header.epoch_now,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_is_now_or_an_instant_in_utc() {
        let before = Timestamp::system_now().unix_millis();
        let now = parse_epoch("now").unwrap().unix_millis();
        assert!(now >= before && now - before < 5_000);
        assert_eq!(
            parse_epoch("2026-01-01T00:00:00Z").map(Timestamp::unix_millis),
            Some(DEFAULT_EPOCH.unix_millis())
        );
        assert_eq!(parse_epoch("tomorrow"), None);
    }

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
        assert_eq!(closest("strat", actions::Verb::names()), Some("start"));
        assert_eq!(closest("xyzzy", actions::Verb::names()), None);
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
