//! DCS: `PrepareForRun`, `StartOfRun`, `EndOfRun`, `Cleanup` (reference §4.1,
//! `core/integration/dcs/plugin.go`).
//!
//! Each operation is AliECS's: wait (1 Hz polling, up to the grace period) for the detectors'
//! availability, then the DCS call and its stream of per-detector events, each published as
//! AliECS's plugin publishes it on `aliecs.integrated_service.dcs`. A successful SOR registers
//! a pending EOR for the environment (as soon as the stream opens, even if the SOR then fails);
//! `EndOfRun` and `Cleanup` perform it once.

use std::{collections::BTreeMap, time::Duration};

use ecsim_plugin_sdk::{Call, CallError, OpStatus, Plugin, Setup};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{
    DEADLINE_EXCEEDED, FaultSpec, Faults, Latency, Outcome, Payload, enum_number, fail_step,
    failed, go_duration, go_map, latency, misbehave, only_odc, publish, string_list,
};

const SERVICE: &str = "dcs";

/// DCS detector enum (`protos/dcs.proto`), by ECS name; ECS's TST is DCS's AGD.
const DETECTORS: &[(&str, i64)] = &[
    ("EMC", 2),
    ("FDD", 3),
    ("FT0", 4),
    ("FV0", 5),
    ("ITS", 6),
    ("HMP", 7),
    ("MCH", 8),
    ("MFT", 9),
    ("MID", 10),
    ("TOF", 12),
    ("TPC", 13),
    ("TRD", 14),
    ("ZDC", 15),
    ("LHC", 16),
    ("DCS", 17),
    ("TST", 18),
];

/// DCS detector states (`protos/dcs.proto` DetectorState).
const STATES: &[&str] = &[
    "NULL_STATE",
    "READY",
    "RUN_OK",
    "RUN_FAILURE",
    "RUN_INHIBIT",
    "SOR_PROGRESSING",
    "EOR_PROGRESSING",
    "SOR_FAILURE",
    "EOR_FAILURE",
    "ERROR",
    "DEAD",
    "SOR_UNAVAILABLE",
    "EOR_UNAVAILABLE",
    "PREPARING",
    "SOR_AVAILABLE",
    "EOR_AVAILABLE",
    "PFR_AVAILABLE",
    "PFR_UNAVAILABLE",
    "TIMEOUT",
];

fn state_number(name: &str) -> i64 {
    enum_number(STATES, name)
}

/// One of the three DCS operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Pfr,
    Sor,
    Eor,
}

impl Operation {
    fn function(self) -> &'static str {
        match self {
            Operation::Pfr => "PrepareForRun",
            Operation::Sor => "StartOfRun",
            Operation::Eor => "EndOfRun",
        }
    }
    fn short(self) -> &'static str {
        match self {
            Operation::Pfr => "PFR",
            Operation::Sor => "SOR",
            Operation::Eor => "EOR",
        }
    }
    /// DCS EventType of the stream's events.
    fn event_type(self) -> i64 {
        match self {
            Operation::Pfr => 50,
            Operation::Sor => 20,
            Operation::Eor => 30,
        }
    }
    fn progress_state(self) -> &'static str {
        match self {
            Operation::Pfr => "PREPARING",
            Operation::Sor => "SOR_PROGRESSING",
            Operation::Eor => "EOR_PROGRESSING",
        }
    }
    /// The streamed state of a detector that fails, and how AliECS words it.
    fn failure(self) -> (&'static str, &'static str) {
        match self {
            Operation::Pfr => ("PFR_UNAVAILABLE", "PFR unavailable"),
            Operation::Sor => ("SOR_FAILURE", "SOR failure"),
            Operation::Eor => ("EOR_FAILURE", "EOR failure"),
        }
    }
    fn available_state(self) -> &'static str {
        match self {
            Operation::Pfr => "PFR_AVAILABLE",
            _ => "SOR_AVAILABLE",
        }
    }
    fn unavailable_state(self) -> &'static str {
        match self {
            Operation::Pfr => "PFR_UNAVAILABLE",
            _ => "SOR_UNAVAILABLE",
        }
    }
    fn final_error(self, failed: &[String]) -> String {
        let list = failed.join(", ");
        match self {
            Operation::Pfr => format!("PFR failed for {list}"),
            Operation::Sor => {
                format!("SOR failed for {list}, DCS EOR will run anyway for this run")
            }
            Operation::Eor => {
                format!("EOR failed for {list}, DCS EOR will NOT run again for this run")
            }
        }
    }
}

/// A detector's availability, as the scenario configures it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorConfig {
    /// Its PFR availability (`PFR_AVAILABLE`, `PFR_UNAVAILABLE`, `NULL_STATE`).
    #[serde(default)]
    pfr: Option<String>,
    /// Its SOR availability (`SOR_AVAILABLE`, `SOR_UNAVAILABLE`, `NULL_STATE`).
    #[serde(default)]
    sor: Option<String>,
    /// How long after an operation starts it becomes available (a Go duration).
    #[serde(default)]
    ready_after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    latency: Option<Latency>,
    #[serde(default)]
    faults: Vec<FaultSpec>,
    #[serde(default)]
    detectors: BTreeMap<String, DetectorConfig>,
}

/// The DCS mock.
#[derive(Debug)]
pub struct Dcs {
    latency: Latency,
    faults: Faults,
    detectors: BTreeMap<String, DetectorConfig>,
    /// Environment id → run number of the EOR it still needs.
    pending_eors: BTreeMap<String, i64>,
}

impl Plugin for Dcs {
    const NAME: &'static str = "dcs";
    const PRETTY_NAME: &'static str = "DCS";
    const FUNCTIONS: &'static [&'static str] =
        &["PrepareForRun", "StartOfRun", "EndOfRun", "Cleanup"];
    const ENDPOINT: &'static str = "//127.0.0.1:50051";

    fn create(setup: &Setup) -> Result<Self, String> {
        let config: Config = setup.config()?;
        for (name, detector) in &config.detectors {
            if !DETECTORS.iter().any(|(d, _)| d == name) {
                return Err(format!("dcs: unknown detector {name} in detectors"));
            }
            for state in [&detector.pfr, &detector.sor].into_iter().flatten() {
                if !STATES.contains(&state.as_str()) {
                    return Err(format!(
                        "dcs: detector {name}: {state:?} is not a DCS detector state"
                    ));
                }
            }
            if let Some(after) = &detector.ready_after
                && ecsim_plugin_sdk::parse_go_duration(after).is_none()
            {
                return Err(format!(
                    "dcs: detector {name}: ready_after {after:?} is not a duration"
                ));
            }
        }
        let faults = Faults::new(SERVICE, config.faults, Self::FUNCTIONS, |fault| match fault
            .outcome
        {
            Outcome::PartitionError => only_odc(fault),
            Outcome::Unavailable if fault.detectors.is_empty() => {
                Err("unavailable needs the detectors that are unavailable".to_owned())
            }
            Outcome::Unavailable | Outcome::Delay
                if !fault.detectors.is_empty()
                    && !matches!(fault.operation.as_str(), "PrepareForRun" | "StartOfRun") =>
            {
                Err("detector availability only matters to PrepareForRun and StartOfRun".to_owned())
            }
            _ => Ok(()),
        })?;
        Ok(Self {
            latency: latency(config.latency, setup),
            faults,
            detectors: config.detectors,
            pending_eors: BTreeMap::new(),
        })
    }

    fn call(&mut self, call: &mut Call) -> Result<String, CallError> {
        let fault = self.faults.hit(call);
        misbehave(fault.as_ref(), call);
        match call.function() {
            "PrepareForRun" => self.operate(call, Operation::Pfr, None, fault.as_ref()),
            "StartOfRun" => {
                let run = run_number(call);
                self.operate(call, Operation::Sor, Some(run), fault.as_ref())
            }
            "EndOfRun" => {
                let run = run_number(call);
                self.operate(call, Operation::Eor, Some(run), fault.as_ref())
            }
            "Cleanup" => match self.pending_eors.remove(call.environment_id()) {
                Some(run) => self.operate(call, Operation::Eor, Some(run), fault.as_ref()),
                None => Ok(String::new()), // nothing to do, no events
            },
            other => Err(CallError::new(format!("dcs has no function {other}"))),
        }
    }
}

fn run_number(call: &Call) -> i64 {
    call.var("run_number")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// DCS's time format (`2006-01-02 15:04:05.000`), in UTC.
fn dcs_time(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(time)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
}

impl Dcs {
    /// The availability of `detector` for `operation`, and when (from the call's start) it is
    /// compatible, if ever.
    fn availability(
        &self,
        detector: &str,
        operation: Operation,
        fault: Option<&FaultSpec>,
    ) -> (&'static str, Option<Duration>) {
        let config = self.detectors.get(detector).cloned().unwrap_or_default();
        let configured = match operation {
            Operation::Pfr => config.pfr,
            _ => config.sor,
        };
        let faulted = fault.filter(|f| f.detectors.iter().any(|d| d == detector));
        if faulted.is_some_and(|f| f.outcome == Outcome::Unavailable) {
            return (operation.unavailable_state(), None);
        }
        let state: &'static str = match configured.as_deref() {
            Some(name) => STATES
                .iter()
                .find(|s| **s == name)
                .copied()
                .unwrap_or("NULL_STATE"),
            None => operation.available_state(),
        };
        let compatible = state == operation.available_state() || state == "NULL_STATE";
        if !compatible {
            return (state, None);
        }
        let ready_after = faulted
            .filter(|f| f.outcome == Outcome::Delay)
            .map(FaultSpec::delay)
            .or_else(|| {
                config
                    .ready_after
                    .as_deref()
                    .and_then(ecsim_plugin_sdk::parse_go_duration)
            })
            .unwrap_or(Duration::ZERO);
        (state, Some(ready_after))
    }

    fn operate(
        &mut self,
        call: &mut Call,
        operation: Operation,
        run: Option<i64>,
        fault: Option<&FaultSpec>,
    ) -> Result<String, CallError> {
        let what = format!("DCS {}", operation.function());
        let detectors = string_list(call, "dcs_detectors").map_err(|e| failed(&what, e))?;
        let mut numbers = Vec::new();
        for detector in &detectors {
            match DETECTORS.iter().find(|(d, _)| d == detector) {
                Some((_, number)) => numbers.push(*number),
                None => return Err(failed(&what, format!("invalid DCS detector {detector}"))),
            }
        }
        let mut payload = Payload::default().with("detectors", json!(detectors));
        if let Some(run) = run {
            payload.set("runNumber", Value::from(run));
        }

        // Availability: PFR and SOR wait for it, polling at 1 Hz within the grace period.
        let mut participants: Vec<(String, i64)> = detectors.iter().cloned().zip(numbers).collect();
        if operation != Operation::Eor {
            publish(
                call,
                SERVICE,
                OpStatus::Started,
                "acquire detectors availability",
                OpStatus::Started,
                &payload,
                None,
            );
            let grace = call
                .duration_var(match operation {
                    Operation::Pfr => "dcs_pfr_grace_period",
                    _ => "dcs_sor_grace_period",
                })
                .unwrap_or(Duration::ZERO);
            let checks: Vec<(String, &'static str, Option<Duration>)> = detectors
                .iter()
                .filter(|d| *d != "DCS")
                .map(|d| {
                    let (state, ready) = self.availability(d, operation, fault);
                    (d.clone(), state, ready)
                })
                .collect();
            // AliECS checks at once, then every second while within the grace period; a
            // detector ready after `r` is seen at the first check at or after `r`.
            let seen = |ready: &Option<Duration>| {
                ready.is_some_and(|r| ready_at(r).is_zero() || ready_at(r) < grace)
            };
            let waited = if checks.iter().all(|(_, _, ready)| seen(ready)) {
                checks
                    .iter()
                    .filter_map(|(_, _, ready)| ready.map(ready_at))
                    .max()
                    .unwrap_or(Duration::ZERO)
            } else {
                ready_at(grace).max(Duration::from_secs(1))
            };
            call.elapse(waited);
            // A detector not seen ready shows the state it had when AliECS gave up.
            let shown = |state: &'static str, ready: &Option<Duration>| {
                if ready.is_some() && !seen(ready) {
                    operation.unavailable_state()
                } else {
                    state
                }
            };
            let readiness: Vec<(&str, Value)> = checks
                .iter()
                .map(|(d, state, ready)| (d.as_str(), Value::from(shown(state, ready))))
                .collect();
            let not_ready = checks.iter().filter(|(_, _, ready)| !seen(ready)).count();
            let give_up = match operation {
                Operation::Sor => not_ready > 0,
                // PFR goes on with the detectors that are compatible, if any.
                _ => not_ready == checks.len() && !checks.is_empty(),
            };
            if give_up {
                // AliECS reports every detector not in the operation's state, NULL_STATE
                // included, grouped by state (`compatibleWithDCSOperation`); its groups come
                // in Go map order, ecsim's in the order of their first detector.
                let mut by_state: Vec<(&str, Vec<&str>)> = Vec::new();
                for (detector, state, ready) in &checks {
                    let state = shown(state, ready);
                    if state == operation.available_state() {
                        continue;
                    }
                    match by_state.iter_mut().find(|(s, _)| *s == state) {
                        Some((_, detectors)) => detectors.push(detector),
                        None => by_state.push((state, vec![detector])),
                    }
                }
                let report: Vec<String> = by_state
                    .iter()
                    .map(|(state, detectors)| format!("{} in {state}", detectors.join(", ")))
                    .collect();
                let error = format!(
                    "detectors are in incompatible states: {}",
                    report.join("; ")
                );
                return Err(fail_step(
                    call,
                    SERVICE,
                    "acquire detectors availability",
                    &payload,
                    &what,
                    error,
                ));
            }
            participants.retain(|(d, _)| {
                d == "DCS" || checks.iter().any(|(c, _, ready)| c == d && seen(ready))
            });
            payload.set("detectorsReadiness", go_map(readiness));
            publish(
                call,
                SERVICE,
                OpStatus::Ongoing,
                "acquire detectors availability",
                OpStatus::DoneOk,
                &payload,
                None,
            );
        }

        // The DCS call itself, and its stream.
        let step = format!("perform DCS call: {}", operation.function());
        let opening = if operation == Operation::Eor {
            OpStatus::Started
        } else {
            OpStatus::Ongoing
        };
        publish(
            call,
            SERVICE,
            opening,
            &step,
            OpStatus::Started,
            &payload,
            None,
        );
        let rejected = fault.filter(|f| f.outcome == Outcome::Error && f.detectors.is_empty());
        if let Some(fault) = rejected {
            let error = format!(
                "rpc error: code = Unavailable desc = {}",
                fault.message.as_deref().unwrap_or("connection refused")
            );
            return Err(fail_step(call, SERVICE, &step, &payload, &what, error));
        }
        match operation {
            Operation::Sor => {
                self.pending_eors
                    .insert(call.environment_id().to_owned(), run.unwrap_or(0));
            }
            Operation::Eor => {
                self.pending_eors.remove(call.environment_id());
            }
            Operation::Pfr => {}
        }

        let deadline = call.elapsed() + call.remaining();
        let step_time = self.latency.of(Duration::from_secs(1));
        let hit = |detector: &str, outcome: Outcome| {
            fault.is_some_and(|f| {
                f.outcome == outcome
                    && (f.detectors.is_empty() || f.detectors.iter().any(|d| d == detector))
            })
        };
        let dcs_event = |call: &Call, detector: i64, state: &str| {
            let mut event = serde_json::Map::new();
            event.insert("eventtype".into(), Value::from(operation.event_type()));
            event.insert("detector".into(), Value::from(detector));
            event.insert("state".into(), Value::from(state_number(state)));
            if let Some(run) = run {
                event.insert(
                    "extraParameters".into(),
                    json!({ "run_no": run.to_string() }),
                );
            }
            event.insert("timestamp".into(), Value::from(dcs_time(call.now_ms())));
            Value::Object(event)
        };
        let detector_event = |call: &mut Call,
                              payload: &Payload,
                              name: &str,
                              number: i64,
                              state: &str,
                              status: OpStatus,
                              error: Option<&str>| {
            let event = dcs_event(call, number, state);
            let payload = payload
                .clone()
                .with("detector", Value::from(name))
                .with("state", Value::from(state))
                .with("dcsEvent", event);
            publish(
                call,
                SERVICE,
                OpStatus::Ongoing,
                &step,
                status,
                &payload,
                error,
            );
        };

        let streamed: Vec<(String, i64)> = participants
            .iter()
            .filter(|(d, _)| d != "DCS")
            .cloned()
            .collect();
        for (name, number) in &streamed {
            call.elapse(step_time);
            detector_event(
                call,
                &payload,
                name,
                *number,
                operation.progress_state(),
                OpStatus::Ongoing,
                None,
            );
        }
        if let Some(fault) = fault.filter(|f| f.outcome == Outcome::Delay && f.detectors.is_empty())
        {
            call.elapse(fault.delay());
        }
        let mut states: BTreeMap<String, &str> = BTreeMap::new();
        let mut stream_error: Option<String> = None;
        for (name, number) in &streamed {
            if hit(name, Outcome::Error) || hit(name, Outcome::Timeout) {
                continue;
            }
            call.elapse(step_time);
            detector_event(
                call,
                &payload,
                name,
                *number,
                "RUN_OK",
                OpStatus::Ongoing,
                None,
            );
            states.insert(name.clone(), "RUN_OK");
        }
        if let Some((name, number)) = streamed.iter().find(|(d, _)| hit(d, Outcome::Error)) {
            call.elapse(step_time);
            let (state, words) = operation.failure();
            // The scenario's message is what DCS says of the detector.
            let error = fault
                .and_then(|f| f.message.clone())
                .unwrap_or_else(|| format!("{name} {words} reported by DCS"));
            detector_event(
                call,
                &payload,
                name,
                *number,
                state,
                OpStatus::DoneError,
                Some(&error),
            );
            states.insert(name.clone(), state);
        } else if streamed.iter().any(|(d, _)| hit(d, Outcome::Timeout)) {
            call.elapse(deadline.saturating_sub(call.elapsed()));
            let error = format!(
                "DCS {} timed out after {}: {DEADLINE_EXCEEDED}",
                operation.short(),
                go_duration(call.timeout())
            );
            publish(
                call,
                SERVICE,
                OpStatus::Ongoing,
                &step,
                OpStatus::DoneTimeout,
                &payload,
                Some(&error),
            );
            stream_error = Some(error);
        } else {
            // DCS closes the stream with an event for the DCS detector itself, which AliECS
            // drops ("received an event for DCS detector … ignoring"): nothing is published.
            call.elapse(step_time);
        }

        let failed_detectors: Vec<String> = participants
            .iter()
            .filter(|(d, _)| d != "DCS" && states.get(d) != Some(&"RUN_OK"))
            .map(|(d, _)| d.clone())
            .collect();
        if failed_detectors.is_empty() {
            publish(
                call,
                SERVICE,
                OpStatus::DoneOk,
                &step,
                OpStatus::DoneOk,
                &payload,
                None,
            );
            return Ok(String::new());
        }
        let mut error = operation.final_error(&failed_detectors);
        if let Some(stream_error) = stream_error {
            error = format!("{stream_error} : {error}");
        }
        payload.set("failedDetectors", json!(failed_detectors));
        Err(fail_step(call, SERVICE, &step, &payload, &what, error))
    }
}

/// The first 1 Hz check at which a detector ready after `ready` is seen ready.
fn ready_at(ready: Duration) -> Duration {
    Duration::from_secs(ready.as_secs_f64().ceil() as u64)
}
