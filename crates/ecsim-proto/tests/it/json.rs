//! The proto3 JSON rendering of AliECS messages, pinned by snapshots.

use ecsim_proto::{
    events::{Event, event::Payload},
    json::{decode_to_json, to_json},
    prost::Message as _,
};

use crate::fixtures::*;

/// An `events.Event` whose payload (a oneof member) has a map, an enum, nested messages and an
/// uint32, inside an envelope with two int64 timestamps.
fn environment_event_envelope() -> Event {
    Event {
        timestamp: T_MS,
        timestamp_nano: T_NS,
        payload: Some(Payload::EnvironmentEvent(environment_event())),
    }
}

#[test]
fn an_event_renders_in_the_proto3_json_mapping() {
    let json = to_json(&environment_event_envelope());
    insta::assert_snapshot!(serde_json::to_string_pretty(&json).unwrap());
}

#[test]
fn rendering_from_bytes_by_type_name_matches_rendering_the_typed_message() {
    for event in events() {
        let from_bytes = decode_to_json("events.Event", &event.encode_to_vec()).unwrap();
        assert_eq!(from_bytes, to_json(&event));
    }
    let list = active_runs_list();
    assert_eq!(
        decode_to_json("kafka.ActiveRunsList", &list.encode_to_vec()).unwrap(),
        to_json(&list)
    );
}

#[test]
fn kafka_plugin_messages_render_with_optional_presence() {
    let json = to_json(&new_state_notification());
    insta::assert_snapshot!(serde_json::to_string_pretty(&json).unwrap());
}
