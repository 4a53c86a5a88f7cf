//! The reference's tables, asserted row by row against what the simulator published.

use std::sync::Arc;

use ecsim_core::{DestroyOptions, fsm::Transition};
use ecsim_e2e::{RefusingDcs, Simulator, environment, physics_run, shifter, two_environments};
use ecsim_proto::{
    events::{Event, event::Payload},
    kafka::{ActiveRunsList, NewStateNotification},
    prost::Message as _,
};

fn events_on(sim: &Simulator, topic: &str) -> Vec<Event> {
    sim.records()
        .iter()
        .filter(|r| r.topic == topic)
        .map(|r| Event::decode(r.value.as_slice()).expect("the core producer writes events.Event"))
        .collect()
}

/// (transitionStep, state, transitionStatus, message, runNumber) of each environment event of
/// `transition`, with the "transition starting" and final events included.
fn steps(sim: &Simulator, transition: &str) -> Vec<(String, String, String, String, u32)> {
    events_on(sim, "aliecs.environment")
        .into_iter()
        .filter_map(|e| match e.payload {
            Some(Payload::EnvironmentEvent(env)) if env.transition == transition => Some(env),
            _ => None,
        })
        .map(|e| {
            let status = e.transition_status().as_str_name().to_owned();
            (e.transition_step, e.state, status, e.message, e.run_number)
        })
        .collect()
}

fn row(
    step: &str,
    state: &str,
    status: &str,
    message: &str,
    run: u32,
) -> (String, String, String, String, u32) {
    (
        step.into(),
        state.into(),
        status.into(),
        message.into(),
        run,
    )
}

/// Reference §1.6, for START_ACTIVITY from CONFIGURED: twelve events, with the `leave_` quirk,
/// the run number 0 before allocation and the new number after.
#[tokio::test(start_paused = true)]
async fn a_transition_publishes_the_twelve_steps_of_the_reference() {
    let sim = Simulator::start(1, Vec::new()).await;
    physics_run(&sim).await;
    assert_eq!(
        steps(&sim, "START_ACTIVITY"),
        [
            row("", "CONFIGURED", "STARTED", "transition starting", 0),
            row(
                "before_START_ACTIVITY",
                "CONFIGURED",
                "ONGOING",
                "transition step starting",
                0
            ),
            row(
                "before_START_ACTIVITY",
                "CONFIGURED",
                "ONGOING",
                "transition step finished",
                1
            ),
            row(
                "leave_CONFIGURED",
                "CONFIGURED",
                "ONGOING",
                "transition step starting",
                1
            ),
            row(
                "leave_CONFIGURED",
                "CONFIGURED",
                "DONE_ERROR",
                "transition step finished",
                1
            ),
            row(
                "tasks_START_ACTIVITY",
                "CONFIGURED",
                "ONGOING",
                "transition step starting",
                1
            ),
            row(
                "tasks_START_ACTIVITY",
                "RUNNING",
                "ONGOING",
                "transition step finished",
                1
            ),
            row(
                "enter_RUNNING",
                "RUNNING",
                "ONGOING",
                "transition step starting",
                1
            ),
            row(
                "enter_RUNNING",
                "RUNNING",
                "ONGOING",
                "transition step finished",
                1
            ),
            row(
                "after_START_ACTIVITY",
                "RUNNING",
                "ONGOING",
                "transition step starting",
                1
            ),
            row(
                "after_START_ACTIVITY",
                "RUNNING",
                "ONGOING",
                "transition step finished",
                1
            ),
            row(
                "",
                "RUNNING",
                "DONE_OK",
                "transition completed successfully",
                1
            ),
        ]
    );
    // For STOP the final event already shows run 0; the step before still shows the run.
    let stop = steps(&sim, "STOP_ACTIVITY");
    assert_eq!(
        stop[stop.len() - 2],
        row(
            "after_STOP_ACTIVITY",
            "CONFIGURED",
            "ONGOING",
            "transition step finished",
            1
        )
    );
    assert_eq!(
        stop[stop.len() - 1],
        row(
            "",
            "CONFIGURED",
            "DONE_OK",
            "transition completed successfully",
            0
        )
    );
}

/// Reference §1.7: CREATE, then DEPLOY and CONFIGURE; the DESTROY teardown sequence.
#[tokio::test(start_paused = true)]
async fn creation_and_teardown_publish_their_sequences() {
    let sim = Simulator::start(1, Vec::new()).await;
    physics_run(&sim).await;
    assert_eq!(
        steps(&sim, "CREATE"),
        [
            row("", "PENDING", "STARTED", "transition starting", 0),
            row("before_CREATE", "PENDING", "STARTED", "instantiating", 0),
            row("before_CREATE", "PENDING", "ONGOING", "running hooks", 0),
            row("CREATE", "PENDING", "ONGOING", "loading workflow", 0),
            row("after_CREATE", "STANDBY", "DONE_OK", "workflow loaded", 0),
            row(
                "",
                "STANDBY",
                "DONE_OK",
                "transition completed successfully",
                0
            ),
        ]
    );
    assert_eq!(
        steps(&sim, "DESTROY"),
        [
            row(
                "before_DESTROY",
                "DEPLOYED",
                "STARTED",
                "workflow teardown started",
                0
            ),
            row(
                "leave_DEPLOYED",
                "DEPLOYED",
                "ONGOING",
                "workflow teardown ongoing",
                0
            ),
            row("DESTROY", "DEPLOYED", "ONGOING", "releasing tasks", 0),
            row(
                "after_DESTROY",
                "DEPLOYED",
                "ONGOING",
                "running DESTROY hooks",
                0
            ),
            row(
                "after_DESTROY",
                "DONE",
                "DONE_OK",
                "environment teardown complete",
                0
            ),
        ]
    );
    // Only the after_CREATE event carries the variables.
    let with_vars: Vec<_> = events_on(&sim, "aliecs.environment")
        .into_iter()
        .filter_map(|e| match e.payload {
            Some(Payload::EnvironmentEvent(env)) if !env.vars.is_empty() => Some(env),
            _ => None,
        })
        .collect();
    assert_eq!(with_vars.len(), 1);
    assert_eq!(with_vars[0].vars["kafka_enabled"], "true");
    assert_eq!(with_vars[0].vars["detectors"], r#"["ITS","TPC"]"#);
    assert_eq!(
        with_vars[0].vars["environment_id"],
        with_vars[0].environment_id
    );
}

/// Reference §2.6: the Kafka plugin's thirteen messages of a physics run, in order.
#[tokio::test(start_paused = true)]
async fn the_kafka_plugin_publishes_the_worked_example() {
    let sim = Simulator::start(1, Vec::new()).await;
    let id = physics_run(&sim).await;
    let records = sim.records();
    let plugin: Vec<_> = records
        .iter()
        .filter(|r| {
            r.topic.starts_with("aliecs.env_state.")
                || r.topic.starts_with("aliecs.env_leave_state.")
                || r.topic == "aliecs.before_start_activity"
        })
        .collect();
    let rows: Vec<(String, String, Option<u32>, Option<String>)> = plugin
        .iter()
        .map(|r| {
            let info = NewStateNotification::decode(r.value.as_slice())
                .unwrap()
                .env_info
                .unwrap();
            assert_eq!(info.environment_id, id.as_str());
            assert_eq!(
                r.key.as_deref(),
                Some(id.as_str().as_bytes()),
                "keyed by environment"
            );
            (
                r.topic.to_string(),
                info.state,
                info.run_number,
                info.run_type,
            )
        })
        .collect();
    let physics = || Some("PHYSICS".to_owned());
    assert_eq!(
        rows,
        [
            (
                "aliecs.env_leave_state.STANDBY".into(),
                "STANDBY".into(),
                None,
                None
            ),
            (
                "aliecs.env_state.DEPLOYED".into(),
                "DEPLOYED".into(),
                None,
                None
            ),
            (
                "aliecs.env_leave_state.DEPLOYED".into(),
                "DEPLOYED".into(),
                None,
                None
            ),
            (
                "aliecs.env_state.CONFIGURED".into(),
                "CONFIGURED".into(),
                None,
                None
            ),
            (
                "aliecs.before_start_activity".into(),
                "CONFIGURED".into(),
                Some(1),
                physics()
            ),
            (
                "aliecs.env_leave_state.CONFIGURED".into(),
                "CONFIGURED".into(),
                None,
                None
            ),
            (
                "aliecs.env_state.RUNNING".into(),
                "RUNNING".into(),
                Some(1),
                physics()
            ),
            (
                "aliecs.env_leave_state.RUNNING".into(),
                "RUNNING".into(),
                Some(1),
                physics()
            ),
            (
                "aliecs.env_state.CONFIGURED".into(),
                "CONFIGURED".into(),
                None,
                None
            ),
            (
                "aliecs.env_leave_state.CONFIGURED".into(),
                "CONFIGURED".into(),
                None,
                None
            ),
            (
                "aliecs.env_state.DEPLOYED".into(),
                "DEPLOYED".into(),
                None,
                None
            ),
            (
                "aliecs.env_leave_state.DEPLOYED".into(),
                "DEPLOYED".into(),
                None,
                None
            ),
            (
                "aliecs.env_state.UNKNOWN".into(),
                "UNKNOWN".into(),
                None,
                None
            ),
        ]
    );
    assert!(
        !records
            .iter()
            .any(|r| r.topic == "aliecs.env_state.STANDBY"),
        "enter_STANDBY never fires"
    );
    // The running list: empty at init, then with the environment only between SOR and EOR.
    let lists: Vec<usize> = records
        .iter()
        .filter(|r| r.topic == "aliecs.env_list.RUNNING")
        .map(|r| {
            ActiveRunsList::decode(r.value.as_slice())
                .unwrap()
                .active_runs
                .len()
        })
        .collect();
    assert_eq!(lists, [0, 0, 0, 1, 0, 0, 0]);

    // aliecs.run: START STARTED/DONE_OK, STOP STARTED/DONE_OK, run 1, the request's user.
    let runs: Vec<(String, String, String, u32)> = events_on(&sim, "aliecs.run")
        .into_iter()
        .map(|e| match e.payload {
            Some(Payload::RunEvent(r)) => {
                assert_eq!(
                    r.last_request_user.as_ref().map(|u| u.name.as_str()),
                    Some("Jane Shifter")
                );
                (
                    r.transition.clone(),
                    r.transition_status().as_str_name().to_owned(),
                    r.state.clone(),
                    r.run_number,
                )
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        runs,
        [
            (
                "START_ACTIVITY".into(),
                "STARTED".into(),
                "CONFIGURED".into(),
                1
            ),
            (
                "START_ACTIVITY".into(),
                "DONE_OK".into(),
                "RUNNING".into(),
                1
            ),
            (
                "STOP_ACTIVITY".into(),
                "STARTED".into(),
                "RUNNING".into(),
                1
            ),
            (
                "STOP_ACTIVITY".into(),
                "DONE_OK".into(),
                "CONFIGURED".into(),
                1
            ),
        ]
    );
}

/// Reference §2.4: two running environments, ITS first among multi-detector ones; every
/// list entry's detectors sorted, while the SOR notification keeps the variable's order.
#[tokio::test(start_paused = true)]
async fn the_running_list_orders_environments_as_aliecs() {
    let sim = Simulator::start(4, Vec::new()).await;
    let (tpc, muon) = two_environments(&sim).await;
    let records = sim.records();
    let both = records
        .iter()
        .filter(|r| r.topic == "aliecs.env_list.RUNNING")
        .map(|r| ActiveRunsList::decode(r.value.as_slice()).unwrap())
        .find(|l| l.active_runs.len() == 2)
        .expect("a list with both");
    let order: Vec<(&str, Vec<&str>)> = both
        .active_runs
        .iter()
        .map(|e| {
            (
                e.environment_id.as_str(),
                e.detectors.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (tpc.as_str(), vec!["ITS", "TPC"]),
            (muon.as_str(), vec!["MCH", "MFT", "MID"])
        ]
    );
}

/// Reference §1.5 and §3: a start failing at before_START_ACTIVITY+100 ends in ERROR, with the
/// run events of a failed start, and no start of run on the state topics.
#[tokio::test(start_paused = true)]
async fn a_failed_start_ends_in_error_without_start_of_run() {
    let sim = Simulator::start(2, vec![Arc::new(RefusingDcs)]).await;
    let id = sim
        .core
        .create_environment(environment("dcs", &["TPC"], &[("dcs_enabled", "true")]))
        .await
        .unwrap();
    let _ = sim
        .core
        .control(&id, Transition::StartActivity, shifter())
        .await;
    assert_eq!(sim.core.state(&id), Some(ecsim_core::fsm::State::Error));
    let records = sim.records();
    assert!(
        !records
            .iter()
            .any(|r| r.topic == "aliecs.env_state.RUNNING")
    );
    assert!(records.iter().any(|r| r.topic == "aliecs.env_state.ERROR"));
    assert!(
        records
            .iter()
            .any(|r| r.topic == "aliecs.before_start_activity"),
        "+50 ran before the +100 failure"
    );
    let final_start = steps(&sim, "START_ACTIVITY").pop().unwrap();
    assert_eq!(final_start.2, "DONE_ERROR");
    sim.core
        .destroy(&id, DestroyOptions::default(), shifter())
        .await
        .unwrap();
    let leave_error = records
        .iter()
        .filter(|r| r.topic == "aliecs.env_leave_state.ERROR")
        .count();
    assert_eq!(leave_error, 0, "leave_ERROR only at teardown");
    assert_eq!(
        sim.records()
            .iter()
            .filter(|r| r.topic == "aliecs.env_leave_state.ERROR")
            .count(),
        1
    );
}

/// Reference §1.7: destroying a RUNNING environment tears it down running: end of run on the
/// leave topic, TEARDOWN run events without a user, UNKNOWN at DESTROY.
#[tokio::test(start_paused = true)]
async fn a_destroy_while_running_ends_the_run_with_teardown_events() {
    let sim = Simulator::start(3, Vec::new()).await;
    ecsim_e2e::destroy_while_running(&sim).await;
    let teardown: Vec<_> = events_on(&sim, "aliecs.run")
        .into_iter()
        .filter_map(|e| match e.payload {
            Some(Payload::RunEvent(r)) if r.transition == "TEARDOWN" => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(
        teardown.len(),
        2,
        "run_end_time and run_end_completion_time"
    );
    assert!(teardown.iter().all(|r| r.transition_status()
        == ecsim_proto::events::OpStatus::Started
        && r.last_request_user.is_none()
        && r.run_number == 1));
    let topics: Vec<String> = sim
        .records()
        .into_iter()
        .map(|r| r.topic.into_owned())
        .filter(|t| t.contains("_state."))
        .collect();
    assert_eq!(
        &topics[topics.len() - 2..],
        ["aliecs.env_leave_state.RUNNING", "aliecs.env_state.UNKNOWN"]
    );
}

/// ARCHITECTURE.md's "Int64 timestamps are never zero": every timestamp AliECS's consumers read
/// (the envelope's, the Kafka plugin's, the record's own CreateTime) comes from the clock.
#[tokio::test(start_paused = true)]
async fn no_timestamp_is_zero_in_any_message_of_a_run_or_of_two_environments() {
    let sim = Simulator::start(21, Vec::new()).await;
    physics_run(&sim).await;
    two_environments(&sim).await;
    let records = sim.records();
    assert!(records.len() > 100, "a run publishes a stream");
    for record in &records {
        assert!(record.timestamp.unix_millis() > 0, "{}", record.topic);
        match ecsim_e2e::bench::Typed::of(record) {
            ecsim_e2e::bench::Typed::Event(event) => {
                assert!(event.timestamp > 0, "{}", record.topic);
                assert!(event.timestamp_nano > 0, "{}", record.topic);
            }
            ecsim_e2e::bench::Typed::State(state) => assert!(state.timestamp > 0),
            ecsim_e2e::bench::Typed::Running(list) => assert!(list.timestamp > 0),
        }
    }
}
