//! The schemas of the scenario fields whose raw type says less than the format does (a
//! duration, an epoch, a user, an action, a fault's outcome, a beam mode…), for the raw types'
//! `#[schemars(schema_with = …)]`: each narrowed with the list the validator checks against.

use schemars::{Schema, SchemaGenerator, json_schema};

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
    json_schema!({ "type": "string", "enum": crate::vocabulary::action_names() })
}

/// A fault's `outcome`.
pub(crate) fn fault_outcome(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = ecsim_proto::fault::FaultOutcome::ALL
        .iter()
        .map(|(name, _)| *name)
        .collect();
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
