//! The Kafka topics AliECS writes, and the message type each one carries.
//!
//! Two producers in AliECS write to Kafka (reference §2, §3): the core event writer, whose
//! topics carry `events.Event`, and the Kafka integration plugin, whose topics carry
//! `kafka.NewStateNotification` or `kafka.ActiveRunsList`. The LHC client writes
//! `events.Event` with a beam-mode payload to `dip.lhc.beam_mode`. A consumer that reads a
//! topic must know which type to decode; [`message_type_for_topic`] is that knowledge.

use std::borrow::Cow;

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

/// The protobuf type of a message AliECS writes: one per kind of topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageType {
    /// `events.Event`: the core's `aliecs.*` topics, integrated services, the LHC's beam mode.
    Event,
    /// `kafka.NewStateNotification`: the Kafka plugin's state and start-activity topics.
    NewStateNotification,
    /// `kafka.ActiveRunsList`: the Kafka plugin's list of running environments.
    ActiveRunsList,
}

impl MessageType {
    /// Every type AliECS writes.
    pub const ALL: [MessageType; 3] = [
        MessageType::Event,
        MessageType::NewStateNotification,
        MessageType::ActiveRunsList,
    ];

    /// Its fully qualified protobuf name (`events.Event`), as the schema and `--type` name it.
    pub const fn name(self) -> &'static str {
        match self {
            MessageType::Event => EVENT_TYPE,
            MessageType::NewStateNotification => NEW_STATE_NOTIFICATION_TYPE,
            MessageType::ActiveRunsList => ACTIVE_RUNS_LIST_TYPE,
        }
    }

    /// The type AliECS writes to `topic`, or `None` for a topic AliECS does not write.
    pub fn for_topic(topic: &str) -> Option<MessageType> {
        if topic.starts_with(ENV_STATE_PREFIX)
            || topic.starts_with(ENV_LEAVE_STATE_PREFIX)
            || topic == BEFORE_START_ACTIVITY
            || topic == AFTER_START_ACTIVITY
            || topic == START_ACTIVITY
        {
            Some(MessageType::NewStateNotification)
        } else if topic.starts_with(ENV_LIST_PREFIX) {
            Some(MessageType::ActiveRunsList)
        } else if topic.starts_with("aliecs.") || topic == BEAM_MODE {
            Some(MessageType::Event)
        } else {
            None
        }
    }
}

impl std::fmt::Display for MessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The fully qualified protobuf message type that AliECS writes to `topic`, or `None` for a
/// topic AliECS does not write ([`MessageType::for_topic`], by name).
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
    MessageType::for_topic(topic).map(MessageType::name)
}

/// `aliecs.env_state.<state>`: the topic the Kafka plugin writes on entering `state`.
/// Borrowed (no allocation, for a name made for every message) for the states AliECS reports.
///
/// ```
/// assert_eq!(ecsim_proto::topics::env_state("RUNNING"), "aliecs.env_state.RUNNING");
/// assert_eq!(ecsim_proto::topics::env_state("MIXED"), "aliecs.env_state.MIXED");
/// ```
pub fn env_state(state: &str) -> Cow<'static, str> {
    match state {
        "STANDBY" => Cow::Borrowed("aliecs.env_state.STANDBY"),
        "DEPLOYED" => Cow::Borrowed("aliecs.env_state.DEPLOYED"),
        "CONFIGURED" => Cow::Borrowed("aliecs.env_state.CONFIGURED"),
        "RUNNING" => Cow::Borrowed("aliecs.env_state.RUNNING"),
        "ERROR" => Cow::Borrowed("aliecs.env_state.ERROR"),
        "UNKNOWN" => Cow::Borrowed("aliecs.env_state.UNKNOWN"),
        other => Cow::Owned(format!("{ENV_STATE_PREFIX}{other}")),
    }
}

/// `aliecs.env_leave_state.<state>`, as [`env_state`].
pub fn env_leave_state(state: &str) -> Cow<'static, str> {
    match state {
        "STANDBY" => Cow::Borrowed("aliecs.env_leave_state.STANDBY"),
        "DEPLOYED" => Cow::Borrowed("aliecs.env_leave_state.DEPLOYED"),
        "CONFIGURED" => Cow::Borrowed("aliecs.env_leave_state.CONFIGURED"),
        "RUNNING" => Cow::Borrowed("aliecs.env_leave_state.RUNNING"),
        "ERROR" => Cow::Borrowed("aliecs.env_leave_state.ERROR"),
        "UNKNOWN" => Cow::Borrowed("aliecs.env_leave_state.UNKNOWN"),
        other => Cow::Owned(format!("{ENV_LEAVE_STATE_PREFIX}{other}")),
    }
}

/// `aliecs.integrated_service.<service>`, borrowed for the services AliECS has.
///
/// ```
/// assert_eq!(ecsim_proto::topics::integrated_service("dcs"), "aliecs.integrated_service.dcs");
/// assert_eq!(ecsim_proto::topics::integrated_service("bkp"), "aliecs.integrated_service.bkp");
/// ```
pub fn integrated_service(service: &str) -> Cow<'static, str> {
    match service {
        "dcs" => Cow::Borrowed("aliecs.integrated_service.dcs"),
        "odc" => Cow::Borrowed("aliecs.integrated_service.odc"),
        "trg" => Cow::Borrowed("aliecs.integrated_service.trg"),
        "ddsched" => Cow::Borrowed("aliecs.integrated_service.ddsched"),
        other => Cow::Owned(format!("{INTEGRATED_SERVICE_PREFIX}{other}")),
    }
}

/// Every topic AliECS (and the LHC client) writes, by name: the core's, the Kafka plugin's for
/// every state it can report, the integrated services', the beam mode.
pub fn all_known() -> Vec<String> {
    let mut topics: Vec<String> = [
        CORE,
        ENVIRONMENT,
        RUN,
        TASK,
        CALL,
        ROLE,
        ENV_LIST_RUNNING,
        BEFORE_START_ACTIVITY,
        AFTER_START_ACTIVITY,
        START_ACTIVITY,
        BEAM_MODE,
    ]
    .map(str::to_owned)
    .to_vec();
    for state in [
        "STANDBY",
        "DEPLOYED",
        "CONFIGURED",
        "RUNNING",
        "ERROR",
        "UNKNOWN",
    ] {
        topics.push(env_state(state).into_owned());
        topics.push(env_leave_state(state).into_owned());
    }
    for service in ["dcs", "odc", "trg", "ddsched"] {
        topics.push(integrated_service(service).into_owned());
    }
    topics
}

/// Whether `topic` matches `pattern`, where `*` stands for any run of characters
/// (`aliecs.env_state.*`, `*.RUNNING`); a pattern without `*` must equal the topic.
///
/// ```
/// use ecsim_proto::topics::matches_pattern;
///
/// assert!(matches_pattern("aliecs.env_state.*", "aliecs.env_state.RUNNING"));
/// assert!(!matches_pattern("aliecs.env_state.*", "aliecs.env_list.RUNNING"));
/// ```
pub fn matches_pattern(pattern: &str, topic: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == topic;
    };
    let Some(mut rest) = topic.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
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
    fn patterns_match_with_stars() {
        assert!(matches_pattern("aliecs.run", "aliecs.run"));
        assert!(!matches_pattern("aliecs.run", "aliecs.runs"));
        assert!(matches_pattern("aliecs.*", "aliecs.env_state.RUNNING"));
        assert!(matches_pattern("*", "anything"));
        assert!(matches_pattern("*.RUNNING", "aliecs.env_list.RUNNING"));
        assert!(matches_pattern(
            "aliecs.*.RUNNING",
            "aliecs.env_state.RUNNING"
        ));
        assert!(!matches_pattern(
            "aliecs.*.RUNNING",
            "aliecs.env_state.ERROR"
        ));
        assert!(!matches_pattern("a*a", "a"));
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
