//! One workflow call in the plugin protocol: the request made from the core's call context, and
//! the reply turned into the call's outcome.
//!
//! This is the part of a call that does not depend on where the reply comes from — a library
//! across the C ABI ([`DylibPlugin`](crate::DylibPlugin)), or a plugin linked into the same
//! program (the benchmarks compare the two) — so that both complete a call the same way.

use std::time::Duration;

use ecsim_core::{
    clock::Timestamp,
    plugin::{CallContext, CallFailure, CallOutcome, PluginContext},
};
use ecsim_proto::plugin::{CallReply, CallRequest};

use crate::timeline::Timeline;

/// The timeout of a call whose `timeout` trait does not parse: AliECS's default for a call
/// with a trigger.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// "30s", "1500ms": a timeout for messages.
pub(crate) fn human(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The request for `call`, starting at `now`, with `timeout`.
pub fn request(call: &CallContext, now: Timestamp, timeout: Duration) -> CallRequest {
    CallRequest {
        function: call.function.clone(),
        func: call.func.clone(),
        role_path: call.role_path.clone(),
        environment_id: call.environment_id.to_string(),
        traits: Some(call.traits.clone()),
        vars: call
            .vars
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        now_ms: now.unix_millis(),
        environment_name: call.environment_name.clone(),
        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    }
}

/// What a call does to a plugin's reply bytes before playing them: decodes them and checks
/// every event and core request. `Err` says what is wrong, as the failed call would. The
/// fuzzer's entry point (`fuzz/`): no bytes may make it panic.
pub fn check_reply(bytes: &[u8]) -> Result<(), String> {
    use ecsim_proto::prost::Message as _;
    let mut reply = CallReply::decode(bytes).map_err(|error| error.to_string())?;
    Timeline::from_reply(&mut reply).map(|_| ())
}

/// Completes `call` with `reply` from plugin `plugin`: checks the reply, publishes its events
/// as they fall due from `start`, waits out its duration (at most `timeout`), and returns the
/// outcome. A reply that says the call takes longer than its timeout fails it at the timeout.
pub async fn complete(
    context: &PluginContext,
    call: &CallContext,
    plugin: &str,
    mut reply: CallReply,
    start: Timestamp,
    timeout: Duration,
) -> CallOutcome {
    let timeline = match Timeline::from_reply(&mut reply) {
        Ok(timeline) => timeline,
        Err(problem) => {
            return CallOutcome::failed(
                format!("{} failed: the plugin's reply is invalid", call.func),
                Some(problem),
            );
        }
    };
    let duration = Duration::from_millis(reply.duration_ms);
    let overran = duration > timeout;
    timeline.play(context, start, duration.min(timeout)).await;
    if overran {
        let mut outcome = CallOutcome::failed_by(
            CallFailure::Timeout,
            format!("{} timed out after {}", call.func, human(timeout)),
            Some(format!(
                "plugin {plugin} said the call takes {}",
                human(duration)
            )),
        );
        outcome.faults_fired = reply.faults_fired;
        return outcome;
    }
    let kind = |error: &ecsim_proto::plugin::CallError| {
        if error.panicked {
            CallFailure::Panic
        } else {
            CallFailure::Reported
        }
    };
    let mut outcome = match reply.error {
        // A failure must say something: AliECS would report the bare `__call_error`.
        Some(error) if error.message.is_empty() => CallOutcome::failed_by(
            kind(&error),
            format!("{} failed (plugin {plugin} gave no message)", call.func),
            (!error.reason.is_empty()).then_some(error.reason),
        ),
        Some(error) => CallOutcome::failed_by(
            kind(&error),
            error.message,
            (!error.reason.is_empty()).then_some(error.reason),
        ),
        None => CallOutcome::ok(reply.output),
    };
    outcome.runtime_vars = reply.runtime_vars.into_iter().collect();
    outcome.faults_fired = reply.faults_fired;
    outcome
}
