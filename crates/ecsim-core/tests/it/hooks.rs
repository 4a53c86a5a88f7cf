//! Hook moments and integration calls, observed through a probe plugin that logs when its
//! functions run (reference §1.3–1.5): moments in AliECS's order, weights ascending, the
//! built-in work between negative and non-negative weights, calls awaited at their await
//! moment, and what critical and non-critical failures do.

use std::{sync::Arc, time::Duration};

use crate::support::{Behaviour, Probe, core, spec, workflow};
use ecsim_core::{
    Core, CoreConfig, CoreError, StepError, TransitionError,
    clock::Clock,
    fsm::{State, Transition},
    plugin::CallError,
    publish::MemoryPublisher,
    registry::PluginRegistry,
    run_number::RunNumber,
    trigger::Moment,
    user,
    workflow::CallSpec,
};

fn probe_call(role: &str, function: &str, trigger: &str) -> CallSpec {
    CallSpec::new(role, format!("probe.{function}()"), trigger)
}

/// The roles whose calls started, in order.
fn starts(log: &[String]) -> Vec<String> {
    log.iter()
        .filter_map(|line| line.split_once(" start @").map(|(role, _)| role.to_owned()))
        .collect()
}

fn time_of(log: &[String], entry: &str) -> i64 {
    let line = log
        .iter()
        .find(|l| l.starts_with(entry))
        .unwrap_or_else(|| panic!("no `{entry}` in {log:?}"));
    line.rsplit('@').next().unwrap().parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn moments_run_in_aliecs_order_with_weights_ascending_and_awaits_honoured() {
    let probe = Arc::new(Probe::new(&[
        ("Record", Behaviour::Succeed),
        ("Slow", Behaviour::Take(Duration::from_secs(20))),
        ("Run", Behaviour::EchoVar("run_number")),
    ]));
    let calls = vec![
        // Listed out of order on purpose: order comes from moments and weights, not the list.
        probe_call("after", "Record", "after_START_ACTIVITY+10"),
        probe_call("enter", "Record", "enter_RUNNING"),
        probe_call("leave", "Record", "leave_CONFIGURED"),
        probe_call("b+50", "Record", "before_START_ACTIVITY+50"),
        probe_call("slow", "Slow", "before_START_ACTIVITY+10").awaited_at("after_START_ACTIVITY-1"),
        probe_call("b0", "Run", "before_START_ACTIVITY"),
        probe_call("b-50", "Run", "before_START_ACTIVITY-50"),
    ];
    let (core, recorder) = core(probe.clone(), 1).await;
    let id = core
        .create_environment(spec(workflow(calls), "TPC"))
        .await
        .unwrap();
    let created_at = core.clock().now().unix_millis() - crate::support::EPOCH.unix_millis();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();

    let log = probe.log();
    assert_eq!(
        starts(&log),
        ["b-50", "b0", "slow", "b+50", "leave", "enter", "after"]
    );
    // The task step takes 5 s, so enter_RUNNING comes 5 s in, while the slow call (20 s)
    // still runs; after_START_ACTIVITY-1 waits for it, and +10 runs after that.
    assert_eq!(time_of(&log, "enter start") - created_at, 5_000);
    assert_eq!(time_of(&log, "slow end") - created_at, 20_000);
    assert!(time_of(&log, "after start") >= time_of(&log, "slow end"));

    // The run number is allocated between the negative and non-negative weights of before_.
    let outputs: Vec<(String, String)> = recorder
        .call_events()
        .into_iter()
        .filter(|c| {
            c.call_status() == ecsim_proto::events::OpStatus::DoneOk && c.func == "probe.Run()"
        })
        .map(|c| (c.path, c.output))
        .collect();
    assert_eq!(
        outputs,
        [
            ("wf.b-50".to_owned(), String::new()),
            ("wf.b0".to_owned(), "1".to_owned())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_announces_itself_then_its_outcome_with_aliecs_traits() {
    let probe = Arc::new(Probe::new(&[("Record", Behaviour::Succeed)]));
    let calls = vec![
        probe_call("rec", "Record", "before_START_ACTIVITY+5")
            .timeout("7s")
            .critical(false),
    ];
    let (core, recorder) = core(probe, 2).await;
    let id = core
        .create_environment(spec(workflow(calls), "TPC"))
        .await
        .unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    let events = recorder.call_events();
    assert_eq!(events.len(), 2);
    let (started, done) = (&events[0], &events[1]);
    assert_eq!(
        started.call_status(),
        ecsim_proto::events::OpStatus::Started
    );
    assert_eq!(done.call_status(), ecsim_proto::events::OpStatus::DoneOk);
    assert_eq!(
        (done.func.as_str(), done.output.as_str(), done.path.as_str()),
        ("probe.Record()", "done", "wf.rec")
    );
    assert_eq!(done.environment_id, id.as_str());
    let traits = done.traits.clone().unwrap();
    assert_eq!(
        (
            traits.trigger.as_str(),
            traits.r#await.as_str(),
            traits.timeout.as_str(),
            traits.critical
        ),
        (
            "before_START_ACTIVITY+5",
            "before_START_ACTIVITY+5",
            "7s",
            false
        ),
        "await defaults to the trigger"
    );
}

#[tokio::test(start_paused = true)]
async fn a_critical_failure_at_before_cancels_and_leads_to_error() {
    let probe = Arc::new(Probe::new(&[
        ("Fail", Behaviour::Fail("SOR failed")),
        ("Record", Behaviour::Succeed),
    ]));
    let calls = vec![
        probe_call("sor", "Fail", "before_START_ACTIVITY+10"),
        probe_call("later", "Record", "before_START_ACTIVITY+50"),
        probe_call("enter", "Record", "enter_RUNNING"),
    ];
    let (core, recorder) = core(probe.clone(), 3).await;
    let id = core
        .create_environment(spec(workflow(calls), "TPC"))
        .await
        .unwrap();
    recorder.take();
    let result = core
        .control(&id, Transition::StartActivity, user::person("alice"))
        .await;

    // AliECS's hook error is the failed call's error as it is (one to three of them, joined).
    let expected_error = TransitionError::Canceled(StepError::Hooks {
        trigger: Moment::Before(Transition::StartActivity),
        failures: vec![CallError::new("SOR failed").reason("probe says no")],
    });
    assert_eq!(
        expected_error.to_string(),
        "transition canceled with error: SOR failed. REASON: probe says no"
    );
    assert_eq!(
        result,
        Err(CoreError::TransitionFailed {
            id: id.clone(),
            transition: Transition::StartActivity,
            error: expected_error,
            state: State::Error,
            go_error: None,
        })
    );
    assert_eq!(
        starts(&probe.log()),
        ["sor"],
        "no later weight, no later moment"
    );

    let events = recorder.environment_events();
    let finished = events
        .iter()
        .find(|e| {
            e.transition_step == "before_START_ACTIVITY" && e.message == "transition step finished"
        })
        .unwrap();
    assert_eq!(
        finished.transition_status(),
        ecsim_proto::events::OpStatus::Ongoing,
        "quirk: ONGOING despite the error"
    );
    assert_eq!(finished.error, "SOR failed. REASON: probe says no");
    assert!(events.iter().all(|e| e.state != "RUNNING"));
    // Each event is written into the strings of the environment's previous one (`Env::event`):
    // nothing of a failed step's error, or of a step event written without its user, carries
    // over to the events after it.
    let starting: Vec<_> = events
        .iter()
        .filter(|e| e.message.ends_with("starting"))
        .collect();
    assert!(starting.len() >= 4, "{starting:?}");
    for event in starting {
        assert_eq!(event.error, "", "{event:?}");
        assert!(event.last_request_user.is_some(), "{event:?}");
    }

    // The run number was consumed, the run ends with GO_ERROR: STARTED then DONE_OK; no EOSOR.
    let runs: Vec<(String, String, u32)> = recorder
        .run_events()
        .into_iter()
        .map(|r| {
            (
                r.transition.clone(),
                r.transition_status().as_str_name().to_owned(),
                r.run_number,
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            ("START_ACTIVITY".into(), "STARTED".into(), 1),
            ("GO_ERROR".into(), "STARTED".into(), 1),
            ("GO_ERROR".into(), "DONE_OK".into(), 1),
        ]
    );
    assert_eq!(core.var(&id, "last_run_number").as_deref(), Some("1"));
    assert_eq!(core.run_number(&id), None, "the run is over");
}

#[tokio::test(start_paused = true)]
async fn a_negative_weight_failure_stops_before_the_run_number_and_drops_the_user() {
    let probe = Arc::new(Probe::new(&[(
        "Fail",
        Behaviour::Fail("fill info unavailable"),
    )]));
    let calls = vec![probe_call("lhc", "Fail", "before_START_ACTIVITY-50")];
    let (core, recorder) = core(probe, 4).await;
    let id = core
        .create_environment(spec(workflow(calls), "TPC"))
        .await
        .unwrap();
    recorder.take();
    let _ = core
        .control(&id, Transition::StartActivity, user::person("alice"))
        .await;
    let finished = recorder
        .environment_events()
        .into_iter()
        .find(|e| {
            e.transition_step == "before_START_ACTIVITY" && e.message == "transition step finished"
        })
        .unwrap();
    assert_eq!(
        finished.transition_status(),
        ecsim_proto::events::OpStatus::DoneError
    );
    assert!(
        finished.last_request_user.is_none(),
        "AliECS writes this event without the user"
    );
    assert!(
        recorder.run_events().is_empty(),
        "no run number was allocated"
    );
}

#[tokio::test(start_paused = true)]
async fn failures_after_the_state_switch_do_not_cancel_but_do_fail_the_transition() {
    let probe = Arc::new(Probe::new(&[("Fail", Behaviour::Fail("QC not ready"))]));
    let calls = vec![probe_call("qc", "Fail", "enter_RUNNING")];
    let (core, recorder) = core(probe, 5).await;
    let id = core
        .create_environment(spec(workflow(calls), "TPC"))
        .await
        .unwrap();
    recorder.take();
    let result = core
        .control(&id, Transition::StartActivity, user::person("alice"))
        .await;
    let Err(CoreError::TransitionFailed { error, .. }) = result else {
        panic!("{result:?}")
    };
    assert_eq!(
        error,
        TransitionError::Failed(StepError::Hooks {
            trigger: Moment::Enter(State::Running),
            failures: vec![CallError::new("QC not ready").reason("probe says no")],
        })
    );
    let steps = recorder.environment_steps();
    assert!(steps.iter().any(|s| s.0 == "START_ACTIVITY"
        && s.1 == "enter_RUNNING"
        && s.2 == "RUNNING"
        && s.3 == "DONE_ERROR"));
    assert!(
        steps
            .iter()
            .any(|s| s.0 == "START_ACTIVITY" && s.1 == "after_START_ACTIVITY"),
        "after_ still runs"
    );
    let start_done = recorder
        .run_events()
        .into_iter()
        .find(|r| {
            r.transition == "START_ACTIVITY"
                && r.transition_status() != ecsim_proto::events::OpStatus::Started
        })
        .unwrap();
    assert_eq!(
        start_done.transition_status(),
        ecsim_proto::events::OpStatus::DoneError
    );
    assert_eq!(start_done.state, "RUNNING");
    assert_eq!(
        core.state(&id),
        Some(State::Error),
        "then GO_ERROR from RUNNING"
    );
}

#[tokio::test(start_paused = true)]
async fn non_critical_failures_panics_and_unknown_plugins_fail_only_their_call() {
    let probe = Arc::new(Probe::new(&[
        ("Fail", Behaviour::Fail("meh")),
        ("Panic", Behaviour::Panic),
    ]));
    let calls = vec![
        probe_call("soft", "Fail", "before_START_ACTIVITY").critical(false),
        probe_call("boom", "Panic", "after_START_ACTIVITY").critical(false),
        CallSpec::new("lhc", "lhc.UpdateFillInfo()", "enter_RUNNING").critical(false),
        probe_call("typo", "Nope", "enter_RUNNING").critical(false),
    ];
    let (core, recorder) = core(probe, 6).await;
    let id = core
        .create_environment(spec(workflow(calls), "TPC"))
        .await
        .unwrap();
    assert_eq!(
        core.control(&id, Transition::StartActivity, user::person("alice"))
            .await,
        Ok(State::Running)
    );
    let errors: Vec<(String, String)> = recorder
        .call_events()
        .into_iter()
        .filter(|c| c.call_status() == ecsim_proto::events::OpStatus::DoneError)
        .map(|c| (c.path, c.error))
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_eq!(
        errors[0],
        ("wf.soft".into(), "meh. REASON: probe says no".into())
    );
    let by_path = |path: &str| errors.iter().find(|(p, _)| p == path).unwrap().1.clone();
    assert_eq!(
        by_path("wf.lhc"),
        "unknown name lhc (1:1)\n | lhc.UpdateFillInfo()\n | ^"
    );
    assert!(by_path("wf.typo").contains("plugin probe has no function Nope"));
    assert_eq!(by_path("wf.boom"), "panic: probe panicked on purpose");
}

#[tokio::test(start_paused = true)]
async fn more_than_three_critical_failures_are_counted_not_listed() {
    let probe = Arc::new(Probe::new(&[("Fail", Behaviour::Fail("no"))]));
    let calls = (0..4)
        .map(|i| probe_call(&format!("f{i}"), "Fail", "before_START_ACTIVITY+1"))
        .collect();
    let (core, _) = core(probe, 7).await;
    let id = core
        .create_environment(spec(workflow(calls), "TPC"))
        .await
        .unwrap();
    let Err(CoreError::TransitionFailed { error, .. }) = core
        .control(&id, Transition::StartActivity, user::person("a"))
        .await
    else {
        panic!()
    };
    assert_eq!(
        error.to_string(),
        "transition canceled with error: 4 critical hooks failed at trigger before_START_ACTIVITY (see InfoLogger for details)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_number_allocation_cancels_without_a_step_event_and_consumes_the_number() {
    let (core, recorder) = core(Arc::new(Probe::default()), 8).await;
    let id = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await
        .unwrap();
    core.inject_run_number_failures(1);
    recorder.take();
    let Err(CoreError::TransitionFailed { error, .. }) = core
        .control(&id, Transition::StartActivity, user::person("a"))
        .await
    else {
        panic!()
    };
    assert_eq!(
        error.to_string(),
        "transition canceled with error: cannot write back incremented CAS key"
    );
    assert!(
        !recorder
            .environment_steps()
            .iter()
            .any(|s| s.1 == "before_START_ACTIVITY" && s.4 == "transition step finished"),
        "no step-finished event"
    );
    // The next run gets number 2: the failed allocation consumed 1.
    let other = core
        .create_environment(spec(workflow(Vec::new()), "ITS"))
        .await
        .unwrap();
    core.control(&other, Transition::StartActivity, user::person("a"))
        .await
        .unwrap();
    assert_eq!(core.run_number(&other), RunNumber::new(2));
}

/// A scenario may start counting at the last run number there is: that run gets it, and the
/// next START fails with a reason instead of wrapping to 0 ("no run") or overflowing.
#[tokio::test(start_paused = true)]
async fn the_last_run_number_is_handed_out_once_then_start_fails() {
    let core = Core::start(
        CoreConfig {
            seed: 1,
            first_run_number: u32::MAX,
        },
        Clock::virtual_time(crate::support::EPOCH),
        PluginRegistry::new(),
        Arc::new(MemoryPublisher::new()),
    )
    .await;
    let last = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await
        .unwrap();
    core.control(&last, Transition::StartActivity, user::person("a"))
        .await
        .unwrap();
    assert_eq!(core.run_number(&last), RunNumber::new(u32::MAX));
    let other = core
        .create_environment(spec(workflow(Vec::new()), "ITS"))
        .await
        .unwrap();
    let Err(CoreError::TransitionFailed { error, .. }) = core
        .control(&other, Transition::StartActivity, user::person("a"))
        .await
    else {
        panic!("a START past the last run number succeeded")
    };
    assert_eq!(
        error.to_string(),
        "transition canceled with error: run numbers are used up: the last one is 4294967295"
    );
    assert_eq!(core.run_number(&other), None);
    assert_eq!(core.run_numbers_allocated(), 1);
}

/// Defaults defined on a role (`dcs_detectors` on `dcs`) are seen by that role's calls only,
/// resolved from the environment's variables, and are not among the root's variables.
#[tokio::test(start_paused = true)]
async fn role_defaults_are_seen_by_the_roles_calls_and_not_by_the_root() {
    let probe = Arc::new(Probe::new(&[("Echo", Behaviour::EchoVar("qc_detectors"))]));
    let mut workflow = (*workflow(vec![
        probe_call("qc.check", "Echo", "enter_RUNNING"),
        probe_call("other.check", "Echo", "enter_RUNNING"),
    ]))
    .clone();
    workflow.role_defaults.insert(
        "qc".into(),
        [(
            "qc_detectors".to_owned(),
            "{{ json.Marshal(json.Sort(json.Unmarshal(detectors))) }}".to_owned(),
        )]
        .into(),
    );
    let (core, recorder) = core(probe, 9).await;
    let spec = spec(Arc::new(workflow), "TPC").var("detectors", r#"["TPC","ITS"]"#);
    let id = core.create_environment(spec).await.unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    let outputs: Vec<(String, String)> = recorder
        .call_events()
        .into_iter()
        .filter(|c| c.call_status() == ecsim_proto::events::OpStatus::DoneOk)
        .map(|c| (c.path, c.output))
        .collect();
    assert_eq!(
        outputs,
        [
            ("wf.qc.check".to_owned(), r#"["ITS","TPC"]"#.to_owned()),
            ("wf.other.check".to_owned(), String::new()),
        ]
    );
    let loaded = recorder
        .environment_events()
        .into_iter()
        .find(|e| e.message == "workflow loaded")
        .unwrap();
    assert!(
        !loaded.vars.contains_key("qc_detectors"),
        "{:?}",
        loaded.vars
    );
}
