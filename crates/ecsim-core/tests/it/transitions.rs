//! The transition table, driven through the core as a client drives AliECS: every client
//! request from every state an environment can be brought to, and what follows a request the
//! table does not allow (reference §1.2: GO_ERROR, then ERROR).

use std::sync::Arc;

use crate::support::{Probe, core, spec, workflow};
use ecsim_core::{
    CoreError, DestroyOptions, TransitionError,
    fsm::{State, Transition},
    role_state::TaskStatus,
    user,
};

const REQUESTS: [Transition; 5] = [
    Transition::Deploy,
    Transition::Configure,
    Transition::Reset,
    Transition::StartActivity,
    Transition::StopActivity,
];

/// Brings a fresh environment (CONFIGURED after creation) to `state` with client requests.
async fn environment_in(
    core: &ecsim_core::Core,
    state: State,
    detector: &str,
) -> ecsim_core::EnvironmentId {
    let id = core
        .create_environment(spec(workflow(Vec::new()), detector))
        .await
        .unwrap();
    let alice = user::person("alice");
    match state {
        State::Configured => {}
        State::Deployed => {
            core.control(&id, Transition::Reset, alice).await.unwrap();
        }
        State::Running => {
            core.control(&id, Transition::StartActivity, alice)
                .await
                .unwrap();
        }
        State::Error => {
            core.critical_task_error(&id, "a critical task failed")
                .await
                .unwrap();
        }
        State::Standby | State::Done => unreachable!("not reachable by requests"),
    }
    assert_eq!(core.state(&id), Some(state));
    id
}

#[tokio::test(start_paused = true)]
async fn every_request_from_every_reachable_state_follows_the_table() {
    let (core, _) = core(Arc::new(Probe::default()), 1).await;
    let mut detector = 0;
    for from in [
        State::Deployed,
        State::Configured,
        State::Running,
        State::Error,
    ] {
        for request in REQUESTS {
            detector += 1;
            let id = environment_in(&core, from, &format!("D{detector:02}")).await;
            let result = core.control(&id, request, user::person("bob")).await;
            match request.destination(from) {
                Some(to) => {
                    assert_eq!(result, Ok(to), "{request} from {from}");
                    assert_eq!(core.state(&id), Some(to));
                }
                None => {
                    let Err(CoreError::TransitionFailed { error, state, .. }) = result else {
                        panic!("{request} from {from} should fail, got {result:?}");
                    };
                    assert_eq!(
                        error,
                        TransitionError::Inappropriate {
                            transition: request,
                            state: from
                        }
                    );
                    assert_eq!(
                        error.to_string(),
                        format!("event {request} inappropriate in current state {from}")
                    );
                    assert_eq!(state, State::Error, "{request} from {from} ends in ERROR");
                    assert_eq!(core.state(&id), Some(State::Error));
                }
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn go_error_is_reachable_from_every_state_but_error_and_not_requestable() {
    let (core, _) = core(Arc::new(Probe::default()), 2).await;
    for (i, from) in [State::Deployed, State::Configured, State::Running]
        .into_iter()
        .enumerate()
    {
        let id = environment_in(&core, from, &format!("G{i}")).await;
        assert_eq!(
            core.critical_task_error(&id, "task died").await,
            Ok(State::Error),
            "from {from}"
        );
    }
    let id = environment_in(&core, State::Error, "G9").await;
    assert_eq!(
        core.critical_task_error(&id, "again").await,
        Ok(State::Error)
    );
    assert_eq!(
        core.control(&id, Transition::GoError, user::person("eve"))
            .await,
        Err(CoreError::NotRequestable(Transition::GoError))
    );
}

#[tokio::test(start_paused = true)]
async fn an_invalid_request_publishes_the_error_then_go_error() {
    let probe = Arc::new(Probe::default());
    let (core, recorder) = core(probe, 3).await;
    let id = environment_in(&core, State::Configured, "TPC").await;
    recorder.take();
    let _ = core
        .control(&id, Transition::StopActivity, user::person("carol"))
        .await;

    let steps = recorder.environment_steps();
    let expected = [
        (
            "STOP_ACTIVITY",
            "",
            "CONFIGURED",
            "STARTED",
            "transition starting",
        ),
        (
            "STOP_ACTIVITY",
            "",
            "CONFIGURED",
            "DONE_ERROR",
            "transition error",
        ),
        (
            "",
            "",
            "CONFIGURED",
            "NULL",
            "a critical error occurred, GO_ERROR transition imminent",
        ),
        (
            "GO_ERROR",
            "",
            "CONFIGURED",
            "STARTED",
            "transition starting",
        ),
    ];
    for (i, (transition, step, state, status, message)) in expected.into_iter().enumerate() {
        assert_eq!(
            steps[i],
            (
                transition.into(),
                step.into(),
                state.into(),
                status.into(),
                message.into()
            ),
            "event {i}"
        );
    }
    let events = recorder.environment_events();
    assert_eq!(
        events[1].error,
        "event STOP_ACTIVITY inappropriate in current state CONFIGURED"
    );
    assert_eq!(
        events[2].error,
        format!("transition STOP_ACTIVITY failed: {}", events[1].error),
        "the imminent event carries the reason, framed as ControlEnvironment frames it"
    );
    assert!(events[2].transition.is_empty() && events[2].last_request_user.is_some());
    let last = steps.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.2.as_str(), last.3.as_str()),
        ("GO_ERROR", "ERROR", "DONE_OK")
    );
}

#[tokio::test(start_paused = true)]
async fn requests_on_unknown_or_destroyed_environments_are_refused() {
    let (core, _) = core(Arc::new(Probe::default()), 4).await;
    let id = environment_in(&core, State::Configured, "ITS").await;
    core.destroy(&id, DestroyOptions::default(), user::person("dan"))
        .await
        .unwrap();
    assert_eq!(core.state(&id), None);
    for result in [
        core.control(&id, Transition::StartActivity, user::person("dan"))
            .await
            .map(|_| ()),
        core.destroy(&id, DestroyOptions::default(), user::person("dan"))
            .await,
        core.control(&"nope".into(), Transition::Reset, user::person("dan"))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(CoreError::UnknownEnvironment(_))),
            "{result:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_detector_serves_one_environment_at_a_time() {
    let (core, recorder) = core(Arc::new(Probe::default()), 5).await;
    let first = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await
        .unwrap();
    recorder.take();
    let second = core
        .create_environment(spec(workflow(Vec::new()), "TPC"))
        .await;
    let Err(CoreError::CreateFailed { reason, .. }) = second else {
        panic!("{second:?}")
    };
    assert_eq!(reason, "detector TPC is already in use");
    // CREATE's "transition error", then the asynchronous creation RPC's word.
    let mut events = recorder.environment_events();
    let (last, before) = (events.pop().unwrap(), events.pop().unwrap());
    assert_eq!(
        (
            before.state.as_str(),
            before.message.as_str(),
            before.error.as_str()
        ),
        ("PENDING", "transition error", reason.as_str())
    );
    assert_eq!(
        (
            last.state.as_str(),
            last.message.as_str(),
            last.error.as_str()
        ),
        ("ERROR", "cannot create new environment", reason.as_str())
    );

    core.destroy(&first, DestroyOptions::default(), user::person("x"))
        .await
        .unwrap();
    assert!(
        core.create_environment(spec(workflow(Vec::new()), "TPC"))
            .await
            .is_ok(),
        "released at teardown"
    );
}

#[tokio::test(start_paused = true)]
async fn transitions_of_one_environment_wait_for_each_other() {
    let (core, recorder) = core(Arc::new(Probe::default()), 6).await;
    let id = environment_in(&core, State::Configured, "MCH").await;
    recorder.take();
    let (a, b) = tokio::join!(
        core.control(&id, Transition::StartActivity, user::person("a")),
        core.control(&id, Transition::StopActivity, user::person("b")),
    );
    assert_eq!((a, b), (Ok(State::Running), Ok(State::Configured)));
    let finals: Vec<(String, String)> = recorder
        .environment_steps()
        .into_iter()
        .filter(|s| s.1.is_empty() && s.4 != "transition starting")
        .map(|s| (s.0, s.3))
        .collect();
    assert_eq!(
        finals,
        [
            ("START_ACTIVITY".into(), "DONE_OK".into()),
            ("STOP_ACTIVITY".into(), "DONE_OK".into())
        ],
        "the second request waited for the first to finish"
    );
}

/// `keepTasks`: a destruction releases the tasks instead of killing them — they run on,
/// outside any environment — until a cleanup kills them, `CleanupTasks` or the next creation's
/// pre-deployment cleanup (AliECS's `taskman.Cleanup()` in CreateEnvironment).
#[tokio::test(start_paused = true)]
async fn kept_tasks_run_on_until_a_cleanup_or_the_next_creation_kills_them() {
    use ecsim_core::event::CorePayload;
    let (core, recorder) = core(Arc::new(Probe::default()), 11).await;
    let mut with_tasks = (*workflow(Vec::new())).clone();
    with_tasks.task_classes = ecsim_core::readout_dataflow::workflow().task_classes;
    let with_tasks = Arc::new(with_tasks);
    let killed_outside = |events: Vec<ecsim_core::event::CoreEvent>| {
        events
            .into_iter()
            .filter(|e| {
                matches!(&e.payload, CorePayload::Task(t)
                    if t.status.as_str() == "INACTIVE" && t.environment_id().is_empty())
            })
            .count()
    };
    let three_tasks = |detector: &str| {
        let mut spec = spec(Arc::clone(&with_tasks), detector);
        spec.tasks_per_host = 3;
        spec
    };
    for (detector, cleanup) in [("TPC", true), ("ITS", false)] {
        let id = core
            .create_environment(three_tasks(detector))
            .await
            .unwrap();
        let keep = DestroyOptions {
            keep_tasks: true,
            ..DestroyOptions::default()
        };
        recorder.take();
        core.destroy(&id, keep, user::person("alice"))
            .await
            .unwrap();
        assert_eq!(killed_outside(recorder.take()), 0, "kept, not killed");
        let kept = core.tasks();
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(
            kept.iter()
                .all(|t| t.environment_id.is_none() && t.status == TaskStatus::Active)
        );
        if cleanup {
            let killed = core.cleanup_tasks(&[]);
            assert_eq!(killed.len(), 3);
            assert!(killed.iter().all(|t| t.status == TaskStatus::Inactive));
            assert_eq!(killed_outside(recorder.take()), 3);
            assert!(core.tasks().is_empty());
        } else {
            core.create_environment(three_tasks("TOF")).await.unwrap();
            assert_eq!(killed_outside(recorder.take()), 3, "the creation's cleanup");
            assert!(core.tasks().iter().all(|t| t.environment_id.is_some()));
        }
    }
}
