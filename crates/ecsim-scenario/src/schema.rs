//! The scenario format's JSON Schema, for editors: completion, hover text and checks as a
//! scenario is typed (taplo, and the editors built on it: VS Code's Even Better TOML, Helix,
//! Zed, Neovim's taplo LSP).
//!
//! It is derived from the types the parser fills (`raw.rs`): their fields, which of them
//! are required, that no other key is allowed, and each field's doc comment as its description.
//! What the raw types leave open (a `do`, an `outcome`, a beam mode, a detector) is narrowed
//! (`shapes.rs`, and the detectors here) with the lists the validator itself checks against, so the schema cannot promise what
//! validation refuses. The schema is a first line of help, not the validator: durations,
//! references between sections and times are `ecsim validate`'s.
//!
//! `scenarios/scenario.schema.json` is this schema, checked fresh by a test; `ecsim schema`
//! prints it.

use schemars::{Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Value, json};

use crate::{raw::RawScenario, vocabulary};

/// Where the schema is published with the repository (its `$id`).
pub const ID: &str = "https://github.com/ecsim/ecsim/blob/main/scenarios/scenario.schema.json";

/// The scenario format's JSON Schema (draft 07, which every TOML editor tooling reads).
pub fn json_schema() -> Value {
    let generator: SchemaGenerator = SchemaSettings::draft07()
        .with_transform(no_null)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<RawScenario>();
    schema.insert("$id".to_owned(), Value::from(ID));
    let mut value = schema.to_value();
    alice_detectors_unless_own(&mut value);
    value
}

/// TOML has no null: an absent key is how a file leaves an option out, so `Option`'s `"null"`
/// type and a `null` default go.
fn no_null(schema: &mut Schema) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            schema.insert("type".to_owned(), only);
        }
    }
    if schema.get("default").is_some_and(Value::is_null) {
        schema.remove("default");
    }
    schemars::transform::transform_subschemas(&mut no_null, schema);
}

/// The schema as the repository ships it: pretty-printed, with a final newline.
pub fn json_schema_text() -> String {
    // A `Value` of strings, numbers and objects always renders.
    serde_json::to_string_pretty(&json_schema()).unwrap_or_default() + "\n"
}

/// Detectors are ALICE's unless the scenario says `own_detectors = true`, as validation has it.
fn alice_detectors_unless_own(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.insert(
        "if".to_owned(),
        json!({
            "properties": {
                "scenario": {
                    "properties": { "own_detectors": { "const": true } },
                    "required": ["own_detectors"]
                }
            }
        }),
    );
    object.insert(
        "else".to_owned(),
        json!({
            "properties": {
                "environment": {
                    "items": {
                        "properties": {
                            "detectors": {
                                "items": {
                                    "enum": vocabulary::ALICE_DETECTORS,
                                    "description": "an ALICE detector code (say `own_detectors = true` in [scenario] for others)"
                                }
                            }
                        }
                    }
                }
            }
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_lists_every_key_the_parser_takes_and_closes_every_table() {
        let schema = json_schema();
        let keys = |definition: &str| -> Vec<String> {
            let at = if definition.is_empty() {
                &schema
            } else {
                &schema["definitions"][definition]
            };
            assert_eq!(at["additionalProperties"], false, "{definition}");
            at["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(
            keys(""),
            [
                "scenario",
                "environment",
                "timeline",
                "expect",
                "plugin",
                "fault"
            ]
        );
        assert_eq!(schema["required"], json!(["scenario"]));
        assert!(keys("RawStep").contains(&"do".to_owned()));
        assert!(keys("RawCall").contains(&"await".to_owned()));
        assert_eq!(
            schema["definitions"]["RawFault"]["required"],
            json!(["service", "operation", "outcome"])
        );
        let outcome = &schema["definitions"]["RawFault"]["properties"]["outcome"];
        assert_eq!(outcome["enum"][0], "error");
        assert_eq!(outcome["description"], "What happens to the calls it hits.");
    }
}
