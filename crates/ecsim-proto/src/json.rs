//! Messages rendered in the proto3 JSON mapping.
//!
//! ecsim prints what it publishes (`ecsim run --print`, `ecsim tail`, `ecsim decode`) as JSON
//! that any tool can read. The rendering follows the proto3 JSON mapping, done by prost-reflect
//! rather than by hand:
//!
//! - field names exactly as written in the `.proto` (`environmentId`, `taskid`);
//! - enum values by name (`"DONE_OK"`), 64-bit integers as strings (`"1700000000000"`);
//! - fields at their default value omitted, except `optional` fields that are set, which keep
//!   their presence (`"runNumber": 0` differs from no run number);
//! - fields in declaration order, and map entries sorted by key, so that the same message always
//!   renders to the same text (`--print` output is compared byte for byte across runs).

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage, SerializeOptions};
use serde_json::Value;

use crate::DESCRIPTOR_POOL;

/// Why bytes could not be rendered as JSON.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The type name is not a message of ecsim's schema.
    #[error("unknown message type `{name}`; ecsim knows {known}")]
    UnknownType {
        /// The name that was asked for.
        name: String,
        /// The message types the schema does know, comma separated.
        known: String,
    },
    /// The bytes are not a valid encoding of the type.
    #[error("the bytes are not a valid `{type_name}` message: {cause}")]
    Malformed {
        /// The type the bytes were decoded as.
        type_name: String,
        /// prost's description of what was wrong (in the message, so not also a `source()`: a
        /// report printing the chain would say it twice).
        cause: prost::DecodeError,
    },
}

fn options() -> SerializeOptions {
    SerializeOptions::new()
        .use_proto_field_name(true)
        .use_enum_numbers(false)
        .stringify_64_bit_integers(true)
        .skip_default_fields(true)
}

fn dynamic_to_json(message: &DynamicMessage) -> Value {
    // Serializing a DynamicMessage into a serde_json::Value cannot fail: every protobuf value
    // has a JSON form and the Value serializer has no I/O. A failure would be a bug in
    // prost-reflect; render it visibly instead of panicking.
    let mut value = message
        .serialize_with_options(serde_json::value::Serializer, &options())
        .unwrap_or_else(|error| Value::String(format!("<unrenderable message: {error}>")));
    sort_map_entries(&mut value, &message.descriptor());
    value
}

/// Sorts the entries of every map field, at any depth, by key.
///
/// prost-reflect holds a dynamic message's map in a `HashMap`, so entries come out in an order
/// that changes from process to process; fields themselves already come out in declaration
/// order.
fn sort_map_entries(value: &mut Value, descriptor: &MessageDescriptor) {
    let Value::Object(object) = value else { return };
    for field in descriptor.fields() {
        let Some(field_value) = object.get_mut(field.name()) else {
            continue;
        };
        let Kind::Message(field_type) = field.kind() else {
            continue;
        };
        if field.is_map() {
            let Value::Object(entries) = field_value else {
                continue;
            };
            entries.sort_keys();
            let entry_type = field_type.map_entry_value_field().kind();
            if let Kind::Message(entry_type) = entry_type {
                for entry in entries.values_mut() {
                    sort_map_entries(entry, &entry_type);
                }
            }
        } else if field.is_list() {
            if let Value::Array(elements) = field_value {
                for element in elements {
                    sort_map_entries(element, &field_type);
                }
            }
        } else {
            sort_map_entries(field_value, &field_type);
        }
    }
}

/// Renders a typed message as proto3 JSON.
///
/// ```
/// use ecsim_proto::{events::{Event, EvRunEvent, OpStatus, event::Payload}, json::to_json};
///
/// let event = Event {
///     timestamp: 1_700_000_000_123,
///     timestamp_nano: 1_700_000_000_123_000_000,
///     payload: Some(Payload::RunEvent(EvRunEvent {
///         environment_id: "2oDvieFrVTi".into(),
///         run_number: 7,
///         transition_status: OpStatus::DoneOk.into(),
///         ..Default::default()
///     })),
/// };
/// let json = to_json(&event);
/// assert_eq!(json["timestamp"], "1700000000123");
/// assert_eq!(json["runEvent"]["transitionStatus"], "DONE_OK");
/// ```
pub fn to_json<M: ReflectMessage>(message: &M) -> Value {
    dynamic_to_json(&message.transcode_to_dynamic())
}

/// Decodes `bytes` as the message named `type_name` (fully qualified, e.g. `events.Event`) and
/// renders it as proto3 JSON. Unknown fields in the bytes are dropped from the rendering.
pub fn decode_to_json(type_name: &str, bytes: &[u8]) -> Result<Value, DecodeError> {
    let descriptor = DESCRIPTOR_POOL
        .get_message_by_name(type_name)
        .ok_or_else(|| DecodeError::UnknownType {
            name: type_name.to_owned(),
            known: known_message_types().join(", "),
        })?;
    let message =
        DynamicMessage::decode(descriptor, bytes).map_err(|cause| DecodeError::Malformed {
            type_name: type_name.to_owned(),
            cause,
        })?;
    Ok(dynamic_to_json(&message))
}

/// The fully qualified names of every message type in the schema, sorted, without the
/// synthetic map-entry types.
pub fn known_message_types() -> Vec<String> {
    let mut names: Vec<String> = DESCRIPTOR_POOL
        .all_messages()
        .filter(|message| !message.is_map_entry())
        .map(|message| message.full_name().to_owned())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::EnvInfo;

    #[test]
    fn optional_fields_keep_presence_and_plain_fields_at_default_are_omitted() {
        let with_zero_run = EnvInfo {
            environment_id: "2oDvieFrVTi".into(),
            run_number: Some(0),
            ..Default::default()
        };
        let json = to_json(&with_zero_run);
        assert_eq!(
            json["runNumber"], 0,
            "a set optional field is rendered even at 0"
        );
        assert!(
            json.get("runType").is_none(),
            "an unset optional field is omitted"
        );
        assert!(
            json.get("state").is_none(),
            "an empty plain string is omitted"
        );
        assert!(
            json.get("enterStateTimestamp").is_none(),
            "a zero uint64 is omitted"
        );
    }

    #[test]
    fn decoding_names_what_is_wrong() {
        let unknown = decode_to_json("events.Nope", &[]).unwrap_err().to_string();
        assert!(unknown.contains("events.Nope"), "{unknown}");
        assert!(
            unknown.contains("events.Event"),
            "lists the known types: {unknown}"
        );

        // Field 11 (environmentEvent) announced as 5 bytes long, but only 1 follows.
        let truncated = decode_to_json("events.Event", &[0x5a, 0x05, 0x0a]).unwrap_err();
        assert!(
            matches!(truncated, DecodeError::Malformed { .. }),
            "{truncated}"
        );
        assert!(
            truncated.to_string().contains("events.Event"),
            "{truncated}"
        );
    }

    #[test]
    fn map_entries_render_sorted_by_key_whatever_their_insertion_order() {
        let vars: std::collections::BTreeMap<String, String> =
            ["zeta", "alpha", "mu", "beta", "omega", "kappa"]
                .map(|k| (k.to_owned(), "v".to_owned()))
                .into();
        let event = crate::events::EvEnvironmentEvent {
            vars,
            ..Default::default()
        };
        // Decode from bytes, through prost-reflect's HashMap, many times: the rendering must not move.
        let bytes = prost::Message::encode_to_vec(&event);
        for _ in 0..16 {
            let json = decode_to_json("events.Ev_EnvironmentEvent", &bytes).unwrap();
            let keys: Vec<&str> = json["vars"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["alpha", "beta", "kappa", "mu", "omega", "zeta"]);
        }
    }

    #[test]
    fn known_types_leave_out_map_entries() {
        let known = known_message_types();
        assert!(known.contains(&"events.Ev_EnvironmentEvent".to_owned()));
        assert!(
            !known.iter().any(|name| name.ends_with("Entry")),
            "{known:?}"
        );
    }
}
