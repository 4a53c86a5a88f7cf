//! `[[environment]]` sections: names (and `count` with `{i}`), detectors and hosts, variables,
//! task timing, and the workflow — readout-dataflow with its call roles changed, added or
//! removed, each call's traits, trigger moments and `enabled` condition checked.

use super::*;

impl Checker {
    pub(super) fn environments(&mut self, raws: &[Spanned<RawEnvironment>]) -> Vec<Defined> {
        let mut defined: Vec<Defined> = Vec::new();
        // Name → where it was first defined: a scenario may define 100,000 environments.
        let mut names: BTreeMap<String, Range<usize>> = BTreeMap::new();
        // What all definitions add up to, against the scenario's limits.
        let mut hosts_in_all = 0_usize;
        let mut tasks_in_all = 0_usize;
        for spanned in raws {
            let raw = spanned.get_ref();
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
                    self.refused_environments.push(raw.name.get_ref().clone());
                    continue;
                }
            };
            if !self.templates(raw) {
                self.refused_environments.push(raw.name.get_ref().clone());
                continue;
            }
            if defined.len() + count > MAX_ENVIRONMENTS as usize {
                self.report(
                    Problem::new(
                        span(spanned),
                        format!(
                            "the scenario defines more than {MAX_ENVIRONMENTS} environments in all"
                        ),
                        "past the limit",
                    )
                    .help("lower `count`, or split the scenario"),
                );
                break;
            }
            if raw.count.is_some() && !raw.name.get_ref().contains("{i") {
                self.report(
                    Problem::new(
                        span(&raw.name),
                        "with `count`, every environment needs its own name",
                        "no {i} in the name",
                    )
                    .help("put {i} in the name, e.g. \"muon-{i}\" or \"env-{i:03}\""),
                );
                self.refused_environments.push(raw.name.get_ref().clone());
                continue;
            }
            let Some(workflow) = self.workflow(raw) else {
                self.refused_environments.push(raw.name.get_ref().clone());
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
            let hosts_each = match &raw.hosts {
                Some(hosts) => hosts.get_ref().len(),
                None => raw.detectors.get_ref().len(),
            };
            hosts_in_all = hosts_in_all.saturating_add(hosts_each.saturating_mul(count));
            tasks_in_all = tasks_in_all.saturating_add(
                hosts_each
                    .saturating_mul(tasks_per_host)
                    .saturating_mul(count),
            );
            for (what, total, limit) in [
                ("hosts", hosts_in_all, MAX_HOSTS),
                ("tasks", tasks_in_all, MAX_TASKS),
            ] {
                if total > limit {
                    self.report(
                        Problem::new(
                            span(spanned),
                            format!(
                                "the scenario's environments have more than {limit} {what} in all"
                            ),
                            "past the limit",
                        )
                        .help("fewer hosts, a lower `tasks_per_host` or `count`; or split the scenario"),
                    );
                    return defined;
                }
            }
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
                    } else if let Some(problem) = self.detector_problem(&expanded, span(detector)) {
                        self.report(problem);
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

    /// The name, detectors and hosts of a definition are names no longer than
    /// [`MAX_NAME_BYTES`], whose `{i:0W}` pads to at most [`MAX_INDEX_WIDTH`] digits: checked
    /// before they are expanded `count` times.
    fn templates(&mut self, raw: &RawEnvironment) -> bool {
        let mut fine = true;
        let templates = std::iter::once(&raw.name)
            .chain(raw.detectors.get_ref())
            .chain(raw.hosts.iter().flat_map(|hosts| hosts.get_ref()));
        for template in templates {
            let text = template.get_ref();
            if text.len() > MAX_NAME_BYTES {
                self.report(Problem::new(
                    span(template),
                    format!(
                        "a name is at most {MAX_NAME_BYTES} bytes; this one is {}",
                        text.len()
                    ),
                    "too long",
                ));
                fine = false;
            }
            if let Some(width) = widths(text).find(|&w| w > MAX_INDEX_WIDTH) {
                self.report(
                    Problem::new(
                        span(template),
                        format!("`{{i:0{width}}}` pads the index to {width} digits; at most {MAX_INDEX_WIDTH}"),
                        "too wide",
                    )
                    .help("100,000 environments need 6 digits: {i:06}"),
                );
                fine = false;
            }
        }
        fine
    }

    pub(super) fn vars(&mut self, raw: &RawEnvironment) -> BTreeMap<String, String> {
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

    pub(super) fn timing(&mut self, raw: &RawEnvironment) -> Timing {
        let mut timing = Timing::default();
        for (key, value) in raw.timing.iter().flat_map(|t| t.get_ref().iter()) {
            let Some(slot) = timing.step_mut(key) else {
                {
                    self.report(
                        Problem::new(
                            span(value),
                            format!("unknown task step `{key}` in `timing`"),
                            "not a task step",
                        )
                        .help(format!("task steps: {}", Timing::STEPS)),
                    );
                    continue;
                }
            };
            if let Some(duration) = self.duration(value, "duration") {
                *slot = duration;
            }
        }
        timing
    }

    pub(super) fn workflow(
        &mut self,
        raw: &RawEnvironment,
    ) -> Option<ecsim_core::workflow::Workflow> {
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

    pub(super) fn moment(&mut self, value: &Spanned<String>, what: &str) -> bool {
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

    pub(super) fn call(&mut self, raw: &RawCall) -> Option<CallSpec> {
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
}

/// The widths of a template's `{i:0W}` placeholders (a width too large for `usize` counts as
/// `usize::MAX`).
fn widths(template: &str) -> impl Iterator<Item = usize> + '_ {
    template.match_indices("{i:0").filter_map(|(at, _)| {
        let digits: &str = &template[at + 4..];
        let end = digits.find('}')?;
        let digits = &digits[..end];
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().unwrap_or(usize::MAX))
    })
}

impl Checker {
    /// What is wrong with detector `name`, if anything: a name AliECS could not take (it names
    /// FLP configuration paths: letters, digits, `-` and `_`), or, unless the scenario says
    /// `own_detectors = true`, not one of ALICE's.
    fn detector_problem(&self, name: &str, at: Range<usize>) -> Option<Problem> {
        let sane = name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !sane {
            return Some(
                Problem::new(
                    at,
                    format!("{name:?} is not a detector name"),
                    "not a name",
                )
                .help("a detector is named with at most 32 letters, digits, - or _ (ALICE's: ITS, TPC, …)"),
            );
        }
        if self.own_detectors || ALICE_DETECTORS.contains(&name) {
            return None;
        }
        let problem = Problem::new(
            at,
            format!("`{name}` is not one of ALICE's detectors"),
            "unknown detector",
        );
        Some(match closest(name, ALICE_DETECTORS.iter().copied()) {
            Some(close) => problem.help(format!(
                "did you mean `{close}`? A scenario of made-up detectors says `own_detectors = true` in [scenario]"
            )),
            None => problem.help(format!(
                "ALICE's detectors (AliECS's system ids): {}; a scenario of made-up detectors says `own_detectors = true` in [scenario]",
                ALICE_DETECTORS.join(", ")
            )),
        })
    }
}

pub(crate) use crate::vocabulary::ALICE_DETECTORS;
