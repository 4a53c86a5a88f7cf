//! Checks of `[[plugin]]` and `[[fault]]`: what can be known before any library is loaded.
//!
//! Whether a library exists, which plugins it has and which operations they offer is only known
//! once it is loaded (`crate::plugins`), and is checked there, with the line of the entry.

use std::collections::BTreeMap;

use crate::raw::Spanned;
use ecsim_core::{TaskFault, TaskFaultOutcome, fsm::Transition};

use super::{Checker, Defined, closest, span, unknown_environment};
use crate::{
    diagnostic::Problem,
    model::{Fault, FaultOutcome, PluginLibrary},
    raw::{RawFault, RawPlugin},
};

/// The service name of faults of the environment's tasks, which ecsim's core plays.
pub(crate) const TASKS: &str = "tasks";

impl Checker {
    /// A `tasks` fault: a transition's task step that times out (DEPLOY, CONFIGURE) or that a
    /// task fails (CONFIGURE, START_ACTIVITY, STOP_ACTIVITY, RESET).
    fn task_fault(&mut self, raw: &RawFault, operation: &str, outcome: FaultOutcome) -> bool {
        let transition = operation.to_ascii_uppercase().parse::<Transition>().ok();
        let task_outcome = match outcome {
            FaultOutcome::Error => Some(TaskFaultOutcome::Error),
            FaultOutcome::Timeout => Some(TaskFaultOutcome::Timeout),
            _ => None,
        };
        let help = "tasks: timeout on DEPLOY (deploy_timeout) or CONFIGURE; error on CONFIGURE, START_ACTIVITY, STOP_ACTIVITY or RESET";
        let Some(transition) = transition else {
            self.report(
                Problem::new(
                    span(&raw.operation),
                    format!("`{operation}` is not a transition with a task step"),
                    "not a transition",
                )
                .help(help),
            );
            return false;
        };
        if !task_outcome.is_some_and(|o| TaskFault::applies(transition, o)) {
            self.report(
                Problem::new(
                    span(&raw.outcome),
                    format!(
                        "the {transition} task step cannot end in `{}`",
                        outcome.as_str()
                    ),
                    "not for tasks",
                )
                .help(help),
            );
            return false;
        }
        let mut ok = true;
        for (given, key) in [
            (raw.run.is_some(), "run"),
            (raw.detectors.is_some(), "detectors"),
            (raw.delay.is_some(), "delay"),
        ] {
            if given {
                self.report(Problem::new(
                    span(&raw.service),
                    format!("a fault of the tasks takes no `{key}`"),
                    "not for tasks",
                ));
                ok = false;
            }
        }
        ok
    }

    /// `integration_plugins`: names, each once. Whether a library provides the ones ecsim does
    /// not build in is known once the libraries are loaded.
    pub(super) fn integration_plugins(
        &mut self,
        names: &Spanned<Vec<Spanned<String>>>,
    ) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for name in names.get_ref() {
            let trimmed = name.get_ref().trim();
            if trimmed.is_empty() {
                self.report(
                    Problem::new(span(name), "a plugin name is empty", "empty").help(
                        "AliECS's plugins: kafka, lhc, bookkeeping, ccdb, dcs, odc, trg, ddsched",
                    ),
                );
            } else if seen.iter().any(|s| s == trimmed) {
                self.report(Problem::new(
                    span(name),
                    format!("plugin {trimmed} is listed twice"),
                    "listed before",
                ));
            } else {
                seen.push(trimmed.to_owned());
            }
        }
        seen
    }

    pub(super) fn plugins(&mut self, raws: &[Spanned<RawPlugin>]) -> Vec<PluginLibrary> {
        let mut plugins = Vec::new();
        for raw_spanned in raws {
            let raw = raw_spanned.get_ref();
            let library = raw.library.get_ref().trim();
            if library.is_empty() {
                self.report(
                    Problem::new(
                        span(&raw.library),
                        "a plugin entry needs a library",
                        "empty",
                    )
                    .help("a path to a plugin library (relative to this file), or `mock-services`"),
                );
                continue;
            }
            let only = raw.plugins.as_ref().map(|names| {
                names
                    .get_ref()
                    .iter()
                    .map(|n| n.get_ref().trim().to_owned())
                    .collect::<Vec<_>>()
            });
            if let Some(names) = &raw.plugins
                && names.get_ref().is_empty()
            {
                self.report(
                    Problem::new(span(names), "`plugins` lists no plugin", "empty")
                        .help("leave `plugins` out to load every plugin of the library"),
                );
            }
            let mut config = BTreeMap::new();
            for (name, value) in raw
                .config
                .as_ref()
                .map(|c| c.get_ref().iter())
                .into_iter()
                .flatten()
            {
                if let Some(only) = &only
                    && !only.contains(name)
                {
                    self.report(Problem::new(
                        span(value),
                        format!("configuration for plugin `{name}`, which `plugins` does not load"),
                        "not loaded",
                    ));
                    continue;
                }
                if !value.get_ref().is_table() {
                    self.report(
                        Problem::new(
                            span(value),
                            format!("the configuration of `{name}` is not a table"),
                            "not a table",
                        )
                        .help(format!(
                            "write it as [plugin.config.{name}] with keys under it"
                        )),
                    );
                    continue;
                }
                match serde_json::to_value(value.get_ref()) {
                    Ok(json) => {
                        config.insert(name.clone(), json);
                    }
                    Err(error) => self.report(Problem::new(
                        span(value),
                        format!("this configuration cannot be passed to the plugin: {error}"),
                        "here",
                    )),
                }
            }
            let isolate = raw.isolate.as_ref().is_some_and(|i| *i.get_ref());
            let restarts = match &raw.restarts {
                None => None,
                Some(restarts) if !isolate => {
                    self.report(
                        Problem::new(
                            span(restarts),
                            "`restarts` applies only to an isolated plugin",
                            "without isolate = true",
                        )
                        .help("add `isolate = true`: only a plugin in its own process can be restarted"),
                    );
                    None
                }
                Some(restarts) => match u32::try_from(*restarts.get_ref()) {
                    Ok(n) if n <= MAX_RESTARTS => Some(n),
                    _ => {
                        self.report(
                            Problem::new(
                                span(restarts),
                                format!("`restarts` must be from 0 to {MAX_RESTARTS}"),
                                "out of range",
                            )
                            .help("how many times the plugin's process is started again after it dies; 0 leaves it down"),
                        );
                        None
                    }
                },
            };
            plugins.push(PluginLibrary {
                library: library.to_owned(),
                only,
                config,
                isolate,
                restarts,
                line: self.line(span(raw_spanned).start),
            });
        }
        plugins
    }

    pub(super) fn faults(&mut self, raws: &[Spanned<RawFault>], defined: &[Defined]) -> Vec<Fault> {
        let mut faults = Vec::new();
        for raw_spanned in raws {
            let raw = raw_spanned.get_ref();
            let line = self.line(span(raw_spanned).start);
            let mut ok = true;
            let service = raw.service.get_ref().trim().to_owned();
            if service.is_empty() {
                self.report(Problem::new(span(&raw.service), "a fault needs a service", "empty").help(
                    "the plugin whose operation fails: dcs, odc, trg or ddsched for the mock services",
                ));
                ok = false;
            }
            let operation = raw.operation.get_ref().trim().to_owned();
            if operation.is_empty() {
                self.report(Problem::new(span(&raw.operation), "a fault needs an operation", "empty").help(
                    "the function that fails, as workflow calls name it: StartOfRun in dcs.StartOfRun()",
                ));
                ok = false;
            }
            let outcome_text = raw.outcome.get_ref().trim();
            let outcome = FaultOutcome::ALL
                .iter()
                .find(|(name, _)| *name == outcome_text)
                .map(|(_, o)| *o);
            let Some(outcome) = outcome else {
                let names: Vec<&str> = FaultOutcome::ALL.iter().map(|(name, _)| *name).collect();
                let mut problem = Problem::new(
                    span(&raw.outcome),
                    format!("`{outcome_text}` is not a fault outcome"),
                    "unknown outcome",
                )
                .help(format!("one of: {}", names.join(", ")));
                if let Some(close) = closest(outcome_text, names.iter().copied()) {
                    problem = problem.help(format!("did you mean `{close}`?"));
                }
                self.report(problem);
                continue;
            };
            if let Some(env) = &raw.env
                && !defined.iter().any(|d| &d.spec.name == env.get_ref())
            {
                if !self.refers_to_refused(env.get_ref()) {
                    self.report(unknown_environment(env.get_ref(), span(env), defined));
                }
                ok = false;
            }
            let positive = |checker: &mut Self, value: &Spanned<i64>, what: &str| -> Option<u32> {
                match u32::try_from(*value.get_ref()) {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        checker.report(Problem::new(
                            span(value),
                            format!("`{what}` is a positive whole number"),
                            "out of range",
                        ));
                        None
                    }
                }
            };
            let run = raw.run.as_ref().and_then(|r| positive(self, r, "run"));
            let times = raw.times.as_ref().and_then(|t| positive(self, t, "times"));
            ok &= raw.run.is_none() || run.is_some();
            ok &= raw.times.is_none() || times.is_some();
            let delay = raw.delay.as_ref().and_then(|d| self.duration(d, "delay"));
            let when = raw.when.as_ref().and_then(|w| self.duration(w, "time"));
            ok &= raw.delay.is_none() || delay.is_some();
            ok &= raw.when.is_none() || when.is_some();
            if outcome == FaultOutcome::Delay && raw.delay.is_none() {
                self.report(
                    Problem::new(
                        span(&raw.outcome),
                        "a `delay` fault needs `delay`",
                        "how long?",
                    )
                    .help("add delay = \"30s\": how much slower the operation is"),
                );
                ok = false;
            }
            if let Some(delay) = &raw.delay
                && !matches!(outcome, FaultOutcome::Delay | FaultOutcome::PartitionError)
            {
                self.report(Problem::new(
                    span(delay),
                    format!("`delay` means nothing to a fault whose outcome is `{}`", outcome.as_str()),
                    "ignored",
                ).help("`delay` is for `delay` (how much slower) and `partition-error` (how long into the run)"));
                ok = false;
            }
            let detectors: Vec<String> = raw
                .detectors
                .as_ref()
                .map(|d| {
                    d.get_ref()
                        .iter()
                        .map(|d| d.get_ref().trim().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            if outcome == FaultOutcome::Unavailable && detectors.is_empty() {
                self.report(
                    Problem::new(
                        span(&raw.outcome),
                        "an `unavailable` fault needs `detectors`",
                        "which ones?",
                    )
                    .help("add detectors = [\"TPC\"]: the detectors DCS reports unavailable"),
                );
                ok = false;
            }
            if let Some(message) = &raw.message
                && !matches!(outcome, FaultOutcome::Error | FaultOutcome::Panic)
            {
                self.report(
                    Problem::new(
                        span(message),
                        format!(
                            "a fault whose outcome is `{}` has no message of its own",
                            outcome.as_str()
                        ),
                        "would be ignored",
                    )
                    .help(format!(
                        "{}; `message` is for `error` (what the service answers) and `panic` (the panic's text)",
                        match outcome {
                            FaultOutcome::Timeout | FaultOutcome::Hang =>
                                "the call's error is AliECS's deadline text",
                            FaultOutcome::Delay => "a delay fails nothing by itself",
                            FaultOutcome::Unavailable =>
                                "AliECS words the error from the detectors' states",
                            _ => "AliECS words what follows (GO_ERROR) itself",
                        }
                    )),
                );
                ok = false;
            }
            if service == TASKS {
                ok &= self.task_fault(raw, &operation, outcome);
            }
            if ok {
                faults.push(Fault {
                    service,
                    operation,
                    outcome,
                    environment: raw.env.as_ref().map(|e| e.get_ref().clone()),
                    run,
                    detectors,
                    delay,
                    when,
                    times,
                    message: raw.message.as_ref().map(|m| m.get_ref().clone()),
                    line,
                });
            }
        }
        faults
    }
}

/// The most restarts a scenario may ask for: a plugin that dies more often than this is broken,
/// and restarting it without end would hide that.
const MAX_RESTARTS: u32 = 100;
