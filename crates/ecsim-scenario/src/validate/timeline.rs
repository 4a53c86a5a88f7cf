//! `[[timeline]]`: steps and repeated blocks expanded into the schedule, in time order, each
//! step addressing environments by name or pattern; then the schedule checked against the
//! environments' lifetimes (a request addresses a live environment) and detector use (two
//! environments alive at once share no detector).

use std::ops::ControlFlow;

use super::*;

/// Where an entry is: at the top of the timeline, or inside a repeated block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Top,
    Block,
}

/// What a repeated block passes to its steps: the environments they address and how far apart.
#[derive(Debug, Clone, Copy, Default)]
struct Inherited<'a> {
    env: Option<&'a Spanned<Value>>,
    stagger: Option<&'a Spanned<String>>,
}

/// The timeline as it is expanded: what every entry needs, and what it adds to.
struct Expansion<'a> {
    defined: &'a [Defined],
    default_user: &'a User,
    /// When the next step is due (from the start of the scenario).
    cursor: Duration,
    /// The steps so far, each with the span it came from.
    schedule: Vec<(ScheduledStep, Range<usize>)>,
}

impl Checker {
    pub(super) fn line(&self, at: usize) -> usize {
        self.lines.line(at)
    }

    /// Expands the timeline into scheduled steps, each with the span it came from.
    pub(super) fn timeline(
        &mut self,
        raws: &[Spanned<RawStep>],
        defined: &[Defined],
        default_user: &User,
    ) -> Vec<(ScheduledStep, Range<usize>)> {
        let mut expansion = Expansion {
            defined,
            default_user,
            cursor: Duration::ZERO,
            schedule: Vec::new(),
        };
        for raw in raws {
            if self
                .entry(&mut expansion, raw, Inherited::default(), Place::Top)
                .is_break()
            {
                break;
            }
        }
        let mut schedule = expansion.schedule;
        // Stable: steps due at the same instant keep their file order.
        schedule.sort_by_key(|(step, _): &(ScheduledStep, Range<usize>)| step.at);
        schedule
    }

    /// One timeline entry, a step or a repeated block, at `place`; `inherited` is what its
    /// block gives it (`env`, `stagger`), which its own keys override. Breaks when expanding
    /// must stop (a limit).
    fn entry<'r>(
        &mut self,
        x: &mut Expansion<'_>,
        raw: &'r Spanned<RawStep>,
        inherited: Inherited<'r>,
        place: Place,
    ) -> ControlFlow<()> {
        let step = raw.get_ref();
        self.advance(x, step, place);
        let inherited = Inherited {
            env: step.env.as_ref().or(inherited.env),
            stagger: step.stagger.as_ref().or(inherited.stagger),
        };
        if x.cursor > MAX_TIMELINE {
            self.report(
                Problem::new(
                    span(raw),
                    format!(
                        "this step is due {} after the start; a timeline lasts at most {MAX_TIMELINE_TEXT}",
                        humantime::format_duration(x.cursor),
                    ),
                    "too late",
                )
                .help("simulated time runs from the epoch; shorten the delays"),
            );
            return ControlFlow::Break(());
        }
        if step.repeat.is_some() || step.steps.is_some() {
            self.block(x, raw, inherited)
        } else {
            self.step(x, raw, inherited)
        }
    }

    /// Moves the cursor to the entry's time: `at` (from the start, top level only) or `after`
    /// (from the previous step).
    fn advance(&mut self, x: &mut Expansion<'_>, step: &RawStep, place: Place) {
        match (&step.at, &step.after) {
            (Some(at), Some(_)) => {
                self.report(Problem::new(span(at), "a step has `at` or `after`, not both", "both given").help(
                    "`at` is a time from the start of the scenario; `after` is a delay from the previous step",
                ));
            }
            (Some(at), None) if place == Place::Block => {
                self.report(Problem::new(
                    span(at),
                    "steps inside a repeated block use `after`, not `at`",
                    "absolute time in a block",
                ));
            }
            (Some(at), None) => {
                if let Some(time) = self.duration(at, "time") {
                    if time < x.cursor {
                        self.report(
                            Problem::new(
                                span(at),
                                format!(
                                    "this step is at {}, before the previous step (at {})",
                                    humantime::format_duration(time),
                                    humantime::format_duration(x.cursor)
                                ),
                                "earlier than the step before",
                            )
                            .help("steps are listed in time order; use `after` for a delay from the previous step"),
                        );
                    } else {
                        x.cursor = time;
                    }
                }
            }
            (None, Some(after)) => {
                if let Some(delay) = self.duration(after, "delay") {
                    x.cursor += delay;
                }
            }
            (None, None) => {}
        }
    }

    /// A repeated block: its `steps`, `repeat` times, within the step limit.
    fn block<'r>(
        &mut self,
        x: &mut Expansion<'_>,
        raw: &'r Spanned<RawStep>,
        inherited: Inherited<'r>,
    ) -> ControlFlow<()> {
        let entry_span = span(raw);
        let step = raw.get_ref();
        if let Some(action) = &step.action {
            self.report(Problem::new(span(action), "a repeated block has `steps`, not `do`", "`do` in a block").help(
                "put the actions in `steps = [ { do = \"start\" }, { after = \"10m\", do = \"stop\" } ]`",
            ));
            return ControlFlow::Continue(());
        }
        let Some(steps) = &step.steps else {
            self.report(Problem::new(
                entry_span,
                "`repeat` needs `steps` to repeat",
                "no steps",
            ));
            return ControlFlow::Continue(());
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
                return ControlFlow::Continue(());
            }
        };
        if steps.get_ref().is_empty() {
            self.report(Problem::new(
                span(steps),
                "`steps` is empty",
                "nothing to repeat",
            ));
            return ControlFlow::Continue(());
        }
        if times
            .saturating_mul(steps.get_ref().len())
            .saturating_add(x.schedule.len())
            > MAX_STEPS
        {
            return self.too_many_steps(raw);
        }
        for _ in 0..times {
            for inner in steps.get_ref() {
                self.entry(x, inner, inherited, Place::Block)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// One step: its action, its user, and the environments it addresses (staggered), each a
    /// scheduled step at the cursor.
    fn step(
        &mut self,
        x: &mut Expansion<'_>,
        raw: &Spanned<RawStep>,
        inherited: Inherited<'_>,
    ) -> ControlFlow<()> {
        let env = inherited.env;
        let entry_span = span(raw);
        let step = raw.get_ref();
        let Some(action_text) = &step.action else {
            self.report(
                Problem::new(entry_span, "a step needs `do` (what to do)", "no action")
                    .help(format!("actions: {}", actions::Verb::names().join(", "))),
            );
            return ControlFlow::Continue(());
        };
        let Some(action) = self.action(step, action_text) else {
            return ControlFlow::Continue(());
        };
        let user = match &step.user {
            None => x.default_user.clone(),
            Some(written) => match self.user(written) {
                Some(user) => user,
                None => return ControlFlow::Continue(()),
            },
        };
        let line = self.line(span(action_text).start);
        if matches!(action, Action::BeamMode(_) | Action::Wait) {
            if let Some(env) = &step.env {
                self.report(Problem::new(
                    span(env),
                    format!(
                        "`{}` is for the whole scenario, not an environment",
                        action_text.get_ref()
                    ),
                    "remove `env`",
                ));
                return ControlFlow::Continue(());
            }
            let scheduled = ScheduledStep {
                at: x.cursor,
                environment: None,
                action,
                user,
                line,
            };
            x.schedule.push((scheduled, entry_span));
            return self.within_step_limit(x, raw);
        }
        let Some(env) = env else {
            self.report(Problem::new(
                span(action_text),
                "this step needs `env`: the environment it addresses",
                "which environment?",
            ));
            return ControlFlow::Continue(());
        };
        let Some(names) = self.resolve_environments(env, x.defined) else {
            return ControlFlow::Continue(());
        };
        if let Action::GoError(which) | Action::TaskInternalError(which) = &action {
            for name in &names {
                if let Some(defined) = self.names.get(name).map(|&i| &x.defined[i]) {
                    self.check_task(which, &defined.spec, span(action_text));
                }
            }
        }
        // A block's stagger applies to each of its steps: the k-th environment's steps are all
        // k × stagger after the first one's.
        let stagger = inherited
            .stagger
            .and_then(|s| self.duration(s, "stagger"))
            .unwrap_or(Duration::ZERO);
        if x.schedule.len().saturating_add(names.len()) > MAX_STEPS {
            return self.too_many_steps(raw);
        }
        let last = stagger
            .checked_mul(u32::try_from(names.len().saturating_sub(1)).unwrap_or(u32::MAX))
            .and_then(|spread| x.cursor.checked_add(spread));
        if last.is_none_or(|last| last > MAX_TIMELINE) {
            self.report(Problem::new(
                span(env),
                format!(
                    "staggered, the last of these {} environments would be due after {MAX_TIMELINE_TEXT}, the end of a timeline",
                    names.len(),
                ),
                "too late",
            ));
            return ControlFlow::Break(());
        }
        for (k, name) in names.into_iter().enumerate() {
            // At most `last`, checked above.
            let at = x.cursor + stagger * u32::try_from(k).unwrap_or(u32::MAX);
            let scheduled = ScheduledStep {
                at,
                environment: Some(name),
                action: action.clone(),
                user: user.clone(),
                line,
            };
            x.schedule.push((scheduled, span(env)));
        }
        ControlFlow::Continue(())
    }

    /// Breaks when the schedule has grown past [`MAX_STEPS`].
    fn within_step_limit(&mut self, x: &Expansion<'_>, raw: &Spanned<RawStep>) -> ControlFlow<()> {
        if x.schedule.len() > MAX_STEPS {
            return self.too_many_steps(raw);
        }
        ControlFlow::Continue(())
    }

    /// Reports the step limit at `raw`, and breaks.
    fn too_many_steps(&mut self, raw: &Spanned<RawStep>) -> ControlFlow<()> {
        self.report(
            Problem::new(
                span(raw),
                format!("the timeline expands to more than {MAX_STEPS} steps"),
                "too many",
            )
            .help("lower `repeat`, address fewer environments, or split the scenario"),
        );
        ControlFlow::Break(())
    }

    /// The task a `go_error` or `task_internal_error` step names exists in the environment.
    pub(super) fn check_task(
        &mut self,
        which: &TaskSelector,
        spec: &EnvironmentSpec,
        at: Range<usize>,
    ) {
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

    pub(super) fn resolve_environments(
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
            // By the name index: a step costs what it addresses, not the number of
            // environments defined. Matches in definition order (the order of `stagger`).
            let mut matched: Vec<usize> = match pattern.strip_suffix('*') {
                Some(prefix) => self
                    .names
                    .range::<str, _>((
                        std::ops::Bound::Included(prefix),
                        std::ops::Bound::Unbounded,
                    ))
                    .take_while(|(name, _)| name.starts_with(prefix))
                    .map(|(_, &i)| i)
                    .collect(),
                None => self
                    .names
                    .get(pattern.as_str())
                    .copied()
                    .into_iter()
                    .collect(),
            };
            matched.sort_unstable();
            let matched: Vec<String> = matched
                .into_iter()
                .filter_map(|i| defined.get(i))
                .map(|d| d.spec.name.clone())
                .collect();
            if matched.is_empty() {
                if !self.refers_to_refused(&pattern) {
                    self.report(unknown_environment(&pattern, span(value), defined));
                }
                return None;
            }
            names.extend(matched);
        }
        Some(names)
    }

    /// Requests only address live environments, and environments alive at the same time do not
    /// share a detector.
    pub(super) fn check_lifetimes(
        &mut self,
        schedule: &[(ScheduledStep, Range<usize>)],
        defined: &[Defined],
    ) {
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
