//! Random requests on random environments: the core never panics, every state change it makes
//! is one the transition table allows (or the forced ERROR and teardown DONE of reference
//! §1.2/§1.7), and no run number is ever handed out twice.

use std::sync::Arc;

use crate::support::{Behaviour, Probe, core, spec, workflow};
use ecsim_core::{
    CoreError, DestroyOptions,
    fsm::{State, Transition},
    user,
    workflow::CallSpec,
};
use ecsim_proto::events::OpStatus;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Request {
    Create {
        detector: usize,
        failing_start: bool,
    },
    Control {
        env: usize,
        transition: Transition,
    },
    TaskError {
        env: usize,
    },
    Destroy {
        env: usize,
        force: bool,
        allow_running: bool,
    },
}

fn request() -> impl Strategy<Value = Request> {
    let transition = prop_oneof![
        Just(Transition::Deploy),
        Just(Transition::Configure),
        Just(Transition::Reset),
        Just(Transition::StartActivity),
        Just(Transition::StopActivity),
        Just(Transition::GoError),
    ];
    prop_oneof![
        1 => (0..4_usize, any::<bool>()).prop_map(|(detector, failing_start)| Request::Create { detector, failing_start }),
        4 => (0..6_usize, transition).prop_map(|(env, transition)| Request::Control { env, transition }),
        1 => (0..6_usize).prop_map(|env| Request::TaskError { env }),
        1 => (0..6_usize, any::<bool>(), any::<bool>())
            .prop_map(|(env, force, allow_running)| Request::Destroy { env, force, allow_running }),
    ]
}

async fn run(requests: Vec<Request>) -> Result<(), TestCaseError> {
    let probe = Arc::new(Probe::new(&[
        ("Fail", Behaviour::Fail("SOR failed")),
        ("Record", Behaviour::Succeed),
    ]));
    let (core, recorder) = core(probe, 42).await;
    let failing = workflow(vec![
        CallSpec::new("sor", "probe.Fail()", "before_START_ACTIVITY+100"),
        CallSpec::new("stop", "probe.Record()", "after_STOP_ACTIVITY")
            .awaited_at("after_STOP_ACTIVITY"),
    ]);
    let plain = workflow(vec![
        CallSpec::new("rec", "probe.Record()", "enter_RUNNING").critical(false),
    ]);
    let mut ids: Vec<ecsim_core::EnvironmentId> = Vec::new();
    let pick = |ids: &[ecsim_core::EnvironmentId], i: usize| {
        (!ids.is_empty()).then(|| ids[i % ids.len()].clone())
    };

    for request in requests {
        match request {
            Request::Create {
                detector,
                failing_start,
            } => {
                let wf = if failing_start {
                    failing.clone()
                } else {
                    plain.clone()
                };
                if let Ok(id) = core
                    .create_environment(spec(wf, ["TPC", "ITS", "MCH", "TOF"][detector]))
                    .await
                {
                    prop_assert_eq!(core.state(&id), Some(State::Configured));
                    ids.push(id);
                }
            }
            Request::Control { env, transition } => {
                let Some(id) = pick(&ids, env) else { continue };
                let Some(before) = core.state(&id) else {
                    continue;
                };
                match core.control(&id, transition, user::person("p")).await {
                    Ok(after) => prop_assert_eq!(
                        Some(after),
                        transition.destination(before),
                        "{} from {}",
                        transition,
                        before
                    ),
                    Err(CoreError::NotRequestable(t)) => prop_assert_eq!(t, Transition::GoError),
                    Err(CoreError::TransitionFailed { state, .. }) => {
                        prop_assert_eq!(state, State::Error);
                    }
                    Err(other) => prop_assert!(false, "unexpected error {other}"),
                }
            }
            Request::TaskError { env } => {
                let Some(id) = pick(&ids, env) else { continue };
                if core.state(&id).is_some() {
                    prop_assert_eq!(
                        core.critical_task_error(&id, "task died").await,
                        Ok(State::Error)
                    );
                }
            }
            Request::Destroy {
                env,
                force,
                allow_running,
            } => {
                let Some(id) = pick(&ids, env) else { continue };
                if core.state(&id).is_some() {
                    let options = DestroyOptions {
                        force,
                        allow_in_running_state: allow_running,
                        keep_tasks: false,
                    };
                    prop_assert!(core.destroy(&id, options, user::person("p")).await.is_ok());
                    prop_assert_eq!(core.state(&id), None);
                }
            }
        }
    }

    // Every transition starts where the environment's last event left it, and a completed one
    // ends where the table says it goes from there.
    let mut last_state: std::collections::BTreeMap<String, State> = Default::default();
    let mut started_from: std::collections::BTreeMap<String, State> = Default::default();
    for event in recorder.environment_events() {
        let Some(state) = State::ALL.into_iter().find(|s| s.as_str() == event.state) else {
            continue; // PENDING, during creation
        };
        let id = event.environment_id.clone();
        // A transition's first event is STARTED and its last DONE_OK (or DONE_ERROR), both
        // without a step.
        // CREATE and DESTROY are not the state machine's.
        let transition = event.transition.parse::<Transition>().ok();
        let whole = event.transition_step.is_empty() && transition.is_some();
        if whole && event.transition_status() == OpStatus::Started {
            if let Some(&known) = last_state.get(&id) {
                prop_assert_eq!(known, state, "a transition starts where the last one ended");
            }
            started_from.insert(id.clone(), state);
        }
        if event.transition_status() == OpStatus::DoneOk
            && let Some(transition) = transition.filter(|_| whole)
            && let Some(&from) = started_from.get(&id)
        {
            prop_assert_eq!(
                transition.destination(from),
                Some(state),
                "{} from {}",
                transition,
                from
            );
        }
        last_state.insert(id, state);
    }

    // Run numbers: each START allocates a new one, strictly increasing, never reused.
    let allocated: Vec<u32> = recorder
        .run_events()
        .into_iter()
        .filter(|r| r.transition == "START_ACTIVITY" && r.transition_status() == OpStatus::Started)
        .map(|r| r.run_number)
        .collect();
    prop_assert!(
        allocated.windows(2).all(|w| w[0] < w[1]),
        "run numbers {:?}",
        allocated
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_keep_the_state_machine_and_run_numbers_sound(requests in proptest::collection::vec(request(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        runtime.block_on(run(requests))?;
    }
}
