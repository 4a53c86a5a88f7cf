//! The scenario format's JSON Schema, for editors: completion, hover text and checks as a
//! scenario is typed (taplo, and the editors built on it: VS Code's Even Better TOML, Helix,
//! Zed, Neovim's taplo LSP).
//!
//! It is derived from the types the parser fills (`raw.rs`): their fields, which of them
//! are required, that no other key is allowed, and each field's doc comment as its description.
//! What the raw types leave open (a `do`, an `outcome`, a beam mode, a detector) is narrowed
//! here with the lists the validator itself checks against, so the schema cannot promise what
//! validation refuses. The schema is a first line of help, not the validator: durations,
//! references between sections and times are `ecsim validate`'s.
//!
//! `scenarios/scenario.schema.json` is this schema, checked fresh by a test; `ecsim schema`
//! prints it.

use schemars::{Schema, SchemaGenerator, generate::SchemaSettings, json_schema};
use serde_json::{Value, json};

use crate::{model::FaultOutcome, raw::RawScenario, validate};

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
                                    "enum": validate::ALICE_DETECTORS,
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

/// A duration as Go writes it: `90s`, `10m`, `1h30m`, `500ms`.
pub(crate) fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": "^\\s*\\d",
        "examples": ["30s", "10m", "1h30m", "500ms"]
    })
}

/// `epoch`: a TOML date-time (UTC), or "now".
pub(crate) fn epoch(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "string", "format": "date-time" },
            { "const": "now", "description": "the wall clock when the run starts" }
        ]
    })
}

/// `speed`: 0 (virtual time), or a factor of real time.
pub(crate) fn speed(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "number",
        "minimum": 0,
        "maximum": 1_000_000,
        "examples": [0, 1, 10]
    })
}

/// A user: a name, or a table of the person's ids as AliECS's clients send them.
pub(crate) fn user(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "string", "description": "a name alone (externalId 0)" },
            {
                "type": "object",
                "properties": {
                    "name": { "type": "string" },
                    "external_id": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "the person id Bookkeeping knows them by"
                    },
                    "id": { "type": "integer", "minimum": 0 }
                },
                "required": ["name"],
                "additionalProperties": false
            }
        ]
    })
}

/// `env` of a step: a name, a list of names, or a prefix ending in `*`.
pub(crate) fn environments(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" }, "minItems": 1 }
        ]
    })
}

/// `do`: the step's action.
pub(crate) fn action(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": validate::action_names() })
}

/// A fault's `outcome`.
pub(crate) fn fault_outcome(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = FaultOutcome::ALL.iter().map(|(name, _)| *name).collect();
    json_schema!({ "type": "string", "enum": names })
}

/// `mode` of a `beam_mode` step: the LHC beam modes of AliECS's `common.BeamMode`.
pub(crate) fn beam_mode(_: &mut SchemaGenerator) -> Schema {
    use ecsim_proto::common::BeamMode;
    let modes: Vec<&str> = (0..=i32::from(u8::MAX))
        .filter_map(|number| BeamMode::try_from(number).ok())
        .map(|mode| mode.as_str_name())
        .collect();
    json_schema!({ "type": "string", "enum": modes })
}

/// `at_end`.
pub(crate) fn at_end(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": ["leave", "destroy"],
        "description": "leave (default): environments stay as they are; destroy: what is still alive is destroyed"
    })
}

/// `kafka_keys`.
pub(crate) fn kafka_keys(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": ["environment", "none"],
        "description": "environment (default): the environment id; none: no key, as AliECS sends them"
    })
}

/// An environment's `vars`: AliECS variables, strings (numbers and booleans are written as
/// strings for you).
pub(crate) fn vars(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": { "type": ["string", "number", "boolean"] },
        "examples": [{ "kafka_enabled": "true", "dcs_enabled": "true" }]
    })
}

/// An environment's `timing`: how long each task step takes.
pub(crate) fn timing(generator: &mut SchemaGenerator) -> Schema {
    let steps: Vec<&str> = ecsim_core::Timing::STEPS.split(", ").collect();
    let mut properties = serde_json::Map::new();
    for step in steps {
        properties.insert(step.to_owned(), duration(generator).to_value());
    }
    json_schema!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false
    })
}

/// A `[[plugin]]`'s `config`: each plugin's own table.
pub(crate) fn plugin_config(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": { "type": "object" }
    })
}

/// An expectation's `where`: field paths and their values (a list for a repeated field).
pub(crate) fn fields(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "examples": [{ "envInfo.runType": "PHYSICS" }]
    })
}

/// An expectation's `in_order`: field values, one table a message.
pub(crate) fn fields_in_order(generator: &mut SchemaGenerator) -> Schema {
    let item = fields(generator).to_value();
    json_schema!({ "type": "array", "items": item, "minItems": 1 })
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
