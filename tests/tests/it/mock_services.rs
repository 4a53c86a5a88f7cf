//! The mock DCS, ODC, TRG and DDSched, loaded as `ecsim run` loads them — from the
//! `mock-services` library built beside the test binaries — and driven by scenarios: each
//! operation's event sequence (reference §4), for success and for each kind of failure, and
//! what the failure does to the environment (reference §1.8, §4.1).
//!
//! Each snapshot is one line per integrated-service event: simulated seconds since the start,
//! topic suffix, operation, operation and step statuses, step, error, payload. They were
//! reviewed against reference §4 when written; a change to one is a change of what consumers
//! see.

use std::sync::Arc;

use ecsim_core::{plugin::IntegrationPlugin, publish::MemoryPublisher};
use ecsim_e2e::EPOCH;
use ecsim_proto::{events::Event, prost::Message as _, topics};
use ecsim_replay::{Report, driver};

/// A scenario of one environment (ITS, TPC) with the given variables, started after a minute,
/// stopped after ten, destroyed 30 s later; the mock services loaded, with `extra` TOML
/// (faults, plugin configuration).
fn scenario(vars: &str, extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "mock"
seed = 3
epoch = 2025-06-15T12:00:00Z

[[plugin]]
library = "mock-services"
{extra}

[[environment]]
name = "physics"
detectors = ["ITS", "TPC"]
tasks_per_host = 1
vars = {{ {vars} }}

[[timeline]]
at = "0s"
env = "physics"
do = "create"

[[timeline]]
after = "1m"
env = "physics"
do = "start"

[[timeline]]
after = "10m"
env = "physics"
do = "stop"

[[timeline]]
after = "30s"
env = "physics"
do = "destroy"
"#
    )
}

struct Replayed {
    report: Report,
    events: Vec<(f64, String, Event)>,
}

fn replay(text: &str) -> Replayed {
    let scenario = ecsim_scenario::parse("mock.toml", text).unwrap();
    let plugins = ecsim_e2e::load_plugins(&scenario).unwrap();
    let memory = Arc::new(MemoryPublisher::new());
    let plugins = plugins
        .into_iter()
        .map(|p| p as Arc<dyn IntegrationPlugin>)
        .collect();
    let report =
        driver::run_blocking(&scenario, memory.clone(), plugins, Arc::new(driver::Silent)).unwrap();
    let events = memory
        .records()
        .into_iter()
        .filter(|r| r.message_type == ecsim_core::publish::MessageType::Event)
        .map(|r| {
            let at = (r.timestamp.unix_millis() - EPOCH.unix_millis()) as f64 / 1000.0;
            (
                at,
                r.topic.to_string(),
                Event::decode(r.value.as_slice()).unwrap(),
            )
        })
        .collect();
    Replayed { report, events }
}

impl Replayed {
    /// The integrated-service events of `services`, one line each.
    fn lines(&self, services: &[&str]) -> String {
        let mut out = String::new();
        for (at, topic, event) in &self.events {
            let Some(service) = topic.strip_prefix(topics::INTEGRATED_SERVICE_PREFIX) else {
                continue;
            };
            if !services.contains(&service) {
                continue;
            }
            let Some(ecsim_proto::events::event::Payload::IntegratedServiceEvent(e)) =
                &event.payload
            else {
                continue;
            };
            out.push_str(&format!(
                "{at:>6} {service:<7} {} | {} | {}/{} | {} |",
                e.name,
                e.operation_name,
                e.operation_status().as_str_name(),
                e.operation_step_status().as_str_name(),
                e.operation_step,
            ));
            if !e.error.is_empty() {
                out.push_str(&format!(" error: {} |", e.error));
            }
            out.push_str(&format!(" {}\n", e.payload));
        }
        out
    }

    /// Every call of `plugin` that did not end DONE_OK, with its error.
    fn failed_calls(&self, plugin: &str) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|(at, _, event)| match &event.payload {
                Some(ecsim_proto::events::event::Payload::CallEvent(call))
                    if call.func.starts_with(&format!("{plugin}."))
                        && call.call_status() == ecsim_proto::events::OpStatus::DoneError =>
                {
                    Some(format!("{at} {}: {}", call.func, call.error))
                }
                _ => None,
            })
            .collect()
    }

    /// The environment's states in order, from aliecs.env_state.* (deduplicated).
    fn states(&self) -> Vec<String> {
        let mut states: Vec<String> = Vec::new();
        for (_, _, event) in &self.events {
            if let Some(ecsim_proto::events::event::Payload::EnvironmentEvent(e)) = &event.payload
                && !e.state.is_empty()
                && states.last() != Some(&e.state)
            {
                states.push(e.state.clone());
            }
        }
        states
    }
}

const DCS_ON: &str = r#"dcs_enabled = "true""#;

// ---- DCS ----------------------------------------------------------------------------------

#[test]
fn dcs_prepare_start_and_end_of_run() {
    let replayed = replay(&scenario(DCS_ON, r#"plugins = ["dcs"]"#));
    assert!(replayed.failed_calls("dcs").is_empty());
    insta::assert_snapshot!(replayed.lines(&["dcs"]));
}

#[test]
fn dcs_realistic_latencies_spread_the_stream_over_time() {
    let replayed = replay(&scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n[plugin.config.dcs]\nlatency = \"realistic\"",
    ));
    let sor: Vec<f64> = replayed
        .events
        .iter()
        .filter(|(_, topic, _)| topic == "aliecs.integrated_service.dcs")
        .filter(|(_, _, e)| matches!(&e.payload, Some(ecsim_proto::events::event::Payload::IntegratedServiceEvent(i)) if i.operation_name == "dcs.StartOfRun()"))
        .map(|(at, _, _)| *at)
        .collect();
    // Two detectors: two progress events, two RUN_OK, the aggregate — one second apart.
    assert_eq!(
        sor.first(),
        Some(&60.0),
        "SOR starts at before_START_ACTIVITY"
    );
    assert_eq!(sor.last(), Some(&65.0), "and ends 5 s later: {sor:?}");
}

#[test]
fn dcs_sor_failure_of_one_detector_sends_the_environment_to_error_and_cleanup_runs_the_eor() {
    let replayed = replay(&scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\ndetectors = [\"TPC\"]\noutcome = \"error\"",
    ));
    assert_eq!(replayed.states().last().map(String::as_str), Some("DONE"));
    assert!(
        replayed.states().contains(&"ERROR".to_owned()),
        "{:?}",
        replayed.states()
    );
    assert_eq!(
        replayed.failed_calls("dcs"),
        [
            "60 dcs.StartOfRun(): DCS StartOfRun call failed. REASON: SOR failed for TPC, DCS EOR will run anyway for this run"
        ]
    );
    insta::assert_snapshot!(replayed.lines(&["dcs"]));
}

#[test]
fn dcs_sor_with_a_detector_unavailable_fails_after_the_grace_period_without_calling_dcs() {
    let replayed = replay(&scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\ndetectors = [\"TPC\"]\noutcome = \"unavailable\"",
    ));
    assert!(replayed.states().contains(&"ERROR".to_owned()));
    insta::assert_snapshot!(replayed.lines(&["dcs"]));
}

#[test]
fn dcs_sor_waits_for_a_detector_that_becomes_ready_within_the_grace_period() {
    let replayed = replay(&scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\ndetectors = [\"TPC\"]\noutcome = \"delay\"\ndelay = \"2500ms\"",
    ));
    assert!(replayed.failed_calls("dcs").is_empty());
    assert!(replayed.states().contains(&"RUNNING".to_owned()));
    insta::assert_snapshot!(replayed.lines(&["dcs"]));
}

#[test]
fn dcs_pfr_goes_on_with_the_compatible_detectors() {
    let replayed = replay(&scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n[plugin.config.dcs.detectors.TPC]\npfr = \"PFR_UNAVAILABLE\"",
    ));
    let pfr = replayed.lines(&["dcs"]);
    let pfr: String = pfr
        .lines()
        .filter(|l| l.contains("PrepareForRun"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(pfr);
}

#[test]
fn dcs_sor_timeout_reports_done_timeout_then_fails_with_every_detector() {
    let replayed = replay(&scenario(
        &format!("{DCS_ON}, dcs_sor_timeout = \"20s\""),
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\noutcome = \"timeout\"",
    ));
    assert!(replayed.states().contains(&"ERROR".to_owned()));
    let sor: String = replayed
        .lines(&["dcs"])
        .lines()
        .filter(|l| l.contains("StartOfRun") || l.contains("Cleanup"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(sor);
}

#[test]
fn dcs_rejecting_the_sor_call_leaves_no_eor_to_perform() {
    let replayed = replay(&scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\noutcome = \"error\"\nmessage = \"DCS gateway down\"",
    ));
    let lines = replayed.lines(&["dcs"]);
    assert!(
        lines.contains("error: rpc error: code = Unavailable desc = DCS gateway down"),
        "{lines}"
    );
    assert!(
        !lines.contains("dcs.Cleanup()"),
        "the stream never opened, no EOR is owed:\n{lines}"
    );
}

#[test]
fn dcs_eor_failure_fails_the_stop_and_the_environment_goes_to_error() {
    let replayed = replay(&scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"EndOfRun\"\ndetectors = [\"ITS\"]\noutcome = \"error\"",
    ));
    assert_eq!(
        replayed.failed_calls("dcs"),
        [
            "665 dcs.EndOfRun(): DCS EndOfRun call failed. REASON: EOR failed for ITS, DCS EOR will NOT run again for this run"
        ]
    );
    let states = replayed.states();
    let stopped = states.iter().position(|s| s == "CONFIGURED").unwrap();
    assert!(
        states[stopped..].contains(&"ERROR".to_owned()),
        "{states:?}"
    );
    let eor: String = replayed
        .lines(&["dcs"])
        .lines()
        .filter(|l| l.contains("EndOfRun"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(eor);
}

#[test]
fn a_fault_hits_only_its_environment_run_and_count() {
    let text = scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\noutcome = \"error\"\nrun = 2",
    );
    let replayed = replay(&text);
    assert!(replayed.failed_calls("dcs").is_empty(), "run 1 is not hit");
    let text = scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\noutcome = \"error\"\nrun = 1\ntimes = 1\nenv = \"physics\"",
    );
    assert_eq!(replay(&text).failed_calls("dcs").len(), 1);
}

// ---- ODC ----------------------------------------------------------------------------------

const EPN_ON: &str = r#"epn_enabled = "true""#;
/// The EPN switch turns on ODC's and DDSched's calls: both must be loaded.
const EPN_PLUGINS: &str = r#"plugins = ["odc", "ddsched"]"#;

#[test]
fn odc_partition_lifecycle() {
    let replayed = replay(&scenario(EPN_ON, EPN_PLUGINS));
    assert!(replayed.failed_calls("odc").is_empty());
    insta::assert_snapshot!(replayed.lines(&["odc"]));
}

/// With `odc_partitions_cleanup` off, DESTROY runs `odc.EnsureCleanupLegacy()`: Reset, Terminate
/// and Shutdown, each published, even though the partition is already gone after RESET.
#[test]
fn odc_legacy_cleanup_publishes_its_three_steps_even_with_the_partition_gone() {
    let replayed = replay(&scenario(
        &format!("{EPN_ON}, odc_partitions_cleanup = \"false\""),
        EPN_PLUGINS,
    ));
    assert!(replayed.failed_calls("odc").is_empty());
    let lines = replayed.lines(&["odc"]);
    assert!(!lines.contains("odc.PreDeploymentCleanup()"), "{lines}");
    let legacy: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("odc.EnsureCleanupLegacy()"))
        .collect();
    let steps: Vec<String> = legacy
        .iter()
        .map(|l| {
            let fields: Vec<&str> = l.split(" | ").collect();
            format!("{} {}", fields[2], fields[3])
        })
        .collect();
    assert_eq!(
        steps,
        [
            "STARTED/STARTED perform ODC call: Reset",
            "DONE_OK/DONE_OK perform ODC call: Reset",
            "STARTED/STARTED perform ODC call: Terminate",
            "DONE_OK/DONE_OK perform ODC call: Terminate",
            "STARTED/STARTED perform ODC call: Shutdown",
            "DONE_OK/DONE_OK perform ODC call: Shutdown",
        ],
        "{lines}"
    );
    assert!(
        legacy
            .iter()
            .all(|l| l.contains("readout-dataflow.odc.legacy-cleanup")),
        "{legacy:?}"
    );
}

/// AliECS asks ODC to finish within what is left of its deadline minus 3 s, truncated: a 60 s
/// call asks for 56 s (`uint32(d.Seconds())` of a little less than 57 s).
#[test]
fn odc_request_timeout_is_truncated_as_aliecs_truncates_it() {
    let replayed = replay(&scenario(EPN_ON, EPN_PLUGINS));
    let lines = replayed.lines(&["odc"]);
    assert!(lines.contains(r#""timeout":56"#), "{lines}");
    assert!(!lines.contains(r#""timeout":57"#), "{lines}");
}

#[test]
fn odc_start_refused_by_odc_fails_the_start() {
    let replayed = replay(&scenario(
        EPN_ON,
        "plugins = [\"odc\", \"ddsched\"]\n\n[[fault]]\nservice = \"odc\"\noperation = \"Start\"\noutcome = \"error\"\nmessage = \"device exited\"",
    ));
    assert_eq!(
        replayed.failed_calls("odc"),
        ["60 odc.Start(): ODC Start call failed. REASON: code 1 from ODC: device exited"]
    );
    assert!(replayed.states().contains(&"ERROR".to_owned()));
    let start: String = replayed
        .lines(&["odc"])
        .lines()
        .filter(|l| l.contains("odc.Start()"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(start);
}

#[test]
fn odc_configure_timeout_fails_at_the_deadline() {
    let replayed = replay(&scenario(
        &format!("{EPN_ON}, odc_configure_timeout = \"15s\""),
        "plugins = [\"odc\", \"ddsched\"]\n\n[[fault]]\nservice = \"odc\"\noperation = \"Configure\"\noutcome = \"timeout\"",
    ));
    let failed = replayed.failed_calls("odc");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].ends_with("odc.Configure(): ODC Configure call failed. REASON: rpc error: code = DeadlineExceeded desc = context deadline exceeded"), "{failed:?}");
    let configure: Vec<String> = replayed
        .lines(&["odc"])
        .lines()
        .filter(|l| l.contains("odc.Configure()"))
        .map(str::to_owned)
        .collect();
    let times: Vec<&str> = configure
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        times.first(),
        times.get(2),
        "the Configure step starts with SetProperties"
    );
    assert!(
        configure
            .last()
            .unwrap()
            .contains("DONE_ERROR/DONE_ERROR | perform ODC call: Configure |")
    );
    let started: f64 = times[0].parse().unwrap();
    let ended: f64 = times.last().unwrap().parse().unwrap();
    assert_eq!(ended - started, 15.0, "the deadline is the call's timeout");
}

// ---- TRG ----------------------------------------------------------------------------------

const TRG_ON: &str = r#"trg_enabled = "true""#;

#[test]
fn trg_global_run_load_start_stop_unload() {
    let replayed = replay(&scenario(TRG_ON, r#"plugins = ["trg"]"#));
    assert!(replayed.failed_calls("trg").is_empty());
    insta::assert_snapshot!(replayed.lines(&["trg"]));
}

#[test]
fn trg_run_start_error_fails_the_start_and_go_error_stops_the_loaded_run() {
    let replayed = replay(&scenario(
        TRG_ON,
        "plugins = [\"trg\"]\n\n[[fault]]\nservice = \"trg\"\noperation = \"RunStart\"\noutcome = \"error\"\nmessage = \"CTP busy\"",
    ));
    assert_eq!(
        replayed.failed_calls("trg"),
        ["65 trg.RunStart(): TRG RunStart call failed. REASON: response code 1 from TRG: CTP busy"]
    );
    insta::assert_snapshot!(replayed.lines(&["trg"]));
}

#[test]
fn trg_standalone_run_is_not_loaded() {
    let text = scenario(TRG_ON, r#"plugins = ["trg"]"#)
        .replace(r#"detectors = ["ITS", "TPC"]"#, r#"detectors = ["TPC"]"#);
    let replayed = replay(&text);
    let lines = replayed.lines(&["trg"]);
    assert!(
        !lines.contains("RunLoad") && !lines.contains("RunUnload"),
        "{lines}"
    );
    assert!(
        lines.contains(r#"{"trgRequest":{"runn":1,"detector":"tpc","config":""}}"#),
        "{lines}"
    );
}

// ---- DDSched ------------------------------------------------------------------------------

#[test]
fn ddsched_partition_initialize_and_terminate_with_polling() {
    let replayed = replay(&scenario(
        EPN_ON,
        "plugins = [\"odc\", \"ddsched\"]\n[plugin.config.ddsched]\nlatency = \"realistic\"",
    ));
    assert!(replayed.failed_calls("ddsched").is_empty());
    insta::assert_snapshot!(replayed.lines(&["ddsched"]));
}

#[test]
fn ddsched_partition_error_during_initialize_fails_the_configure() {
    let replayed = replay(&scenario(
        EPN_ON,
        "plugins = [\"odc\", \"ddsched\"]\n\n[[fault]]\nservice = \"ddsched\"\noperation = \"PartitionInitialize\"\noutcome = \"error\"",
    ));
    assert!(replayed.states().contains(&"ERROR".to_owned()));
    let init: String = replayed
        .lines(&["ddsched"])
        .lines()
        .filter(|l| l.contains("PartitionInitialize()"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(init);
}

// ---- Isolation ----------------------------------------------------------------------------

#[test]
fn a_panicking_service_fails_its_call_and_the_replay_goes_on() {
    let replayed = replay(&scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"PrepareForRun\"\noutcome = \"panic\"",
    ));
    let failed = replayed.failed_calls("dcs");
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].starts_with("20 dcs.PrepareForRun(): dcs.PrepareForRun() panicked. REASON: the scenario's fault at line "),
        "{failed:?}"
    );
    assert!(
        failed[0]
            .contains("made dcs.PrepareForRun() panic at plugins/mock-services/src/common.rs:"),
        "{failed:?}"
    );
    // PrepareForRun is not critical: the run goes on, and the plugin still works.
    assert!(replayed.states().contains(&"RUNNING".to_owned()));
    assert!(
        replayed
            .lines(&["dcs"])
            .contains("dcs.StartOfRun() | DONE_OK/DONE_OK")
    );
}

#[test]
fn a_hanging_service_fails_at_its_timeout_and_later_calls_fail_at_once() {
    let wall = std::time::Instant::now();
    let replayed = replay(&scenario(
        &format!("{DCS_ON}, dcs_pfr_timeout = \"1s\""),
        "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"PrepareForRun\"\noutcome = \"hang\"",
    ));
    assert!(wall.elapsed() >= std::time::Duration::from_secs(1));
    let failed = replayed.failed_calls("dcs");
    assert_eq!(
        failed[0],
        "21 dcs.PrepareForRun(): dcs.PrepareForRun() timed out after 1s. REASON: plugin dcs did not return"
    );
    assert!(
        failed[1].starts_with("60 dcs.StartOfRun(): plugin dcs is not answering. REASON: dcs.PrepareForRun() (environment "),
        "{failed:?}"
    );
    assert!(
        replayed.states().contains(&"ERROR".to_owned()),
        "StartOfRun is critical"
    );
    assert_eq!(
        replayed.report.environments.destroyed, 1,
        "the replay went on to the end"
    );
}

#[test]
fn a_fault_for_a_service_that_is_not_loaded_is_refused_with_its_line() {
    let text = scenario(
        DCS_ON,
        "plugins = [\"odc\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\noutcome = \"error\"",
    );
    let scenario = ecsim_scenario::parse("mock.toml", &text).unwrap();
    let error = ecsim_e2e::load_plugins(&scenario).unwrap_err().to_string();
    assert_eq!(
        error,
        "mock.toml:11 ([[fault]]): a fault of dcs, but no plugin dcs is loaded; load the mock services with [[plugin]] library = \"mock-services\""
    );
    let text = scenario_with_operation("StartOfRn");
    let scenario = ecsim_scenario::parse("mock.toml", &text).unwrap();
    let error = ecsim_e2e::load_plugins(&scenario).unwrap_err().to_string();
    assert_eq!(
        error,
        "mock.toml:11 ([[fault]]): dcs has no operation StartOfRn (it has: PrepareForRun, StartOfRun, EndOfRun, Cleanup)"
    );
}

fn scenario_with_operation(operation: &str) -> String {
    scenario(
        DCS_ON,
        &format!(
            "plugins = [\"dcs\"]\n\n[[fault]]\nservice = \"dcs\"\noperation = \"{operation}\"\noutcome = \"error\""
        ),
    )
}

#[test]
fn a_configuration_the_service_does_not_understand_stops_the_replay_before_it_starts() {
    let text = scenario(
        DCS_ON,
        "plugins = [\"dcs\"]\n[plugin.config.dcs]\nlatancy = \"instant\"",
    );
    let scenario = ecsim_scenario::parse("mock.toml", &text).unwrap();
    let plugins = ecsim_e2e::load_plugins(&scenario).unwrap();
    let plugins = plugins
        .into_iter()
        .map(|p| p as Arc<dyn IntegrationPlugin>)
        .collect();
    let error = driver::run_blocking(
        &scenario,
        Arc::new(MemoryPublisher::new()),
        plugins,
        Arc::new(driver::Silent),
    )
    .unwrap_err()
    .to_string();
    // Which plugin, why in its own words, and from which library: each said once.
    assert!(
        error.starts_with("plugin dcs did not start: invalid configuration for plugin dcs: ")
            && error.contains(
                "unknown field `latancy`, expected one of `latency`, `faults`, `detectors` (library "
            )
            && error.matches("did not start").count() == 1,
        "{error}"
    );
}
