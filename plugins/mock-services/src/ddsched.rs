//! DDSched: the data-distribution scheduler's partitions (reference §4.4,
//! `core/integration/ddsched/plugin.go`).
//!
//! Initializing or terminating a partition is a request, then polling its state every 100 ms
//! until it is CONFIGURED (TERMINATED); each poll while in progress is an ONGOING event.
//! `EnsureTermination` terminates only a partition that still exists.

use std::{collections::BTreeMap, time::Duration};

use ecsim_plugin_sdk::{Call, CallError, OpStatus, Plugin, Setup};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{
    FaultSpec, Faults, Latency, Outcome, Payload, check_without_detectors, enum_number, fail_step,
    failed, go_map, latency, misbehave, only_odc, publish,
};

const SERVICE: &str = "ddsched";
const POLL: Duration = Duration::from_millis(100);

/// DDSched's PartitionState enum.
const STATES: &[&str] = &[
    "IGNORE__",
    "PARTITION_UNKNOWN",
    "PARTITION_ERROR",
    "PARTITION_REQUEST_INVALID",
    "PARTITION_CONFIGURING",
    "PARTITION_CONFIGURED",
    "PARTITION_TERMINATING",
    "PARTITION_TERMINATED",
];

fn state_number(name: &str) -> i64 {
    enum_number(STATES, name)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    latency: Option<Latency>,
    #[serde(default)]
    faults: Vec<FaultSpec>,
}

/// The DDSched mock.
#[derive(Debug)]
pub struct DdSched {
    latency: Latency,
    faults: Faults,
    /// Environment id → its partition's last state.
    partitions: BTreeMap<String, &'static str>,
}

/// Initialize or terminate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Initialize,
    Terminate,
}

impl Request {
    fn call(self) -> &'static str {
        match self {
            Request::Initialize => "PartitionInitialize",
            Request::Terminate => "PartitionTerminate",
        }
    }
    /// The state while in progress, and the state it ends in.
    fn states(self) -> (&'static str, &'static str) {
        match self {
            Request::Initialize => ("PARTITION_CONFIGURING", "PARTITION_CONFIGURED"),
            Request::Terminate => ("PARTITION_TERMINATING", "PARTITION_TERMINATED"),
        }
    }
}

impl Plugin for DdSched {
    const NAME: &'static str = "ddsched";
    const PRETTY_NAME: &'static str = "DD scheduler";
    const FUNCTIONS: &'static [&'static str] = &[
        "PartitionInitialize",
        "PartitionTerminate",
        "EnsureTermination",
    ];
    const ENDPOINT: &'static str = "//127.0.0.1:50052";

    fn create(setup: &Setup) -> Result<Self, String> {
        let config: Config = setup.config()?;
        let faults = Faults::new(SERVICE, config.faults, Self::FUNCTIONS, |fault| {
            check_without_detectors("DDSched", fault, only_odc)
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
        let fault = fault.as_ref();
        match call.function() {
            "PartitionInitialize" => self.request(call, Request::Initialize, false, fault),
            "PartitionTerminate" => self.request(call, Request::Terminate, false, fault),
            "EnsureTermination" => {
                let step = "check DD partition status";
                let state = self
                    .partitions
                    .get(call.environment_id())
                    .copied()
                    .unwrap_or("PARTITION_UNKNOWN");
                let payload = Payload::default().with("lastKnownState", Value::from(state));
                publish(
                    call,
                    SERVICE,
                    OpStatus::Started,
                    step,
                    OpStatus::Started,
                    &payload,
                    None,
                );
                call.elapse(self.latency.of(POLL));
                if matches!(
                    state,
                    "PARTITION_UNKNOWN" | "PARTITION_TERMINATING" | "PARTITION_TERMINATED"
                ) {
                    publish(
                        call,
                        SERVICE,
                        OpStatus::DoneOk,
                        step,
                        OpStatus::DoneOk,
                        &payload,
                        None,
                    );
                    return Ok(String::new());
                }
                publish(
                    call,
                    SERVICE,
                    OpStatus::Ongoing,
                    step,
                    OpStatus::DoneOk,
                    &payload,
                    Some("partition still exists, cleanup needed"),
                );
                self.request(call, Request::Terminate, true, fault)
            }
            other => Err(CallError::new(format!("ddsched has no function {other}"))),
        }
    }
}

impl DdSched {
    /// A partition request, then polling until it is done, as AliECS's plugin does.
    fn request(
        &mut self,
        call: &mut Call,
        request: Request,
        within_cleanup: bool,
        fault: Option<&FaultSpec>,
    ) -> Result<String, CallError> {
        let what = format!("DDsched {}", call.function());
        let environment = call.environment_id().to_owned();
        let step = format!("perform DD scheduler call: {}", request.call());
        let partition_info = json!({"environment_id": environment, "partition_id": environment});
        let mut body = serde_json::Map::new();
        body.insert("partition_info".into(), partition_info);
        if request == Request::Initialize {
            // Every ddsched_<k> variable but ddsched_enabled, as <k>.
            let params: Vec<(&str, Value)> = call
                .vars()
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("ddsched_").map(|rest| (rest, v)))
                .filter(|(k, _)| *k != "enabled")
                .map(|(k, v)| (k, Value::from(v.clone())))
                .collect();
            if !params.is_empty() {
                body.insert("partition_params".into(), go_map(params));
            }
        }
        let mut payload = Payload::default().with("ddschedRequest", Value::Object(body));
        let opening = if within_cleanup {
            OpStatus::Ongoing
        } else {
            OpStatus::Started
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
        let (in_progress, done) = request.states();
        payload.set(
            "ddschedResponse",
            json!({"partition_state": state_number(in_progress), "info_message": ""}),
        );
        publish(
            call,
            SERVICE,
            OpStatus::Ongoing,
            &step,
            OpStatus::DoneOk,
            &payload,
            None,
        );
        self.partitions.insert(environment.clone(), in_progress);

        // Polling, every 100 ms.
        let poll = "poll for DD partition state";
        let state = |s: &str| Payload::default().with("lastKnownState", Value::from(s.to_owned()));
        publish(
            call,
            SERVICE,
            OpStatus::Ongoing,
            poll,
            OpStatus::Started,
            &state(in_progress),
            None,
        );
        let mut takes = self.latency.of(Duration::from_secs(1));
        if let Some(fault) = fault.filter(|f| f.outcome == Outcome::Delay) {
            takes += fault.delay();
        }
        let never = fault.is_some_and(|f| f.outcome == Outcome::Timeout);
        let fails = fault.is_some_and(|f| f.outcome == Outcome::Error);
        let limit = call.remaining();
        let mut waited = Duration::ZERO;
        loop {
            if waited + POLL > limit {
                call.elapse(limit.saturating_sub(waited));
                let error =
                    format!("timed out waiting for partition {environment} to reach {done}");
                publish(
                    call,
                    SERVICE,
                    OpStatus::DoneTimeout,
                    poll,
                    OpStatus::DoneTimeout,
                    &state(in_progress),
                    Some(&error),
                );
                return Err(failed(&what, error));
            }
            call.elapse(POLL);
            waited += POLL;
            if fails {
                self.partitions
                    .insert(environment.clone(), "PARTITION_ERROR");
                let error = format!(
                    "partition {environment} in unexpected state PARTITION_ERROR{}",
                    fault
                        .and_then(|f| f.message.clone())
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                );
                return Err(fail_step(
                    call,
                    SERVICE,
                    poll,
                    &state("PARTITION_ERROR"),
                    &what,
                    error,
                ));
            }
            if !never && waited >= takes {
                break;
            }
            publish(
                call,
                SERVICE,
                OpStatus::Ongoing,
                poll,
                OpStatus::Ongoing,
                &state(in_progress),
                None,
            );
        }
        self.partitions.insert(environment, done);
        publish(
            call,
            SERVICE,
            OpStatus::DoneOk,
            poll,
            OpStatus::DoneOk,
            &state(done),
            None,
        );
        Ok(String::new())
    }
}
