//! One workflow call, as a plugin sees it: AliECS's call var stack in, a timeline of events and
//! an outcome out.

use std::{collections::BTreeMap, time::Duration};

use ecsim_proto::{
    call::CallEntries,
    events::{EvIntegratedServiceEvent, OpStatus, Traits},
    plugin::{CallReply, CallRequest, CoreRequest, TimedEvent, core_request},
};

/// A call in progress. Everything a plugin does to it — the time it takes, the events it
/// publishes, the variables it sets — becomes the call's reply to ecsim.
#[derive(Debug)]
pub struct Call {
    request: CallRequest,
    elapsed: Duration,
    reply: CallReply,
}

/// A failed call: AliECS's `__call_error`, and `__call_error_reason` when there is one, worded
/// `<message>. REASON: <reason>` as AliECS reports it. The same type as the core's.
pub use ecsim_proto::call::CallError;

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Call {
    /// A call for `request` (ecsim makes these; tests of a plugin can too).
    pub fn new(request: CallRequest) -> Self {
        Self {
            request,
            elapsed: Duration::ZERO,
            reply: CallReply::default(),
        }
    }

    /// The function called: `StartOfRun`.
    pub fn function(&self) -> &str {
        &self.request.function
    }

    /// The call as the workflow writes it: `dcs.StartOfRun()` (AliECS's `__call_func`, and the
    /// `operationName` of integrated-service events).
    pub fn func(&self) -> &str {
        &self.request.func
    }

    /// The call role's path: `readout-dataflow.dcs.sor` (the `name` of integrated-service
    /// events).
    pub fn role_path(&self) -> &str {
        &self.request.role_path
    }

    /// The environment's AliECS id.
    pub fn environment_id(&self) -> &str {
        &self.request.environment_id
    }

    /// The environment's name in the scenario (ecsim's; AliECS has none).
    pub fn environment_name(&self) -> &str {
        &self.request.environment_name
    }

    /// The call's traits: trigger, await, timeout, critical.
    pub fn traits(&self) -> Traits {
        self.request.traits.clone().unwrap_or_default()
    }

    /// A variable of the call's var stack: the environment's consolidated variables, with
    /// `environment_id` and AliECS's `__call_*` entries on top (`__call_func`, `__call_timeout`,
    /// `__call_trigger`, `__call_await`, `__call_critical`, `__call_rolepath`).
    pub fn var(&self, key: &str) -> Option<&str> {
        let entries = CallEntries {
            environment_id: &self.request.environment_id,
            func: &self.request.func,
            role_path: &self.request.role_path,
            traits: self.request.traits.as_ref(),
        };
        entries.var(key, |key| self.request.vars.get(key).map(String::as_str))
    }

    /// A variable read as a Go duration (`10s`, `1m30s`), as AliECS reads grace periods.
    pub fn duration_var(&self, key: &str) -> Option<Duration> {
        self.var(key).and_then(crate::parse_go_duration)
    }

    /// Every variable of the environment (without the `__call_*` entries).
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.request.vars
    }

    /// The call's timeout: how long ecsim lets it take. A call that declares a longer duration
    /// is cut short and fails; a well-behaved plugin gives up by itself before, as AliECS's do.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.request.timeout_ms)
    }

    /// Simulated time the call has taken so far ([`Call::elapse`]).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Time left before the timeout.
    pub fn remaining(&self) -> Duration {
        self.timeout().saturating_sub(self.elapsed)
    }

    /// The simulated instant, in ms since the Unix epoch: the call's start plus what it has
    /// taken so far.
    pub fn now_ms(&self) -> i64 {
        self.request
            .now_ms
            .saturating_add(i64::try_from(millis(self.elapsed)).unwrap_or(i64::MAX))
    }

    /// Lets `duration` of simulated time pass inside the call (waiting for a service, polling).
    pub fn elapse(&mut self, duration: Duration) {
        self.elapsed = self.elapsed.saturating_add(duration);
    }

    /// An integrated-service event of this call, as AliECS's plugins fill it: `name` is the role
    /// path, `operationName` the call, `environmentId` the environment. Set `payload` and
    /// `error`, then [`Call::publish`] it.
    pub fn service_event(
        &self,
        operation_status: OpStatus,
        step: &str,
        step_status: OpStatus,
    ) -> EvIntegratedServiceEvent {
        EvIntegratedServiceEvent {
            name: self.request.role_path.clone(),
            error: String::new(),
            operation_name: self.request.func.clone(),
            operation_status: operation_status.into(),
            operation_step: step.to_owned(),
            operation_step_status: step_status.into(),
            environment_id: self.request.environment_id.clone(),
            payload: String::new(),
        }
    }

    /// Publishes `event` on `aliecs.integrated_service.<service>`, now (at [`Call::elapsed`]).
    pub fn publish(&mut self, service: &str, event: EvIntegratedServiceEvent) {
        self.publish_after(Duration::ZERO, service, event);
    }

    /// Publishes `event` `delay` from now; the instant may fall after the call has returned
    /// (a service's later notification), and ecsim publishes it then.
    pub fn publish_after(
        &mut self,
        delay: Duration,
        service: &str,
        event: EvIntegratedServiceEvent,
    ) {
        self.reply.events.push(TimedEvent {
            after_ms: millis(self.elapsed.saturating_add(delay)),
            service: service.to_owned(),
            event: Some(event),
            timestamp_ms: 0,
        });
    }

    /// Publishes `event` now with an explicit event timestamp (ms since the epoch), as AliECS's
    /// TRG plugin stamps RunStart and RunStop events with the trigger system's own times.
    pub fn publish_with_timestamp(
        &mut self,
        service: &str,
        event: EvIntegratedServiceEvent,
        timestamp_ms: i64,
    ) {
        self.reply.events.push(TimedEvent {
            after_ms: millis(self.elapsed),
            service: service.to_owned(),
            event: Some(event),
            timestamp_ms,
        });
    }

    /// Sets a variable on the environment when the call ends (AliECS's `SetRuntimeVar`).
    pub fn set_runtime_var(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.reply.runtime_vars.insert(key.into(), value.into());
    }

    /// Asks the core, `delay` from now, for STOP_ACTIVITY then GO_ERROR (unless the stop already
    /// ended in ERROR) — AliECS's answer to an ODC partition going to ERROR while RUNNING. The
    /// core ignores it unless the environment is RUNNING then.
    pub fn request_stop_then_go_error(&mut self, delay: Duration, reason: impl Into<String>) {
        self.push_core_request(
            delay,
            reason.into(),
            core_request::Request::StopThenGoError(true),
        );
    }

    /// Asks the core, `delay` from now, for GO_ERROR (after its half-second grace), as a
    /// critical task gone to ERROR does.
    pub fn request_go_error(&mut self, delay: Duration, reason: impl Into<String>) {
        self.push_core_request(delay, reason.into(), core_request::Request::GoError(true));
    }

    /// Says that `fault` hit this call. ecsim reports every scenario fault that hit no call at
    /// the end of the run (a failure under `--strict`), so a plugin that plays faults says each
    /// one it plays — before panicking or hanging for it, too.
    pub fn fault_fired(&mut self, fault: &crate::fault::FaultSpec) {
        let Some(line) = fault.line.and_then(|line| u32::try_from(line).ok()) else {
            return;
        };
        if !self.reply.faults_fired.contains(&line) {
            self.reply.faults_fired.push(line);
        }
    }

    fn push_core_request(
        &mut self,
        delay: Duration,
        reason: String,
        request: core_request::Request,
    ) {
        self.reply.core_requests.push(CoreRequest {
            after_ms: millis(self.elapsed.saturating_add(delay)),
            environment_id: self.request.environment_id.clone(),
            reason,
            request: Some(request),
        });
    }

    /// The reply for ecsim: what the call did, how long it took, and how it ended.
    pub fn into_reply(self, outcome: Result<String, CallError>) -> CallReply {
        self.into_reply_of(outcome, false)
    }

    /// As [`Call::into_reply`]; `panicked` says the error is a panic the SDK caught.
    pub(crate) fn into_reply_of(
        self,
        outcome: Result<String, CallError>,
        panicked: bool,
    ) -> CallReply {
        let mut reply = self.reply;
        reply.duration_ms = millis(self.elapsed);
        match outcome {
            Ok(output) => reply.output = output,
            Err(error) => {
                reply.error = Some(ecsim_proto::plugin::CallError {
                    message: error.message,
                    reason: error.reason.unwrap_or_default(),
                    panicked,
                });
            }
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CallRequest {
        CallRequest {
            function: "StartOfRun".into(),
            func: "dcs.StartOfRun()".into(),
            role_path: "readout-dataflow.dcs.sor".into(),
            environment_id: "2oDvieFrVTi".into(),
            traits: Some(Traits {
                trigger: "before_START_ACTIVITY+100".into(),
                r#await: "before_START_ACTIVITY+100".into(),
                timeout: "140s".into(),
                critical: true,
            }),
            vars: [
                ("run_number".to_owned(), "7".to_owned()),
                ("grace".to_owned(), "1m30s".to_owned()),
            ]
            .into(),
            now_ms: 1_000,
            environment_name: "physics".into(),
            timeout_ms: 140_000,
        }
    }

    #[test]
    fn the_var_stack_reads_as_aliecs_builds_it() {
        let call = Call::new(request());
        assert_eq!(call.var("environment_id"), Some("2oDvieFrVTi"));
        assert_eq!(call.var("__call_critical"), Some("true"));
        assert_eq!(call.var("__call_timeout"), Some("140s"));
        assert_eq!(
            call.var("__call_rolepath"),
            Some("readout-dataflow.dcs.sor")
        );
        assert_eq!(call.var("run_number"), Some("7"));
        assert_eq!(call.duration_var("grace"), Some(Duration::from_secs(90)));
        assert_eq!(call.var("missing"), None);
    }

    #[test]
    fn events_land_at_the_call_time_they_were_published_and_the_reply_carries_the_duration() {
        let mut call = Call::new(request());
        let started = call.service_event(OpStatus::Started, "step", OpStatus::Started);
        assert_eq!(started.name, "readout-dataflow.dcs.sor");
        assert_eq!(started.operation_name, "dcs.StartOfRun()");
        call.publish("dcs", started);
        call.elapse(Duration::from_millis(1500));
        assert_eq!(call.now_ms(), 2_500);
        assert_eq!(call.remaining(), Duration::from_millis(138_500));
        let done = call.service_event(OpStatus::DoneOk, "step", OpStatus::DoneOk);
        call.publish_after(Duration::from_secs(3), "dcs", done);
        call.request_stop_then_go_error(Duration::from_secs(60), "partition in ERROR");
        call.set_runtime_var("dcs_sor_done", "true");

        let reply = call.into_reply(Err(
            CallError::new("DCS StartOfRun call failed").reason("TPC")
        ));
        assert_eq!(reply.duration_ms, 1500);
        assert_eq!(
            reply.events.iter().map(|e| e.after_ms).collect::<Vec<_>>(),
            [0, 4500]
        );
        assert_eq!(reply.core_requests[0].after_ms, 61_500);
        assert_eq!(reply.core_requests[0].environment_id, "2oDvieFrVTi");
        assert_eq!(reply.runtime_vars["dcs_sor_done"], "true");
        let error = reply.error.unwrap();
        assert_eq!(
            (error.message.as_str(), error.reason.as_str()),
            ("DCS StartOfRun call failed", "TPC")
        );
    }

    #[test]
    fn the_faults_that_hit_a_call_are_reported_once_each_by_their_line() {
        use crate::fault::{FaultOutcome, FaultSpec};
        let mut call = Call::new(request());
        let mut fault = FaultSpec::new("StartOfRun", FaultOutcome::Error);
        // Not a scenario's fault: nothing to report it by.
        call.fault_fired(&fault);
        fault.line = Some(12);
        call.fault_fired(&fault);
        call.fault_fired(&fault);
        let mut other = fault.clone();
        other.line = Some(20);
        call.fault_fired(&other);
        assert_eq!(call.into_reply(Ok(String::new())).faults_fired, [12, 20]);
    }

    #[test]
    fn errors_read_as_aliecs_reports_them() {
        assert_eq!(
            CallError::new("X failed").reason("why").to_string(),
            "X failed. REASON: why"
        );
        assert_eq!(CallError::new("X failed").to_string(), "X failed");
    }
}
