//! From a request frame to a response frame: the header, the versions served, the handler.
//!
//! Requests are decoded and responses encoded through [`kafka_protocol`]'s request and
//! response kinds, so an API is served by one line here and a handler.

use std::net::SocketAddr;

use bytes::{BufMut as _, Bytes, BytesMut};
use kafka_protocol::{
    ResponseError,
    messages::{
        ApiKey, ApiVersionsResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
        api_versions_response::ApiVersion,
    },
    protocol::{Decodable as _, Encodable as _},
};

use crate::{Shared, admin, budget::Held, context::Context, coordination, data, legacy};

/// The APIs served and their versions (min, max). Each range is one this broker implements
/// in full and [`kafka_protocol`] encodes; the maxima are below those that name topics by id
/// only (Fetch 13, Produce 13) or batch groups (OffsetFetch 8), which no client needs:
/// clients use the highest version both sides support.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    // v0–v2 (the old message formats) answered by `legacy`, refused partition by partition.
    (ApiKey::Produce, 0, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    // v0–v1 read by `legacy`: sarama commits with v1.
    (ApiKey::OffsetCommit, 0, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
];

/// Why a connection is closed instead of answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    #[error("a request shorter than its header")]
    Truncated,
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("{api:?} version {version} is not served (see ApiVersions)")]
    Unsupported { api: ApiKey, version: i16 },
    #[error("cannot decode {api:?} v{version}: {cause}")]
    Decode {
        api: ApiKey,
        version: i16,
        cause: String,
    },
    #[error("cannot encode the {api:?} v{version} response: {cause}")]
    Encode {
        api: ApiKey,
        version: i16,
        cause: String,
    },
}

/// Answers one request: `None` when the protocol says not to (a produce with acks=0); with the
/// response, the budget its bytes hold until written.
pub(crate) async fn handle(
    shared: &Shared,
    mut frame: Bytes,
    peer: SocketAddr,
) -> Result<Option<(Bytes, Held)>, ProtocolError> {
    if frame.len() < 8 {
        return Err(ProtocolError::Truncated);
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api = ApiKey::try_from(key).map_err(|()| ProtocolError::UnknownApi(key))?;
    if !SUPPORTED
        .iter()
        .any(|(served, min, max)| *served == api && (*min..=*max).contains(&version))
    {
        if api == ApiKey::ApiVersions {
            // A client newer than this broker: the protocol's answer is version 0 of the
            // reply, with the error and the versions served, so that it asks again.
            let reply = api_versions(ResponseError::UnsupportedVersion.code());
            return encode(api, 0, correlation_id, &reply.into())
                .map(|r| Some((r, Held::default())));
        }
        return Err(ProtocolError::Unsupported { api, version });
    }
    let decode_failed = |cause: anyhow::Error| ProtocolError::Decode {
        api,
        version,
        cause: cause.to_string(),
    };
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))
        .map_err(decode_failed)?;
    if api == ApiKey::Produce && version < 3 {
        return legacy::refuse_old_produce(&mut frame, version)
            .map_err(|error| ProtocolError::Decode {
                api,
                version,
                cause: error.to_string(),
            })?
            .map(|body| raw_reply(correlation_id, &body))
            .transpose()
            .map(|reply| reply.map(|r| (r, Held::default())));
    }
    // OffsetCommit v0–v1 are read by hand, their reply sent at v2 (the same bytes).
    let legacy = api == ApiKey::OffsetCommit && version < 2;
    let request = if legacy {
        legacy::offset_commit(&mut frame, version)
            .map(RequestKind::OffsetCommit)
            .map_err(|error| ProtocolError::Decode {
                api,
                version,
                cause: error.to_string(),
            })?
    } else {
        RequestKind::decode(api, &mut frame, version).map_err(decode_failed)?
    };
    let context = Context {
        shared,
        version,
        client_id: header.client_id.unwrap_or_default(),
        peer,
    };
    let c = &context;
    let mut held = Held::default();
    let response: ResponseKind = match request {
        RequestKind::ApiVersions(_) => api_versions(0).into(),
        RequestKind::Metadata(r) => data::metadata(c, r).into(),
        RequestKind::Produce(r) => match data::produce(c, r) {
            Some(response) => response.into(),
            None => return Ok(None),
        },
        RequestKind::Fetch(r) => {
            let (response, bytes) = data::fetch(c, r).await;
            held = bytes;
            response.into()
        }
        RequestKind::ListOffsets(r) => data::list_offsets(c, r).into(),
        RequestKind::InitProducerId(r) => data::init_producer_id(c, r).into(),
        RequestKind::CreateTopics(r) => admin::create_topics(c, r).into(),
        RequestKind::DeleteTopics(r) => admin::delete_topics(c, r).into(),
        RequestKind::CreatePartitions(r) => admin::create_partitions(c, r).into(),
        RequestKind::DeleteRecords(r) => admin::delete_records(c, r).into(),
        RequestKind::DescribeConfigs(r) => admin::describe_configs(c, r).into(),
        RequestKind::FindCoordinator(r) => coordination::find_coordinator(c, r).into(),
        RequestKind::JoinGroup(r) => coordination::join_group(c, r).await.into(),
        RequestKind::SyncGroup(r) => coordination::sync_group(c, r).await.into(),
        RequestKind::Heartbeat(r) => coordination::heartbeat(c, r).into(),
        RequestKind::LeaveGroup(r) => coordination::leave_group(c, r).into(),
        RequestKind::OffsetCommit(r) => coordination::offset_commit(c, r).into(),
        RequestKind::OffsetFetch(r) => coordination::offset_fetch(c, r).into(),
        RequestKind::ListGroups(r) => coordination::list_groups(c, r).into(),
        RequestKind::DescribeGroups(r) => coordination::describe_groups(c, r).into(),
        // Not in SUPPORTED, so not decoded: kept for the compiler's sake.
        _ => return Err(ProtocolError::Unsupported { api, version }),
    };
    let version = if legacy { 2 } else { version };
    encode(api, version, correlation_id, &response).map(|r| Some((r, held)))
}

fn encode(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    response: &ResponseKind,
) -> Result<Bytes, ProtocolError> {
    let failed = |cause: String| ProtocolError::Encode {
        api,
        version,
        cause,
    };
    let mut out = BytesMut::with_capacity(64);
    out.put_u32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, api.response_header_version(version))
        .map_err(|error| failed(error.to_string()))?;
    response
        .encode(&mut out, version)
        .map_err(|error| failed(error.to_string()))?;
    let size = u32::try_from(out.len() - 4).map_err(|_| failed("larger than 4 GiB".into()))?;
    out[..4].copy_from_slice(&size.to_be_bytes());
    Ok(out.freeze())
}

/// A response body encoded by hand, framed with a version 0 header.
fn raw_reply(correlation_id: i32, body: &[u8]) -> Result<Bytes, ProtocolError> {
    let size = u32::try_from(body.len() + 4).map_err(|_| ProtocolError::Encode {
        api: ApiKey::Produce,
        version: 0,
        cause: "larger than 4 GiB".into(),
    })?;
    let mut out = BytesMut::with_capacity(body.len() + 8);
    out.put_u32(size);
    out.put_i32(correlation_id);
    out.put_slice(body);
    Ok(out.freeze())
}

fn api_versions(error_code: i16) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(
            SUPPORTED
                .iter()
                .map(|&(api, min, max)| {
                    ApiVersion::default()
                        .with_api_key(api as i16)
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect(),
        )
}
