//! From a request frame to a response frame: the header, the versions served, the handler.

use std::net::SocketAddr;

use bytes::{BufMut as _, Bytes, BytesMut};
use kafka_protocol::{
    ResponseError,
    messages::{
        ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
        api_versions_response::ApiVersion,
    },
    protocol::{Decodable, Encodable, HeaderVersion, StrBytes},
};

use crate::{Shared, coordination, data};

/// The APIs served and their versions (min, max). Each range is one this broker implements
/// in full and [`kafka_protocol`] encodes; the maxima are below those that name topics by id
/// only (Fetch 13, Produce 13) or batch groups (OffsetFetch 8), which no client needs:
/// clients use the highest version both sides support.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 8),
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

/// One request's context, for the handlers.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) version: i16,
    pub(crate) client_id: StrBytes,
    pub(crate) peer: SocketAddr,
}

/// Answers one request: `None` when the protocol says not to (a produce with acks=0).
pub(crate) async fn handle(
    shared: &Shared,
    mut frame: Bytes,
    peer: SocketAddr,
) -> Result<Option<Bytes>, ProtocolError> {
    if frame.len() < 8 {
        return Err(ProtocolError::Truncated);
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api = ApiKey::try_from(key).map_err(|()| ProtocolError::UnknownApi(key))?;
    let Some(&(_, _, max)) = SUPPORTED
        .iter()
        .find(|(served, min, max)| *served == api && (*min..=*max).contains(&version))
    else {
        if api == ApiKey::ApiVersions {
            // A client newer than this broker: the protocol's answer is version 0 of the
            // reply, with the error and the versions served, so that it asks again.
            let reply = api_versions(ResponseError::UnsupportedVersion.code());
            return encode(api, 0, correlation_id, &reply).map(Some);
        }
        return Err(ProtocolError::Unsupported { api, version });
    };
    debug_assert!(version <= max);
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version)).map_err(
        |cause| ProtocolError::Decode {
            api,
            version,
            cause: cause.to_string(),
        },
    )?;
    let context = Context {
        shared,
        version,
        client_id: header.client_id.unwrap_or_default(),
        peer,
    };
    let request = &mut frame;
    let (c, v, id) = (&context, version, correlation_id);
    match api {
        ApiKey::ApiVersions => {
            let _: ApiVersionsRequest = decode(api, v, request)?;
            reply(api, v, id, Some(api_versions(0)))
        }
        ApiKey::Metadata => reply(
            api,
            v,
            id,
            Some(data::metadata(c, decode(api, v, request)?)),
        ),
        ApiKey::Produce => reply(api, v, id, data::produce(c, decode(api, v, request)?)),
        ApiKey::Fetch => reply(
            api,
            v,
            id,
            Some(data::fetch(c, decode(api, v, request)?).await),
        ),
        ApiKey::ListOffsets => reply(
            api,
            v,
            id,
            Some(data::list_offsets(c, decode(api, v, request)?)),
        ),
        ApiKey::CreateTopics => reply(
            api,
            v,
            id,
            Some(data::create_topics(c, decode(api, v, request)?)),
        ),
        ApiKey::DeleteTopics => reply(
            api,
            v,
            id,
            Some(data::delete_topics(c, decode(api, v, request)?)),
        ),
        ApiKey::InitProducerId => reply(
            api,
            v,
            id,
            Some(data::init_producer_id(c, decode(api, v, request)?)),
        ),
        ApiKey::FindCoordinator => reply(
            api,
            v,
            id,
            Some(coordination::find_coordinator(c, decode(api, v, request)?)),
        ),
        ApiKey::JoinGroup => reply(
            api,
            v,
            id,
            Some(coordination::join_group(c, decode(api, v, request)?).await),
        ),
        ApiKey::SyncGroup => reply(
            api,
            v,
            id,
            Some(coordination::sync_group(c, decode(api, v, request)?).await),
        ),
        ApiKey::Heartbeat => reply(
            api,
            v,
            id,
            Some(coordination::heartbeat(c, decode(api, v, request)?)),
        ),
        ApiKey::LeaveGroup => reply(
            api,
            v,
            id,
            Some(coordination::leave_group(c, decode(api, v, request)?)),
        ),
        ApiKey::OffsetCommit => reply(
            api,
            v,
            id,
            Some(coordination::offset_commit(c, decode(api, v, request)?)),
        ),
        ApiKey::OffsetFetch => reply(
            api,
            v,
            id,
            Some(coordination::offset_fetch(c, decode(api, v, request)?)),
        ),
        ApiKey::ListGroups => reply(
            api,
            v,
            id,
            Some(coordination::list_groups(c, decode(api, v, request)?)),
        ),
        ApiKey::DescribeGroups => reply(
            api,
            v,
            id,
            Some(coordination::describe_groups(c, decode(api, v, request)?)),
        ),
        _ => Err(ProtocolError::Unsupported { api, version }),
    }
}

fn reply<T: Encodable + HeaderVersion>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    response: Option<T>,
) -> Result<Option<Bytes>, ProtocolError> {
    response
        .map(|response| encode(api, version, correlation_id, &response))
        .transpose()
}

fn decode<T: Decodable>(api: ApiKey, version: i16, frame: &mut Bytes) -> Result<T, ProtocolError> {
    T::decode(frame, version).map_err(|cause| ProtocolError::Decode {
        api,
        version,
        cause: cause.to_string(),
    })
}

fn encode<T: Encodable + HeaderVersion>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    response: &T,
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
        .encode(&mut out, T::header_version(version))
        .map_err(|error| failed(error.to_string()))?;
    response
        .encode(&mut out, version)
        .map_err(|error| failed(error.to_string()))?;
    let size = u32::try_from(out.len() - 4).map_err(|_| ProtocolError::Encode {
        api,
        version,
        cause: "larger than 4 GiB".into(),
    })?;
    out[..4].copy_from_slice(&size.to_be_bytes());
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
