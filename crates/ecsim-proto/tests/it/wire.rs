//! The schema on the wire: every message survives a round trip with every field set, a few
//! messages encode to bytes computed by hand from the field numbers and wire types, and the
//! compiled schema itself is pinned by a snapshot that was checked against the reference
//! tables (docs/aliecs.md §2.4, §3.2–3.3).
//!
//! A wrong field number, type, label or name in `proto/` fails at least one of these tests.

use std::collections::BTreeSet;

use ecsim_proto::{
    ALIECS_PACKAGES, CONTROL_PACKAGE, DESCRIPTOR_POOL,
    common::User,
    events::{EvBeamModeEvent, EvEnvironmentEvent, EvRunEvent, Event, OpStatus, event::Payload},
    json::known_message_types,
    kafka::{ActiveRunsList, EnvInfo},
    prost::{Message, Name},
    prost_reflect::{Cardinality, DynamicMessage, Kind, ReflectMessage},
};

use crate::fixtures::*;

/// Every fixture as a dynamic message, for checks that work on any message type.
fn all_fixtures_as_dynamic() -> Vec<DynamicMessage> {
    let mut all: Vec<DynamicMessage> = events()
        .iter()
        .map(ReflectMessage::transcode_to_dynamic)
        .collect();
    for payload in payloads() {
        let inner = match &payload {
            Payload::EnvironmentEvent(m) => m.transcode_to_dynamic(),
            Payload::TaskEvent(m) => m.transcode_to_dynamic(),
            Payload::RoleEvent(m) => m.transcode_to_dynamic(),
            Payload::CallEvent(m) => m.transcode_to_dynamic(),
            Payload::IntegratedServiceEvent(m) => m.transcode_to_dynamic(),
            Payload::RunEvent(m) => m.transcode_to_dynamic(),
            Payload::FrameworkEvent(m) => m.transcode_to_dynamic(),
            Payload::MesosHeartbeatEvent(m) => m.transcode_to_dynamic(),
            Payload::CoreStartEvent(m) => m.transcode_to_dynamic(),
            Payload::BeamModeEvent(m) => m.transcode_to_dynamic(),
        };
        all.push(inner);
    }
    all.extend([
        user().transcode_to_dynamic(),
        workflow_template_info().transcode_to_dynamic(),
        beam_info().transcode_to_dynamic(),
        traits().transcode_to_dynamic(),
        env_info().transcode_to_dynamic(),
        new_state_notification().transcode_to_dynamic(),
        active_runs_list().transcode_to_dynamic(),
    ]);
    all
}

#[test]
fn the_fixtures_cover_every_message_and_set_every_field() {
    let fixtures = all_fixtures_as_dynamic();

    let covered: BTreeSet<String> = fixtures
        .iter()
        .map(|m| m.descriptor().full_name().to_owned())
        .collect();
    let schema: BTreeSet<String> = known_message_types()
        .into_iter()
        .filter(|name| is_aliecs(name))
        .collect();
    assert_eq!(
        covered, schema,
        "every message of the schema needs a fixture"
    );

    // A field counts as set when at least one fixture of its message sets it to a value that
    // is not its default (`has_field` is false for a proto3 scalar at its default).
    let mut unset = Vec::new();
    for message in DESCRIPTOR_POOL
        .all_messages()
        .filter(|m| !m.is_map_entry() && is_aliecs(m.full_name()))
    {
        for field in message.fields() {
            let set_somewhere = fixtures
                .iter()
                .filter(|f| f.descriptor() == message)
                .any(|f| f.has_field(&field));
            if !set_somewhere {
                unset.push(field.full_name().to_owned());
            }
        }
    }
    assert!(unset.is_empty(), "fields no fixture sets: {unset:?}");
}

/// Whether a message belongs to AliECS's schema (this file's subject), not ecsim's plugin
/// protocol (tested with the plugin host).
fn is_aliecs(full_name: &str) -> bool {
    ALIECS_PACKAGES.iter().any(|package| {
        full_name
            .strip_prefix(package)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

fn assert_round_trip<M: ReflectMessage + Name + Default + PartialEq + std::fmt::Debug>(
    message: &M,
) {
    let bytes = message.encode_to_vec();
    let decoded = M::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(&decoded, message);
    // The bytes are also readable by name alone, as `ecsim tail` reads them.
    let descriptor = DESCRIPTOR_POOL
        .get_message_by_name(M::full_name().as_str())
        .expect("in schema");
    let dynamic = DynamicMessage::decode(descriptor, bytes.as_slice()).expect("decodes by name");
    assert_eq!(&dynamic.transcode_to::<M>().expect("same type"), message);
}

#[test]
fn every_message_survives_a_round_trip() {
    for event in events() {
        assert_round_trip(&event);
    }
    assert_round_trip(&user());
    assert_round_trip(&workflow_template_info());
    assert_round_trip(&beam_info());
    assert_round_trip(&traits());
    assert_round_trip(&environment_event());
    assert_round_trip(&task_event());
    assert_round_trip(&role_event());
    assert_round_trip(&call_event());
    assert_round_trip(&integrated_service_event());
    assert_round_trip(&run_event());
    assert_round_trip(&beam_mode_event());
    assert_round_trip(&core_start());
    assert_round_trip(&framework_event());
    assert_round_trip(&env_info());
    assert_round_trip(&new_state_notification());
    assert_round_trip(&active_runs_list());
}

// ---- Bytes computed by hand -----------------------------------------------------------------
//
// A tag is (field number << 3) | wire type, as a varint; wire type 0 is VARINT, 2 is LEN.
// A varint holds 7 bits a byte, least significant group first, with the high bit set on every
// byte but the last: 300 = 0b10_0101100 -> ac 02.

#[test]
fn user_encodes_with_presence_for_its_optional_ids() {
    let lhc = User {
        external_id: Some(60),
        id: None,
        name: "LHC".into(),
    };
    assert_eq!(
        lhc.encode_to_vec(),
        [
            0x08, 0x3c, // 1 externalId VARINT 60
            // 2 id: absent, nothing on the wire
            0x1a, 0x03, b'L', b'H', b'C', // 3 name LEN 3
        ]
    );
    // A set id of 0 is still written, because the field has presence.
    let zero = User {
        external_id: None,
        id: Some(0),
        name: String::new(),
    };
    assert_eq!(zero.encode_to_vec(), [0x10, 0x00]);
}

#[test]
fn env_info_encodes_as_the_kafka_plugin_writes_it() {
    let info = EnvInfo {
        environment_id: "E".into(),
        run_number: Some(0),
        run_type: None,
        state: "RUNNING".into(),
        detectors: vec!["ITS".into(), "TPC".into()],
        enter_state_timestamp: 1_700_000_000_000,
    };
    let mut expected = vec![
        0x0a, 0x01, b'E', // 1 environmentId
        0x10, 0x00, // 2 runNumber: optional, so 0 is on the wire
        // 3 runType: absent
        0x22, 0x07, // 4 state LEN 7
    ];
    expected.extend(b"RUNNING");
    expected.extend([0x2a, 0x03]); // 5 detectors, one LEN record per element
    expected.extend(b"ITS");
    expected.extend([0x2a, 0x03]);
    expected.extend(b"TPC");
    // 6 enterStateTimestamp VARINT 1700000000000 = 0x18BCFE56800
    expected.extend([0x30, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31]);
    assert_eq!(info.encode_to_vec(), expected);

    let list = ActiveRunsList {
        active_runs: vec![EnvInfo {
            environment_id: "A".into(),
            ..Default::default()
        }],
        timestamp: 2,
    };
    assert_eq!(
        list.encode_to_vec(),
        [0x0a, 0x03, 0x0a, 0x01, b'A', 0x10, 0x02] // 1 activeRuns LEN 3 { 1 "A" }, 2 timestamp 2
    );
}

#[test]
fn run_event_sits_at_envelope_field_16() {
    let event = Event {
        timestamp: 1,
        timestamp_nano: 2,
        payload: Some(Payload::RunEvent(EvRunEvent {
            environment_id: "E".into(),
            run_number: 300,
            transition_status: OpStatus::DoneOk.into(),
            ..Default::default()
        })),
    };
    assert_eq!(
        event.encode_to_vec(),
        [
            0x08, 0x01, // 1 timestamp
            0x10, 0x02, // 2 timestampNano
            0x82, 0x01, 0x08, // 16 runEvent: tag (16<<3)|2 = 130 = 82 01, LEN 8
            0x0a, 0x01, b'E', // 1 environmentId
            0x10, 0xac, 0x02, // 2 runNumber 300
            0x30, 0x03, // 6 transitionStatus DONE_OK = 3
        ]
    );
}

#[test]
fn beam_mode_event_sits_at_envelope_field_200() {
    let event = Event {
        timestamp: 0,
        timestamp_nano: 0,
        payload: Some(Payload::BeamModeEvent(EvBeamModeEvent {
            timestamp: 5,
            beam_info: Some(ecsim_proto::common::BeamInfo {
                fill_number: 9000,
                beam_mode: ecsim_proto::common::BeamMode::StableBeams.into(),
                ..Default::default()
            }),
        })),
    };
    assert_eq!(
        event.encode_to_vec(),
        [
            0xc2, 0x0c, 0x09, // 200 beamModeEvent: tag (200<<3)|2 = 1602 = c2 0c, LEN 9
            0x08, 0x05, // 1 timestamp 5
            0x12, 0x05, // 2 beamInfo LEN 5
            0x18, 0xa8, 0x46, // 3 fillNumber 9000
            0x30, 0x0b, // 6 beamMode STABLE_BEAMS = 11
        ]
    );
}

#[test]
fn environment_event_encodes_status_vars_and_user() {
    let event = EvEnvironmentEvent {
        transition_status: OpStatus::DoneError.into(),
        vars: [("k".to_owned(), "v".to_owned())].into(),
        last_request_user: Some(User {
            name: "a".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        event.encode_to_vec(),
        [
            0x40, 0x04, // 8 transitionStatus DONE_ERROR = 4
            0x4a, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01,
            b'v', // 9 vars: entry { 1 key, 2 value }
            0x52, 0x03, 0x1a, 0x01, b'a', // 10 lastRequestUser { 3 name }
        ]
    );
}

#[test]
fn call_and_task_events_put_environment_and_path_where_the_reference_says() {
    let call = ecsim_proto::events::EvCallEvent {
        r#return: "r".into(),
        environment_id: "E".into(),
        path: "p".into(),
        ..Default::default()
    };
    assert_eq!(
        call.encode_to_vec(),
        [0x1a, 0x01, b'r', 0x3a, 0x01, b'E', 0x42, 0x01, b'p'] // 3 return, 7 environmentId, 8 path
    );

    let task = ecsim_proto::events::EvTaskEvent {
        taskid: "t".into(),
        traits: Some(ecsim_proto::events::Traits {
            critical: true,
            ..Default::default()
        }),
        environment_id: "E".into(),
        path: "p".into(),
        ..Default::default()
    };
    assert_eq!(
        task.encode_to_vec(),
        [
            0x12, 0x01, b't', // 2 taskid
            0x3a, 0x02, 0x20, 0x01, // 7 traits { 4 critical true }
            0x42, 0x01, b'E', // 8 environmentId
            0x4a, 0x01, b'p', // 9 path
        ]
    );
}

// ---- The schema, pinned ---------------------------------------------------------------------

/// Renders the compiled schema of `packages` as one line per file, service method, message,
/// field, reserved range and enum value, in declaration order: the form a reviewer compares
/// with the reference tables (or with AliECS's file).
fn describe_schema(packages: &[&str]) -> String {
    let mut lines = Vec::new();
    for file in DESCRIPTOR_POOL
        .files()
        .filter(|f| packages.contains(&f.package_name()))
    {
        let imports: Vec<&str> = file
            .file_descriptor_proto()
            .dependency
            .iter()
            .map(String::as_str)
            .collect();
        lines.push(format!(
            "file {} package {} imports {imports:?}",
            file.name(),
            file.package_name()
        ));
        for service in file.services() {
            lines.push(format!("  service {}", service.full_name()));
            for method in service.methods() {
                let stream = |yes: bool| if yes { "stream " } else { "" };
                lines.push(format!(
                    "    rpc {} ({}{}) returns ({}{})",
                    method.name(),
                    stream(method.is_client_streaming()),
                    method.input().full_name(),
                    stream(method.is_server_streaming()),
                    method.output().full_name()
                ));
            }
        }
        for message in file.messages() {
            lines.push(format!("  message {}", message.full_name()));
            for nested in message.child_enums() {
                lines.push(format!("    enum {}", nested.full_name()));
                for value in nested.values() {
                    lines.push(format!("      {:>3} {}", value.number(), value.name()));
                }
            }
            for field in message.fields() {
                assert_ne!(
                    field.cardinality(),
                    Cardinality::Required,
                    "proto3 has no required fields"
                );
                let kind = match field.kind() {
                    Kind::Message(m) if m.is_map_entry() => format!(
                        "map<{:?}, {:?}>",
                        m.map_entry_key_field().kind(),
                        m.map_entry_value_field().kind()
                    ),
                    Kind::Message(m) => m.full_name().to_owned(),
                    Kind::Enum(e) => e.full_name().to_owned(),
                    scalar => format!("{scalar:?}").to_lowercase(),
                };
                let label = if field.is_list() {
                    "repeated "
                } else if field.field_descriptor_proto().proto3_optional() {
                    "optional "
                } else {
                    ""
                };
                let oneof = field
                    .containing_oneof()
                    .filter(|o| !o.is_synthetic())
                    .map(|o| format!(" (oneof {})", o.name()))
                    .unwrap_or_default();
                lines.push(format!(
                    "    {:>3} {label}{kind} {}{oneof}",
                    field.number(),
                    field.name()
                ));
            }
            for range in message.reserved_ranges() {
                lines.push(format!("    reserved {}..={}", range.start, range.end - 1));
            }
        }
        for enumeration in file.enums() {
            lines.push(format!("  enum {}", enumeration.full_name()));
            for value in enumeration.values() {
                lines.push(format!("    {:>3} {}", value.number(), value.name()));
            }
        }
    }
    lines.join("\n")
}

#[test]
fn the_schema_is_aliecs_schema() {
    insta::assert_snapshot!(describe_schema(ALIECS_PACKAGES));
}

/// AliECS's control API (`o2control`, issue 14): checked token for token against AliECS's
/// `core/protos/o2control.proto` when it was written; this snapshot keeps it so.
#[test]
fn the_control_api_is_aliecs_control_api() {
    insta::assert_snapshot!(describe_schema(&[CONTROL_PACKAGE]));
}

/// AliECS's configuration service (`apricot`, issue 23): checked token for token against
/// AliECS's `apricot/protos/apricot.proto` (Control 9770b1f5) when it was written; this snapshot
/// keeps it so.
#[test]
fn the_configuration_service_is_aliecs_apricot() {
    insta::assert_snapshot!(describe_schema(&[ecsim_proto::APRICOT_PACKAGE]));
}
