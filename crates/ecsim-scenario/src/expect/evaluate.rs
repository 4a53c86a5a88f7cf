//! Expectations evaluated as messages go by: per expectation, how many messages were in its
//! scope and how many matched, how far its `in_order` got, and one example — whatever the
//! number of messages, the memory is that of the expectations.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    Expectation, Outcome, abbreviate, count_rule, describe_fields, environment_ids, fields_match,
    scope, topic_matches,
};

/// What one expectation has seen so far.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// Messages on its topics (and of its environment).
    in_scope: u64,
    /// Of those, the ones with its field values.
    found: u64,
    /// How many of its `in_order` steps have come, in order.
    in_order: usize,
    /// The first message in scope, abbreviated: shown when none matched.
    example: Option<String>,
}

/// Evaluates expectations one message at a time.
#[derive(Debug, Clone)]
pub struct Evaluator {
    expectations: Vec<Expectation>,
    tallies: Vec<Tally>,
    /// AliECS environment id → the scenario environment it is.
    names: BTreeMap<String, String>,
}

impl Evaluator {
    /// An evaluator of `expectations`, which has seen nothing.
    pub fn new(expectations: &[Expectation]) -> Self {
        Self {
            expectations: expectations.to_vec(),
            tallies: vec![Tally::default(); expectations.len()],
            names: BTreeMap::new(),
        }
    }

    /// Whether some expectation reads `topic`: messages of other topics need not be decoded.
    pub fn reads(&self, topic: &str) -> bool {
        self.expectations
            .iter()
            .any(|e| topic_matches(&e.topic, topic))
    }

    /// The environment with AliECS id `id` is the scenario's `name`, for the messages observed
    /// from now on.
    pub fn name(&mut self, id: impl Into<String>, name: impl Into<String>) {
        self.names.insert(id.into(), name.into());
    }

    /// Counts a message that reached `topic`, its value in the proto3 JSON mapping.
    pub fn observe(&mut self, topic: &str, value: &Value) {
        let mut environments: Option<Vec<&str>> = None;
        for (expectation, tally) in self.expectations.iter().zip(&mut self.tallies) {
            if !topic_matches(&expectation.topic, topic) {
                continue;
            }
            if let Some(wanted) = &expectation.environment {
                // Which scenario environments the message is about, worked out once.
                let names = environments.get_or_insert_with(|| {
                    environment_ids(value)
                        .into_iter()
                        .filter_map(|id| self.names.get(id).map(String::as_str))
                        .collect()
                });
                if !names.contains(&wanted.as_str()) {
                    continue;
                }
            }
            tally.in_scope += 1;
            if tally.example.is_none() {
                tally.example = Some(abbreviate(value));
            }
            if !fields_match(value, &expectation.fields) {
                continue;
            }
            tally.found += 1;
            if let Some(step) = expectation.in_order.get(tally.in_order)
                && fields_match(value, step)
            {
                tally.in_order += 1;
            }
        }
    }

    /// How every expectation fares on what was observed.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.expectations
            .iter()
            .zip(&self.tallies)
            .map(|(expectation, tally)| outcome(expectation, tally))
            .collect()
    }
}

fn outcome(expectation: &Expectation, tally: &Tally) -> Outcome {
    let found = tally.found;
    let count_ok = found >= expectation.min && expectation.max.is_none_or(|max| found <= max);
    let mut detail = None;
    if !count_ok {
        let mut text = format!("expected {}, found {found}", count_rule(expectation));
        match (&tally.example, found) {
            (None, _) => text.push_str(&format!("; nothing at all on {}", scope(expectation))),
            (Some(example), 0) => text.push_str(&format!(
                "; {} message(s) on {}, e.g. {example}",
                tally.in_scope,
                scope(expectation),
            )),
            (Some(_), _) => {}
        }
        detail = Some(text);
    }
    if count_ok && found == 0 {
        // A negative expectation met: say what it looked at, so that a reader sees it looked.
        detail = Some(match tally.in_scope {
            0 => format!("nothing at all reached {}", scope(expectation)),
            n if expectation.fields.is_empty() => {
                format!("{n} message(s) on {}", scope(expectation))
            }
            n => format!(
                "looked at {n} message(s) on {}, none with {}",
                scope(expectation),
                describe_fields(&expectation.fields)
            ),
        });
    }
    let order = &expectation.in_order;
    let order_ok = !count_ok || tally.in_order >= order.len();
    if !order_ok {
        let next = tally.in_order;
        detail = Some(if next == 0 {
            format!("no message with {}", describe_fields(&order[0]))
        } else {
            format!(
                "after {}, no message with {} came",
                describe_fields(&order[next - 1]),
                describe_fields(&order[next])
            )
        });
    }
    let mut expected = format!("{} {expectation}", count_rule(expectation));
    if !order.is_empty() {
        let steps: Vec<String> = order
            .iter()
            .map(|step| format!("[{}]", describe_fields(step)))
            .collect();
        expected.push_str(&format!(", in order: {}", steps.join(" then ")));
    }
    Outcome {
        line: expectation.line,
        expected,
        met: count_ok && order_ok,
        found,
        detail,
    }
}
