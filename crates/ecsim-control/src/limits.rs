//! What one request may carry, checked before anything is done with it.
//!
//! AliECS takes whatever gRPC's message size lets through (4 MiB by default, as here); a list of
//! a hundred thousand hosts or a megabyte-long id would cost ecsim's core, or the client reading
//! the error that echoes it, more than any real request does. These bounds are far above what
//! ALICE's clients send (an environment of every FLP is a few hundred hosts; AliECS's ids are
//! eleven characters); past them a request is refused with `INVALID_ARGUMENT`, at once.

use std::collections::BTreeMap;

use tonic::Status;

/// The longest environment id taken (AliECS's are 11 base58 characters).
pub const MAX_ENVIRONMENT_ID: usize = 64;
/// The longest subscription id (`NewAutoEnvironment`, `Subscribe`).
pub const MAX_SUBSCRIPTION_ID: usize = 256;
/// At most this many variables in a request.
pub const MAX_VARS: usize = 4096;
/// The longest variable name.
pub const MAX_VAR_NAME: usize = 1024;
/// At most this many task ids in `CleanupTasks`.
pub const MAX_TASK_IDS: usize = 100_000;
/// At most this many bytes of variables (names and values) in a request: the creation's
/// events carry them on Kafka, whose producers take messages of up to 1,000,000 bytes by
/// default (`message.max.bytes`); with the environment's own variables beside them, they fit.
pub const MAX_VARS_BYTES: usize = 512 * 1024;
/// The longest requester's name (`requestUser.name`), which every event of the environment
/// carries from then on: as long as a scenario's names.
pub const MAX_USER_NAME: usize = 253;

/// A request's variables.
pub(crate) fn vars(vars: &BTreeMap<String, String>) -> Result<(), Status> {
    if vars.len() > MAX_VARS {
        return Err(Status::invalid_argument(format!(
            "received bad request: {} variables; ecsim takes at most {MAX_VARS}",
            vars.len()
        )));
    }
    let bytes: usize = vars.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_VARS_BYTES {
        return Err(Status::invalid_argument(format!(
            "received bad request: {bytes} bytes of variables; ecsim takes at most {MAX_VARS_BYTES}"
        )));
    }
    if let Some(name) = vars.keys().find(|name| name.len() > MAX_VAR_NAME) {
        return Err(Status::invalid_argument(format!(
            "received bad request: the variable {} has a name of {} bytes; ecsim takes at most {MAX_VAR_NAME}",
            crate::status::clip(name),
            name.len()
        )));
    }
    Ok(())
}

/// The requester.
pub(crate) fn user(user: Option<&ecsim_proto::common::User>) -> Result<(), Status> {
    match user {
        Some(user) if user.name.len() > MAX_USER_NAME => Err(Status::invalid_argument(format!(
            "received bad request: a requester's name of {} bytes; ecsim takes at most {MAX_USER_NAME}",
            user.name.len()
        ))),
        _ => Ok(()),
    }
}

/// A subscription id.
pub(crate) fn subscription_id(id: &str) -> Result<(), Status> {
    if id.len() > MAX_SUBSCRIPTION_ID {
        return Err(Status::invalid_argument(format!(
            "received bad request: a subscription id of {} bytes; ecsim takes at most {MAX_SUBSCRIPTION_ID}",
            id.len()
        )));
    }
    Ok(())
}

/// The task ids of a cleanup.
pub(crate) fn task_ids(ids: &[String]) -> Result<(), Status> {
    if ids.len() > MAX_TASK_IDS {
        return Err(Status::invalid_argument(format!(
            "received bad request: {} task ids; ecsim takes at most {MAX_TASK_IDS}",
            ids.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_past_the_bounds_are_invalid_arguments_that_stay_short() {
        let many: BTreeMap<String, String> = (0..=MAX_VARS)
            .map(|n| (n.to_string(), String::new()))
            .collect();
        assert_eq!(
            vars(&many).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        let long: BTreeMap<String, String> = [("k".repeat(1 << 20), String::new())].into();
        let refused = vars(&long).unwrap_err();
        assert!(refused.message().len() < 400, "{}", refused.message().len());
        assert!(subscription_id(&"x".repeat(MAX_SUBSCRIPTION_ID + 1)).is_err());
        assert!(subscription_id("538201").is_ok());
        assert!(task_ids(&vec![String::new(); MAX_TASK_IDS + 1]).is_err());
        let heavy: BTreeMap<String, String> =
            [("qc_config".to_owned(), "x".repeat(MAX_VARS_BYTES))].into();
        assert!(
            vars(&heavy).is_err(),
            "a value that would not fit a Kafka message"
        );
        let long_name = ecsim_proto::common::User {
            name: "j".repeat(MAX_USER_NAME + 1),
            ..Default::default()
        };
        assert_eq!(
            user(Some(&long_name)).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert!(user(None).is_ok());
    }
}
