//! Publishing: the boundary between the simulation and wherever its messages go.
//!
//! A [`Record`] is a Kafka message before it is one: topic, key, value bytes, timestamp, and
//! the protobuf type of the value. Plugins hand records to a [`Publisher`]; the Kafka publisher
//! (crate `ecsim-kafka`) sends them to a broker, the [`MemoryPublisher`] keeps them for tests and
//! for `ecsim run --print`. Publishing never blocks the simulation and never fails at the call:
//! a publisher that can lose a message counts it and reports it at the end.

use std::{borrow::Cow, sync::Mutex};

use serde_json::{Map, Value};

use crate::clock::Timestamp;

/// The protobuf type of a record's value (re-exported from `ecsim-proto`).
pub use ecsim_proto::topics::MessageType;

/// A message on its way to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The topic, e.g. `aliecs.env_state.RUNNING`. Borrowed for the topics ecsim knows (no
    /// allocation per message), owned for the others.
    pub topic: Cow<'static, str>,
    /// The message key; `None` for an unkeyed message.
    pub key: Option<Vec<u8>>,
    /// The protobuf-encoded value.
    pub value: Vec<u8>,
    /// The record's timestamp (Kafka CreateTime).
    pub timestamp: Timestamp,
    /// The protobuf type of `value`.
    pub message_type: MessageType,
}

impl Record {
    /// The record as one line of JSON, the format of `ecsim run --print` and `ecsim tail`:
    /// `{"topic":…,"key":…,"type":…,"value":{…}}`, the value in the proto3 JSON mapping. A key
    /// that is not printable UTF-8 text is written as `{"hex":"…"}`; a value that does not decode is written
    /// as `{"undecodable":"<reason>","hex":"…"}` rather than dropped.
    pub fn to_json_line(&self) -> String {
        json_line(
            &self.topic,
            self.key.as_deref(),
            &self.value,
            self.message_type.name(),
        )
    }
}

/// A message as one line of JSON ([`Record::to_json_line`]), decoded as `message_type` (a fully
/// qualified name of the schema; a reader may be told any, and an unknown one leaves the value
/// undecodable).
pub fn json_line(topic: &str, key: Option<&[u8]>, value: &[u8], message_type: &str) -> String {
    let key = match key {
        None => Value::Null,
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) if !text.chars().any(char::is_control) => Value::String(text.to_owned()),
            _ => serde_json::json!({ "hex": hex(bytes) }),
        },
    };
    let value = ecsim_proto::json::decode_to_json(message_type, value).unwrap_or_else(
        |error| serde_json::json!({ "undecodable": error.to_string(), "hex": hex(value) }),
    );
    let mut line = Map::new();
    line.insert("topic".into(), Value::String(topic.to_owned()));
    line.insert("key".into(), key);
    line.insert("type".into(), Value::String(message_type.to_owned()));
    line.insert("value".into(), value);
    Value::Object(line).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where records go.
pub trait Publisher: Send + Sync + std::fmt::Debug {
    /// Takes a record. Must not block for long: it is called from the simulation's hot path.
    fn publish(&self, record: Record);
}

/// Keeps every record in memory, in publishing order.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    records: Mutex<Vec<Record>>,
}

impl MemoryPublisher {
    /// An empty publisher.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<Record> {
        self.lock().clone()
    }

    /// Takes every record so far, leaving none.
    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.lock())
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Record>> {
        // A panic while holding this lock cannot leave the Vec half-written; keep going.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Publisher for MemoryPublisher {
    fn publish(&self, record: Record) {
        self.lock().push(record);
    }
}

/// Counts records per topic on their way to another publisher.
#[derive(Debug)]
pub struct Tally {
    inner: std::sync::Arc<dyn Publisher>,
    /// A run has a few dozen topics at most, nearly all of them `&'static str`s: a list looked
    /// up by address first costs less than an ordered map's string comparisons, for every
    /// message.
    counts: Mutex<Vec<(Cow<'static, str>, u64)>>,
}

impl Tally {
    /// Counts what goes to `inner`.
    pub fn new(inner: std::sync::Arc<dyn Publisher>) -> Self {
        Self {
            inner,
            counts: Mutex::new(Vec::new()),
        }
    }

    /// Records per topic so far, topics in name order.
    pub fn counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(topic, count)| (topic.to_string(), *count))
            .collect()
    }
}

impl Publisher for Tally {
    fn publish(&self, record: Record) {
        {
            let mut counts = self
                .counts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let topic: &str = &record.topic;
            let same_place = |(known, _): &(Cow<'static, str>, u64)| {
                known.as_ptr() == topic.as_ptr() && known.len() == topic.len()
            };
            let slot = match counts.iter().position(same_place) {
                Some(slot) => Some(slot),
                None => counts.iter().position(|(known, _)| known == topic),
            };
            match slot {
                Some(slot) => counts[slot].1 += 1,
                None => counts.push((record.topic.clone(), 1)),
            }
        }
        self.inner.publish(record);
    }
}

/// Hands every record to each of several publishers, in order (e.g. a broker and `--print`).
#[derive(Debug)]
pub struct FanOut(pub Vec<std::sync::Arc<dyn Publisher>>);

impl Publisher for FanOut {
    fn publish(&self, record: Record) {
        if let Some((last, rest)) = self.0.split_last() {
            for publisher in rest {
                publisher.publish(record.clone());
            }
            last.publish(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use ecsim_proto::{
        kafka::{ActiveRunsList, EnvInfo},
        prost::Message as _,
    };

    use super::*;

    fn record(key: Option<&[u8]>, value: Vec<u8>, message_type: MessageType) -> Record {
        Record {
            topic: "aliecs.env_list.RUNNING".into(),
            key: key.map(<[u8]>::to_vec),
            value,
            timestamp: Timestamp::from_unix_millis(1),
            message_type,
        }
    }

    #[test]
    fn a_record_renders_as_one_json_line_with_its_decoded_value() {
        let list = ActiveRunsList {
            active_runs: vec![EnvInfo {
                environment_id: "2oDvieFrVTi".into(),
                ..Default::default()
            }],
            timestamp: 7,
        };
        let line = record(
            Some(b"RUNNING"),
            list.encode_to_vec(),
            MessageType::ActiveRunsList,
        )
        .to_json_line();
        assert_eq!(
            line,
            r#"{"topic":"aliecs.env_list.RUNNING","key":"RUNNING","type":"kafka.ActiveRunsList","value":{"activeRuns":[{"environmentId":"2oDvieFrVTi"}],"timestamp":"7"}}"#
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn odd_keys_and_undecodable_values_are_shown_not_dropped() {
        let line = record(None, vec![0x0a, 0x05], MessageType::ActiveRunsList).to_json_line();
        let json: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["key"], Value::Null);
        assert_eq!(json["value"]["hex"], "0a05");
        assert!(
            json["value"]["undecodable"]
                .as_str()
                .unwrap()
                .contains("kafka.ActiveRunsList")
        );

        let binary_key = record(
            Some(&[0, 0, 0x23, 0x28]),
            Vec::new(),
            MessageType::ActiveRunsList,
        )
        .to_json_line();
        let json: Value = serde_json::from_str(&binary_key).unwrap();
        assert_eq!(json["key"]["hex"], "00002328");
    }

    #[test]
    fn a_tally_counts_per_topic_and_passes_everything_on() {
        let memory = std::sync::Arc::new(MemoryPublisher::new());
        let tally = Tally::new(memory.clone());
        // The same topic borrowed and owned (at another address) is one topic.
        let topics: [Cow<'static, str>; 4] =
            ["b".into(), "a".into(), String::from("b").into(), "b".into()];
        for topic in topics {
            tally.publish(Record {
                topic,
                ..record(None, Vec::new(), MessageType::Event)
            });
        }
        assert_eq!(
            tally.counts().into_iter().collect::<Vec<_>>(),
            [("a".to_owned(), 1), ("b".to_owned(), 3)]
        );
        assert_eq!(memory.len(), 4);
    }

    #[test]
    fn fan_out_gives_every_publisher_every_record_in_order() {
        let a = std::sync::Arc::new(MemoryPublisher::new());
        let b = std::sync::Arc::new(MemoryPublisher::new());
        let fan_out = FanOut(vec![a.clone(), b.clone()]);
        for i in 0..3 {
            fan_out.publish(record(
                Some(&[b'0' + i]),
                Vec::new(),
                MessageType::ActiveRunsList,
            ));
        }
        assert_eq!(a.records(), b.records());
        let keys: Vec<_> = a.take().into_iter().map(|r| r.key.unwrap()).collect();
        assert_eq!(keys, [b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
        assert!(a.is_empty() && b.len() == 3);
    }
}
