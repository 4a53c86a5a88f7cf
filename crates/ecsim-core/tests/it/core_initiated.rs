//! Transitions the core starts by itself (reference §1.8): the auto-stop timer, a beam dump,
//! a critical task error, END_OF_STREAM — each with the user AliECS names.

use std::{sync::Arc, time::Duration};

use crate::support::{Behaviour, Probe, core, spec, workflow};
use ecsim_core::workflow::CallSpec;
use ecsim_core::{fsm::State, fsm::Transition, user};
use ecsim_proto::common::BeamMode;

fn last_stop_user(recorder: &crate::support::Recorder) -> Option<String> {
    recorder
        .run_events()
        .into_iter()
        .rev()
        .find(|r| r.transition == "STOP_ACTIVITY")
        .and_then(|r| r.last_request_user)
        .map(|u| format!("{}:{}", u.external_id.unwrap_or_default(), u.name))
}

#[tokio::test(start_paused = true)]
async fn the_auto_stop_timer_stops_the_run_as_timer() {
    let (core, recorder) = core(Arc::new(Probe::default()), 1).await;
    let spec = spec(workflow(Vec::new()), "TPC")
        .var("auto_stop_enabled", "true")
        .var("auto_stop_timeout", "90s");
    let id = core.create_environment(spec).await.unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(80)).await;
    assert_eq!(core.state(&id), Some(State::Running), "not yet");
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(core.state(&id), Some(State::Configured));
    assert_eq!(last_stop_user(&recorder).as_deref(), Some("65:TIMER"));
}

#[tokio::test(start_paused = true)]
async fn a_manual_stop_cancels_the_auto_stop_timer() {
    let (core, _) = core(Arc::new(Probe::default()), 2).await;
    let spec = spec(workflow(Vec::new()), "TPC")
        .var("auto_stop_enabled", "true")
        .var("auto_stop_timeout", "1m");
    let id = core.create_environment(spec).await.unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    core.control(&id, Transition::StopActivity, user::person("alice"))
        .await
        .unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    // Each start and stop takes 5 s: the first run's timer was due 60 s after its start
    // completed, 45 s from now; the second run's is due 60 s from now, and its stop then takes 5 s.
    tokio::time::sleep(Duration::from_secs(50)).await;
    assert_eq!(
        core.state(&id),
        Some(State::Running),
        "the first timer was cancelled"
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        core.state(&id),
        Some(State::Configured),
        "the second timer fired"
    );
}

#[tokio::test(start_paused = true)]
async fn a_beam_dump_stops_only_runs_that_asked_for_it_as_lhc() {
    let (core, recorder) = core(Arc::new(Probe::default()), 3).await;
    let asked = core
        .create_environment(spec(workflow(Vec::new()), "TPC").var("stop_at_beam_dump", "true"))
        .await
        .unwrap();
    let not_asked = core
        .create_environment(spec(workflow(Vec::new()), "ITS"))
        .await
        .unwrap();
    for id in [&asked, &not_asked] {
        core.control(id, Transition::StartActivity, user::person("alice"))
            .await
            .unwrap();
    }
    assert!(
        core.beam_mode_changed(BeamMode::StableBeams)
            .await
            .is_empty(),
        "not a dump"
    );
    assert_eq!(
        core.beam_mode_changed(BeamMode::BeamDump).await,
        vec![asked.clone()]
    );
    assert_eq!(core.state(&asked), Some(State::Configured));
    assert_eq!(core.state(&not_asked), Some(State::Running));
    assert_eq!(last_stop_user(&recorder).as_deref(), Some("60:LHC"));
}

#[tokio::test(start_paused = true)]
async fn a_critical_task_error_leads_to_go_error_after_half_a_second() {
    let (core, recorder) = core(Arc::new(Probe::default()), 4).await;
    let id = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await
        .unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    let before = core.clock().now().unix_millis();
    recorder.take();
    assert_eq!(
        core.critical_task_error(&id, "readout died").await,
        Ok(State::Error)
    );
    let events = recorder.take();
    let first = events.first().unwrap();
    assert_eq!(first.timestamp.unix_millis() - before, 500);
    let ecsim_core::event::CorePayload::Environment(imminent) = &first.payload else {
        panic!("{first:?}")
    };
    assert_eq!(
        (imminent.error.as_str(), imminent.run_number),
        ("readout died", 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_from_the_core_happens_only_while_running() {
    let (core, _) = core(Arc::new(Probe::default()), 5).await;
    let id = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await
        .unwrap();
    assert_eq!(
        core.stop_from_core(&id, "END_OF_STREAM").await,
        Ok(State::Configured),
        "nothing to stop"
    );
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    assert_eq!(
        core.stop_from_core(&id, "END_OF_STREAM").await,
        Ok(State::Configured)
    );
}

#[tokio::test(start_paused = true)]
async fn a_partition_error_while_running_stops_the_run_then_goes_to_error() {
    let (core, recorder) = core(Arc::new(Probe::default()), 6).await;
    let id = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await
        .unwrap();
    assert_eq!(
        core.partition_error(&id, "partition in ERROR").await,
        Ok(State::Configured),
        "ignored outside RUNNING"
    );
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    recorder.take();
    assert_eq!(
        core.partition_error(&id, "partition in ERROR").await,
        Ok(State::Error)
    );
    let transitions: Vec<(String, String)> = recorder
        .run_events()
        .into_iter()
        .map(|r| (r.transition, r.state))
        .collect();
    assert_eq!(
        transitions.first().map(|(t, _)| t.as_str()),
        Some("STOP_ACTIVITY"),
        "the stop comes first: {transitions:?}"
    );
    let imminent = recorder
        .environment_events()
        .into_iter()
        .find(|e| e.message.contains("GO_ERROR transition imminent"))
        .unwrap();
    assert_eq!(imminent.error, "ODC partition went to ERROR during RUNNING");
    assert_eq!(imminent.state, "CONFIGURED", "stopped before GO_ERROR");
}

/// The "GO_ERROR transition imminent" event as `NewEnvGoErrorEvent` writes it: the client's
/// failed transition framed as ControlEnvironment frames it, with the user and the template.
#[tokio::test(start_paused = true)]
async fn go_error_imminent_event_frames_the_cause_and_names_user_and_template() {
    let (core, recorder) = core(Arc::new(Probe::default()), 7).await;
    let id = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await
        .unwrap();
    recorder.take();
    let _refused = core
        .control(&id, Transition::StopActivity, user::person("carol"))
        .await;
    let events = recorder.environment_events();
    let imminent = events
        .iter()
        .find(|e| e.message == "a critical error occurred, GO_ERROR transition imminent")
        .unwrap();
    assert_eq!(
        imminent.error,
        "transition STOP_ACTIVITY failed: event STOP_ACTIVITY inappropriate in current state CONFIGURED"
    );
    assert_eq!(
        (imminent.state.as_str(), imminent.transition.as_str()),
        ("CONFIGURED", "")
    );
    let user = imminent.last_request_user.clone().unwrap();
    assert_eq!((user.external_id, user.name.as_str()), (Some(0), "carol"));
    let template = imminent.workflow_template_info.clone().unwrap();
    assert_eq!(
        (template.name.as_str(), template.path.as_str()),
        ("wf", "tests/wf")
    );
}

/// A workflow whose STOP_ACTIVITY is canceled by a critical call.
fn stop_fails() -> (Arc<Probe>, Arc<ecsim_core::workflow::Workflow>) {
    let probe = Arc::new(Probe::new(&[("Fail", Behaviour::Fail("stop refused"))]));
    let calls = vec![CallSpec::new(
        "blocker",
        "probe.Fail()",
        "before_STOP_ACTIVITY",
    )];
    (probe, workflow(calls))
}

/// AliECS only logs a stop after END_OF_STREAM (or TASK_INTERNAL_ERROR) that fails
/// (`manager.go` handleDeviceEvent): no GO_ERROR follows.
#[tokio::test(start_paused = true)]
async fn a_failed_end_of_stream_stop_is_only_logged() {
    let (probe, workflow) = stop_fails();
    let (core, recorder) = core(probe, 8).await;
    let id = core
        .create_environment(spec(workflow, "TPC"))
        .await
        .unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    recorder.take();
    assert_eq!(
        core.stop_from_core(&id, "END_OF_STREAM").await,
        Ok(State::Running),
        "the canceled stop leaves the run going"
    );
    let events = recorder.environment_events();
    assert!(
        events.iter().all(|e| e.transition != "GO_ERROR"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| !e.message.contains("GO_ERROR transition imminent"))
    );
}

/// A beam-dump stop that fails goes to GO_ERROR without announcing it (`manager.go`).
#[tokio::test(start_paused = true)]
async fn a_failed_beam_dump_stop_goes_to_error_without_an_imminent_event() {
    let (probe, workflow) = stop_fails();
    let (core, recorder) = core(probe, 9).await;
    let id = core
        .create_environment(spec(workflow, "TPC").var("stop_at_beam_dump", "true"))
        .await
        .unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    recorder.take();
    core.beam_mode_changed(BeamMode::BeamDump).await;
    assert_eq!(core.state(&id), Some(State::Error));
    let events = recorder.environment_events();
    assert!(events.iter().any(|e| e.transition == "GO_ERROR"));
    assert!(
        events
            .iter()
            .all(|e| !e.message.contains("GO_ERROR transition imminent"))
    );
}

/// The template derives `auto_stop_enabled` from `auto_stop_timeout`: the timeout alone stops
/// the run; the default, "none", does not.
#[tokio::test(start_paused = true)]
async fn auto_stop_follows_from_the_timeout_alone() {
    let (core, _) = core(Arc::new(Probe::default()), 10).await;
    let readout_dataflow = Arc::new(ecsim_core::readout_dataflow::workflow());
    let timed = core
        .create_environment(
            spec(Arc::clone(&readout_dataflow), "TPC").var("auto_stop_timeout", "2m"),
        )
        .await
        .unwrap();
    let untimed = core
        .create_environment(spec(readout_dataflow, "ITS"))
        .await
        .unwrap();
    for id in [&timed, &untimed] {
        core.control(id, Transition::StartActivity, user::person("alice"))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(180)).await;
    assert_eq!(core.state(&timed), Some(State::Configured));
    assert_eq!(core.state(&untimed), Some(State::Running));
}

/// A RUNNING environment of readout-dataflow with one task, `readout` on `flp-tpc`, and the
/// recorder emptied.
async fn running_readout_dataflow(
    seed: u64,
) -> (
    ecsim_core::Core,
    Arc<crate::support::Recorder>,
    ecsim_core::EnvironmentId,
) {
    let (core, recorder) = core(Arc::new(Probe::default()), seed).await;
    let spec = spec(Arc::new(ecsim_core::readout_dataflow::workflow()), "TPC");
    let id = core.create_environment(spec).await.unwrap();
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    recorder.take();
    (core, recorder, id)
}

fn role_changes(recorder: &crate::support::Recorder) -> Vec<(String, String)> {
    recorder
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.payload {
            ecsim_core::event::CorePayload::Role(role) if !role.state().is_empty() => {
                Some((role.role.path().to_owned(), role.state().to_owned()))
            }
            _ => None,
        })
        .collect()
}

/// A critical task in ERROR: the task's event and its roles' at once, then after half a second
/// the GO_ERROR-imminent event naming it as AliECS's `newCriticalTasksErrorMessage` does.
#[tokio::test(start_paused = true)]
async fn a_failed_task_is_named_in_the_go_error_reason() {
    let (core, recorder, id) = running_readout_dataflow(11).await;
    let which = ecsim_core::TaskSelector {
        role: Some("readout".into()),
        host: Some("flp-tpc".into()),
    };
    let before = core.clock().now().unix_millis();
    assert_eq!(core.task_error(&id, &which).await, Ok(State::Error));
    let events = recorder.events.lock().unwrap().clone();
    let ecsim_core::event::CorePayload::Task(task) = &events[0].payload else {
        panic!("{:?}", events[0])
    };
    assert_eq!(
        (task.state.as_str(), events[0].timestamp.unix_millis()),
        ("ERROR", before)
    );
    drop(events);
    assert_eq!(
        role_changes(&recorder)[..3],
        [
            (
                "readout-dataflow.host-flp-tpc.readout".to_owned(),
                "ERROR".to_owned()
            ),
            (
                "readout-dataflow.host-flp-tpc".to_owned(),
                "ERROR".to_owned()
            ),
            ("readout-dataflow".to_owned(), "ERROR".to_owned()),
        ]
    );
    let imminent = recorder
        .environment_events()
        .into_iter()
        .find(|e| e.message.contains("GO_ERROR transition imminent"))
        .unwrap();
    assert_eq!(
        imminent.error,
        "critical task 'readout' on host 'flp-tpc' transitioned to ERROR"
    );

    let missing = ecsim_core::TaskSelector {
        role: Some("nope".into()),
        host: None,
    };
    let Err(error) = core.task_error(&id, &missing).await else {
        panic!("no such task")
    };
    assert_eq!(
        error.to_string(),
        format!("environment {id} has no task nope")
    );
}

/// TASK_INTERNAL_ERROR: the task's role goes to ERROR (the task does not), the core stops the
/// run, and the workflow in ERROR then brings GO_ERROR — with no task in ERROR to name.
#[tokio::test(start_paused = true)]
async fn task_internal_error_sets_the_role_to_error_stops_then_goes_to_error() {
    let (core, recorder, id) = running_readout_dataflow(12).await;
    let which = ecsim_core::TaskSelector::default();
    assert_eq!(
        core.task_internal_error(&id, &which).await,
        Ok(State::Error)
    );
    assert_eq!(
        role_changes(&recorder)[0],
        (
            "readout-dataflow.host-flp-tpc.readout".to_owned(),
            "ERROR".to_owned()
        )
    );
    let steps: Vec<(String, String)> = recorder
        .environment_events()
        .into_iter()
        .filter(|e| e.transition_step.is_empty())
        .map(|e| (e.transition, e.message))
        .collect();
    let imminent = "a critical error occurred, GO_ERROR transition imminent";
    assert_eq!(
        steps
            .iter()
            .map(|(t, m)| format!("{t} {m}"))
            .collect::<Vec<_>>(),
        [
            "STOP_ACTIVITY transition starting",
            "STOP_ACTIVITY transition completed successfully",
            &format!(" {imminent}"),
            "GO_ERROR transition starting",
            "GO_ERROR transition completed successfully",
        ]
    );
    let reason = recorder
        .environment_events()
        .into_iter()
        .find(|e| e.message == imminent)
        .unwrap()
        .error;
    assert_eq!(reason, "no critical tasks in ERROR");
}

/// AliECS's critical-task watch (`environment.go` subscribeToWfState) fires whatever the state:
/// a task failing START_ACTIVITY sends the environment to ERROR through the failed transition,
/// and half a second after the task's ERROR the watch still announces GO_ERROR, naming the
/// task, and tries it — which the state machine refuses in ERROR. It fires once.
#[tokio::test(start_paused = true)]
async fn a_task_failing_a_transition_still_fires_the_critical_task_watch_once() {
    use ecsim_core::{TaskFault, TaskFaultOutcome};
    let (core, recorder) = core(Arc::new(Probe::default()), 6).await;
    let mut with_tasks = (*workflow(Vec::new())).clone();
    with_tasks.task_classes = ecsim_core::readout_dataflow::workflow().task_classes;
    let mut spec = spec(Arc::new(with_tasks), "TOF");
    spec.task_faults = vec![TaskFault {
        transition: Transition::StartActivity,
        outcome: TaskFaultOutcome::Error,
        message: None,
        times: None,
        from: None,
        line: Some(7),
    }];
    let id = core.create_environment(spec).await.unwrap();
    recorder.take();
    assert!(core.faults_fired().is_empty(), "no START_ACTIVITY yet");
    let failed = core
        .control(&id, Transition::StartActivity, user::person("alice"))
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(
        core.faults_fired(),
        [7],
        "the fault that struck, by its line"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after: Vec<(String, String, String)> = recorder
        .environment_events()
        .into_iter()
        .map(|e| (e.transition, e.message, e.error))
        .collect();
    let imminent: Vec<&(String, String, String)> = after
        .iter()
        .filter(|(_, message, _)| message.ends_with("GO_ERROR transition imminent"))
        .collect();
    assert_eq!(
        imminent.len(),
        2,
        "the transition's, then the watch's: {after:#?}"
    );
    assert!(
        imminent[1]
            .2
            .starts_with("critical task 'readout' on host 'flp-tof'"),
        "{:?}",
        imminent[1]
    );
    let last = after.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.2.as_str()),
        (
            "GO_ERROR",
            "transition error",
            "event GO_ERROR inappropriate in current state ERROR"
        )
    );
    assert_eq!(core.state(&id), Some(State::Error));
    // Fired once: a later task error is not watched any more.
    recorder.take();
    let which = ecsim_core::TaskSelector::default();
    core.task_error(&id, &which).await.unwrap();
    assert!(
        recorder
            .environment_events()
            .iter()
            .all(|e| !e.message.ends_with("GO_ERROR transition imminent")),
        "no second watch"
    );
}

/// AliECS's server sets the request's user before the transition, even one it refuses, and
/// times the requested transition alone (`core/server.go` ControlEnvironment).
#[tokio::test(start_paused = true)]
async fn a_request_s_user_is_the_environment_s_at_once_and_its_times_are_the_transition_s() {
    let (core, _) = core(Arc::new(Probe::default()), 7).await;
    let id = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await
        .unwrap();
    let refused = core
        .control(&id, Transition::GoError, user::person("bob"))
        .await;
    assert_eq!(
        refused,
        Err(ecsim_core::CoreError::NotRequestable(Transition::GoError))
    );
    assert!(
        core.var(&id, "last_request_user")
            .is_some_and(|user| user.contains("bob")),
        "{:?}",
        core.var(&id, "last_request_user")
    );
    // A START while RUNNING fails at once; the GO_ERROR that follows takes 2 s, not counted.
    core.control(&id, Transition::StartActivity, user::person("alice"))
        .await
        .unwrap();
    let (result, times) = core
        .control_timed(&id, Transition::StartActivity, user::person("alice"))
        .await;
    assert!(result.is_err());
    assert_eq!(times.ended.unix_millis() - times.started.unix_millis(), 0);
}
