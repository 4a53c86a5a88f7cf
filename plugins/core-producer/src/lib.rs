//! AliECS's core event producer, as an ecsim plugin.
//!
//! AliECS's core writes every event it makes to a topic of its own (reference §3.1, §3.4,
//! `common/event/writer.go`): the event wrapped in an `events.Event` envelope with its time in
//! milliseconds and nanoseconds, keyed by environment id (task id for task events, no key for
//! meta events) so that one environment's events keep their order on a multi-partition topic.
//! This plugin does the same with the core events ecsim's core hands to every plugin, with the
//! bytes protobuf-go writes (`go_wire`: map entries whole).
//!
//! It offers no functions to workflows; it only observes. It gets its publisher at
//! construction, not at `init`, because the core's first event (`aliecs.core`) precedes the
//! plugins' initialization, as in AliECS.

#![forbid(unsafe_code)]

mod fields;
mod go_wire;
mod tree_wire;

use std::{borrow::Cow, sync::Arc};

use async_trait::async_trait;
use ecsim_core::{
    clock::Timestamp,
    event::{CoreEvent, CoreObserver, CorePayload},
    plugin::IntegrationPlugin,
    publish::{MessageType, Publisher, Record},
};
use ecsim_proto::{
    prost::{Message, encoding},
    topics,
};

/// The plugin's name in the registry.
pub const NAME: &str = "core-producer";

/// Publishes every core event on its `aliecs.*` topic.
#[derive(Debug)]
pub struct CoreProducer {
    publisher: Arc<dyn Publisher>,
}

impl CoreProducer {
    /// A producer publishing through `publisher`.
    pub fn new(publisher: Arc<dyn Publisher>) -> Self {
        Self { publisher }
    }
}

/// The envelope `events.Event { timestamp, timestampNano, <payload field> }`, encoded exactly
/// as prost encodes it — fields in number order, zero integers left out — but straight from
/// the borrowed payload, without copying it into an envelope first: this runs for every message
/// ecsim publishes.
fn envelope(timestamp: Timestamp, field: u32, payload: &impl Message) -> Vec<u8> {
    let (millis, nanos) = (timestamp.unix_millis(), timestamp.unix_nanos());
    // The payload's length once: prost's `message::encode` would count it again for its
    // length prefix, and counting walks the whole message.
    let payload_len = payload.encoded_len();
    let mut len =
        encoding::key_len(field) + encoding::encoded_len_varint(payload_len as u64) + payload_len;
    if millis != 0 {
        len += encoding::int64::encoded_len(1, &millis);
    }
    if nanos != 0 {
        len += encoding::int64::encoded_len(2, &nanos);
    }
    // Written into a slice of the exact length rather than grown as a `Vec`: a byte written
    // to a slice costs a bounds check, to a `Vec` a capacity check and a length update, and
    // a message is mostly one- and two-byte varints.
    let mut value = vec![0; len];
    let mut buf = value.as_mut_slice();
    if millis != 0 {
        encoding::int64::encode(1, &millis, &mut buf);
    }
    if nanos != 0 {
        encoding::int64::encode(2, &nanos, &mut buf);
    }
    encoding::encode_key(field, encoding::WireType::LengthDelimited, &mut buf);
    encoding::encode_varint(payload_len as u64, &mut buf);
    payload.encode_raw(&mut buf);
    debug_assert!(buf.is_empty(), "the envelope's length is exact");
    value
}

/// The record AliECS's writer would send for `event`: its topic, its key (environment id, task
/// id for task events, none for meta events) and the encoded envelope.
pub fn record_for(event: &CoreEvent) -> Record {
    let at = event.timestamp;
    // Field numbers of the `events.Event` payload oneof.
    let (topic, key, value): (Cow<'static, str>, Option<&str>, Vec<u8>) = match &event.payload {
        CorePayload::CoreStart(e) => (topics::CORE.into(), None, envelope(at, 103, e)),
        CorePayload::Environment(e) => (
            topics::ENVIRONMENT.into(),
            Some(&e.environment_id),
            envelope(at, 11, &go_wire::GoEnvironmentEvent(Some(e))),
        ),
        CorePayload::Task(e) => (
            topics::TASK.into(),
            Some(e.task.id.as_str()),
            envelope(at, 12, &tree_wire::TaskWire(e)),
        ),
        CorePayload::Role(e) => (
            topics::ROLE.into(),
            Some(&e.role.environment_id),
            envelope(at, 13, &tree_wire::RoleWire(e)),
        ),
        CorePayload::Call(e) => (
            topics::CALL.into(),
            Some(&e.environment_id),
            envelope(at, 14, e),
        ),
        CorePayload::IntegratedService { service, event } => (
            topics::integrated_service(service),
            Some(&event.environment_id),
            envelope(at, 15, event),
        ),
        CorePayload::Run(e) => (
            topics::RUN.into(),
            Some(&e.environment_id),
            envelope(at, 16, e),
        ),
    };
    Record {
        topic,
        // An empty id gives no key, as AliECS's writer does.
        key: key.filter(|k| !k.is_empty()).map(|k| k.as_bytes().to_vec()),
        value,
        timestamp: at,
        message_type: MessageType::Event,
    }
}

impl CoreProducer {
    /// The core's own topics, which it writes (integrated-service topics are declared by the
    /// plugins whose events they carry).
    pub const TOPICS: [&str; 6] = [
        topics::CORE,
        topics::ENVIRONMENT,
        topics::RUN,
        topics::TASK,
        topics::ROLE,
        topics::CALL,
    ];
}

#[async_trait]
impl IntegrationPlugin for CoreProducer {
    fn topics(&self) -> Vec<String> {
        Self::TOPICS.map(str::to_owned).to_vec()
    }

    fn name(&self) -> &str {
        NAME
    }

    fn pretty_name(&self) -> &str {
        "AliECS core event producer"
    }

    /// AliECS's core writes these events itself: no plugin of its does.
    fn is_integrated_service(&self) -> bool {
        false
    }
}

impl CoreObserver for CoreProducer {
    fn observe(&self, event: &CoreEvent) {
        self.publisher.publish(record_for(event));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ecsim_core::{
        TaskId,
        clock::Timestamp,
        event::{RoleChange, RoleEvent, RoleFacts, TaskEvent, TaskEventStatus, TaskFacts},
        fsm::State,
        role_state::{RoleState, TaskStatus},
    };
    use ecsim_proto::events::{
        EvIntegratedServiceEvent, EvMetaEventCoreStart, EvRunEvent, Event, event::Payload,
    };

    use super::*;

    const AT: Timestamp = Timestamp::from_unix_nanos(1_750_000_000_123_456_789);

    fn record(payload: CorePayload) -> Record {
        record_for(&CoreEvent {
            timestamp: AT,
            payload,
        })
    }

    #[test]
    fn the_envelope_is_byte_for_byte_what_prost_makes_of_an_event() {
        use ecsim_proto::events::{EvCallEvent, EvEnvironmentEvent, Traits};
        let environment = EvEnvironmentEvent {
            environment_id: "2oDvieFrVTi".into(),
            state: "RUNNING".into(),
            run_number: 7,
            vars: [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned()),
            ]
            .into(),
            ..Default::default()
        };
        let call = EvCallEvent {
            func: "dcs.StartOfRun()".into(),
            traits: Some(Traits {
                critical: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let role = RoleEvent {
            role: Arc::new(RoleFacts::new(
                "2oDvieFrVTi".into(),
                "readout-dataflow.host-flp1".into(),
            )),
            change: RoleChange::State(RoleState::Mixed),
        };
        let task = TaskEvent {
            task: Arc::new(TaskFacts {
                id: TaskId::from("2oDvieFrVTj"),
                name: "readout#2oDvieFrVTj".into(),
                class_name: "readout".into(),
                hostname: "flp1".into(),
                traits: Arc::default(),
                role: Arc::new(RoleFacts::new(
                    "2oDvieFrVTi".into(),
                    "readout-dataflow.host-flp1.readout".into(),
                )),
            }),
            state: State::Configured,
            status: TaskEventStatus::Is(TaskStatus::Active),
            detached: false,
        };
        let cases = [
            (
                CorePayload::Environment(environment.clone()),
                Payload::EnvironmentEvent(environment),
            ),
            (CorePayload::Call(call.clone()), Payload::CallEvent(call)),
            (
                CorePayload::Role(role.clone()),
                Payload::RoleEvent(role.to_proto()),
            ),
            (
                CorePayload::Task(task.clone()),
                Payload::TaskEvent(task.to_proto()),
            ),
            (
                CorePayload::CoreStart(EvMetaEventCoreStart::default()),
                Payload::CoreStartEvent(EvMetaEventCoreStart::default()),
            ),
        ];
        for at in [
            AT,
            Timestamp::from_unix_nanos(0),
            Timestamp::from_unix_nanos(999_999),
        ] {
            for (payload, expected) in cases.clone() {
                let ours = record_for(&CoreEvent {
                    timestamp: at,
                    payload,
                })
                .value;
                let prost = Event {
                    timestamp: at.unix_millis(),
                    timestamp_nano: at.unix_nanos(),
                    payload: Some(expected),
                }
                .encode_to_vec();
                assert_eq!(ours, prost);
            }
        }
    }

    #[test]
    fn every_event_goes_to_its_topic_with_its_key() {
        let run = record(CorePayload::Run(EvRunEvent {
            environment_id: "ENV".into(),
            ..Default::default()
        }));
        assert_eq!(
            (&*run.topic, run.key.as_deref()),
            ("aliecs.run", Some(&b"ENV"[..]))
        );

        let task = record(CorePayload::Task(TaskEvent {
            task: Arc::new(TaskFacts {
                id: TaskId::from("TASK"),
                name: "readout#TASK".into(),
                class_name: "readout".into(),
                hostname: "flp1".into(),
                traits: Default::default(),
                role: Arc::new(RoleFacts::new(
                    "ENV".into(),
                    "readout-dataflow.host-flp1.readout".into(),
                )),
            }),
            state: State::Running,
            status: TaskEventStatus::Is(TaskStatus::Active),
            detached: false,
        }));
        assert_eq!(
            (&*task.topic, task.key.as_deref()),
            ("aliecs.task", Some(&b"TASK"[..]))
        );

        let dcs = record(CorePayload::IntegratedService {
            service: "dcs".into(),
            event: EvIntegratedServiceEvent::default(),
        });
        assert_eq!(
            (&*dcs.topic, dcs.key),
            ("aliecs.integrated_service.dcs", None)
        );

        let start = record(CorePayload::CoreStart(EvMetaEventCoreStart {
            framework_id: "F".into(),
        }));
        assert_eq!((&*start.topic, start.key), ("aliecs.core", None));
    }

    #[test]
    fn the_envelope_carries_the_instant_in_milliseconds_and_nanoseconds() {
        let run = record(CorePayload::Run(EvRunEvent {
            run_number: 7,
            ..Default::default()
        }));
        let envelope = Event::decode(run.value.as_slice()).unwrap();
        assert_eq!(envelope.timestamp, 1_750_000_000_123);
        assert_eq!(envelope.timestamp_nano, 1_750_000_000_123_456_789);
        assert!(matches!(
            envelope.payload,
            Some(Payload::RunEvent(EvRunEvent { run_number: 7, .. }))
        ));
        assert_eq!((run.message_type, run.timestamp), (MessageType::Event, AT));
    }
}
