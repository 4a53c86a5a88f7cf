//! Expectations: what a scenario says must (or must not) reach the broker, and checking them
//! against what did.
//!
//! An expectation names a topic (or a pattern), optionally an environment of the scenario, and
//! field values the message must have (dotted paths into its proto3 JSON rendering, as
//! `ecsim tail` prints it: `envInfo.runType`, `runEvent.transitionStatus`); then how many such
//! messages there must be (`count`, `min`, `max`, `absent`) and, optionally, values that must
//! come in a given order (`in_order`). Messages of one topic and one environment keep their
//! order on the wire (they share a key), so `in_order` is checked within one topic.
//!
//! Expectations are evaluated as messages go by ([`Evaluator`]): what is kept is a few counters
//! and one example per expectation, never the messages, so a replay of a million messages
//! checks its expectations in the memory of a replay without any. The evaluator needs no
//! simulator: `ecsim verify` feeds it what a broker holds, a replay (`ecsim-replay`'s
//! `LiveCheck`) what it publishes.

mod evaluate;
mod naming;
mod topics;

use std::{collections::BTreeMap, fmt};

use serde::Serialize;
use serde_json::Value;

pub use evaluate::Evaluator;
pub use naming::{Namer, environment_ids_from_stream};
pub use topics::{UnwrittenTopic, check_topics};

/// One `[[expect]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Where it is written (1-based line).
    pub line: usize,
    /// A topic name, or a pattern with `*`.
    pub topic: String,
    /// The scenario environment the messages must belong to.
    pub environment: Option<String>,
    /// Field values every counted message has.
    pub fields: Vec<(String, Value)>,
    /// At least this many messages.
    pub min: u64,
    /// At most this many (none: no upper bound).
    pub max: Option<u64>,
    /// Field values that must appear in this order among the counted messages.
    pub in_order: Vec<Vec<(String, Value)>>,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.topic)?;
        if let Some(environment) = &self.environment {
            write!(f, " for {environment}")?;
        }
        if !self.fields.is_empty() {
            write!(f, " where {}", describe_fields(&self.fields))?;
        }
        Ok(())
    }
}

fn describe_fields(fields: &[(String, Value)]) -> String {
    fields
        .iter()
        .map(|(path, value)| format!("{path} = {value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A message as it reached a topic: its topic, and its value in the proto3 JSON mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The topic.
    pub topic: String,
    /// The decoded value.
    pub value: Value,
}

/// Which AliECS environment ids each scenario environment had.
pub type EnvironmentIds = BTreeMap<String, Vec<String>>;

pub use ecsim_proto::topics::matches_pattern as topic_matches;

/// The environment ids a message is about: `*.environmentId` of a core event, the `envInfo`
/// of a state notification, every entry of a running list.
pub fn environment_ids(value: &Value) -> Vec<&str> {
    let mut ids = Vec::new();
    if let Value::Object(object) = value {
        for inner in object.values() {
            if let Some(id) = inner.get("environmentId").and_then(Value::as_str) {
                ids.push(id);
            }
        }
        if let Some(runs) = object.get("activeRuns").and_then(Value::as_array) {
            ids.extend(
                runs.iter()
                    .filter_map(|r| r.get("environmentId").and_then(Value::as_str)),
            );
        }
    }
    ids
}

/// Whether `actual` has `expected`: equal JSON, with the proto3 JSON mapping's 64-bit
/// integers (written as strings) equal to the same number, and a list field holding the value
/// when the expectation gives a single value.
fn value_matches(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::String(text), Value::Number(number)) => text == &number.to_string(),
        (Value::Array(items), expected) if !expected.is_array() => {
            items.iter().any(|item| value_matches(item, expected))
        }
        (actual, expected) => actual == expected,
    }
}

/// The value at a dotted path; a numeric segment indexes a list, any other segment applied to
/// a list looks into every element.
fn lookup<'a>(value: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![value];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            match value {
                Value::Object(object) => next.extend(object.get(segment)),
                Value::Array(items) => match segment.parse::<usize>() {
                    Ok(index) => next.extend(items.get(index)),
                    Err(_) => next.extend(items.iter().filter_map(|item| item.get(segment))),
                },
                _ => {}
            }
        }
        current = next;
    }
    current
}

fn fields_match(value: &Value, fields: &[(String, Value)]) -> bool {
    fields.iter().all(|(path, expected)| {
        let found = lookup(value, path);
        if found.is_empty() {
            // An absent field is its default in proto3: "" / 0 / false match it.
            return matches!(expected, Value::String(s) if s.is_empty())
                || expected.as_i64() == Some(0)
                || expected == &Value::Bool(false);
        }
        found.iter().any(|actual| value_matches(actual, expected))
    })
}

/// How one expectation fared.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    /// The expectation's line.
    pub line: usize,
    /// What it asked for, in words.
    pub expected: String,
    /// Whether it holds.
    pub met: bool,
    /// How many messages matched.
    pub found: u64,
    /// Why not, when it does not hold: what was found instead; for one met by finding nothing,
    /// what it looked at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn count_rule(expectation: &Expectation) -> String {
    match (expectation.min, expectation.max) {
        (0, Some(0)) => "no message".to_owned(),
        (min, Some(max)) if min == max => format!("exactly {min}"),
        (min, None) => format!("at least {min}"),
        (0, Some(max)) => format!("at most {max}"),
        (min, Some(max)) => format!("between {min} and {max}"),
    }
}

fn abbreviate(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 240 {
        format!("{}…", text.chars().take(240).collect::<String>())
    } else {
        text
    }
}

/// Checks every expectation against `observed`, whose environments have the AliECS ids of
/// `ids`: [`Evaluator`] over a list.
pub fn check(
    expectations: &[Expectation],
    observed: &[Observed],
    ids: &EnvironmentIds,
) -> Vec<Outcome> {
    let mut evaluator = Evaluator::new(expectations);
    for (name, ids) in ids {
        for id in ids {
            evaluator.name(id, name);
        }
    }
    for message in observed {
        evaluator.observe(&message.topic, &message.value);
    }
    evaluator.outcomes()
}

fn scope(expectation: &Expectation) -> String {
    match &expectation.environment {
        Some(environment) => format!("{} for {environment}", expectation.topic),
        None => expectation.topic.clone(),
    }
}

/// Renders outcomes for people: a line per expectation, details under failures and under
/// expectations met by finding nothing (what they looked at).
pub fn render(outcomes: &[Outcome]) -> String {
    let met = outcomes.iter().filter(|o| o.met).count();
    let mut out = format!("expectations: {met} of {} met\n", outcomes.len());
    for outcome in outcomes {
        let mark = if outcome.met { "ok  " } else { "FAIL" };
        out.push_str(&format!(
            "  {mark} line {}: {}\n",
            outcome.line, outcome.expected
        ));
        if let Some(detail) = &outcome.detail {
            out.push_str(&format!("         {detail}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn observed(topic: &str, value: Value) -> Observed {
        Observed {
            topic: topic.into(),
            value,
        }
    }

    fn expectation(topic: &str) -> Expectation {
        Expectation {
            line: 1,
            topic: topic.into(),
            environment: None,
            fields: Vec::new(),
            min: 1,
            max: Some(1),
            in_order: Vec::new(),
        }
    }

    #[test]
    fn fields_match_through_paths_lists_and_int64_strings() {
        let value = json!({"envInfo": {"runNumber": 7, "detectors": ["ITS", "TPC"], "enterStateTimestamp": "1750000000000"}});
        assert!(fields_match(
            &value,
            &[("envInfo.runNumber".into(), json!(7))]
        ));
        assert!(fields_match(
            &value,
            &[("envInfo.detectors".into(), json!("TPC"))]
        ));
        assert!(fields_match(
            &value,
            &[("envInfo.detectors.0".into(), json!("ITS"))]
        ));
        assert!(fields_match(
            &value,
            &[("envInfo.detectors".into(), json!(["ITS", "TPC"]))]
        ));
        assert!(fields_match(
            &value,
            &[(
                "envInfo.enterStateTimestamp".into(),
                json!(1_750_000_000_000_i64)
            )]
        ));
        assert!(
            fields_match(&value, &[("envInfo.runType".into(), json!(""))]),
            "absent is the default"
        );
        assert!(!fields_match(
            &value,
            &[("envInfo.runNumber".into(), json!(8))]
        ));
        assert!(!fields_match(
            &value,
            &[("envInfo.runType".into(), json!("PHYSICS"))]
        ));
    }

    #[test]
    fn counts_environments_and_order_are_checked_with_details() {
        let ids: EnvironmentIds = [("physics".to_owned(), vec!["A".to_owned()])].into();
        let stream = vec![
            observed(
                "aliecs.run",
                json!({"runEvent": {"environmentId": "A", "transition": "START_ACTIVITY", "transitionStatus": "STARTED"}}),
            ),
            observed(
                "aliecs.run",
                json!({"runEvent": {"environmentId": "B", "transition": "START_ACTIVITY", "transitionStatus": "STARTED"}}),
            ),
            observed(
                "aliecs.run",
                json!({"runEvent": {"environmentId": "A", "transition": "START_ACTIVITY", "transitionStatus": "DONE_OK"}}),
            ),
            observed(
                "aliecs.env_list.RUNNING",
                json!({"activeRuns": [{"environmentId": "B"}, {"environmentId": "A"}]}),
            ),
        ];
        let mut per_env = expectation("aliecs.run");
        per_env.environment = Some("physics".into());
        per_env.min = 2;
        per_env.max = Some(2);
        per_env.in_order = vec![
            vec![("runEvent.transitionStatus".into(), json!("STARTED"))],
            vec![("runEvent.transitionStatus".into(), json!("DONE_OK"))],
        ];
        let mut reversed = per_env.clone();
        reversed.in_order.reverse();
        let mut in_list = expectation("aliecs.env_list.*");
        in_list.environment = Some("physics".into());
        let mut absent = expectation("aliecs.env_state.STANDBY");
        absent.min = 0;
        absent.max = Some(0);
        let mut wrong = expectation("aliecs.run");
        wrong.fields = vec![("runEvent.transition".into(), json!("STOP_ACTIVITY"))];

        let outcomes = check(&[per_env, reversed, in_list, absent, wrong], &stream, &ids);
        let met: Vec<bool> = outcomes.iter().map(|o| o.met).collect();
        assert_eq!(met, [true, false, true, true, false]);
        assert_eq!(
            outcomes[1].detail.as_deref(),
            Some(
                r#"after runEvent.transitionStatus = "DONE_OK", no message with runEvent.transitionStatus = "STARTED" came"#
            )
        );
        let detail = outcomes[4].detail.as_deref().unwrap();
        assert!(
            detail.starts_with("expected exactly 1, found 0; 3 message(s) on aliecs.run, e.g. "),
            "{detail}"
        );
        let text = render(&outcomes);
        assert!(text.starts_with("expectations: 3 of 5 met"), "{text}");
    }

    #[test]
    fn environments_are_recognized_by_their_detectors_in_creation_order() {
        let created = |id: &str, detectors: &str| {
            observed(
                "aliecs.environment",
                json!({"environmentEvent": {"environmentId": id, "transitionStep": "after_CREATE", "vars": {"detectors": detectors}}}),
            )
        };
        let stream = vec![
            created("X1", r#"["ITS","TPC"]"#),
            created("Y1", r#"["MCH"]"#),
            created("X2", r#"["ITS","TPC"]"#),
        ];
        let environments = vec![
            ("first".to_owned(), vec!["TPC".to_owned(), "ITS".to_owned()]),
            ("muon".to_owned(), vec!["MCH".to_owned()]),
            (
                "second".to_owned(),
                vec!["ITS".to_owned(), "TPC".to_owned()],
            ),
        ];
        let ids = environment_ids_from_stream(&stream, &environments);
        assert_eq!(ids["first"], ["X1"]);
        assert_eq!(ids["second"], ["X2"]);
        assert_eq!(ids["muon"], ["Y1"]);
    }

    #[test]
    fn topic_patterns() {
        assert!(topic_matches(
            "aliecs.env_state.*",
            "aliecs.env_state.RUNNING"
        ));
        assert!(!topic_matches(
            "aliecs.env_state.*",
            "aliecs.env_list.RUNNING"
        ));
        assert!(topic_matches("aliecs.run", "aliecs.run"));
    }
}
