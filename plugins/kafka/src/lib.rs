//! AliECS's Kafka integration plugin ("legacy events"), as an ecsim plugin.
//!
//! Reference §2 (`core/integration/kafka/plugin.go`). Workflow calls reach it at state changes
//! when an environment's `kafka_enabled` is "true":
//!
//! | function | writes |
//! |---|---|
//! | `kafka.PublishEnterStateUpdate()` | `kafka.NewStateNotification` on `aliecs.env_state.<STATE>`, then `kafka.ActiveRunsList` on `aliecs.env_list.RUNNING` |
//! | `kafka.PublishLeaveStateUpdate()` | `kafka.NewStateNotification` on `aliecs.env_leave_state.<STATE>` |
//! | `kafka.PublishStartActivityUpdate()` | `kafka.NewStateNotification` on `aliecs.before_start_activity` (or `after_`, or plain `start_activity`) |
//!
//! and at `init` it writes an empty `ActiveRunsList`. Field rules are in [`env_info`], the list
//! order in [`running`].
//!
//! Two deliberate differences from AliECS (README, "Differences from AliECS"): a message is
//! handed to the publisher at once, where AliECS's writer blocks about a second per message;
//! and messages are keyed by environment id (the running list by a fixed key) so that a
//! consumer of a multi-partition topic sees one environment's messages in order — AliECS sends
//! no key. [`KeyPolicy::Unkeyed`] restores AliECS's behaviour.

#![forbid(unsafe_code)]

pub mod env_info;
pub mod running;

use std::{
    borrow::Cow,
    sync::{Arc, Mutex, OnceLock},
};

use async_trait::async_trait;
use ecsim_core::{
    clock::Clock,
    plugin::{CallContext, CallOutcome, IntegrationPlugin, PluginContext, PluginError},
    publish::{MessageType, Publisher, Record},
};
use ecsim_proto::{kafka::NewStateNotification, prost::Message, topics};

use crate::running::RunningList;

/// The plugin's name: the object name in workflow calls.
pub const NAME: &str = "kafka";
/// The key of `aliecs.env_list.RUNNING` messages under [`KeyPolicy::EnvironmentId`].
pub const RUNNING_LIST_KEY: &str = "RUNNING";

const ENTER: &str = "PublishEnterStateUpdate";
const LEAVE: &str = "PublishLeaveStateUpdate";
const START_ACTIVITY: &str = "PublishStartActivityUpdate";

/// AliECS's error when `newEnvStateObject` returned nil and the callback dereferenced it.
const NIL_ENV_INFO: &str = "runtime error: invalid memory address or nil pointer dereference";

/// How the plugin keys its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyPolicy {
    /// By environment id; the running list by [`RUNNING_LIST_KEY`]. ecsim's default.
    #[default]
    EnvironmentId,
    /// No key, as AliECS.
    Unkeyed,
}

#[derive(Debug)]
struct Started {
    publisher: Arc<dyn Publisher>,
    clock: Clock,
}

/// AliECS's Kafka plugin.
#[derive(Debug, Default)]
pub struct KafkaPlugin {
    keys: KeyPolicy,
    started: OnceLock<Started>,
    running: Mutex<RunningList>,
}

impl KafkaPlugin {
    /// A plugin keying its messages by `keys`.
    pub fn new(keys: KeyPolicy) -> Self {
        Self {
            keys,
            started: OnceLock::new(),
            running: Mutex::new(RunningList::default()),
        }
    }

    fn publish(
        &self,
        started: &Started,
        topic: Cow<'static, str>,
        key: Option<&str>,
        value: &impl Message,
        message_type: MessageType,
        at: ecsim_core::clock::Timestamp,
    ) {
        self.publish_encoded(started, topic, key, value.encode_to_vec(), message_type, at);
    }

    fn publish_encoded(
        &self,
        started: &Started,
        topic: Cow<'static, str>,
        key: Option<&str>,
        value: Vec<u8>,
        message_type: MessageType,
        at: ecsim_core::clock::Timestamp,
    ) {
        let key = match self.keys {
            KeyPolicy::EnvironmentId => key.map(|k| k.as_bytes().to_vec()),
            KeyPolicy::Unkeyed => None,
        };
        started.publisher.publish(Record {
            topic,
            key,
            value,
            timestamp: at,
            message_type,
        });
    }

    /// The running list, encoded (a `kafka.ActiveRunsList`).
    fn running_list(&self, timestamp: u64) -> Vec<u8> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .encode(timestamp)
    }
}

#[async_trait]
impl IntegrationPlugin for KafkaPlugin {
    /// The topics of every state it can report entering and leaving, the running list, and
    /// the three start-of-activity topics (which one depends on the call's trigger).
    fn topics(&self) -> Vec<String> {
        let entered = ["DEPLOYED", "CONFIGURED", "RUNNING", "ERROR", "UNKNOWN"];
        let left = ["STANDBY", "DEPLOYED", "CONFIGURED", "RUNNING", "ERROR"];
        let mut names: Vec<String> = vec![topics::ENV_LIST_RUNNING.to_owned()];
        names.extend(entered.map(|state| topics::env_state(state).into_owned()));
        names.extend(left.map(|state| topics::env_leave_state(state).into_owned()));
        names.extend(
            [
                topics::BEFORE_START_ACTIVITY,
                topics::AFTER_START_ACTIVITY,
                topics::START_ACTIVITY,
            ]
            .map(str::to_owned),
        );
        names
    }

    fn name(&self) -> &str {
        NAME
    }

    fn pretty_name(&self) -> &str {
        "Kafka FSM transition information service"
    }

    fn connection_state(&self) -> String {
        if self.started.get().is_some() {
            "READY"
        } else {
            "UNKNOWN"
        }
        .to_owned()
    }

    async fn init(&self, context: PluginContext) -> Result<(), PluginError> {
        let started = Started {
            publisher: context.publisher,
            clock: context.clock,
        };
        let now = started.clock.now();
        let empty = self.running_list(now.unix_millis().max(0) as u64);
        self.publish_encoded(
            &started,
            topics::ENV_LIST_RUNNING.into(),
            Some(RUNNING_LIST_KEY),
            empty,
            MessageType::ActiveRunsList,
            now,
        );
        self.started
            .set(started)
            .map_err(|_| PluginError("the kafka plugin was initialized twice".into()))
    }

    fn functions(&self) -> Vec<String> {
        [ENTER, LEAVE, START_ACTIVITY].map(str::to_owned).to_vec()
    }

    async fn call(&self, call: CallContext) -> CallOutcome {
        let Some(started) = self.started.get() else {
            return CallOutcome::failed("the kafka plugin is not initialized", None);
        };
        let Some(info) = env_info::env_info(&call) else {
            return CallOutcome::failed(NIL_ENV_INFO, None);
        };
        let now = started.clock.now();
        let timestamp = now.unix_millis().max(0) as u64;
        let environment_id = info.environment_id.clone();
        let notification = |info| NewStateNotification {
            env_info: Some(info),
            timestamp,
        };
        match call.function.as_str() {
            ENTER => {
                let topic = topics::env_state(&info.state);
                // The list keeps a copy whose detectors it sorts; the notification keeps them in
                // var order, as AliECS's does.
                self.running
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .update(&info);
                self.publish(
                    started,
                    topic,
                    Some(&environment_id),
                    &notification(info),
                    MessageType::NewStateNotification,
                    now,
                );
                let list = self.running_list(timestamp);
                self.publish_encoded(
                    started,
                    topics::ENV_LIST_RUNNING.into(),
                    Some(RUNNING_LIST_KEY),
                    list,
                    MessageType::ActiveRunsList,
                    now,
                );
            }
            LEAVE => {
                let topic = topics::env_leave_state(&info.state);
                self.publish(
                    started,
                    topic,
                    Some(&environment_id),
                    &notification(info),
                    MessageType::NewStateNotification,
                    now,
                );
            }
            START_ACTIVITY => {
                let trigger = &call.traits.trigger;
                let topic = if trigger.contains("before_START_ACTIVITY") {
                    topics::BEFORE_START_ACTIVITY
                } else if trigger.contains("after_START_ACTIVITY") {
                    topics::AFTER_START_ACTIVITY
                } else {
                    topics::START_ACTIVITY
                };
                self.publish(
                    started,
                    topic.into(),
                    Some(&environment_id),
                    &notification(info),
                    MessageType::NewStateNotification,
                    now,
                );
            }
            other => {
                return CallOutcome::failed(
                    format!("the kafka plugin has no function {other}"),
                    None,
                );
            }
        }
        CallOutcome::ok("")
    }
}

#[cfg(test)]
mod tests {
    use ecsim_core::{clock::Timestamp, plugin::CallTraits, publish::MemoryPublisher};
    use ecsim_proto::kafka::ActiveRunsList;

    use super::*;

    async fn started(keys: KeyPolicy) -> (KafkaPlugin, Arc<MemoryPublisher>) {
        let published = Arc::new(MemoryPublisher::new());
        let plugin = KafkaPlugin::new(keys);
        let context = PluginContext {
            instance_id: "framework".into(),
            publisher: published.clone(),
            ..PluginContext::detached(Clock::virtual_time(Timestamp::from_unix_millis(
                1_750_000_000_000,
            )))
        };
        plugin.init(context).await.unwrap();
        (plugin, published)
    }

    fn call(function: &str, trigger: &str, vars: &[(&str, &str)]) -> CallContext {
        CallContext {
            environment_id: "ENV".into(),
            environment_name: "env".into(),
            plugin: NAME.into(),
            function: function.into(),
            func: format!("kafka.{function}()"),
            role_path: "readout-dataflow.kafka.x".into(),
            traits: CallTraits {
                trigger: trigger.into(),
                r#await: trigger.into(),
                timeout: "5s".into(),
                critical: false,
            },
            vars: vars.iter().copied().collect(),
        }
    }

    const VARS: &[(&str, &str)] = &[
        ("enter_state_time_ms", "1"),
        ("detectors", r#"["TPC","ITS"]"#),
        ("run_number", "9"),
    ];

    #[tokio::test]
    async fn init_publishes_an_empty_running_list() {
        let (_, published) = started(KeyPolicy::EnvironmentId).await;
        let records = published.take();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].topic, "aliecs.env_list.RUNNING");
        let list = ActiveRunsList::decode(records[0].value.as_slice()).unwrap();
        assert!(list.active_runs.is_empty());
        assert_eq!(list.timestamp, 1_750_000_000_000);
    }

    #[tokio::test]
    async fn entering_running_publishes_the_notification_then_the_list_keyed_or_not() {
        for (keys, env_key, list_key) in [
            (
                KeyPolicy::EnvironmentId,
                Some(b"ENV".to_vec()),
                Some(b"RUNNING".to_vec()),
            ),
            (KeyPolicy::Unkeyed, None, None),
        ] {
            let (plugin, published) = started(keys).await;
            published.take();
            assert_eq!(
                plugin.call(call(ENTER, "enter_RUNNING", VARS)).await,
                CallOutcome::ok("")
            );
            let records = published.take();
            let topics: Vec<&str> = records.iter().map(|r| &*r.topic).collect();
            assert_eq!(
                topics,
                ["aliecs.env_state.RUNNING", "aliecs.env_list.RUNNING"]
            );
            assert_eq!(
                (records[0].key.clone(), records[1].key.clone()),
                (env_key, list_key)
            );
            let notification = NewStateNotification::decode(records[0].value.as_slice()).unwrap();
            let list = ActiveRunsList::decode(records[1].value.as_slice()).unwrap();
            assert_eq!(notification.timestamp, list.timestamp, "same timestamp");
            assert_eq!(
                notification.env_info.unwrap().detectors,
                ["TPC", "ITS"],
                "var order"
            );
            assert_eq!(
                list.active_runs[0].detectors,
                ["ITS", "TPC"],
                "sorted in the list"
            );
        }
    }

    #[tokio::test]
    async fn start_activity_topics_follow_the_trigger() {
        let (plugin, published) = started(KeyPolicy::EnvironmentId).await;
        published.take();
        for trigger in [
            "before_START_ACTIVITY+50",
            "after_START_ACTIVITY",
            "enter_RUNNING",
        ] {
            plugin.call(call(START_ACTIVITY, trigger, VARS)).await;
        }
        let topics: Vec<String> = published
            .take()
            .into_iter()
            .map(|r| r.topic.into_owned())
            .collect();
        assert_eq!(
            topics,
            [
                "aliecs.before_start_activity",
                "aliecs.after_start_activity",
                "aliecs.start_activity"
            ]
        );
    }

    #[tokio::test]
    async fn missing_inputs_fail_the_call_and_publish_nothing() {
        let (plugin, published) = started(KeyPolicy::EnvironmentId).await;
        published.take();
        let outcome = plugin
            .call(call(LEAVE, "leave_RUNNING", &[("detectors", "[]")]))
            .await;
        assert_eq!(outcome.error.unwrap().message, NIL_ENV_INFO);
        assert!(published.is_empty());
    }
}
