//! The gRPC statuses AliECS's server answers with, by case.
//!
//! Codes and texts are `core/server.go`'s: a missing id is `INVALID_ARGUMENT` "received nil
//! request", an undecodable one "received bad environment id", an unknown one `NOT_FOUND`
//! "environment not found: no environment with id …", a failed creation `INTERNAL` "cannot
//! create new environment: …" with the environment's info attached as a status detail.

use ecsim_core::EnvironmentId;
use ecsim_proto::o2control::EnvironmentInfo;
use prost::Message as _;
use tonic::{Code, Status};

/// `google.rpc.Status`, the message gRPC's rich error details travel in
/// (`grpc-status-details-bin`), as Go's `status.WithDetails` writes it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// The characters of AliECS's ids (base58, Bitcoin's alphabet).
const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// The environment id of a request, or AliECS's answer to a missing or malformed one.
pub(crate) fn environment_id(id: &str) -> Result<EnvironmentId, Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument("received nil request"));
    }
    if id.len() > crate::limits::MAX_ENVIRONMENT_ID || !id.chars().all(|c| BASE58.contains(c)) {
        return Err(Status::invalid_argument("received bad environment id"));
    }
    Ok(EnvironmentId::from(id))
}

/// No live environment has this id.
pub(crate) fn not_found(id: &EnvironmentId) -> Status {
    Status::not_found(format!(
        "environment not found: no environment with id {id}"
    ))
}

/// A creation that failed, with the environment's info (`id`, `createdWhen`, state ERROR) as
/// the status's detail, as AliECS attaches it.
pub(crate) fn creation_failed(id: &EnvironmentId, created_when: i64, reason: &str) -> Status {
    let message = format!("cannot create new environment: {}", truncate(reason));
    let info = EnvironmentInfo {
        id: id.to_string(),
        created_when,
        state: "ERROR".to_owned(),
        ..Default::default()
    };
    let details = RpcStatus {
        code: Code::Internal as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/o2control.EnvironmentInfo".to_owned(),
            value: info.encode_to_vec(),
        }],
    };
    Status::with_details(Code::Internal, message, details.encode_to_vec().into())
}

/// A piece of a request echoed in an error (an id, a host, a template), cut to 200 bytes on a
/// character boundary: a client that sends a megabyte gets a readable error, not one too large
/// for its own message limit.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 200;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// AliECS cuts error texts in statuses at `MAX_ERROR_LENGTH` (6,000 bytes) with an ellipsis.
fn truncate(text: &str) -> String {
    const MAX: usize = 6000;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// An RPC ecsim does not implement, named.
pub(crate) fn unimplemented(method: &str) -> Status {
    Status::unimplemented(format!(
        "ecsim does not implement o2control.Control/{method}: it simulates AliECS's environments, not its {}",
        match method {
            "GetTask" | "CleanupTasks" => "Mesos tasks",
            "AddRepo"
            | "RemoveRepo"
            | "RefreshRepos"
            | "SetDefaultRepo"
            | "SetGlobalDefaultRevision"
            | "SetRepoDefaultRevision" => "workflow repositories",
            _ => "internals",
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_as_aliecs_checks_them() {
        assert_eq!(
            environment_id("").unwrap_err().message(),
            "received nil request"
        );
        let long = "2".repeat(1 << 20);
        for bad in ["2oDvieFrVTi!", "0OIl", "id with space", long.as_str()] {
            let status = environment_id(bad).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert_eq!(status.message(), "received bad environment id");
        }
        assert!(environment_id("2oDvieFrVTi").is_ok());
    }

    #[test]
    fn a_failed_creation_carries_the_environment_info_as_go_attaches_it() {
        let status = creation_failed(
            &EnvironmentId::from("2oDvieFrVTi"),
            42,
            "detector TPC is already in use",
        );
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(
            status.message(),
            "cannot create new environment: detector TPC is already in use"
        );
        let details = RpcStatus::decode(status.details()).expect("google.rpc.Status");
        assert_eq!(details.code, Code::Internal as i32);
        let info = EnvironmentInfo::decode(details.details[0].value.as_slice()).expect("info");
        assert_eq!(
            (info.id.as_str(), info.created_when, info.state.as_str()),
            ("2oDvieFrVTi", 42, "ERROR")
        );
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let long = "é".repeat(4000);
        let cut = truncate(&long);
        assert!(cut.len() <= 6000 && cut.ends_with("..."));
    }
}
