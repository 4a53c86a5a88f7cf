//! The recording format of `ecsim record`, `ecsim replay` and `ecsim run --record`: one JSON
//! line per Kafka record.
//!
//! A line carries what a replay needs, exactly — `topic`, `key_hex` (absent for no key),
//! `value_hex`, `timestamp` (ms since the Unix epoch), `headers` — and, for people, where it
//! was read (`partition`, `offset`, when read from a broker) and the key and value as `ecsim
//! tail` prints them (`key`, `type`, `value`: decoded with ALICE's schema). A replay reads only
//! the exact fields, so a line edited by hand for reading's sake replays unchanged, and a line
//! written by another tool needs only `topic` and `value_hex`.

use std::io::BufRead as _;

use ecsim_core::publish::{Record, json_line};
use ecsim_proto::topics;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::consumer::Received;

/// A header of a recorded record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Its name.
    pub name: String,
    /// Its value, in hex; absent for a null value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_hex: Option<String>,
}

/// The exact part of a line: what a replay publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The topic.
    pub topic: String,
    /// The partition it was read from (not replayed: the key chooses, as it did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// The offset it was read at (not replayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// The record's timestamp, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The key's bytes in hex; absent for a record without a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hex: Option<String>,
    /// The value's bytes in hex.
    pub value_hex: String,
    /// The headers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
}

/// The longest line read: a record value of 32 MiB, in hex, with room to spare. A longer line
/// is refused before it is held whole.
pub const MAX_LINE: usize = 80 << 20;

/// The latest timestamp a line may carry: 9999-12-31T23:59:59.999Z, as Kafka's tools print.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// Why a line cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Longer than [`MAX_LINE`].
    #[error("the line is longer than {} MiB", MAX_LINE >> 20)]
    TooLong,
    /// Not UTF-8 text.
    #[error("the line is not UTF-8 text (byte {at} of the line)")]
    NotUtf8 {
        /// Where the first bad byte is, from 1.
        at: usize,
    },
    /// A timestamp Kafka does not take.
    #[error("timestamp {0} is not a time Kafka records (0 to {MAX_TIMESTAMP_MS} ms since 1970)")]
    Timestamp(i64),
    /// Not JSON, or a field of the wrong type (serde's words, which say where in the line).
    #[error("not a recorded record: {0}")]
    Json(String),
    /// A `*_hex` field that is not hex.
    #[error("{field} is not hexadecimal bytes")]
    Hex {
        /// The field.
        field: &'static str,
    },
}

impl Recorded {
    /// What a consumer read.
    pub fn from_received(received: &Received) -> Self {
        Self {
            topic: received.topic.clone(),
            partition: Some(received.partition),
            offset: Some(received.offset),
            timestamp: received.timestamp_ms,
            key_hex: received.key.as_deref().map(hex),
            value_hex: hex(&received.value),
            headers: received
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.clone(),
                    value_hex: value.as_deref().map(hex),
                })
                .collect(),
        }
    }

    /// What a run published (no partition or offset: those are the broker's).
    pub fn from_record(record: &Record) -> Self {
        Self {
            topic: record.topic.to_string(),
            partition: None,
            offset: None,
            timestamp: Some(record.timestamp.unix_millis()),
            key_hex: record.key.as_deref().map(hex),
            value_hex: hex(&record.value),
            headers: Vec::new(),
        }
    }

    /// Reads a line.
    pub fn parse(line: &str) -> Result<Self, LineError> {
        let recorded: Self =
            serde_json::from_str(line).map_err(|error| LineError::Json(error.to_string()))?;
        recorded.key()?;
        recorded.value()?;
        if let Some(timestamp) = recorded.timestamp
            && !(0..=MAX_TIMESTAMP_MS).contains(&timestamp)
        {
            return Err(LineError::Timestamp(timestamp));
        }
        Ok(recorded)
    }

    /// The key's bytes.
    pub fn key(&self) -> Result<Option<Vec<u8>>, LineError> {
        self.key_hex
            .as_deref()
            .map(|text| unhex(text).ok_or(LineError::Hex { field: "key_hex" }))
            .transpose()
    }

    /// The value's bytes.
    pub fn value(&self) -> Result<Vec<u8>, LineError> {
        unhex(&self.value_hex).ok_or(LineError::Hex { field: "value_hex" })
    }

    /// The line: the exact fields, then the readable ones (`key`, `type`, `value`).
    pub fn to_line(&self) -> String {
        let mut line = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let (key, value) = (self.key().ok().flatten(), self.value().unwrap_or_default());
        let message_type = topics::message_type_for_topic(&self.topic);
        if let Some(message_type) = message_type
            && let Ok(Value::Object(readable)) = serde_json::from_str(&json_line(
                &self.topic,
                key.as_deref(),
                &value,
                message_type,
            ))
        {
            for field in ["key", "type", "value"] {
                if let Some(value) = readable.get(field) {
                    line.insert(field.to_owned(), value.clone());
                }
            }
        }
        Value::Object(line).to_string()
    }
}

/// The lines of a recording, numbered from 1, blank ones skipped, each within [`MAX_LINE`] and
/// UTF-8 — read one at a time, so that memory does not grow with the file.
pub fn lines<R: std::io::BufRead>(
    mut input: R,
) -> impl Iterator<Item = (usize, Result<String, LineFailure>)> {
    let mut number = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        loop {
            if done {
                return None;
            }
            number += 1;
            let mut line = Vec::new();
            let read =
                std::io::Read::take(&mut input, MAX_LINE as u64 + 1).read_until(b'\n', &mut line);
            match read {
                Ok(0) => return None,
                Ok(_) => {}
                Err(error) => {
                    done = true;
                    return Some((number, Err(LineFailure::Io(error))));
                }
            }
            if line.len() > MAX_LINE && !line.ends_with(b"\n") {
                done = true;
                return Some((number, Err(LineFailure::Line(LineError::TooLong))));
            }
            let text = match String::from_utf8(line) {
                Ok(text) => text,
                Err(error) => {
                    let at = error.utf8_error().valid_up_to() + 1;
                    return Some((number, Err(LineFailure::Line(LineError::NotUtf8 { at }))));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some((number, Ok(text)));
        }
    })
}

/// A line that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineFailure {
    /// Reading the file failed.
    #[error("reading failed: {0}")]
    Io(std::io::Error),
    /// The line is not one a recording holds.
    #[error(transparent)]
    Line(LineError),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` takes a sign: "+a" would pass for a byte.
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received() -> Received {
        Received {
            topic: "aliecs.run".into(),
            partition: 2,
            offset: 41,
            key: Some(b"2oDvieFrVTi".to_vec()),
            value: vec![0x0a, 0x00, 0xff],
            timestamp_ms: Some(1_750_000_000_123),
            headers: vec![("trace".into(), Some(vec![1, 2])), ("empty".into(), None)],
        }
    }

    #[test]
    fn a_line_keeps_every_byte_and_says_what_it_is_for_people() {
        let recorded = Recorded::from_received(&received());
        let line = recorded.to_line();
        let back = Recorded::parse(&line).unwrap();
        assert_eq!(back, recorded);
        assert_eq!(back.key().unwrap().as_deref(), Some(&b"2oDvieFrVTi"[..]));
        assert_eq!(back.value().unwrap(), [0x0a, 0x00, 0xff]);
        let json: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["key"], "2oDvieFrVTi", "the readable key: {line}");
        assert_eq!(json["type"], "events.Event");
        assert_eq!(json["headers"][1], serde_json::json!({ "name": "empty" }));
    }

    #[test]
    fn a_minimal_line_replays_and_a_bad_one_says_why() {
        let minimal = Recorded::parse(r#"{"topic":"t","value_hex":"0a01"}"#).unwrap();
        assert_eq!((minimal.key().unwrap(), minimal.timestamp), (None, None));
        let odd = Recorded::parse(r#"{"topic":"t","value_hex":"0a0"}"#).unwrap_err();
        assert_eq!(odd.to_string(), "value_hex is not hexadecimal bytes");
        let key = Recorded::parse(r#"{"topic":"t","value_hex":"","key_hex":"zz"}"#).unwrap_err();
        assert_eq!(key.to_string(), "key_hex is not hexadecimal bytes");
        assert!(
            Recorded::parse(r#"{"value_hex":""}"#)
                .unwrap_err()
                .to_string()
                .contains("topic")
        );
    }
}
