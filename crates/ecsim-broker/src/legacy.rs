//! Requests at versions [`kafka_protocol`] does not decode (Kafka 4 dropped them) that clients
//! still send:
//!
//! - OffsetCommit v0 and v1: sarama up to 1.26 commits with v1 whatever its configured version,
//!   so without them its commits would never happen. Read here by hand into the v2 request they
//!   are a subset of; the v0–v2 responses are the same bytes, so the reply is encoded at v2.
//! - Produce v0 to v2, which carry the old message formats: sarama with its default version
//!   (0.8.2) sends them. Kafka 4 closes the connection, and sarama says "EOF"; here each
//!   partition is answered `UNSUPPORTED_FOR_MESSAGE_FORMAT`, which it reports in words.

use bytes::{Buf as _, Bytes};
use kafka_protocol::{
    messages::{
        GroupId, OffsetCommitRequest, TopicName,
        offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic},
    },
    protocol::StrBytes,
};

/// Why a v0 or v1 OffsetCommit does not parse.
#[derive(Debug, thiserror::Error)]
#[error("OffsetCommit v{version}: {what}")]
pub(crate) struct LegacyError {
    version: i16,
    what: &'static str,
}

/// The request a v0 or v1 OffsetCommit body (after its header) carries.
pub(crate) fn offset_commit(
    body: &mut Bytes,
    version: i16,
) -> Result<OffsetCommitRequest, LegacyError> {
    let fail = |what| LegacyError { version, what };
    let mut request = OffsetCommitRequest::default()
        .with_group_id(GroupId(
            string(body).ok_or_else(|| fail("a group id cut short"))?,
        ))
        // v0 commits outside any generation, as a consumer assigning its own partitions does.
        .with_generation_id_or_member_epoch(-1);
    if version == 1 {
        request.generation_id_or_member_epoch = body
            .try_get_i32()
            .map_err(|_| fail("a generation cut short"))?;
        request.member_id = string(body).ok_or_else(|| fail("a member id cut short"))?;
    }
    let topics = count(body).ok_or_else(|| fail("a topic count past the request"))?;
    for _ in 0..topics {
        let name = string(body).ok_or_else(|| fail("a topic name cut short"))?;
        let partitions = count(body).ok_or_else(|| fail("a partition count past the request"))?;
        let mut topic = OffsetCommitRequestTopic::default().with_name(TopicName(name));
        for _ in 0..partitions {
            let index = body
                .try_get_i32()
                .map_err(|_| fail("a partition cut short"))?;
            let offset = body
                .try_get_i64()
                .map_err(|_| fail("an offset cut short"))?;
            if version == 1 {
                // The commit's timestamp: Kafka 4 ignores it, and so does this broker.
                body.try_get_i64()
                    .map_err(|_| fail("a timestamp cut short"))?;
            }
            let metadata = nullable_string(body).ok_or_else(|| fail("metadata cut short"))?;
            topic.partitions.push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(index)
                    .with_committed_offset(offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(metadata),
            );
        }
        request.topics.push(topic);
    }
    if body.has_remaining() {
        return Err(fail("bytes after the request"));
    }
    Ok(request)
}

/// The reply to a Produce v0–v2 (`None` for acks=0): every partition refused with
/// `UNSUPPORTED_FOR_MESSAGE_FORMAT`, nothing stored.
pub(crate) fn refuse_old_produce(
    body: &mut Bytes,
    version: i16,
) -> Result<Option<bytes::BytesMut>, LegacyError> {
    use bytes::BufMut as _;
    let fail = |what| LegacyError { version, what };
    let acks = body.try_get_i16().map_err(|_| fail("acks cut short"))?;
    body.try_get_i32()
        .map_err(|_| fail("a timeout cut short"))?;
    let mut out = bytes::BytesMut::new();
    let topics = count(body).ok_or_else(|| fail("a topic count past the request"))?;
    out.put_i32(i32::try_from(topics).unwrap_or(i32::MAX));
    for _ in 0..topics {
        let name = string(body).ok_or_else(|| fail("a topic name cut short"))?;
        out.put_i16(i16::try_from(name.len()).unwrap_or(i16::MAX));
        out.put_slice(name.as_bytes());
        let partitions = count(body).ok_or_else(|| fail("a partition count past the request"))?;
        out.put_i32(i32::try_from(partitions).unwrap_or(i32::MAX));
        for _ in 0..partitions {
            let index = body
                .try_get_i32()
                .map_err(|_| fail("a partition cut short"))?;
            let size = usize::try_from(body.try_get_i32().map_err(|_| fail("a size cut short"))?)
                .map_err(|_| fail("a negative message set size"))?;
            if size > body.remaining() {
                return Err(fail("a message set past the request"));
            }
            body.advance(size);
            out.put_i32(index);
            out.put_i16(kafka_protocol::ResponseError::UnsupportedForMessageFormat.code());
            out.put_i64(-1); // base offset
            if version == 2 {
                out.put_i64(-1); // log append time
            }
        }
    }
    if version >= 1 {
        out.put_i32(0); // throttle time
    }
    Ok((acks != 0).then_some(out))
}

/// An array's count, if the bytes left can hold that many elements (each takes 2 at least).
fn count(body: &mut Bytes) -> Option<usize> {
    let count = usize::try_from(body.try_get_i32().ok()?).ok()?;
    (count <= body.remaining() / 2).then_some(count)
}

fn nullable_string(body: &mut Bytes) -> Option<Option<StrBytes>> {
    let length = body.try_get_i16().ok()?;
    if length == -1 {
        return Some(None);
    }
    let length = usize::try_from(length).ok()?;
    if length > body.remaining() {
        return None;
    }
    StrBytes::from_utf8(body.split_to(length)).ok().map(Some)
}

fn string(body: &mut Bytes) -> Option<StrBytes> {
    nullable_string(body).flatten()
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut as _, BytesMut};

    use super::*;

    fn put_string(out: &mut BytesMut, s: &str) {
        out.put_i16(i16::try_from(s.len()).unwrap());
        out.put_slice(s.as_bytes());
    }

    #[test]
    fn sarama_s_v1_commit_reads_as_the_v2_request() {
        let mut out = BytesMut::new();
        put_string(&mut out, "group");
        out.put_i32(3);
        put_string(&mut out, "member-1");
        out.put_i32(1);
        put_string(&mut out, "aliecs.run");
        out.put_i32(1);
        out.put_i32(0);
        out.put_i64(42);
        out.put_i64(-1);
        out.put_i16(-1);
        let request = offset_commit(&mut out.freeze(), 1).unwrap();
        assert_eq!(request.group_id.0.as_str(), "group");
        assert_eq!(request.generation_id_or_member_epoch, 3);
        assert_eq!(request.member_id.as_str(), "member-1");
        assert_eq!(request.topics[0].name.0.as_str(), "aliecs.run");
        assert_eq!(request.topics[0].partitions[0].committed_offset, 42);
        assert_eq!(request.topics[0].partitions[0].committed_metadata, None);
    }

    #[test]
    fn a_v0_commit_is_outside_any_generation_and_a_short_one_fails() {
        let mut out = BytesMut::new();
        put_string(&mut out, "g");
        out.put_i32(1);
        put_string(&mut out, "t");
        out.put_i32(1);
        out.put_i32(2);
        out.put_i64(7);
        put_string(&mut out, "meta");
        let full = out.freeze();
        let request = offset_commit(&mut full.clone(), 0).unwrap();
        assert_eq!(request.generation_id_or_member_epoch, -1);
        assert_eq!(request.topics[0].partitions[0].partition_index, 2);
        assert_eq!(
            request.topics[0].partitions[0]
                .committed_metadata
                .as_deref(),
            Some("meta")
        );
        for cut in 0..full.len() {
            assert!(offset_commit(&mut full.slice(..cut), 0).is_err(), "{cut}");
        }
        let mut claims = BytesMut::new();
        put_string(&mut claims, "g");
        claims.put_i32(i32::MAX);
        assert!(offset_commit(&mut claims.freeze(), 0).is_err());
    }
}
