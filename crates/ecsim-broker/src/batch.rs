//! Record batches as Kafka checks them before it stores them, and the one walker that reads
//! their records.
//!
//! A produce request's records are checked whole before any is appended, as Kafka's log
//! validator checks them: the frame of each batch (format version 2 only), its checksum, its
//! size against the topic's `max.message.bytes`, and every record inside — lengths that add up,
//! offset deltas 0, 1, 2 …, as many records as the header says, a compressed batch inflating to
//! no more than [`MAX_INFLATED`]. A batch of garbage with a correct checksum is refused
//! (`CORRUPT_MESSAGE`), not stored for a consumer to choke on.
//!
//! The batch's largest timestamp is recomputed from its records, as Kafka does: a producer that
//! leaves the header's at -1 (sarama 1.22) would otherwise hide its batch from lookups by time.
//! A header that said otherwise is corrected, checksum and all, so consumers see what Kafka's
//! would.
//!
//! Lookups by timestamp walk records with the same code, so a stored batch is never opened by
//! code that trusts its counts.

use std::io::Read as _;

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use kafka_protocol::ResponseError;

/// Where the fields of a record batch (format version 2) sit in its header.
pub(crate) mod header {
    pub(crate) const LENGTH: usize = 8;
    /// Bytes before the part `LENGTH` counts.
    pub(crate) const LOG_OVERHEAD: usize = 12;
    pub(crate) const MAGIC: usize = 16;
    pub(crate) const CRC: usize = 17;
    /// The checksum covers everything from here to the end of the batch.
    pub(crate) const ATTRIBUTES: usize = 21;
    pub(crate) const LAST_OFFSET_DELTA: usize = 23;
    pub(crate) const BASE_TIMESTAMP: usize = 27;
    pub(crate) const MAX_TIMESTAMP: usize = 35;
    pub(crate) const RECORD_COUNT: usize = 57;
    /// The shortest possible batch: the header alone.
    pub(crate) const SIZE: usize = 61;
}

/// The most a compressed batch may inflate to. Kafka bounds only the compressed size; a 32 KB
/// zstd batch inflating to 1 GiB would then be stored, and inflated again at every lookup by
/// time. Producers' batches are bounded by `batch.size` (16 KiB to 1 MiB by default) before
/// compression, so this leaves room for any real one.
pub const MAX_INFLATED: usize = 64 * 1024 * 1024;

/// The most one request may have inflated, all its compressed batches together (a produce
/// checking them, a ListOffsets looking up times in them): one batch stays under
/// [`MAX_INFLATED`], but a 100 MiB request could hold thousands of such batches, each a
/// second of the broker's only thread.
pub const MAX_INFLATED_PER_REQUEST: usize = 256 * 1024 * 1024;

/// What a request may still inflate.
#[derive(Debug)]
pub(crate) struct Inflation {
    left: usize,
}

impl Inflation {
    /// A new request's budget, [`MAX_INFLATED_PER_REQUEST`].
    pub(crate) fn per_request() -> Self {
        Self {
            left: MAX_INFLATED_PER_REQUEST,
        }
    }
}

/// Kafka's default `message.max.bytes` (and a topic's `max.message.bytes`): the largest record
/// batch a produce request may carry.
pub const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_048_588;

/// Why a produce request's records are not appended (each maps to Kafka's error code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The bytes do not frame record batches, a checksum does not match, or the records inside
    /// do not add up.
    #[error("the records are not well-formed record batches: {0}")]
    Corrupt(&'static str),
    /// A batch in the old message formats (magic 0 or 1), which this broker does not store.
    #[error("record batches of format version {0} are not supported; use version 2 (Kafka 0.11+)")]
    OldFormat(i8),
    /// A batch larger than the topic's `max.message.bytes`.
    #[error(
        "a record batch of {size} bytes is larger than the topic's max.message.bytes ({limit})"
    )]
    TooLarge {
        /// The batch's size.
        size: usize,
        /// The topic's limit.
        limit: usize,
    },
    /// A compressed batch that inflates past [`MAX_INFLATED`].
    #[error("a compressed record batch inflates to more than {MAX_INFLATED} bytes")]
    Inflated,
    /// A request whose compressed batches inflate past [`MAX_INFLATED_PER_REQUEST`] together.
    #[error(
        "the request's compressed record batches inflate to more than {MAX_INFLATED_PER_REQUEST} bytes together: send fewer in one request"
    )]
    RequestInflated,
    /// A batch of a transaction, or a control batch: this broker has no transactions.
    #[error(
        "transactional and control record batches are refused: this broker has no transactions"
    )]
    Transactional,
    /// The broker's store has reached its ceiling.
    #[error(
        "the embedded broker holds {limit} bytes of records, its ceiling: nothing more is stored \
         (give it more: `ecsim broker --max-memory MIB`, `Limits::max_stored_bytes`; or use a \
         real Kafka)"
    )]
    StoreFull {
        /// The ceiling.
        limit: usize,
    },
}

impl AppendError {
    pub(crate) fn code(&self) -> i16 {
        match self {
            Self::Corrupt(_) => ResponseError::CorruptMessage.code(),
            Self::OldFormat(_) => ResponseError::UnsupportedForMessageFormat.code(),
            Self::TooLarge { .. } | Self::Inflated | Self::RequestInflated => {
                ResponseError::MessageTooLarge.code()
            }
            Self::Transactional => ResponseError::InvalidTxnState.code(),
            // Kafka's answer when its log cannot take more.
            Self::StoreFull { .. } => ResponseError::PolicyViolation.code(),
        }
    }
}

/// One checked batch, ready to store.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The batch's bytes: a slice of the request, or a corrected copy.
    pub(crate) data: Bytes,
    /// How many records it holds.
    pub(crate) records: i64,
    /// Its largest record timestamp (-1 when it has no record with a timestamp).
    pub(crate) max_timestamp: i64,
}

/// Splits a produce request's `records` into checked batches: all good, or the first error.
pub(crate) fn check_all(
    records: &Bytes,
    max_bytes: usize,
    inflation: &mut Inflation,
) -> Result<Vec<Checked>, AppendError> {
    let mut checked = Vec::new();
    let mut rest = records.clone();
    while !rest.is_empty() {
        if rest.len() < header::LOG_OVERHEAD + 5 {
            return Err(AppendError::Corrupt("a batch shorter than its header"));
        }
        let magic = rest[header::MAGIC] as i8;
        if magic != 2 {
            return Err(AppendError::OldFormat(magic));
        }
        let length = usize::try_from(read_i32(&rest, header::LENGTH))
            .map_err(|_| AppendError::Corrupt("a negative batch length"))?
            .saturating_add(header::LOG_OVERHEAD);
        if length > max_bytes {
            return Err(AppendError::TooLarge {
                size: length,
                limit: max_bytes,
            });
        }
        if length < header::SIZE || length > rest.len() {
            return Err(AppendError::Corrupt("a batch length past the records sent"));
        }
        checked.push(check(rest.split_to(length), inflation)?);
    }
    if checked.is_empty() {
        return Err(AppendError::Corrupt("no record batch"));
    }
    Ok(checked)
}

/// Checks one framed batch.
fn check(batch: Bytes, inflation: &mut Inflation) -> Result<Checked, AppendError> {
    if crc32c::crc32c(&batch[header::ATTRIBUTES..]) != read_u32(&batch, header::CRC) {
        return Err(AppendError::Corrupt("a checksum that does not match"));
    }
    let attributes = read_i16(&batch, header::ATTRIBUTES);
    const TRANSACTIONAL: i16 = 1 << 4;
    const CONTROL: i16 = 1 << 5;
    if attributes & (TRANSACTIONAL | CONTROL) != 0 {
        return Err(AppendError::Transactional);
    }
    let count = read_i32(&batch, header::RECORD_COUNT);
    if count < 1 || read_i32(&batch, header::LAST_OFFSET_DELTA) != count - 1 {
        return Err(AppendError::Corrupt(
            "a record count that does not match the last offset delta",
        ));
    }
    let mut max_timestamp = -1;
    walk(&batch, inflation, |_, timestamp| {
        max_timestamp = max_timestamp.max(timestamp);
        false
    })?;
    let data = if read_i64(&batch, header::MAX_TIMESTAMP) == max_timestamp {
        batch
    } else {
        // Kafka corrects the header, checksum included.
        let mut corrected = BytesMut::from(&batch[..]);
        (&mut corrected[header::MAX_TIMESTAMP..header::MAX_TIMESTAMP + 8]).put_i64(max_timestamp);
        let crc = crc32c::crc32c(&corrected[header::ATTRIBUTES..]);
        (&mut corrected[header::CRC..header::CRC + 4]).put_u32(crc);
        corrected.freeze()
    };
    Ok(Checked {
        data,
        records: i64::from(count),
        max_timestamp,
    })
}

/// Walks the records of a framed batch (checked or not), calling `each(offset_delta,
/// timestamp)` until it returns `true`. Fails on anything that does not add up; a compressed
/// batch is inflated to at most [`MAX_INFLATED`] bytes, and what it inflates to is taken from
/// the request's `inflation`.
pub(crate) fn walk(
    batch: &[u8],
    inflation: &mut Inflation,
    mut each: impl FnMut(i32, i64) -> bool,
) -> Result<(), AppendError> {
    let count = read_i32(batch, header::RECORD_COUNT);
    let base_timestamp = read_i64(batch, header::BASE_TIMESTAMP);
    let body = &batch[header::SIZE..];
    let inflated;
    let mut records: &[u8] = match read_i16(batch, header::ATTRIBUTES) & 0x7 {
        0 => body,
        codec => {
            inflated = inflate(codec, body, MAX_INFLATED.min(inflation.left))?;
            inflation.left -= inflated.len();
            &inflated
        }
    };
    for index in 0..count {
        let length = usize::try_from(varint(&mut records)?)
            .map_err(|_| AppendError::Corrupt("a negative record length"))?;
        if length > records.len() {
            return Err(AppendError::Corrupt("a record length past the batch"));
        }
        let (mut record, rest) = records.split_at(length);
        records = rest;
        let _attributes = record
            .try_get_i8()
            .map_err(|_| AppendError::Corrupt("an empty record"))?;
        let timestamp_delta = varlong(&mut record)?;
        let offset_delta = varint(&mut record)?;
        if offset_delta != index {
            return Err(AppendError::Corrupt("record offset deltas not 0, 1, 2 …"));
        }
        skip_bytes(&mut record, true)?; // key
        skip_bytes(&mut record, true)?; // value
        let headers = varint(&mut record)?;
        if headers < 0 {
            return Err(AppendError::Corrupt("a negative header count"));
        }
        for _ in 0..headers {
            skip_bytes(&mut record, false)?;
            skip_bytes(&mut record, true)?;
        }
        if !record.is_empty() {
            return Err(AppendError::Corrupt("a record longer than its fields"));
        }
        if each(offset_delta, base_timestamp.wrapping_add(timestamp_delta)) {
            return Ok(());
        }
    }
    if records.is_empty() {
        Ok(())
    } else {
        Err(AppendError::Corrupt("bytes after the batch's last record"))
    }
}

/// A zigzag varlong (Kafka's record fields), at most 10 bytes.
fn varlong(buf: &mut &[u8]) -> Result<i64, AppendError> {
    let mut value: u64 = 0;
    for (index, shift) in (0..64).step_by(7).enumerate() {
        let Some((&byte, rest)) = buf.split_first() else {
            return Err(AppendError::Corrupt("a record cut short"));
        };
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
        if index == 9 {
            break;
        }
    }
    Err(AppendError::Corrupt("a varint longer than 10 bytes"))
}

/// A zigzag varint that fits 32 bits.
fn varint(buf: &mut &[u8]) -> Result<i32, AppendError> {
    i32::try_from(varlong(buf)?).map_err(|_| AppendError::Corrupt("a varint past 32 bits"))
}

/// Skips a varint-length-prefixed field; -1 is null where `nullable`.
fn skip_bytes(record: &mut &[u8], nullable: bool) -> Result<(), AppendError> {
    let length = varint(record)?;
    if length == -1 && nullable {
        return Ok(());
    }
    let length = usize::try_from(length)
        .map_err(|_| AppendError::Corrupt("a negative field length in a record"))?;
    if length > record.len() {
        return Err(AppendError::Corrupt("a field length past its record"));
    }
    record.advance(length);
    Ok(())
}

/// Inflates a compressed batch's records, refusing past `most` bytes ([`MAX_INFLATED`], or
/// less when the request has used its budget).
fn inflate(codec: i16, compressed: &[u8], most: usize) -> Result<Vec<u8>, AppendError> {
    let broken = |_| AppendError::Corrupt("compressed records that do not inflate");
    let too_much = if most < MAX_INFLATED {
        AppendError::RequestInflated
    } else {
        AppendError::Inflated
    };
    let limit = most as u64 + 1;
    let mut out = Vec::new();
    match codec {
        1 => {
            flate2::read::GzDecoder::new(compressed)
                .take(limit)
                .read_to_end(&mut out)
                .map_err(broken)?;
        }
        2 => snappy(compressed, &mut out, most).map_err(|error| match error {
            AppendError::Inflated => too_much.clone(),
            other => other,
        })?,
        3 => {
            lz4::Decoder::new(compressed)
                .map_err(broken)?
                .take(limit)
                .read_to_end(&mut out)
                .map_err(broken)?;
        }
        4 => {
            zstd::stream::read::Decoder::new(compressed)
                .map_err(broken)?
                .take(limit)
                .read_to_end(&mut out)
                .map_err(broken)?;
        }
        _ => {
            return Err(AppendError::Corrupt(
                "a compression codec Kafka does not have",
            ));
        }
    }
    if out.len() > most {
        return Err(too_much);
    }
    Ok(out)
}

/// Snappy as Kafka's clients write it: xerial's framing (Java's), or one raw block (some
/// others). Each block's inflated length is read before anything is allocated for it.
fn snappy(mut compressed: &[u8], out: &mut Vec<u8>, most: usize) -> Result<(), AppendError> {
    const XERIAL: &[u8] = b"\x82SNAPPY\x00";
    const XERIAL_HEADER: usize = 16;
    let broken = |_| AppendError::Corrupt("compressed records that do not inflate");
    let block = |block: &[u8], out: &mut Vec<u8>| -> Result<(), AppendError> {
        let length = snap::raw::decompress_len(block).map_err(broken)?;
        if out.len() + length > most {
            return Err(AppendError::Inflated);
        }
        let start = out.len();
        out.resize(start + length, 0);
        snap::raw::Decoder::new()
            .decompress(block, &mut out[start..])
            .map_err(broken)?;
        Ok(())
    };
    if !compressed.starts_with(XERIAL) {
        return block(compressed, out);
    }
    if compressed.len() < XERIAL_HEADER {
        return Err(AppendError::Corrupt("a snappy header cut short"));
    }
    compressed.advance(XERIAL_HEADER);
    while !compressed.is_empty() {
        let length = compressed
            .try_get_u32()
            .map_err(|_| AppendError::Corrupt("a snappy block length cut short"))?;
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        if length > compressed.len() {
            return Err(AppendError::Corrupt("a snappy block past the batch"));
        }
        let (this, rest) = compressed.split_at(length);
        block(this, out)?;
        compressed = rest;
    }
    Ok(())
}

pub(crate) fn read_i16(bytes: &[u8], at: usize) -> i16 {
    (&bytes[at..at + 2]).get_i16()
}

pub(crate) fn read_i32(bytes: &[u8], at: usize) -> i32 {
    (&bytes[at..at + 4]).get_i32()
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    (&bytes[at..at + 4]).get_u32()
}

pub(crate) fn read_i64(bytes: &[u8], at: usize) -> i64 {
    (&bytes[at..at + 8]).get_i64()
}

#[cfg(test)]
pub(crate) mod tests {
    use indexmap::IndexMap;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    use super::*;

    /// A batch as a client encodes it, with `timestamps` and values of `value_size` bytes.
    pub(crate) fn encoded(
        timestamps: &[i64],
        compression: Compression,
        value_size: usize,
    ) -> Bytes {
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
                value: Some(Bytes::from(vec![b'v'; value_size])),
                headers: IndexMap::from([("h".into(), Some(Bytes::from_static(b"x")))]),
            })
            .collect();
        let mut out = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut out,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        out.freeze()
    }

    fn reseal(mut batch: BytesMut) -> Bytes {
        let crc = crc32c::crc32c(&batch[header::ATTRIBUTES..]);
        (&mut batch[header::CRC..header::CRC + 4]).put_u32(crc);
        batch.freeze()
    }

    #[test]
    fn every_codec_is_checked_record_by_record() {
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let batch = encoded(&[5, 9, 7], compression, 100);
            let checked = check_all(
                &batch,
                DEFAULT_MESSAGE_MAX_BYTES,
                &mut Inflation::per_request(),
            )
            .unwrap_or_else(|error| panic!("{compression:?}: {error}"));
            assert_eq!(checked.len(), 1);
            assert_eq!(checked[0].records, 3, "{compression:?}");
            assert_eq!(checked[0].max_timestamp, 9, "{compression:?}");
            assert_eq!(checked[0].data, batch, "{compression:?}: stored as sent");
        }
    }

    #[test]
    fn a_header_max_timestamp_of_minus_one_is_recomputed_and_resealed() {
        let mut batch = BytesMut::from(&encoded(&[100, 300, 200], Compression::None, 1)[..]);
        (&mut batch[header::MAX_TIMESTAMP..header::MAX_TIMESTAMP + 8]).put_i64(-1);
        let sent = reseal(batch);
        let checked = check_all(
            &sent,
            DEFAULT_MESSAGE_MAX_BYTES,
            &mut Inflation::per_request(),
        )
        .unwrap();
        assert_eq!(checked[0].max_timestamp, 300);
        assert_eq!(read_i64(&checked[0].data, header::MAX_TIMESTAMP), 300);
        assert_eq!(
            read_u32(&checked[0].data, header::CRC),
            crc32c::crc32c(&checked[0].data[header::ATTRIBUTES..]),
            "the corrected header's checksum holds"
        );
    }

    #[test]
    fn garbage_with_a_correct_checksum_is_corrupt() {
        let good = encoded(&[1, 2], Compression::None, 10);
        let mut garbage = BytesMut::from(&good[..]);
        for byte in &mut garbage[header::SIZE..] {
            *byte = 0xff;
        }
        assert!(matches!(
            check_all(
                &reseal(garbage),
                DEFAULT_MESSAGE_MAX_BYTES,
                &mut Inflation::per_request()
            ),
            Err(AppendError::Corrupt(_))
        ));
        let mut claims_more = BytesMut::from(&good[..]);
        (&mut claims_more[header::RECORD_COUNT..header::RECORD_COUNT + 4]).put_i32(i32::MAX);
        (&mut claims_more[header::LAST_OFFSET_DELTA..header::LAST_OFFSET_DELTA + 4])
            .put_i32(i32::MAX - 1);
        assert!(matches!(
            check_all(
                &reseal(claims_more),
                DEFAULT_MESSAGE_MAX_BYTES,
                &mut Inflation::per_request()
            ),
            Err(AppendError::Corrupt(_))
        ));
    }

    #[test]
    fn size_limits_are_kafkas() {
        let batch = encoded(&[1], Compression::None, 2000);
        assert_eq!(
            check_all(&batch, 1000, &mut Inflation::per_request()).unwrap_err(),
            AppendError::TooLarge {
                size: batch.len(),
                limit: 1000
            }
        );
        // 80 MiB of zeros, compressed to a few kilobytes.
        let bomb = encoded(&[1], Compression::Zstd, MAX_INFLATED + 16 * 1024 * 1024);
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        assert_eq!(
            check_all(
                &bomb,
                DEFAULT_MESSAGE_MAX_BYTES,
                &mut Inflation::per_request()
            )
            .unwrap_err(),
            AppendError::Inflated
        );
    }

    #[test]
    fn a_request_inflates_at_most_its_budget_all_batches_together() {
        // 48 MiB each: under one batch's limit, six of them past a request's.
        let batch = encoded(&[1], Compression::Zstd, 48 * 1024 * 1024);
        let mut inflation = Inflation::per_request();
        for _ in 0..5 {
            assert!(check_all(&batch, DEFAULT_MESSAGE_MAX_BYTES, &mut inflation).is_ok());
        }
        assert_eq!(
            check_all(&batch, DEFAULT_MESSAGE_MAX_BYTES, &mut inflation).unwrap_err(),
            AppendError::RequestInflated
        );
        let mut fresh = Inflation::per_request();
        assert!(check_all(&batch, DEFAULT_MESSAGE_MAX_BYTES, &mut fresh).is_ok());
    }

    #[test]
    fn transactional_and_control_batches_are_refused() {
        let good = encoded(&[1], Compression::None, 1);
        for bit in [1 << 4, 1 << 5] {
            let mut batch = BytesMut::from(&good[..]);
            let attributes = read_i16(&batch, header::ATTRIBUTES) | bit;
            (&mut batch[header::ATTRIBUTES..header::ATTRIBUTES + 2]).put_i16(attributes);
            assert_eq!(
                check_all(
                    &reseal(batch),
                    DEFAULT_MESSAGE_MAX_BYTES,
                    &mut Inflation::per_request()
                )
                .unwrap_err(),
                AppendError::Transactional
            );
        }
    }
}
