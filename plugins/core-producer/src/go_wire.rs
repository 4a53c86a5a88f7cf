//! `events.Ev_EnvironmentEvent` as protobuf-go writes it.
//!
//! Protobuf-go and prost agree on every field ecsim writes but one: the entries of a map. Go
//! writes both the key and the value of every entry, even when one is empty; prost leaves an
//! empty one out, so an empty `vars` value is two bytes shorter than AliECS's. Both decode to the
//! same map, but a consumer comparing bytes, or a checksum, would see the difference. The only map
//! AliECS publishes is the environment event's `vars` (the after_CREATE "workflow loaded" event),
//! so this one message is encoded here, field by field as prost would, the map as Go does, its
//! entries in key order (Go's deterministic mode; AliECS's own order varies from run to run).

use std::collections::BTreeMap;

use ecsim_proto::{
    events::EvEnvironmentEvent,
    prost::{Message, bytes::BufMut, encoding},
};

use crate::fields::{encoding_only, str_field, str_field_always, str_len};

/// The `vars` field's number.
const VARS: u32 = 9;

/// An environment event to encode as protobuf-go does; encoding only (a `Message` because the
/// envelope encoder takes one).
#[derive(Debug, Default)]
pub(crate) struct GoEnvironmentEvent<'a>(pub(crate) Option<&'a EvEnvironmentEvent>);

/// The length of one map entry's body: key and value, both always there.
fn entry_len(key: &String, value: &String) -> usize {
    encoding::string::encoded_len(1, key) + encoding::string::encoded_len(2, value)
}

fn vars_len(vars: &BTreeMap<String, String>) -> usize {
    vars.iter()
        .map(|(key, value)| encoding::message::encoded_len(VARS, &Entry(key, value)))
        .sum()
}

/// One map entry, `{key = 1, value = 2}`, with both fields written.
#[derive(Debug)]
struct Entry<'a>(&'a String, &'a String);

impl Message for Entry<'_> {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        str_field_always(1, self.0, buf);
        str_field_always(2, self.1, buf);
    }

    encoding_only!();

    fn encoded_len(&self) -> usize {
        entry_len(self.0, self.1)
    }

    fn clear(&mut self) {}
}

impl Message for GoEnvironmentEvent<'_> {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        let Some(e) = self.0 else { return };
        str_field(1, &e.environment_id, buf);
        str_field(2, &e.state, buf);
        if e.run_number != 0 {
            encoding::uint32::encode(3, &e.run_number, buf);
        }
        str_field(4, &e.error, buf);
        str_field(5, &e.message, buf);
        str_field(6, &e.transition, buf);
        str_field(7, &e.transition_step, buf);
        if e.transition_status != 0 {
            encoding::int32::encode(8, &e.transition_status, buf);
        }
        for (key, value) in &e.vars {
            encoding::message::encode(VARS, &Entry(key, value), buf);
        }
        if let Some(user) = &e.last_request_user {
            encoding::message::encode(10, user, buf);
        }
        if let Some(info) = &e.workflow_template_info {
            encoding::message::encode(11, info, buf);
        }
    }

    encoding_only!();

    fn encoded_len(&self) -> usize {
        let Some(e) = self.0 else { return 0 };
        str_len(1, &e.environment_id)
            + str_len(2, &e.state)
            + if e.run_number != 0 {
                encoding::uint32::encoded_len(3, &e.run_number)
            } else {
                0
            }
            + str_len(4, &e.error)
            + str_len(5, &e.message)
            + str_len(6, &e.transition)
            + str_len(7, &e.transition_step)
            + if e.transition_status != 0 {
                encoding::int32::encoded_len(8, &e.transition_status)
            } else {
                0
            }
            + vars_len(&e.vars)
            + e.last_request_user
                .as_ref()
                .map_or(0, |user| encoding::message::encoded_len(10, user))
            + e.workflow_template_info
                .as_ref()
                .map_or(0, |info| encoding::message::encoded_len(11, info))
    }

    fn clear(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use ecsim_proto::{
        common::{User, WorkflowTemplateInfo},
        events::OpStatus,
    };

    use super::*;

    fn go(event: &EvEnvironmentEvent) -> Vec<u8> {
        GoEnvironmentEvent(Some(event)).encode_to_vec()
    }

    /// Bytes worked out by hand from the protobuf encoding rules, as protobuf-go writes them.
    #[test]
    fn map_entries_are_written_whole_as_go_writes_them() {
        let event = EvEnvironmentEvent {
            environment_id: "E".into(),
            vars: [
                ("b".to_owned(), "x".to_owned()),
                ("a".to_owned(), String::new()),
            ]
            .into(),
            ..Default::default()
        };
        let expected: &[u8] = &[
            0x0a, 0x01, b'E', // environmentId = "E"
            0x4a, 0x05, 0x0a, 0x01, b'a', 0x12,
            0x00, // vars {"a": ""}: the empty value written
            0x4a, 0x06, 0x0a, 0x01, b'b', 0x12, 0x01, b'x', // vars {"b": "x"}
        ];
        assert_eq!(go(&event), expected);
        assert_eq!(
            GoEnvironmentEvent(Some(&event)).encoded_len(),
            expected.len()
        );
        // prost leaves the empty value out: two bytes shorter; both decode to the same event.
        assert_eq!(event.encode_to_vec().len() + 2, expected.len());
        assert_eq!(EvEnvironmentEvent::decode(expected).unwrap(), event);
    }

    #[test]
    fn without_empty_map_entries_the_bytes_are_prost_bytes() {
        let full = EvEnvironmentEvent {
            environment_id: "2oDvieFrVTi".into(),
            state: "RUNNING".into(),
            run_number: 300_000,
            error: "e".into(),
            message: "transition step finished".into(),
            transition: "START_ACTIVITY".into(),
            transition_step: "after_START_ACTIVITY".into(),
            transition_status: OpStatus::DoneError.into(),
            // A value past 127 bytes has a two-byte length, its entry too.
            vars: [
                ("k".to_owned(), "v".to_owned()),
                ("long".to_owned(), "x".repeat(300)),
            ]
            .into(),
            last_request_user: Some(User {
                external_id: Some(0),
                id: None,
                name: "Jane".into(),
            }),
            workflow_template_info: Some(WorkflowTemplateInfo::default()),
        };
        for event in [full, EvEnvironmentEvent::default()] {
            assert_eq!(go(&event), event.encode_to_vec());
            assert_eq!(
                GoEnvironmentEvent(Some(&event)).encoded_len(),
                event.encoded_len()
            );
        }
    }
}
