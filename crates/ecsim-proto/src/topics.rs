//! The Kafka topics AliECS writes, and the message type each one carries.
//!
//! Two producers in AliECS write to Kafka (reference §2, §3): the core event writer, whose
//! topics carry `events.Event`, and the Kafka integration plugin, whose topics carry
//! `kafka.NewStateNotification` or `kafka.ActiveRunsList`. The LHC client writes
//! `events.Event` with a beam-mode payload to `dip.lhc.beam_mode`. A consumer that reads a
//! topic must know which type to decode; [`message_type_for_topic`] is that knowledge.

/// Core start meta event (`Ev_MetaEvent_CoreStart`), once at startup.
pub const CORE: &str = "aliecs.core";
/// Environment transitions (`Ev_EnvironmentEvent`).
pub const ENVIRONMENT: &str = "aliecs.environment";
/// Run start/stop bookkeeping (`Ev_RunEvent`).
pub const RUN: &str = "aliecs.run";
/// Task state changes (`Ev_TaskEvent`).
pub const TASK: &str = "aliecs.task";
/// Integration calls (`Ev_CallEvent`).
pub const CALL: &str = "aliecs.call";
/// Role state and status changes (`Ev_RoleEvent`).
pub const ROLE: &str = "aliecs.role";
/// Prefix of the integrated-service topics (`aliecs.integrated_service.dcs`, `.odc`, …).
pub const INTEGRATED_SERVICE_PREFIX: &str = "aliecs.integrated_service.";
/// Prefix of the topics the Kafka plugin writes on entering a state (`aliecs.env_state.RUNNING`
/// is start of run for most consumers).
pub const ENV_STATE_PREFIX: &str = "aliecs.env_state.";
/// Prefix of the topics the Kafka plugin writes on leaving a state.
pub const ENV_LEAVE_STATE_PREFIX: &str = "aliecs.env_leave_state.";
/// The list of environments currently running (`kafka.ActiveRunsList`).
pub const ENV_LIST_RUNNING: &str = "aliecs.env_list.RUNNING";
/// Prefix of the active-environment lists; AliECS only writes [`ENV_LIST_RUNNING`].
pub const ENV_LIST_PREFIX: &str = "aliecs.env_list.";
/// Written by `kafka.PublishStartActivityUpdate()` at a `before_START_ACTIVITY` trigger.
pub const BEFORE_START_ACTIVITY: &str = "aliecs.before_start_activity";
/// Written by `kafka.PublishStartActivityUpdate()` at an `after_START_ACTIVITY` trigger.
pub const AFTER_START_ACTIVITY: &str = "aliecs.after_start_activity";
/// Written by `kafka.PublishStartActivityUpdate()` at any other trigger.
pub const START_ACTIVITY: &str = "aliecs.start_activity";
/// LHC beam mode changes (`Ev_BeamModeEvent` in an `events.Event`), written by ALICE's LHC
/// client and read by AliECS's `lhc` plugin.
pub const BEAM_MODE: &str = "dip.lhc.beam_mode";

/// Fully qualified name of the core envelope.
pub const EVENT_TYPE: &str = "events.Event";
/// Fully qualified name of the Kafka plugin's state notification.
pub const NEW_STATE_NOTIFICATION_TYPE: &str = "kafka.NewStateNotification";
/// Fully qualified name of the Kafka plugin's running-environment list.
pub const ACTIVE_RUNS_LIST_TYPE: &str = "kafka.ActiveRunsList";

/// The fully qualified protobuf message type that AliECS writes to `topic`, or `None` for a
/// topic AliECS does not write.
///
/// ```
/// use ecsim_proto::topics::message_type_for_topic;
///
/// assert_eq!(message_type_for_topic("aliecs.env_state.RUNNING"), Some("kafka.NewStateNotification"));
/// assert_eq!(message_type_for_topic("aliecs.env_list.RUNNING"), Some("kafka.ActiveRunsList"));
/// assert_eq!(message_type_for_topic("aliecs.integrated_service.dcs"), Some("events.Event"));
/// assert_eq!(message_type_for_topic("some.other.topic"), None);
/// ```
pub fn message_type_for_topic(topic: &str) -> Option<&'static str> {
    if topic.starts_with(ENV_STATE_PREFIX)
        || topic.starts_with(ENV_LEAVE_STATE_PREFIX)
        || topic == BEFORE_START_ACTIVITY
        || topic == AFTER_START_ACTIVITY
        || topic == START_ACTIVITY
    {
        Some(NEW_STATE_NOTIFICATION_TYPE)
    } else if topic.starts_with(ENV_LIST_PREFIX) {
        Some(ACTIVE_RUNS_LIST_TYPE)
    } else if topic.starts_with("aliecs.") || topic == BEAM_MODE {
        Some(EVENT_TYPE)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every topic of reference §2.3 and §3.1, with the type the reference says it carries.
    #[test]
    fn every_aliecs_topic_maps_to_the_type_the_reference_names() {
        let cases = [
            (CORE, EVENT_TYPE),
            (ENVIRONMENT, EVENT_TYPE),
            (RUN, EVENT_TYPE),
            (TASK, EVENT_TYPE),
            (CALL, EVENT_TYPE),
            (ROLE, EVENT_TYPE),
            ("aliecs.integrated_service.dcs", EVENT_TYPE),
            ("aliecs.integrated_service.odc", EVENT_TYPE),
            ("aliecs.integrated_service.trg", EVENT_TYPE),
            ("aliecs.integrated_service.ddsched", EVENT_TYPE),
            (BEAM_MODE, EVENT_TYPE),
            ("aliecs.env_state.RUNNING", NEW_STATE_NOTIFICATION_TYPE),
            ("aliecs.env_state.UNKNOWN", NEW_STATE_NOTIFICATION_TYPE),
            (
                "aliecs.env_leave_state.RUNNING",
                NEW_STATE_NOTIFICATION_TYPE,
            ),
            (BEFORE_START_ACTIVITY, NEW_STATE_NOTIFICATION_TYPE),
            (AFTER_START_ACTIVITY, NEW_STATE_NOTIFICATION_TYPE),
            (START_ACTIVITY, NEW_STATE_NOTIFICATION_TYPE),
            (ENV_LIST_RUNNING, ACTIVE_RUNS_LIST_TYPE),
        ];
        for (topic, expected) in cases {
            assert_eq!(
                message_type_for_topic(topic),
                Some(expected),
                "topic {topic}"
            );
        }
    }

    #[test]
    fn topics_aliecs_does_not_write_have_no_type() {
        for topic in [
            "",
            "aliecs",
            "dip.lhc.fill",
            "alice.environment",
            "ALIECS.run",
        ] {
            assert_eq!(message_type_for_topic(topic), None, "topic {topic:?}");
        }
    }

    #[test]
    fn the_type_names_exist_in_the_schema() {
        for name in [
            EVENT_TYPE,
            NEW_STATE_NOTIFICATION_TYPE,
            ACTIVE_RUNS_LIST_TYPE,
        ] {
            assert!(
                crate::DESCRIPTOR_POOL.get_message_by_name(name).is_some(),
                "{name}"
            );
        }
    }
}
