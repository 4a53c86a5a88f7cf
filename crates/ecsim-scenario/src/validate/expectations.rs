//! `[[expect]]`: what must have reached the topics — counts, fields, order — checked against the
//! environments the scenario defines, and against the schema: a topic ecsim never writes, a field
//! path that names no field, an enum value that is not one would make an expectation look at
//! nothing, and a negative one (`absent`, `count = 0`) pass by mistake.

use std::collections::BTreeSet;

use ecsim_proto::{
    paths::{self, Leaf},
    topics::{self, MessageType},
};

use super::*;
use crate::raw::RawFields;

impl Checker {
    pub(super) fn expectations(
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
                if !self.refers_to_refused(env.get_ref()) {
                    self.report(unknown_environment(env.get_ref(), span(env), defined));
                }
                continue;
            }
            let Some(types) = self.topic_types(&raw.topic) else {
                continue;
            };
            let mut schema_ok = true;
            for fields in raw.fields.iter().map(Spanned::get_ref).chain(
                raw.in_order
                    .iter()
                    .flat_map(|steps| steps.get_ref().iter().map(Spanned::get_ref)),
            ) {
                schema_ok &= self.check_paths(raw.topic.get_ref().trim(), &types, fields);
            }
            if !schema_ok {
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

    /// The message types an expectation's topic (a name or a pattern) can carry, or `None` after
    /// reporting a topic ecsim never writes.
    fn topic_types(&mut self, topic: &Spanned<String>) -> Option<BTreeSet<MessageType>> {
        let name = topic.get_ref().trim();
        let known = topics::all_known();
        let service = name
            .strip_prefix(topics::INTEGRATED_SERVICE_PREFIX)
            .is_some_and(|rest| !rest.is_empty());
        let mut types: BTreeSet<MessageType> = known
            .iter()
            .filter(|t| topics::matches_pattern(name, t))
            .filter_map(|t| MessageType::for_topic(t))
            .collect();
        if service {
            // A plugin's own topic: which plugins are loaded is checked when they are.
            types.insert(MessageType::Event);
        }
        if !types.is_empty() {
            return Some(types);
        }
        let problem = Problem::new(
            span(topic),
            format!("ecsim writes no topic `{name}`"),
            if name.contains('*') {
                "matches no topic"
            } else {
                "no such topic"
            },
        );
        let problem = match closest(name, known.iter().map(String::as_str)) {
            Some(close) => problem.help(format!("did you mean `{close}`?")),
            None => problem.help(
                "AliECS's topics are aliecs.environment, aliecs.run, aliecs.task, aliecs.call, \
                 aliecs.role, aliecs.core, aliecs.env_state.<STATE>, aliecs.env_leave_state.<STATE>, \
                 aliecs.env_list.RUNNING, aliecs.integrated_service.<plugin>, dip.lhc.beam_mode",
            ),
        };
        self.report(problem);
        None
    }

    /// Checks every path of `fields` against the message types of `topic`, and every value
    /// given for an enum against its values; `false` after reporting a problem.
    fn check_paths(
        &mut self,
        topic: &str,
        types: &BTreeSet<MessageType>,
        fields: &RawFields,
    ) -> bool {
        let mut ok = true;
        for (path, value) in fields {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                continue; // said by `fields`
            }
            // A path is right when it names a field of one of the types the topic carries.
            let resolved: Vec<Result<Leaf, paths::PathError>> = types
                .iter()
                .filter_map(|t| paths::resolve(t.name(), path))
                .collect();
            let leaves: Vec<&Leaf> = resolved.iter().filter_map(|r| r.as_ref().ok()).collect();
            if leaves.is_empty() {
                ok = false;
                let Some(Err(error)) = resolved.into_iter().next() else {
                    continue;
                };
                let prefix = if error.before.is_empty() {
                    String::new()
                } else {
                    format!("{}.", error.before)
                };
                let problem = Problem::new(
                    span(value),
                    format!("`{path}` names no field of what {topic} carries: {error}"),
                    "no such field",
                );
                let problem =
                    match closest(&error.segment, error.fields.iter().map(String::as_str)) {
                        Some(close) => problem.help(format!("did you mean `{prefix}{close}`?")),
                        None if !error.fields.is_empty() => problem.help(format!(
                            "its fields: {}",
                            error.fields.join(", ")
                        )),
                        None => problem.help(
                            "a path names fields of the message as `ecsim tail` prints it, joined with dots",
                        ),
                    };
                self.report(problem);
                continue;
            }
            // An enum compared with a name: the name must be one of its values.
            if let Some(text) = value.get_ref().as_str() {
                let enums: Vec<(&String, &Vec<String>)> = leaves
                    .iter()
                    .filter_map(|leaf| match leaf {
                        Leaf::Enum { name, values } => Some((name, values)),
                        _ => None,
                    })
                    .collect();
                if !enums.is_empty()
                    && enums.len() == leaves.len()
                    && !enums
                        .iter()
                        .any(|(_, values)| values.iter().any(|v| v == text))
                {
                    ok = false;
                    let (name, values) = enums[0];
                    let problem = Problem::new(
                        span(value),
                        format!("`{text}` is not a value of {name} (`{path}`)"),
                        "no such value",
                    );
                    let problem = match closest(text, values.iter().map(String::as_str)) {
                        Some(close) => problem.help(format!("did you mean `{close}`?")),
                        None => problem.help(format!("its values: {}", values.join(", "))),
                    };
                    self.report(problem);
                }
            }
        }
        ok
    }
}
