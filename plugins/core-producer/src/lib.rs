//! AliECS's core event producer, as an ecsim plugin.
//!
//! AliECS's core writes every event it makes to a topic of its own (reference §3.1, §3.4,
//! `common/event/writer.go`): the event wrapped in an `events.Event` envelope with its time in
//! milliseconds and nanoseconds, keyed by environment id (task id for task events, no key for
//! meta events) so that one environment's events keep their order on a multi-partition topic.
//! This plugin does the same with the core events ecsim's core hands to every plugin.
//!
//! It offers no functions to workflows; it only observes. It gets its publisher at
//! construction, not at `init`, because the core's first event (`aliecs.core`) precedes the
//! plugins' initialization, as in AliECS.

use std::sync::Arc;

use async_trait::async_trait;
use ecsim_core::{
    event::{CoreEvent, CorePayload},
    plugin::IntegrationPlugin,
    publish::{Publisher, Record},
};
use ecsim_proto::{
    events::{Event, event::Payload},
    prost::Message as _,
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

/// The topic and key of a core event, and its envelope payload.
fn route(payload: &CorePayload) -> (String, Option<&str>, Payload) {
    match payload {
        CorePayload::CoreStart(e) => (
            topics::CORE.into(),
            None,
            Payload::CoreStartEvent(e.clone()),
        ),
        CorePayload::Environment(e) => (
            topics::ENVIRONMENT.into(),
            Some(e.environment_id.as_str()),
            Payload::EnvironmentEvent(e.clone()),
        ),
        CorePayload::Run(e) => (
            topics::RUN.into(),
            Some(e.environment_id.as_str()),
            Payload::RunEvent(e.clone()),
        ),
        CorePayload::Task(e) => (
            topics::TASK.into(),
            Some(e.taskid.as_str()),
            Payload::TaskEvent(e.clone()),
        ),
        CorePayload::Role(e) => (
            topics::ROLE.into(),
            Some(e.environment_id.as_str()),
            Payload::RoleEvent(e.clone()),
        ),
        CorePayload::Call(e) => (
            topics::CALL.into(),
            Some(e.environment_id.as_str()),
            Payload::CallEvent(e.clone()),
        ),
        CorePayload::IntegratedService { service, event } => (
            format!("{}{service}", topics::INTEGRATED_SERVICE_PREFIX),
            Some(event.environment_id.as_str()),
            Payload::IntegratedServiceEvent(event.clone()),
        ),
    }
}

/// The record AliECS's writer would send for `event`.
pub fn record_for(event: &CoreEvent) -> Record {
    let (topic, key, payload) = route(&event.payload);
    let envelope = Event {
        timestamp: event.timestamp.unix_millis(),
        timestamp_nano: event.timestamp.unix_nanos(),
        payload: Some(payload),
    };
    Record {
        topic,
        // An empty id gives no key, as AliECS's writer does.
        key: key.filter(|k| !k.is_empty()).map(|k| k.as_bytes().to_vec()),
        value: envelope.encode_to_vec(),
        timestamp: event.timestamp,
        message_type: topics::EVENT_TYPE,
    }
}

#[async_trait]
impl IntegrationPlugin for CoreProducer {
    fn name(&self) -> &str {
        NAME
    }

    fn pretty_name(&self) -> &str {
        "AliECS core event producer"
    }

    fn observe(&self, event: &CoreEvent) {
        self.publisher.publish(record_for(event));
    }
}

#[cfg(test)]
mod tests {
    use ecsim_core::clock::Timestamp;
    use ecsim_proto::events::{
        EvIntegratedServiceEvent, EvMetaEventCoreStart, EvRunEvent, EvTaskEvent,
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
    fn every_event_goes_to_its_topic_with_its_key() {
        let run = record(CorePayload::Run(EvRunEvent {
            environment_id: "ENV".into(),
            ..Default::default()
        }));
        assert_eq!(
            (run.topic.as_str(), run.key.as_deref()),
            ("aliecs.run", Some(&b"ENV"[..]))
        );

        let task = record(CorePayload::Task(EvTaskEvent {
            taskid: "TASK".into(),
            environment_id: "ENV".into(),
            ..Default::default()
        }));
        assert_eq!(
            (task.topic.as_str(), task.key.as_deref()),
            ("aliecs.task", Some(&b"TASK"[..]))
        );

        let dcs = record(CorePayload::IntegratedService {
            service: "dcs".into(),
            event: EvIntegratedServiceEvent::default(),
        });
        assert_eq!(
            (dcs.topic.as_str(), dcs.key),
            ("aliecs.integrated_service.dcs", None)
        );

        let start = record(CorePayload::CoreStart(EvMetaEventCoreStart {
            framework_id: "F".into(),
        }));
        assert_eq!((start.topic.as_str(), start.key), ("aliecs.core", None));
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
        assert_eq!((run.message_type, run.timestamp), ("events.Event", AT));
    }
}
