//! A partition's log: the record batches producers sent, in memory, nothing dropped.
//!
//! A batch is checked ([`crate::batch`]) and copied, with the base offset the log gives it (the
//! checksum does not cover it), into memory of its own ([`crate::stored`]), so a fetch answers
//! with the stored bytes. One copy is cheaper than the alternative measured first, keeping
//! slices of the requests: each request then needed fresh memory, which is what costs
//! (BENCHMARKS.md), where a connection's request buffer is now used again and again. Offsets, timestamps and sizes come from each
//! batch's header; only a lookup by timestamp walks a batch's records.
//!
//! There is no retention: a partition keeps every record for the broker's life, unless a client
//! deletes records (DeleteRecords) or the topic (`store.rs`, which also bounds what all logs
//! hold together).

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard},
};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

use crate::batch::{self, AppendError, Checked, Inflation};

/// One stored batch.
#[derive(Debug)]
struct Batch {
    base_offset: i64,
    last_offset: i64,
    max_timestamp: i64,
    /// The largest timestamp of this batch and every one before it: never decreases, so a
    /// lookup by timestamp can bisect even when producers' clocks do not.
    running_max_timestamp: i64,
    /// As checked: its base offset still the producer's.
    data: Bytes,
}

/// One partition's records.
#[derive(Debug, Default)]
pub(crate) struct PartitionLog {
    batches: VecDeque<Batch>,
    /// The first offset a consumer may read (DeleteRecords moves it).
    start_offset: i64,
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

    /// The first offset still held.
    pub(crate) fn start_offset(&self) -> i64 {
        self.start_offset
    }

    /// Appends checked batches; returns the first record's offset.
    pub(crate) fn append(&mut self, batches: Vec<Checked>) -> i64 {
        let base = self.next_offset;
        for checked in batches {
            let base_offset = self.next_offset;
            let running_max_timestamp = self.batches.back().map_or(checked.max_timestamp, |last| {
                last.running_max_timestamp.max(checked.max_timestamp)
            });
            self.next_offset += checked.records;
            self.bytes += checked.data.len();
            let data = crate::stored::copy_with_offset(&checked.data, base_offset);
            self.batches.push_back(Batch {
                base_offset,
                last_offset: self.next_offset - 1,
                max_timestamp: checked.max_timestamp,
                running_max_timestamp,
                data,
            });
        }
        base
    }

    /// Where a read from `offset` of up to `max_bytes` starts, how many batches it takes and
    /// their size: the batches from the one holding `offset` on — and the first however large
    /// when `first_always` (so that a consumer can make progress, as Kafka does since KIP-74).
    /// `None` when `offset` is past the end or before the start.
    fn span(
        &self,
        offset: i64,
        max_bytes: usize,
        first_always: bool,
    ) -> Option<(usize, usize, usize)> {
        if offset < self.start_offset || offset > self.next_offset {
            return None;
        }
        let first = self
            .batches
            .partition_point(|batch| batch.last_offset < offset);
        let mut size = 0;
        let mut taken = 0;
        for batch in self.batches.range(first..) {
            let fits = size + batch.data.len() <= max_bytes;
            if !(fits || (taken == 0 && first_always)) {
                break;
            }
            size += batch.data.len();
            taken += 1;
        }
        Some((first, taken, size))
    }

    /// How many bytes [`Self::read`] would give.
    pub(crate) fn plan(&self, offset: i64, max_bytes: usize, first_always: bool) -> Option<usize> {
        self.span(offset, max_bytes, first_always)
            .map(|(_, _, size)| size)
    }

    /// The batches [`Self::span`] finds: the stored bytes themselves when there is one, a copy
    /// of them one after the other when there are more.
    pub(crate) fn read(&self, offset: i64, max_bytes: usize, first_always: bool) -> Option<Read> {
        let (first, taken, size) = self.span(offset, max_bytes, first_always)?;
        if taken == 1 {
            return Some(Read {
                records: self.batches[first].data.clone(),
                high_watermark: self.next_offset,
            });
        }
        let mut out = BytesMut::with_capacity(size);
        for batch in self.batches.range(first..first + taken) {
            out.extend_from_slice(&batch.data);
        }
        Some(Read {
            records: out.freeze(),
            high_watermark: self.next_offset,
        })
    }

    /// The first record whose timestamp is at least `timestamp`: its offset and timestamp. Fails
    /// only when the request has inflated all it may ([`Inflation`]).
    pub(crate) fn offset_for_timestamp(
        &self,
        timestamp: i64,
        inflation: &mut Inflation,
    ) -> Result<Option<(i64, i64)>, AppendError> {
        let first = self
            .batches
            .partition_point(|batch| batch.running_max_timestamp < timestamp);
        // The first batch whose largest timestamp reaches it holds the record: one is opened.
        let Some(batch) = self
            .batches
            .range(first..)
            .find(|batch| batch.max_timestamp >= timestamp)
        else {
            return Ok(None);
        };
        let found = first_record(batch, inflation, |record_timestamp| {
            record_timestamp >= timestamp
        })?;
        Ok(found.map(|(offset, found)| (offset.max(self.start_offset), found)))
    }

    /// The record with the largest timestamp (the first such): its offset and timestamp.
    pub(crate) fn max_timestamp(
        &self,
        inflation: &mut Inflation,
    ) -> Result<Option<(i64, i64)>, AppendError> {
        let Some(max) = self.batches.back().map(|last| last.running_max_timestamp) else {
            return Ok(None);
        };
        let Some(batch) = self.batches.iter().find(|batch| batch.max_timestamp == max) else {
            return Ok(None);
        };
        first_record(batch, inflation, |timestamp| timestamp == max)
    }

    /// Bytes stored, for the broker's report.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Deletes the records before `offset` (DeleteRecords): whole batches go, so a batch that
    /// straddles the new start stays, its first records unreadable. Returns the bytes freed.
    pub(crate) fn delete_before(&mut self, offset: i64) -> usize {
        self.start_offset = self.start_offset.max(offset);
        let mut freed = 0;
        while self
            .batches
            .front()
            .is_some_and(|batch| batch.last_offset < self.start_offset)
        {
            if let Some(batch) = self.batches.pop_front() {
                freed += batch.data.len();
            }
        }
        self.bytes -= freed;
        freed
    }
}

/// The first record of `batch` whose timestamp satisfies `wanted`.
fn first_record(
    batch: &Batch,
    inflation: &mut Inflation,
    wanted: impl Fn(i64) -> bool,
) -> Result<Option<(i64, i64)>, AppendError> {
    let mut found = None;
    let walked = batch::walk(&batch.data, inflation, |delta, timestamp| {
        if wanted(timestamp) {
            found = Some((batch.base_offset + i64::from(delta), timestamp));
        }
        found.is_some()
    });
    match walked {
        Ok(()) => Ok(found),
        Err(AppendError::RequestInflated) => Err(AppendError::RequestInflated),
        Err(error) => {
            // Checked when it was appended, so this cannot happen; the batch's first offset
            // is then the best answer there is.
            tracing::warn!(%error, "cannot walk a stored batch to look up a timestamp");
            Ok(Some((batch.base_offset, batch.max_timestamp)))
        }
    }
}

/// One partition: its log, and the signal fetches waiting on it hear.
#[derive(Debug, Default)]
pub(crate) struct Partition {
    log: Mutex<PartitionLog>,
    appended: Notify,
}

impl Partition {
    pub(crate) fn log(&self) -> MutexGuard<'_, PartitionLog> {
        // A panic while a log was locked leaves it consistent: every change completes with no
        // step that can panic half-way.
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Resolves at the next append.
    pub(crate) fn appended(&self) -> &Notify {
        &self.appended
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::{Compression, RecordBatchDecoder};

    use super::*;
    use std::sync::Arc;

    use crate::{
        batch::header,
        store::{Limits, Store, Topic},
    };

    fn batch(timestamps: &[i64]) -> Bytes {
        batch::tests::encoded(timestamps, Compression::None, 4)
    }

    const LIMITS: Limits = Limits {
        max_stored_bytes: 1 << 30,
        max_partitions: 100,
        message_max_bytes: batch::DEFAULT_MESSAGE_MAX_BYTES,
    };

    fn one_partition(store: &Store) -> (Arc<Topic>, Arc<Partition>) {
        let topic = store.get_or_create("t", 1).unwrap();
        let partition = topic.partition(0).unwrap();
        (topic, partition)
    }

    fn offsets(records: &Bytes) -> Vec<i64> {
        RecordBatchDecoder::decode_all(&mut records.clone())
            .unwrap()
            .iter()
            .flat_map(|set| set.records.iter().map(|r| r.offset))
            .collect()
    }

    #[test]
    fn offsets_follow_on_across_batches_and_reads_start_at_the_holding_batch() {
        let store = Store::new(LIMITS);
        let (topic, partition) = one_partition(&store);
        assert_eq!(
            store.append(
                &topic,
                &partition,
                &mut Inflation::per_request(),
                &batch(&[10, 11, 12])
            ),
            Ok(0)
        );
        assert_eq!(
            store.append(
                &topic,
                &partition,
                &mut Inflation::per_request(),
                &batch(&[13, 14])
            ),
            Ok(3)
        );
        let log = partition.log();
        assert_eq!(log.next_offset(), 5);

        let read = log.read(4, 1 << 20, true).unwrap();
        assert_eq!(read.high_watermark, 5);
        assert_eq!(
            offsets(&read.records),
            [3, 4],
            "the batch holding offset 4 starts at 3"
        );
        assert_eq!(
            offsets(&log.read(0, 1, true).unwrap().records),
            [0, 1, 2],
            "max_bytes stops after the first batch, which comes when asked for"
        );
        assert!(log.read(0, 1, false).unwrap().records.is_empty());
        assert!(
            log.read(5, 100, true).unwrap().records.is_empty(),
            "at the end: nothing yet"
        );
        assert!(
            log.read(6, 100, true).is_none(),
            "past the end: out of range"
        );
        assert!(log.read(-1, 100, true).is_none());
    }

    #[test]
    fn lookup_by_timestamp_finds_the_first_record_at_or_after_it() {
        let store = Store::new(LIMITS);
        let (topic, partition) = one_partition(&store);
        store
            .append(
                &topic,
                &partition,
                &mut Inflation::per_request(),
                &batch(&[100, 200, 300]),
            )
            .unwrap();
        // A producer whose clock went back: the running maximum keeps the bisection right.
        store
            .append(
                &topic,
                &partition,
                &mut Inflation::per_request(),
                &batch(&[150, 400]),
            )
            .unwrap();
        let log = partition.log();
        let mut budget = Inflation::per_request();
        let mut at = |t| log.offset_for_timestamp(t, &mut budget).unwrap();
        assert_eq!(at(0), Some((0, 100)));
        assert_eq!(at(200), Some((1, 200)));
        assert_eq!(at(301), Some((4, 400)));
        assert_eq!(at(401), None);
        assert_eq!(log.max_timestamp(&mut budget).unwrap(), Some((4, 400)));
        assert_eq!(
            PartitionLog::default().max_timestamp(&mut budget).unwrap(),
            None
        );
    }

    #[test]
    fn damaged_or_old_batches_are_refused_whole() {
        let store = Store::new(LIMITS);
        let (topic, partition) = one_partition(&store);
        let good = batch(&[1]);
        let mut damaged = BytesMut::from(&good[..]);
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        let mut two = BytesMut::from(&good[..]);
        two.extend_from_slice(&damaged);
        assert!(matches!(
            store.append(
                &topic,
                &partition,
                &mut Inflation::per_request(),
                &two.freeze()
            ),
            Err(AppendError::Corrupt(_))
        ));
        assert_eq!(
            partition.log().next_offset(),
            0,
            "the good first batch was not kept either"
        );

        let mut old = BytesMut::from(&good[..]);
        old[header::MAGIC] = 1;
        assert_eq!(
            store.append(
                &topic,
                &partition,
                &mut Inflation::per_request(),
                &old.freeze()
            ),
            Err(AppendError::OldFormat(1))
        );
        assert!(
            store
                .append(
                    &topic,
                    &partition,
                    &mut Inflation::per_request(),
                    &good.slice(..20)
                )
                .is_err()
        );
        assert!(
            store
                .append(
                    &topic,
                    &partition,
                    &mut Inflation::per_request(),
                    &Bytes::new()
                )
                .is_err()
        );
        assert_eq!(
            store.append(&topic, &partition, &mut Inflation::per_request(), &good),
            Ok(0)
        );
    }
}
