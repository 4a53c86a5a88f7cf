//! ODC: the EPN partition's life (reference §4.2, `core/integration/odc/plugin.go`,
//! `handlers.go`).
//!
//! Every operation is a short sequence of ODC gRPC calls (SetProperties then Start …), each
//! published as a step `perform ODC call: <Call>` with its request and response. The
//! partition's state is tracked per environment, so `EnsureStop` stops only a running partition
//! and `PartitionTerminate` runs only after `PartitionInitialize`. A `partition-error` fault
//! makes the partition go to ERROR some time after the run started: ODC's state-change
//! notification, and AliECS's STOP then GO_ERROR (reference §1.8).

use std::{collections::BTreeMap, time::Duration};

use ecsim_plugin_sdk::{Call, CallError, OpStatus, Plugin, Setup};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{
    DEADLINE_EXCEEDED, FaultSpec, Faults, Latency, Outcome, Payload, check_without_detectors,
    fail_step, latency, misbehave, publish,
};

const SERVICE: &str = "odc";
/// `odc_padding_timeout`'s default: ODC is asked to finish this much before AliECS's deadline.
const PADDING: Duration = Duration::from_secs(3);
/// What ODC is asked to finish within: the time left before AliECS's deadline minus the padding,
/// in whole seconds, truncated (`uint32(d.Seconds())`). In AliECS some time always passes between
/// the deadline's making and the request's, so a 60 s call asks for 56 s, never 57: ecsim counts a
/// nanosecond for it.
fn request_timeout(remaining: Duration) -> u64 {
    remaining
        .saturating_sub(PADDING)
        .saturating_sub(Duration::from_nanos(1))
        .as_secs()
}

/// When a `partition-error` fault gives no delay: a minute into the run.
const DEFAULT_PARTITION_ERROR_DELAY: Duration = Duration::from_secs(60);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    latency: Option<Latency>,
    #[serde(default)]
    faults: Vec<FaultSpec>,
}

/// An EPN partition, as ODC knows it.
#[derive(Debug, Clone)]
struct Partition {
    state: &'static str,
    session: String,
}

/// The ODC mock.
#[derive(Debug)]
pub struct Odc {
    latency: Latency,
    faults: Faults,
    partitions: BTreeMap<String, Partition>,
}

/// One ODC gRPC call of an operation.
struct Step {
    call: &'static str,
    /// Whether the step's first event has operation status ONGOING (Configure and Start, after
    /// SetProperties) rather than STARTED.
    opens_ongoing: bool,
    request: Value,
    /// The partition state ODC reports after it.
    state_after: &'static str,
    /// Whether faults hit this step (the operation's main call, not its SetProperties).
    main: bool,
    realistic: Duration,
}

/// A session id that looks like DDS's (a UUID), derived from the environment id.
fn session_id(environment: &str) -> String {
    // FNV-1a, twice with different offsets: stable across runs and platforms.
    let hash = |offset: u64| {
        environment.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let (a, b) = (hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// The variables AliECS passes on at START_ACTIVITY, to the tasks and to ODC's Start
/// (`StartActivityParameterKeys`, `core/environment/transition_startactivity.go`).
const START_ACTIVITY_PARAMETER_KEYS: &[&str] = &[
    "fill_info_fill_number",
    "fill_info_filling_scheme",
    "fill_info_beam_type",
    "fill_info_stable_beams_start_ms",
    "fill_info_stable_beams_end_ms",
    "run_number",
    "run_type",
    "run_start_time_ms",
    "run_end_time_ms",
    "lhc_period",
    "pdp_beam_type",
    "pdp_override_run_start_time",
    "original_run_number",
];

/// The variables AliECS passes on at STOP_ACTIVITY (`StopActivityParameterKeys`).
const STOP_ACTIVITY_PARAMETER_KEYS: &[&str] = &[
    "fill_info_fill_number",
    "fill_info_filling_scheme",
    "fill_info_beam_type",
    "fill_info_stable_beams_start_ms",
    "fill_info_stable_beams_end_ms",
    "run_end_time_ms",
];

/// Those of `keys` the call's variables have, with their values (empty ones included).
fn present<'k>(call: &Call, keys: &[&'k str]) -> Vec<(&'k str, String)> {
    keys.iter()
        .filter_map(|&key| call.var(key).map(|value| (key, value.to_owned())))
        .collect()
}

/// ODC's `SetPropertiesRequest`, properties sorted by key (AliECS iterates a Go map).
fn set_properties(
    environment: &str,
    timeout: u64,
    run: Option<u64>,
    properties: &[(&str, String)],
) -> Value {
    let mut sorted: Vec<&(&str, String)> = properties.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut request = serde_json::Map::new();
    request.insert("partitionid".into(), Value::from(environment));
    request.insert(
        "properties".into(),
        Value::Array(
            sorted
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect(),
        ),
    );
    request.insert("timeout".into(), Value::from(timeout));
    if let Some(run) = run {
        request.insert("runnr".into(), Value::from(run));
    }
    Value::Object(request)
}

/// ODC's `StateRequest`.
fn state_request(environment: &str, timeout: u64, run: Option<u64>) -> Value {
    let mut request = serde_json::Map::new();
    request.insert("partitionid".into(), Value::from(environment));
    request.insert("timeout".into(), Value::from(timeout));
    if let Some(run) = run {
        request.insert("runnr".into(), Value::from(run));
    }
    Value::Object(request)
}

impl Plugin for Odc {
    const NAME: &'static str = "odc";
    const PRETTY_NAME: &'static str = "ODC";
    const FUNCTIONS: &'static [&'static str] = &[
        "PartitionInitialize",
        "Configure",
        "Start",
        "Stop",
        "EnsureStop",
        "Reset",
        "PartitionTerminate",
        "EnsureCleanup",
        "PreDeploymentCleanup",
        "EnsureCleanupLegacy",
    ];
    const ENDPOINT: &'static str = "//127.0.0.1:50053";

    fn create(setup: &Setup) -> Result<Self, String> {
        let config: Config = setup.config()?;
        let faults = Faults::new(SERVICE, config.faults, Self::FUNCTIONS, |fault| {
            check_without_detectors("ODC", fault, |fault| match fault.operation.as_str() {
                "Start" => Ok(()),
                _ => Err(
                    "partition-error happens after Start: give operation = \"Start\"".to_owned(),
                ),
            })
        })?;
        Ok(Self {
            latency: latency(config.latency, setup),
            faults,
            partitions: BTreeMap::new(),
        })
    }

    fn call(&mut self, call: &mut Call) -> Result<String, CallError> {
        let fault = self.faults.hit(call);
        misbehave(fault.as_ref(), call);
        let environment = call.environment_id().to_owned();
        let timeout = request_timeout(call.remaining());
        let run: Option<u64> = call
            .var("run_number")
            .and_then(|r| r.parse().ok())
            .filter(|r| *r > 0);
        let partition = self.partitions.get(&environment).cloned();
        let step = |call: &'static str,
                    opens_ongoing: bool,
                    request: Value,
                    state_after: &'static str,
                    main: bool,
                    realistic: Duration| Step {
            call,
            opens_ongoing,
            request,
            state_after,
            main,
            realistic,
        };
        let secs = Duration::from_secs;
        // The steps more than one operation takes.
        let stop = || {
            let request = state_request(&environment, timeout, run);
            step("Stop", false, request, "READY", true, secs(2))
        };
        let reset = || {
            let request = state_request(&environment, timeout, None);
            step("Reset", false, request, "IDLE", true, secs(3))
        };
        let terminate = || {
            let request = state_request(&environment, timeout, None);
            step("Terminate", false, request, "EXITING", true, secs(5))
        };
        let shutdown = || {
            let request = json!({"partitionid": environment, "timeout": timeout});
            step("Shutdown", false, request, "", true, secs(2))
        };
        let function = call.function().to_owned();
        let steps: Vec<Step> = match function.as_str() {
            "PartitionInitialize" => {
                let request = json!({
                    "partitionid": environment,
                    "plugin": "odc-rp-epn",
                    "resources": "{\"zone\":\"online\"}",
                    "timeout": timeout,
                });
                call.set_runtime_var("__odc_partitioninitialize_called", "true");
                vec![step("Run", false, request, "IDLE", true, secs(20))]
            }
            "Configure" => {
                let mut detectors: Vec<String> =
                    serde_json::from_str(call.var("detectors").unwrap_or("[]")).unwrap_or_default();
                detectors.sort();
                let var = |key: &str| call.var(key).unwrap_or_default().to_owned();
                let properties = [
                    ("environment_id", environment.clone()),
                    ("run_type", var("run_type")),
                    ("lhc_period", var("lhc_period")),
                    ("force_run_as_raw", var("force_run_as_raw")),
                    ("pdp_beam_type", var("pdp_beam_type")),
                    ("detectors", detectors.join(",")),
                    ("orbit-reset-time", var("orbit-reset-time")),
                ];
                vec![
                    step(
                        "SetProperties",
                        false,
                        set_properties(&environment, timeout, None, &properties),
                        "IDLE",
                        false,
                        secs(1),
                    ),
                    step(
                        "Configure",
                        true,
                        state_request(&environment, timeout, None),
                        "READY",
                        true,
                        secs(15),
                    ),
                ]
            }
            "Start" => {
                let run_number = run.unwrap_or(0);
                let mut properties = vec![
                    ("runNumber", run_number.to_string()),
                    (
                        "cleanup",
                        call.var("__fmq_cleanup_count").unwrap_or("0").to_owned(),
                    ),
                ];
                properties.extend(present(call, START_ACTIVITY_PARAMETER_KEYS));
                vec![
                    step(
                        "SetProperties",
                        false,
                        set_properties(&environment, timeout, run, &properties),
                        "READY",
                        false,
                        secs(1),
                    ),
                    step(
                        "Start",
                        true,
                        state_request(&environment, timeout, run),
                        "RUNNING",
                        true,
                        secs(2),
                    ),
                ]
            }
            "Stop" => vec![
                step(
                    "SetProperties",
                    false,
                    set_properties(
                        &environment,
                        timeout,
                        run,
                        &present(call, STOP_ACTIVITY_PARAMETER_KEYS),
                    ),
                    "RUNNING",
                    false,
                    secs(1),
                ),
                stop(),
            ],
            "EnsureStop" => match &partition {
                Some(p) if p.state == "RUNNING" => {
                    vec![stop()]
                }
                _ => Vec::new(),
            },
            "Reset" => vec![reset()],
            "PartitionTerminate" => {
                if call.var("__odc_partitioninitialize_called") != Some("true") {
                    return Ok(String::new()); // skipped: the partition was never initialized
                }
                vec![terminate(), shutdown()]
            }
            "EnsureCleanupLegacy" => {
                // Reset, Terminate and Shutdown, whatever the partition's state, even gone; each
                // failure is only logged and the call succeeds (`handleCleanupLegacy`).
                for step in [reset(), terminate(), shutdown()] {
                    // Its DONE_ERROR event is published; the error goes no further.
                    let _failed = self.run_steps(call, &environment, &[step], fault.as_ref());
                }
                return Ok(String::new());
            }
            "EnsureCleanup" | "PreDeploymentCleanup" => {
                return self.cleanup(call, &environment, timeout, fault.as_ref());
            }
            other => return Err(CallError::new(format!("odc has no function {other}"))),
        };
        if steps.is_empty() {
            return Ok(String::new());
        }
        self.run_steps(call, &environment, &steps, fault.as_ref())?;
        if let Some(fault) = fault.filter(|f| f.outcome == Outcome::PartitionError) {
            let delay = fault
                .delay_ms
                .map_or(DEFAULT_PARTITION_ERROR_DELAY, |_| fault.delay());
            let session = self
                .partitions
                .get(&environment)
                .map(|p| p.session.clone())
                .unwrap_or_default();
            let mut event = call.service_event(OpStatus::Null, "", OpStatus::Null);
            event.name = "odc.partitionStateChanged".to_owned();
            event.operation_name = String::new();
            // A Go struct, marshalled in field order (not a map: no sorting).
            event.payload = json!({
                "partitionId": environment,
                "ddsSessionId": session,
                "ddsSessionStatus": "RUNNING",
                "state": "ERROR",
                "ecsState": "ERROR",
            })
            .to_string();
            call.publish_after(delay, SERVICE, event);
            call.request_stop_then_go_error(delay, "ODC partition went to ERROR during RUNNING");
        }
        Ok(String::new())
    }
}

impl Odc {
    /// Runs `steps` in order, each opened and closed as AliECS's ODC handlers publish them.
    fn run_steps(
        &mut self,
        call: &mut Call,
        environment: &str,
        steps: &[Step],
        fault: Option<&FaultSpec>,
    ) -> Result<(), CallError> {
        let what = format!("ODC {}", call.function());
        let session = self
            .partitions
            .get(environment)
            .map_or_else(|| session_id(environment), |p| p.session.clone());
        for (index, step) in steps.iter().enumerate() {
            let name = format!("perform ODC call: {}", step.call);
            let last = index + 1 == steps.len();
            let mut request = step.request.clone();
            // Each request is given the time left when it is sent.
            if let Some(timeout) = request.get_mut("timeout") {
                *timeout = Value::from(request_timeout(call.remaining()));
            }
            let mut payload = Payload::default().with("odcRequest", request);
            let opening = if step.opens_ongoing {
                OpStatus::Ongoing
            } else {
                OpStatus::Started
            };
            publish(
                call,
                SERVICE,
                opening,
                &name,
                OpStatus::Started,
                &payload,
                None,
            );
            let hit = fault.filter(|_| step.main);
            if hit.is_some_and(|f| f.outcome == Outcome::Timeout) {
                call.elapse(call.remaining());
                return Err(fail_step(
                    call,
                    SERVICE,
                    &name,
                    &payload,
                    &what,
                    DEADLINE_EXCEEDED,
                ));
            }
            call.elapse(self.latency.of(step.realistic));
            if let Some(fault) = hit.filter(|f| f.outcome == Outcome::Delay) {
                call.elapse(fault.delay());
            }
            let mut reply = serde_json::Map::new();
            let error = hit.filter(|f| f.outcome == Outcome::Error).map(|f| {
                f.message
                    .clone()
                    .unwrap_or_else(|| format!("{} failed ({})", step.call, f.origin()))
            });
            reply.insert(
                "msg".into(),
                Value::from(if error.is_some() { "" } else { "OK" }),
            );
            reply.insert(
                "status".into(),
                Value::from(if error.is_some() { 2 } else { 1 }),
            );
            if let Some(message) = &error {
                reply.insert("error".into(), json!({"msg": message, "code": 1}));
            }
            reply.insert(
                "exectime".into(),
                Value::from(
                    u64::try_from(self.latency.of(step.realistic).as_millis()).unwrap_or(0),
                ),
            );
            reply.insert("partitionid".into(), Value::from(environment));
            if let Some(run) = step.request.get("runnr") {
                reply.insert("runnr".into(), run.clone());
            }
            // A failed call leaves the partition as it was.
            let state = if error.is_some() {
                self.partitions.get(environment).map_or("", |p| p.state)
            } else {
                step.state_after
            };
            if !state.is_empty() {
                reply.insert("state".into(), Value::from(state));
            }
            reply.insert("sessionid".into(), Value::from(session.clone()));
            let reply = Value::Object(reply);
            // SetProperties answers a GeneralReply; the state-changing calls a StateReply.
            let response =
                if step.call == "SetProperties" || step.call == "Shutdown" || step.call == "Run" {
                    reply
                } else {
                    json!({ "reply": reply })
                };
            payload.set("odcResponse", response);
            if let Some(message) = error {
                let error = format!("code 1 from ODC: {message}");
                return Err(fail_step(call, SERVICE, &name, &payload, &what, error));
            }
            let (operation, status) = if last {
                (OpStatus::DoneOk, OpStatus::DoneOk)
            } else {
                (OpStatus::Ongoing, OpStatus::DoneOk)
            };
            publish(call, SERVICE, operation, &name, status, &payload, None);
            if step.call == "Shutdown" {
                self.partitions.remove(environment);
            } else {
                self.partitions.insert(
                    environment.to_owned(),
                    Partition {
                        state: step.state_after,
                        session: session.clone(),
                    },
                );
            }
        }
        Ok(())
    }

    /// `EnsureCleanup` and `PreDeploymentCleanup`: ODC's Status, then Shutdown of this
    /// environment's partition (only `EnsureCleanup`) when there is one.
    fn cleanup(
        &mut self,
        call: &mut Call,
        environment: &str,
        timeout: u64,
        fault: Option<&FaultSpec>,
    ) -> Result<String, CallError> {
        let status_step = Step {
            call: "Status",
            opens_ongoing: false,
            request: json!({ "running": true }),
            state_after: "",
            main: true,
            realistic: Duration::from_millis(100),
        };
        let name = "perform ODC call: Status";
        let payload = Payload::default().with("odcRequest", status_step.request.clone());
        publish(
            call,
            SERVICE,
            OpStatus::Started,
            name,
            OpStatus::Started,
            &payload,
            None,
        );
        if fault.is_some_and(|f| f.outcome == Outcome::Error) {
            let error = "code 1 from ODC: Status failed".to_owned();
            return Err(fail_step(
                call,
                SERVICE,
                name,
                &payload,
                &format!("ODC {}", call.function()),
                error,
            ));
        }
        call.elapse(self.latency.of(status_step.realistic));
        let partitions: Vec<Value> = self
            .partitions
            .iter()
            .map(|(id, p)| json!({"partitionid": id, "sessionid": p.session, "state": p.state}))
            .collect();
        let payload = payload.with(
            "odcResponse",
            json!({"msg": "OK", "status": 1, "partitions": partitions}),
        );
        publish(
            call,
            SERVICE,
            OpStatus::Ongoing,
            name,
            OpStatus::DoneOk,
            &payload,
            None,
        );

        let ours = call.function() == "EnsureCleanup" && self.partitions.contains_key(environment);
        if !ours {
            publish(
                call,
                SERVICE,
                OpStatus::DoneOk,
                "no cleanup necessary",
                OpStatus::DoneOk,
                &Payload::default(),
                None,
            );
            return Ok(String::new());
        }
        let shutdown = Step {
            call: "Shutdown",
            opens_ongoing: false,
            request: json!({"partitionid": environment, "timeout": timeout}),
            state_after: "",
            main: false,
            realistic: Duration::from_secs(2),
        };
        let shutdown_name = "perform ODC call: Shutdown";
        let payload = Payload::default().with("odcRequest", shutdown.request.clone());
        publish(
            call,
            SERVICE,
            OpStatus::Ongoing,
            shutdown_name,
            OpStatus::Started,
            &payload,
            None,
        );
        call.elapse(self.latency.of(shutdown.realistic));
        let payload = payload.with(
            "odcResponse",
            json!({"msg": "OK", "status": 1, "partitionid": environment}),
        );
        publish(
            call,
            SERVICE,
            OpStatus::Ongoing,
            shutdown_name,
            OpStatus::DoneOk,
            &payload,
            None,
        );
        self.partitions.remove(environment);
        publish(
            call,
            SERVICE,
            OpStatus::DoneOk,
            "perform ODC calls for all known partitions: Shutdown",
            OpStatus::DoneOk,
            &Payload::default(),
            None,
        );
        Ok(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_look_like_uuids_and_are_stable() {
        let id = session_id("2oDvieFrVTi");
        assert_eq!(id, session_id("2oDvieFrVTi"));
        assert_ne!(id, session_id("2oDvieFrVTj"));
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
    }

    #[test]
    fn set_properties_requests_list_properties_by_key() {
        let request = set_properties(
            "E",
            57,
            Some(7),
            &[
                ("run_type", "PHYSICS".into()),
                ("detectors", "ITS,TPC".into()),
            ],
        );
        assert_eq!(
            request.to_string(),
            r#"{"partitionid":"E","properties":[{"key":"detectors","value":"ITS,TPC"},{"key":"run_type","value":"PHYSICS"}],"timeout":57,"runnr":7}"#
        );
    }
}
