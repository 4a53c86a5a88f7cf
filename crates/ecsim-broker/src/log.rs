//! Topics and their partitions' logs, in memory, with nothing dropped.
//!
//! A partition is the record batches producers sent, kept as the bytes they arrived in (their
//! base offset rewritten, which the batch's checksum does not cover), so a fetch answers with
//! slices of what was produced and nothing is re-encoded. Offsets, timestamps and sizes come
//! from each batch's fixed header; only a lookup by timestamp opens a batch's records.
//!
//! There is no retention: a partition keeps every record for the broker's life. Memory grows
//! with what was produced, which is what a user of a development broker asks of it; the
//! librdkafka mock this replaces dropped the oldest records past 5 MiB per partition without
//! a word.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard},
};

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use kafka_protocol::{ResponseError, records::RecordBatchDecoder};
use tokio::sync::watch;
use uuid::Uuid;

/// Where the fields of a record batch (magic 2) sit in its header.
mod header {
    pub(super) const BASE_OFFSET: usize = 0;
    pub(super) const LENGTH: usize = 8;
    /// Bytes before the part `LENGTH` counts.
    pub(super) const LOG_OVERHEAD: usize = 12;
    pub(super) const MAGIC: usize = 16;
    pub(super) const CRC: usize = 17;
    /// The checksum covers everything from here to the end of the batch.
    pub(super) const ATTRIBUTES: usize = 21;
    pub(super) const LAST_OFFSET_DELTA: usize = 23;
    pub(super) const MAX_TIMESTAMP: usize = 35;
    /// The shortest possible batch: the header alone.
    pub(super) const SIZE: usize = 61;
}

/// Why a produce request's records cannot be appended (each maps to a Kafka error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The bytes do not frame record batches, or a checksum does not match.
    #[error("the records are not well-formed record batches")]
    Corrupt,
    /// A batch in the old message formats (magic 0 or 1), which this broker does not store.
    #[error("record batches of format version {0} are not supported; use version 2 (Kafka 0.11+)")]
    OldFormat(i8),
}

impl AppendError {
    pub(crate) fn code(self) -> i16 {
        match self {
            Self::Corrupt => ResponseError::CorruptMessage.code(),
            Self::OldFormat(_) => ResponseError::UnsupportedForMessageFormat.code(),
        }
    }
}

/// One stored batch.
#[derive(Debug)]
struct Batch {
    base_offset: i64,
    last_offset: i64,
    max_timestamp: i64,
    /// The largest timestamp of this batch and every one before it: never decreases, so a
    /// lookup by timestamp can bisect even when producers' clocks do not.
    running_max_timestamp: i64,
    data: Bytes,
}

/// One partition's records.
#[derive(Debug, Default)]
pub(crate) struct PartitionLog {
    batches: Vec<Batch>,
    next_offset: i64,
    bytes: usize,
}

/// What a fetch from one partition found.
#[derive(Debug)]
pub(crate) struct Read {
    pub(crate) records: Bytes,
    pub(crate) high_watermark: i64,
}

impl PartitionLog {
    /// The offset the next record will get: the high watermark, one broker and no replicas.
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Appends a produce request's record batches; all or none. Returns the first record's
    /// offset.
    pub(crate) fn append(&mut self, records: &Bytes) -> Result<i64, AppendError> {
        let batches = split_batches(records)?;
        let base = self.next_offset;
        for raw in batches {
            let mut data = BytesMut::from(&raw[..]);
            let records_in_batch = i64::from(read_i32(&raw, header::LAST_OFFSET_DELTA)) + 1;
            let base_offset = self.next_offset;
            (&mut data[header::BASE_OFFSET..header::LENGTH]).put_i64(base_offset);
            let max_timestamp = read_i64(&raw, header::MAX_TIMESTAMP);
            let running_max_timestamp = self.batches.last().map_or(max_timestamp, |last| {
                last.running_max_timestamp.max(max_timestamp)
            });
            self.next_offset += records_in_batch;
            self.bytes += data.len();
            self.batches.push(Batch {
                base_offset,
                last_offset: self.next_offset - 1,
                max_timestamp,
                running_max_timestamp,
                data: data.freeze(),
            });
        }
        Ok(base)
    }

    /// The batches from the one holding `offset` on, up to `max_bytes` — but always the first,
    /// however large, so that a consumer can make progress (as Kafka does since KIP-74).
    /// `None` when `offset` is past the end or before the start.
    pub(crate) fn read(&self, offset: i64, max_bytes: usize) -> Option<Read> {
        if offset < 0 || offset > self.next_offset {
            return None;
        }
        let first = self
            .batches
            .partition_point(|batch| batch.last_offset < offset);
        let mut out = BytesMut::new();
        for batch in &self.batches[first..] {
            if !out.is_empty() && out.len() + batch.data.len() > max_bytes {
                break;
            }
            out.extend_from_slice(&batch.data);
        }
        Some(Read {
            records: out.freeze(),
            high_watermark: self.next_offset,
        })
    }

    /// The first record whose timestamp is at least `timestamp`: its offset and timestamp.
    pub(crate) fn offset_for_timestamp(&self, timestamp: i64) -> Option<(i64, i64)> {
        let first = self
            .batches
            .partition_point(|batch| batch.running_max_timestamp < timestamp);
        self.batches[first..]
            .iter()
            .filter(|batch| batch.max_timestamp >= timestamp)
            .find_map(|batch| first_record(batch, |record_timestamp| record_timestamp >= timestamp))
    }

    /// The record with the largest timestamp (the first such): its offset and timestamp.
    pub(crate) fn max_timestamp(&self) -> Option<(i64, i64)> {
        let max = self.batches.last()?.running_max_timestamp;
        let batch = self
            .batches
            .iter()
            .find(|batch| batch.max_timestamp == max)?;
        first_record(batch, |timestamp| timestamp == max)
    }

    /// Bytes stored, for the broker's report.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The first record of `batch` whose timestamp satisfies `wanted`.
fn first_record(batch: &Batch, wanted: impl Fn(i64) -> bool) -> Option<(i64, i64)> {
    let mut data = batch.data.clone();
    match RecordBatchDecoder::decode(&mut data) {
        Ok(set) => set
            .records
            .iter()
            .find(|record| wanted(record.timestamp))
            .map(|record| (record.offset, record.timestamp)),
        // Checked when it was appended; a codec this build lacks is the only way here. The
        // batch's first offset is then the best answer there is.
        Err(error) => {
            tracing::warn!(%error, "cannot open a stored batch to look up a timestamp");
            Some((batch.base_offset, batch.max_timestamp))
        }
    }
}

/// Splits `records` into whole, checked record batches.
fn split_batches(records: &Bytes) -> Result<Vec<Bytes>, AppendError> {
    let mut batches = Vec::new();
    let mut rest = records.clone();
    while !rest.is_empty() {
        if rest.len() < header::LOG_OVERHEAD + 5 {
            return Err(AppendError::Corrupt);
        }
        let magic = rest[header::MAGIC] as i8;
        if magic != 2 {
            return Err(AppendError::OldFormat(magic));
        }
        let length = usize::try_from(read_i32(&rest, header::LENGTH))
            .map_err(|_| AppendError::Corrupt)?
            + header::LOG_OVERHEAD;
        if length < header::SIZE || length > rest.len() {
            return Err(AppendError::Corrupt);
        }
        let batch = rest.split_to(length);
        let crc = u32::from_be_bytes([
            batch[header::CRC],
            batch[header::CRC + 1],
            batch[header::CRC + 2],
            batch[header::CRC + 3],
        ]);
        if crc32c::crc32c(&batch[header::ATTRIBUTES..]) != crc
            || read_i32(&batch, header::LAST_OFFSET_DELTA) < 0
        {
            return Err(AppendError::Corrupt);
        }
        batches.push(batch);
    }
    if batches.is_empty() {
        return Err(AppendError::Corrupt);
    }
    Ok(batches)
}

fn read_i32(bytes: &[u8], at: usize) -> i32 {
    (&bytes[at..at + 4]).get_i32()
}

fn read_i64(bytes: &[u8], at: usize) -> i64 {
    (&bytes[at..at + 8]).get_i64()
}

/// A topic: a name, an id (for the protocol versions that name topics by id), partitions.
#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) id: Uuid,
    partitions: Vec<Mutex<PartitionLog>>,
}

impl Topic {
    pub(crate) fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// The partition's log, locked; `None` for a partition the topic does not have.
    pub(crate) fn partition(&self, index: i32) -> Option<MutexGuard<'_, PartitionLog>> {
        let log = self.partitions.get(usize::try_from(index).ok()?)?;
        // A panic while a log was locked leaves it consistent: every change is one push.
        Some(
            log.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// Why a topic cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// A topic of that name exists.
    #[error("topic {0:?} already exists")]
    Exists(String),
    /// Kafka's rules for names: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
    #[error(
        "{0:?} is not a valid topic name: use 1 to 249 of the characters a-z A-Z 0-9 . _ -, not \".\" or \"..\""
    )]
    InvalidName(String),
    /// Fewer than one partition, or more than [`MAX_PARTITIONS`].
    #[error("a topic has 1 to {MAX_PARTITIONS} partitions, not {0}")]
    InvalidPartitions(i32),
}

impl TopicError {
    pub(crate) fn code(&self) -> i16 {
        match self {
            Self::Exists(_) => ResponseError::TopicAlreadyExists.code(),
            Self::InvalidName(_) => ResponseError::InvalidTopicException.code(),
            Self::InvalidPartitions(_) => ResponseError::InvalidPartitions.code(),
        }
    }
}

/// The most partitions one topic may have here.
pub const MAX_PARTITIONS: i32 = 10_000;

/// Every topic, and the signal fetches wait on.
#[derive(Debug)]
pub(crate) struct Store {
    topics: Mutex<BTreeMap<String, Arc<Topic>>>,
    /// Counts appends; a fetch waiting for data watches it.
    appended: watch::Sender<u64>,
}

impl Store {
    pub(crate) fn new() -> Self {
        Self {
            topics: Mutex::new(BTreeMap::new()),
            appended: watch::Sender::new(0),
        }
    }

    fn topics(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Topic>>> {
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics().get(name).cloned()
    }

    /// Every topic, by name.
    pub(crate) fn all(&self) -> Vec<(String, Arc<Topic>)> {
        self.topics()
            .iter()
            .map(|(name, topic)| (name.clone(), Arc::clone(topic)))
            .collect()
    }

    pub(crate) fn create(&self, name: &str, partitions: i32) -> Result<Arc<Topic>, TopicError> {
        check_name(name)?;
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(TopicError::InvalidPartitions(partitions));
        }
        let mut topics = self.topics();
        if topics.contains_key(name) {
            return Err(TopicError::Exists(name.to_owned()));
        }
        let topic = Arc::new(Topic {
            id: Uuid::new_v4(),
            partitions: (0..partitions).map(|_| Mutex::default()).collect(),
        });
        topics.insert(name.to_owned(), Arc::clone(&topic));
        tracing::debug!(topic = name, partitions, "topic created");
        Ok(topic)
    }

    /// The topic, created with `partitions` if it does not exist.
    pub(crate) fn get_or_create(
        &self,
        name: &str,
        partitions: i32,
    ) -> Result<Arc<Topic>, TopicError> {
        match self.create(name, partitions) {
            Err(TopicError::Exists(_)) => self
                .get(name)
                .ok_or_else(|| TopicError::Exists(name.to_owned())),
            other => other,
        }
    }

    pub(crate) fn delete(&self, name: &str) -> bool {
        self.topics().remove(name).is_some()
    }

    /// Tells waiting fetches that records arrived.
    pub(crate) fn notify_appended(&self) {
        self.appended
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    pub(crate) fn watch_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }
}

fn check_name(name: &str) -> Result<(), TopicError> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(TopicError::InvalidName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    use super::*;

    fn batch(timestamps: &[i64]) -> Bytes {
        let records: Vec<Record> = timestamps
            .iter()
            .zip(0..)
            .map(|(&timestamp, offset)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset,
                // The encoder starts a new batch where offset - sequence changes.
                sequence: i32::try_from(offset).unwrap(),
                timestamp,
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from(timestamp.to_string())),
                headers: IndexMap::new(),
            })
            .collect();
        let mut out = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut out,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        out.freeze()
    }

    #[test]
    fn offsets_follow_on_across_batches_and_reads_start_at_the_holding_batch() {
        let mut log = PartitionLog::default();
        assert_eq!(log.append(&batch(&[10, 11, 12])), Ok(0));
        assert_eq!(log.append(&batch(&[13, 14])), Ok(3));
        assert_eq!(log.next_offset(), 5);

        let read = log.read(4, 1 << 20).unwrap();
        assert_eq!(read.high_watermark, 5);
        let sets = RecordBatchDecoder::decode_all(&mut read.records.clone()).unwrap();
        let offsets: Vec<i64> = sets
            .iter()
            .flat_map(|set| set.records.iter().map(|r| r.offset))
            .collect();
        assert_eq!(offsets, [3, 4], "the batch holding offset 4 starts at 3");

        let all = log.read(0, 1).unwrap();
        let sets = RecordBatchDecoder::decode_all(&mut all.records.clone()).unwrap();
        assert_eq!(
            sets.len(),
            1,
            "max_bytes stops after the first batch, which always comes"
        );
        assert!(
            log.read(5, 100).unwrap().records.is_empty(),
            "at the end: nothing yet"
        );
        assert!(log.read(6, 100).is_none(), "past the end: out of range");
        assert!(log.read(-1, 100).is_none());
    }

    #[test]
    fn lookup_by_timestamp_finds_the_first_record_at_or_after_it() {
        let mut log = PartitionLog::default();
        log.append(&batch(&[100, 200, 300])).unwrap();
        // A producer whose clock went back: the running maximum keeps the bisection right.
        log.append(&batch(&[150, 400])).unwrap();
        assert_eq!(log.offset_for_timestamp(0), Some((0, 100)));
        assert_eq!(log.offset_for_timestamp(200), Some((1, 200)));
        assert_eq!(log.offset_for_timestamp(301), Some((4, 400)));
        assert_eq!(log.offset_for_timestamp(401), None);
        assert_eq!(log.max_timestamp(), Some((4, 400)));
        assert_eq!(PartitionLog::default().max_timestamp(), None);
    }

    #[test]
    fn damaged_or_old_batches_are_refused_whole() {
        let mut log = PartitionLog::default();
        let good = batch(&[1]);
        let mut damaged = BytesMut::from(&good[..]);
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        let mut two = BytesMut::from(&good[..]);
        two.extend_from_slice(&damaged);
        assert_eq!(log.append(&two.freeze()), Err(AppendError::Corrupt));
        assert_eq!(
            log.next_offset(),
            0,
            "the good first batch was not kept either"
        );

        let mut old = BytesMut::from(&good[..]);
        old[header::MAGIC] = 1;
        assert_eq!(log.append(&old.freeze()), Err(AppendError::OldFormat(1)));
        assert_eq!(log.append(&good.slice(..20)), Err(AppendError::Corrupt));
        assert_eq!(log.append(&Bytes::new()), Err(AppendError::Corrupt));
        assert_eq!(log.append(&good), Ok(0));
    }

    #[test]
    fn topic_names_and_partitions_follow_kafka_rules() {
        let store = Store::new();
        assert!(store.create("aliecs.environment", 1).is_ok());
        assert_eq!(
            store.create("aliecs.environment", 1).unwrap_err(),
            TopicError::Exists("aliecs.environment".into())
        );
        assert!(store.get_or_create("aliecs.environment", 3).is_ok());
        assert_eq!(
            store.get("aliecs.environment").unwrap().partition_count(),
            1
        );
        for bad in ["", ".", "..", "a b", &"x".repeat(250)] {
            assert!(
                matches!(store.create(bad, 1), Err(TopicError::InvalidName(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            store.create("t", 0).unwrap_err(),
            TopicError::InvalidPartitions(0)
        );
    }
}
