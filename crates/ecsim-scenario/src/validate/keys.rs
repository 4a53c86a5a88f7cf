//! Unknown keys, found in the parsed document before it is deserialized.
//!
//! The scenario types refuse unknown keys (`deny_unknown_fields`), but serde stops at the first
//! one and reports it only as a sentence. So the document is walked first, as TOML parsed it
//! (with a span on every key), against what each table may hold: the keys of the type it
//! deserializes into, as serde's own derive lists them ([`keys_of`]), so a field added to a raw
//! type is known here without a second list to update. Every unknown key is reported, at its
//! own span, with the closest known key.
//!
//! Tables whose keys are free (`vars`, `timing`, `where`, a plugin's `config`) and the `user`
//! tables (checked in [`super::users`]) are not walked.

use std::ops::Range;

use serde::de::{self, DeserializeOwned, Visitor};
use toml::de::{DeTable, DeValue};

use super::closest;
use crate::{
    diagnostic::Problem,
    raw::{
        RawCall, RawEnvironment, RawExpectation, RawFault, RawHeader, RawPlugin, RawScenario,
        RawStep,
    },
};

/// What a table of the format may hold: its keys, and the tables (or arrays of tables) under
/// some of them.
struct Schema {
    keys: fn() -> &'static [&'static str],
    children: &'static [(&'static str, &'static Schema)],
}

static SCENARIO: Schema = Schema {
    keys: keys_of::<RawScenario>,
    children: &[
        ("scenario", &HEADER),
        ("environment", &ENVIRONMENT),
        ("timeline", &STEP),
        ("expect", &EXPECTATION),
        ("plugin", &PLUGIN),
        ("fault", &FAULT),
    ],
};
static HEADER: Schema = Schema {
    keys: keys_of::<RawHeader>,
    children: &[],
};
static ENVIRONMENT: Schema = Schema {
    keys: keys_of::<RawEnvironment>,
    children: &[("call", &CALL)],
};
static CALL: Schema = Schema {
    keys: keys_of::<RawCall>,
    children: &[],
};
/// A timeline step, or a repeated block whose `steps` are steps again.
static STEP: Schema = Schema {
    keys: keys_of::<RawStep>,
    children: &[("steps", &STEP)],
};
static EXPECTATION: Schema = Schema {
    keys: keys_of::<RawExpectation>,
    children: &[],
};
static PLUGIN: Schema = Schema {
    keys: keys_of::<RawPlugin>,
    children: &[],
};
static FAULT: Schema = Schema {
    keys: keys_of::<RawFault>,
    children: &[],
};

/// Every unknown key of the document `root`.
pub(super) fn unknown(root: &DeTable<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    walk(root, &SCENARIO, &mut problems);
    problems.sort_by_key(|problem| problem.span.start);
    problems
}

fn walk(table: &DeTable<'_>, schema: &Schema, problems: &mut Vec<Problem>) {
    let known = (schema.keys)();
    for (key, value) in table {
        let name: &str = key.get_ref();
        if !known.contains(&name) {
            problems.push(unknown_key(name, key.span(), known));
            continue;
        }
        let Some((_, child)) = schema.children.iter().find(|(k, _)| *k == name) else {
            continue;
        };
        match value.get_ref() {
            DeValue::Table(table) => walk(table, child, problems),
            DeValue::Array(items) => {
                for item in items {
                    if let DeValue::Table(table) = item.get_ref() {
                        walk(table, child, problems);
                    }
                }
            }
            // A value of the wrong type: deserialization says so.
            _ => {}
        }
    }
}

fn unknown_key(name: &str, span: Range<usize>, known: &[&str]) -> Problem {
    let problem = Problem::new(
        span,
        format!("unknown key `{name}`"),
        "ecsim does not know this key here",
    );
    match closest(name, known.iter().copied()) {
        Some(close) => problem.help(format!(
            "did you mean `{close}`? Known keys here: {}",
            known.join(", ")
        )),
        None => problem.help(format!("known keys here: {}", known.join(", "))),
    }
}

/// The keys `T` deserializes from, as its derived `Deserialize` lists them (renamed keys by
/// their names in the file). Asking costs one failed call: the derive names its fields first.
fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut probe = Probe(None);
    // The probe always fails: it only listens to what the derive asks for.
    let _ = T::deserialize(&mut probe);
    probe.0.unwrap_or(&[])
}

/// A deserializer that records the fields a struct asks for and gives nothing.
struct Probe(Option<&'static [&'static str]>);

#[derive(Debug)]
struct Probed;

impl std::fmt::Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("probed")
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Probed
    }
}

impl<'de> de::Deserializer<'de> for &mut Probe {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        self.0 = Some(fields);
        Err(Probed)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(String, String)> {
        let document = DeTable::parse(text).unwrap();
        unknown(document.get_ref())
            .into_iter()
            .map(|p| (text[p.span.clone()].to_owned(), p.message))
            .collect()
    }

    #[test]
    fn the_keys_are_serdes_with_renames() {
        assert!(keys_of::<RawScenario>().contains(&"environment"));
        assert!(keys_of::<RawStep>().contains(&"do"));
        assert!(keys_of::<RawCall>().contains(&"await"));
        assert!(!keys_of::<RawStep>().contains(&"action"));
    }

    #[test]
    fn every_unknown_key_is_found_at_every_depth_and_free_tables_are_not_checked() {
        let text = r#"
            bogus = 1
            [scenario]
            name = "x"
            nmae = "y"
            [[environment]]
            name = "e"
            detectors = ["TPC"]
            vars = { anything = "goes" }
            [[environment.call]]
            role = "r"
            fnuc = "f"
            [[timeline]]
            repeat = 2
            steps = [{ at = "1s", do = "start", env = "e", colour = "red" }]
            [[expect]]
            topic = "aliecs.run"
            where = { free = 1 }
            [[plugin]]
            library = "x"
            config = { free = 1 }
            librari = "y"
            [[fault]]
            service = "dcs"
            sevrice = "dcs"
        "#;
        let found: Vec<String> = problems(text).into_iter().map(|(at, _)| at).collect();
        assert_eq!(
            found,
            ["bogus", "nmae", "fnuc", "colour", "librari", "sevrice"]
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_the_closest_known_one() {
        let document = DeTable::parse("[scenario]\nnmae = 1\n").unwrap();
        let problem = &unknown(document.get_ref())[0];
        assert_eq!(problem.message, "unknown key `nmae`");
        assert!(
            problem
                .help
                .as_deref()
                .is_some_and(|h| h.starts_with("did you mean `name`? Known keys here: name,")),
            "{problem:?}"
        );
    }
}
