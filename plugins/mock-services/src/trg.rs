//! TRG: the central trigger's run control (reference §4.3, `core/integration/trg/plugin.go`).
//!
//! A run is loaded (global runs only), started, stopped and unloaded; each is one CTP call,
//! published as `perform TRG call: <Call>` with its request and the reply `{rc, msg}`. The
//! plugin remembers what it must still stop or unload per environment, so `EnsureRunStop` and
//! `EnsureRunUnload` (GO_ERROR, DESTROY) act only when needed. RunStart and RunStop events are
//! timestamped with the trigger system's own start and end times, as AliECS's are.

use std::{collections::BTreeMap, time::Duration};

use ecsim_plugin_sdk::{Call, CallError, OpStatus, Plugin, Setup};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{
    DEADLINE_EXCEEDED, FaultSpec, Faults, Latency, Outcome, Payload, check_without_detectors,
    fail_step, failed, latency, misbehave, only_odc, publish, string_list,
};

const SERVICE: &str = "trg";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    latency: Option<Latency>,
    #[serde(default)]
    faults: Vec<FaultSpec>,
}

/// What remains to be done for a run: stop it, unload it.
#[derive(Debug, Clone, Default)]
struct Pending {
    run: u64,
    detector: String,
    stop: bool,
    unload: bool,
}

/// The TRG mock.
#[derive(Debug)]
pub struct Trg {
    latency: Latency,
    faults: Faults,
    pending: BTreeMap<String, Pending>,
}

/// Which CTP call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CtpCall {
    PrepareForRun,
    RunLoad,
    RunStart,
    RunStop,
    RunUnload,
}

impl CtpCall {
    fn name(self) -> &'static str {
        match self {
            CtpCall::PrepareForRun => "PrepareForRun",
            CtpCall::RunLoad => "RunLoad",
            CtpCall::RunStart => "RunStart",
            CtpCall::RunStop => "RunStop",
            CtpCall::RunUnload => "RunUnload",
        }
    }
}

impl Plugin for Trg {
    const NAME: &'static str = "trg";
    const PRETTY_NAME: &'static str = "Trigger";
    const FUNCTIONS: &'static [&'static str] = &[
        "PrepareForRun",
        "RunLoad",
        "RunStart",
        "RunStop",
        "RunUnload",
        "EnsureRunStop",
        "EnsureRunUnload",
        "Cleanup",
    ];
    const ENDPOINT: &'static str = "//127.0.0.1:50060";

    fn create(setup: &Setup) -> Result<Self, String> {
        let config: Config = setup.config()?;
        let faults = Faults::new(SERVICE, config.faults, Self::FUNCTIONS, |fault| {
            check_without_detectors("TRG", fault, only_odc)
        })?;
        Ok(Self {
            latency: latency(config.latency, setup),
            faults,
            pending: BTreeMap::new(),
        })
    }

    fn call(&mut self, call: &mut Call) -> Result<String, CallError> {
        let fault = self.faults.hit(call);
        misbehave(fault.as_ref(), call);
        let environment = call.environment_id().to_owned();
        let what = format!("TRG {}", call.function());
        let detectors: Vec<String> = string_list(call, "trg_detectors")
            .map_err(|e| failed(&what, e))?
            .iter()
            .map(|d| d.to_lowercase())
            .collect();
        let global = call.var("trg_global_run_enabled") == Some("true");
        let standalone = detectors.len() < 2 && !global;
        let run: u64 = call
            .var("run_number")
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        // "" means a global run; a standalone run names its one detector.
        let detector = if standalone {
            detectors.first().cloned().unwrap_or_default()
        } else {
            String::new()
        };
        let fault = fault.as_ref();
        match call.function() {
            "PrepareForRun" => {
                let run_type = call
                    .var("run_type")
                    .filter(|t| !t.is_empty())
                    .unwrap_or("NONE");
                let request = json!({"runtype": run_type, "detectors": detectors.join(" ")});
                self.ctp(call, CtpCall::PrepareForRun, request, fault)
            }
            "RunLoad" => {
                if standalone {
                    return Ok(String::new()); // a standalone run is not loaded: no call, no events
                }
                let mut request = serde_json::Map::new();
                request.insert("runn".into(), Value::from(run));
                request.insert(
                    "config".into(),
                    Value::from(call.var("trg_global_config").unwrap_or_default()),
                );
                request.insert("detectors".into(), Value::from(detectors.join(" ")));
                if call.var("ctp_readout_enabled") == Some("true") {
                    request.insert("ctp_readout_included".into(), Value::from(true));
                }
                self.ctp(call, CtpCall::RunLoad, Value::Object(request), fault)?;
                self.pending.insert(
                    environment,
                    Pending {
                        run,
                        detector,
                        stop: false,
                        unload: true,
                    },
                );
                Ok(String::new())
            }
            "RunStart" => {
                let request = json!({
                    "runn": run,
                    "detector": detector,
                    "config": call.var("trg_runtime_config").unwrap_or_default(),
                });
                self.ctp(call, CtpCall::RunStart, request, fault)?;
                let pending = self.pending.entry(environment).or_default();
                pending.run = run;
                pending.detector = detector;
                pending.stop = true;
                Ok(String::new())
            }
            "RunStop" | "RunUnload" => {
                let which = if call.function() == "RunStop" {
                    CtpCall::RunStop
                } else {
                    CtpCall::RunUnload
                };
                if which == CtpCall::RunUnload && standalone {
                    return Ok(String::new()); // nothing was loaded
                }
                self.stop_or_unload(call, &environment, which, run, detector, fault)
            }
            "EnsureRunStop" | "EnsureRunUnload" | "Cleanup" => {
                let Some(pending) = self.pending.get(&environment).cloned() else {
                    return Ok(String::new()); // nothing pending, no events
                };
                let stop = call.function() != "EnsureRunUnload" && pending.stop;
                let unload = call.function() != "EnsureRunStop" && pending.unload;
                if stop {
                    self.stop_or_unload(
                        call,
                        &environment,
                        CtpCall::RunStop,
                        pending.run,
                        pending.detector.clone(),
                        fault,
                    )?;
                }
                if unload {
                    self.stop_or_unload(
                        call,
                        &environment,
                        CtpCall::RunUnload,
                        pending.run,
                        pending.detector,
                        fault,
                    )?;
                }
                Ok(String::new())
            }
            other => Err(CallError::new(format!("trg has no function {other}"))),
        }
    }
}

impl Trg {
    fn stop_or_unload(
        &mut self,
        call: &mut Call,
        environment: &str,
        which: CtpCall,
        run: u64,
        detector: String,
        fault: Option<&FaultSpec>,
    ) -> Result<String, CallError> {
        let request = json!({"runn": run, "detector": detector});
        self.ctp(call, which, request, fault)?;
        if let Some(pending) = self.pending.get_mut(environment) {
            match which {
                CtpCall::RunStop => pending.stop = false,
                _ => pending.unload = false,
            }
            if !pending.stop && !pending.unload {
                self.pending.remove(environment);
            }
        }
        Ok(String::new())
    }

    /// One CTP call: STARTED, then DONE_OK or DONE_ERROR with the request and the reply.
    fn ctp(
        &self,
        call: &mut Call,
        which: CtpCall,
        request: Value,
        fault: Option<&FaultSpec>,
    ) -> Result<String, CallError> {
        let what = format!("TRG {}", call.function());
        let step = format!("perform TRG call: {}", which.name());
        let mut payload = Payload::default().with("trgRequest", request);
        publish(
            call,
            SERVICE,
            OpStatus::Started,
            &step,
            OpStatus::Started,
            &payload,
            None,
        );
        if fault.is_some_and(|f| f.outcome == Outcome::Timeout) {
            call.elapse(call.remaining());
            return Err(fail_step(
                call,
                SERVICE,
                &step,
                &payload,
                &what,
                DEADLINE_EXCEEDED,
            ));
        }
        call.elapse(self.latency.of(Duration::from_secs(1)));
        if let Some(fault) = fault.filter(|f| f.outcome == Outcome::Delay) {
            call.elapse(fault.delay());
        }
        if let Some(fault) = fault.filter(|f| f.outcome == Outcome::Error) {
            let message = fault
                .message
                .clone()
                .unwrap_or_else(|| format!("{} refused ({})", which.name(), fault.origin()));
            payload.set("trgResponse", json!({"rc": 1, "msg": message}));
            let error = format!("response code 1 from TRG: {message}");
            return Err(fail_step(call, SERVICE, &step, &payload, &what, error));
        }
        payload.set("trgResponse", json!({}));
        let mut event = call.service_event(OpStatus::DoneOk, &step, OpStatus::DoneOk);
        event.payload = payload.json();
        match which {
            // The trigger system's own start and end times stamp these events, and become the
            // environment's trg_start_time_ms / trg_end_time_ms.
            CtpCall::RunStart | CtpCall::RunStop => {
                let at = call.now_ms();
                let key = if which == CtpCall::RunStart {
                    "trg_start_time_ms"
                } else {
                    "trg_end_time_ms"
                };
                call.set_runtime_var(key, at.to_string());
                call.publish_with_timestamp(SERVICE, event, at);
            }
            _ => call.publish(SERVICE, event),
        }
        Ok(String::new())
    }
}
