//! `[[expect]]`: what must have reached the topics — counts, fields, order — checked against the
//! environments the scenario defines.

use super::*;

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
}
