//! What the four mock services share: their configuration (latencies, faults), and publishing
//! integrated-service events the way AliECS's plugins fill them.

use std::time::Duration;

use ecsim_plugin_sdk::{Call, CallError, OpStatus, Setup};
use serde::Deserialize;
use serde_json::Value;

/// How long the services take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Latency {
    /// Every operation completes at once (the default in virtual time).
    Instant,
    /// Operations take about as long as at ALICE (the default in real time).
    Realistic,
}

/// The faults of the scenario, and what each does: ecsim's contract, shared with the scenario.
pub(crate) use ecsim_plugin_sdk::fault::{FaultOutcome as Outcome, FaultSpec};

/// A service's faults, and how many calls each has hit.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    faults: Vec<(FaultSpec, u32)>,
}

impl Faults {
    /// Checks the faults against what the service offers: `functions`, and which outcomes make
    /// sense for it (`allowed`, given the operation).
    pub(crate) fn new(
        service: &str,
        specs: Vec<FaultSpec>,
        functions: &[&str],
        allowed: impl Fn(&FaultSpec) -> Result<(), String>,
    ) -> Result<Self, String> {
        for spec in &specs {
            if !functions.contains(&spec.operation.as_str()) {
                return Err(format!(
                    "{}: {service} has no operation {:?} (it has: {})",
                    spec.origin(),
                    spec.operation,
                    functions.join(", ")
                ));
            }
            allowed(spec).map_err(|why| format!("{}: {why}", spec.origin()))?;
        }
        Ok(Self {
            faults: specs.into_iter().map(|spec| (spec, 0)).collect(),
        })
    }

    /// The first fault that hits this call, counted as used and reported to ecsim as fired.
    pub(crate) fn hit(&mut self, call: &mut Call) -> Option<FaultSpec> {
        let run: Option<u32> = call.var("run_number").and_then(|r| r.parse().ok());
        let (spec, used) = self.faults.iter_mut().find(|(spec, used)| {
            spec.operation == call.function()
                && spec
                    .environment
                    .as_deref()
                    .is_none_or(|e| e == call.environment_name())
                && spec.run.is_none_or(|r| Some(r) == run)
                && spec.from_ms.is_none_or(|from| call.now_ms() >= from)
                && spec.times.is_none_or(|times| *used < times)
        })?;
        *used += 1;
        call.fault_fired(spec);
        Some(spec.clone())
    }
}

/// What a fault may ask of a service without detector availabilities (ODC, TRG, DDSched): no
/// detectors and no `unavailable` (DCS's); whether `partition-error` fits, `partition_error`
/// says.
pub(crate) fn check_without_detectors(
    label: &str,
    fault: &FaultSpec,
    partition_error: impl FnOnce(&FaultSpec) -> Result<(), String>,
) -> Result<(), String> {
    match fault.outcome {
        Outcome::Unavailable => return Err("unavailable is a DCS fault".to_owned()),
        Outcome::PartitionError => partition_error(fault)?,
        _ => {}
    }
    if fault.detectors.is_empty() {
        Ok(())
    } else {
        Err(format!("{label} faults take no detectors"))
    }
}

/// `partition-error` for a service other than ODC.
pub(crate) fn only_odc(_: &FaultSpec) -> Result<(), String> {
    Err("partition-error is an ODC fault".to_owned())
}

/// The number of `name` in a protobuf enum's values listed in number order (0, the unknown
/// value, for a name that is not there), as the services write their states.
pub(crate) fn enum_number(values: &[&str], name: &str) -> i64 {
    values
        .iter()
        .position(|value| *value == name)
        .map_or(0, |i| i as i64)
}

/// The latency in effect: as configured, else instant in virtual time, realistic otherwise.
pub(crate) fn latency(configured: Option<Latency>, setup: &Setup) -> Latency {
    configured.unwrap_or(if setup.virtual_time {
        Latency::Instant
    } else {
        Latency::Realistic
    })
}

impl Latency {
    /// `realistic`, or nothing.
    pub(crate) fn of(self, realistic: Duration) -> Duration {
        match self {
            Latency::Instant => Duration::ZERO,
            Latency::Realistic => realistic,
        }
    }
}

/// Does what the generic outcomes do: panic or hang. Other outcomes are the service's to play.
pub(crate) fn misbehave(fault: Option<&FaultSpec>, call: &Call) {
    match fault.map(|f| (f.outcome, f)) {
        Some((Outcome::Panic, fault)) => match &fault.message {
            Some(message) => panic!("{message}"),
            None => panic!("{} made {} panic", fault.origin(), call.func()),
        },
        Some((Outcome::Hang, _)) => loop {
            std::thread::park();
        },
        _ => {}
    }
}

/// A Go map as `encoding/json` writes it: keys sorted.
pub(crate) fn go_map<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let mut sorted: Vec<(&str, Value)> = entries.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    Value::Object(sorted.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A Go map payload being built: entries added as AliECS's plugins add them, written sorted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Payload(Vec<(&'static str, Value)>);

impl Payload {
    pub(crate) fn with(mut self, key: &'static str, value: Value) -> Self {
        self.set(key, value);
        self
    }

    pub(crate) fn set(&mut self, key: &'static str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub(crate) fn json(&self) -> String {
        go_map(self.0.iter().map(|(k, v)| (*k, v.clone()))).to_string()
    }
}

/// Publishes one integrated-service event of `call` on `service`'s topic, now.
pub(crate) fn publish(
    call: &mut Call,
    service: &str,
    operation: OpStatus,
    step: &str,
    step_status: OpStatus,
    payload: &Payload,
    error: Option<&str>,
) {
    let mut event = call.service_event(operation, step, step_status);
    event.payload = payload.json();
    event.error = error.unwrap_or_default().to_owned();
    call.publish(service, event);
}

/// Ends a call that failed at `step`: publishes the step as `DONE_ERROR` (operation and step)
/// with `error` on the event, and gives the call's error, `<what> call failed: <error>` — how
/// every mock service ends a failing call.
pub(crate) fn fail_step(
    call: &mut Call,
    service: &str,
    step: &str,
    payload: &Payload,
    what: &str,
    error: impl Into<String>,
) -> CallError {
    let error = error.into();
    publish(
        call,
        service,
        OpStatus::DoneError,
        step,
        OpStatus::DoneError,
        payload,
        Some(&error),
    );
    failed(what, error)
}

/// The gRPC error of a deadline, as grpc-go prints it.
pub(crate) const DEADLINE_EXCEEDED: &str =
    "rpc error: code = DeadlineExceeded desc = context deadline exceeded";

/// A duration as Go writes it (`1m30s`).
pub(crate) use ecsim_plugin_sdk::proto::duration::format_go_duration as go_duration;

/// The call's failure, as AliECS's plugins write it: `<X> call failed`, with the reason.
pub(crate) fn failed(what: &str, reason: impl Into<String>) -> CallError {
    CallError::new(format!("{what} call failed")).reason(reason)
}

/// The list of a JSON string array variable (`dcs_detectors`, `trg_detectors`).
pub(crate) fn string_list(call: &Call, key: &str) -> Result<Vec<String>, String> {
    let text = call.var(key).unwrap_or("[]");
    serde_json::from_str(text)
        .map_err(|error| format!("{key} is not a JSON list of strings: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(operation: &str, outcome: &str, detectors: &[&str]) -> FaultSpec {
        serde_json::from_value(serde_json::json!({
            "operation": operation,
            "outcome": outcome,
            "detectors": detectors,
        }))
        .unwrap()
    }

    #[test]
    fn services_without_detector_availabilities_refuse_the_faults_they_cannot_have() {
        let check = |label, f: FaultSpec| check_without_detectors(label, &f, only_odc);
        assert_eq!(check("TRG", fault("RunStart", "error", &[])), Ok(()));
        assert_eq!(check("TRG", fault("RunStart", "timeout", &[])), Ok(()));
        assert_eq!(
            check("TRG", fault("RunStart", "error", &["TPC"])),
            Err("TRG faults take no detectors".to_owned())
        );
        assert_eq!(
            check("DDSched", fault("PartitionInitialize", "unavailable", &[])),
            Err("unavailable is a DCS fault".to_owned())
        );
        assert_eq!(
            check(
                "DDSched",
                fault("PartitionInitialize", "partition-error", &[])
            ),
            Err("partition-error is an ODC fault".to_owned())
        );
        // ODC's rule for partition-error is its own; the detector rule still applies after it.
        let odc = |f: FaultSpec| {
            check_without_detectors("ODC", &f, |f| match f.operation.as_str() {
                "Start" => Ok(()),
                _ => Err("after Start".to_owned()),
            })
        };
        assert_eq!(odc(fault("Start", "partition-error", &[])), Ok(()));
        assert_eq!(
            odc(fault("Stop", "partition-error", &[])),
            Err("after Start".to_owned())
        );
        assert_eq!(
            odc(fault("Start", "partition-error", &["TPC"])),
            Err("ODC faults take no detectors".to_owned())
        );
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(go_duration(Duration::from_secs(140)), "2m20s");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn payloads_are_written_with_sorted_keys_as_go_maps_are() {
        let payload = Payload::default()
            .with("runNumber", Value::from(7))
            .with("detectors", serde_json::json!(["TPC"]))
            .with(
                "detectorsReadiness",
                go_map([
                    ("TPC", Value::from("SOR_AVAILABLE")),
                    ("ITS", Value::from("SOR_AVAILABLE")),
                ]),
            );
        assert_eq!(
            payload.json(),
            r#"{"detectors":["TPC"],"detectorsReadiness":{"ITS":"SOR_AVAILABLE","TPC":"SOR_AVAILABLE"},"runNumber":7}"#
        );
    }
}
