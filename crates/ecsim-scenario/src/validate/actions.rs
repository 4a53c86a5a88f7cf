//! One timeline step's action (`create`, `start`, `stop`, `beam_mode`, …): the fields it needs
//! and allows, and their values.
//!
//! The verbs are a type, `Verb` (in `vocabulary.rs`): its table holds each verb's name, aliases and the step keys
//! only it takes, so the list of actions in messages, the parser and the misplaced-key check
//! cannot drift apart, and a verb added without its handling does not compile.

use super::*;

pub(crate) use crate::vocabulary::Verb;

/// The step keys that belong to some verbs only: the verbs they belong to, and what a step that
/// misplaced one most likely wanted ("" for nothing more to say).
const VERB_KEYS: &[(&str, &[Verb], &str)] = &[
    ("force", &[Verb::Destroy], ""),
    ("allow_in_running_state", &[Verb::Destroy], ""),
    (
        "reason",
        &[Verb::EndOfStream],
        " (AliECS names the failed task itself: choose it with `task` and `host`)",
    ),
    ("task", &[Verb::GoError, Verb::TaskInternalError], ""),
    ("host", &[Verb::GoError, Verb::TaskInternalError], ""),
    ("mode", &[Verb::BeamMode], ""),
    ("fill", &[Verb::BeamMode], ""),
    ("beam_type", &[Verb::BeamMode], ""),
    ("filling_scheme", &[Verb::BeamMode], ""),
];

/// Whether `step` has `key` (one of [`VERB_KEYS`]).
fn has(step: &RawStep, key: &str) -> bool {
    match key {
        "force" => step.force.is_some(),
        "allow_in_running_state" => step.allow_in_running_state.is_some(),
        "reason" => step.reason.is_some(),
        "task" => step.task.is_some(),
        "host" => step.host.is_some(),
        "mode" => step.mode.is_some(),
        "fill" => step.fill.is_some(),
        "beam_type" => step.beam_type.is_some(),
        "filling_scheme" => step.filling_scheme.is_some(),
        _ => false,
    }
}

impl Checker {
    pub(super) fn action(&mut self, step: &RawStep, text: &Spanned<String>) -> Option<Action> {
        let name = text.get_ref().trim().to_ascii_lowercase();
        let Some(verb) = Verb::parse(&name) else {
            let actions = Verb::names();
            let problem = Problem::new(
                span(text),
                format!("`{}` is not something a step can do", text.get_ref()),
                "unknown action",
            );
            self.report(match closest(&name, actions.iter().copied()) {
                Some(close) => problem.help(format!(
                    "did you mean `{close}`? Actions: {}",
                    actions.join(", ")
                )),
                None => problem.help(format!("actions: {}", actions.join(", "))),
            });
            return None;
        };
        for (key, verbs, hint) in VERB_KEYS {
            if has(step, key) && !verbs.contains(&verb) {
                let owners: Vec<&str> = verbs.iter().map(|v| v.name()).collect();
                self.report(Problem::new(
                    span(text),
                    format!("`{key}` applies only to do = {}{hint}", owners.join(", ")),
                    format!("this step has `{key}`"),
                ));
            }
        }
        let action = match verb {
            Verb::Create => Action::Create,
            Verb::Deploy => Action::Transition(Transition::Deploy),
            Verb::Configure => Action::Transition(Transition::Configure),
            Verb::Reset => Action::Transition(Transition::Reset),
            Verb::Start => Action::Transition(Transition::StartActivity),
            Verb::Stop => Action::Transition(Transition::StopActivity),
            Verb::Destroy => Action::Destroy(DestroyOptions {
                force: step.force.unwrap_or(false),
                allow_in_running_state: step.allow_in_running_state.unwrap_or(false),
                keep_tasks: false,
            }),
            Verb::GoError => Action::GoError(task_selector(step)),
            Verb::EndOfStream => Action::EndOfStream {
                reason: step
                    .reason
                    .clone()
                    .unwrap_or_else(|| "END_OF_STREAM".to_owned()),
            },
            Verb::TaskInternalError => Action::TaskInternalError(task_selector(step)),
            Verb::BeamMode => {
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
            Verb::Wait => Action::Wait,
        };
        Some(action)
    }

    pub(super) fn fields(
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

    pub(super) fn count(&mut self, value: Option<&Spanned<i64>>, what: &str) -> Option<u64> {
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
}
