//! Golden files of the full message stream, topic by topic, for the scenarios of the
//! control-core work: a physics run, a start whose critical call fails, a destroy while
//! RUNNING, two environments at once. Each snapshot was read against the reference (§1.6,
//! §1.7, §2.3–2.6, §3) when it was accepted; `reference.rs` asserts the key facts explicitly.

use std::sync::Arc;

use ecsim_core::{DestroyOptions, fsm::Transition};
use ecsim_e2e::{
    RefusingDcs, Simulator, by_topic, environment, physics_run, shifter, two_environments,
};

#[tokio::test(start_paused = true)]
async fn physics_run_with_kafka() {
    let sim = Simulator::start(1, Vec::new()).await;
    physics_run(&sim).await;
    insta::assert_snapshot!(by_topic(&sim.records()));
}

#[tokio::test(start_paused = true)]
async fn start_whose_critical_call_fails() {
    let sim = Simulator::start(2, vec![Arc::new(RefusingDcs)]).await;
    let id = sim
        .core
        .create_environment(environment("dcs", &["TPC"], &[("dcs_enabled", "true")]))
        .await
        .unwrap();
    let result = sim
        .core
        .control(&id, Transition::StartActivity, shifter())
        .await;
    assert!(result.is_err(), "{result:?}");
    sim.core
        .destroy(&id, DestroyOptions::default(), shifter())
        .await
        .unwrap();
    insta::assert_snapshot!(by_topic(&sim.records()));
}

#[tokio::test(start_paused = true)]
async fn destroy_while_running() {
    let sim = Simulator::start(3, Vec::new()).await;
    ecsim_e2e::destroy_while_running(&sim).await;
    insta::assert_snapshot!(by_topic(&sim.records()));
}

#[tokio::test(start_paused = true)]
async fn two_environments_at_once() {
    let sim = Simulator::start(4, Vec::new()).await;
    two_environments(&sim).await;
    insta::assert_snapshot!(by_topic(&sim.records()));
}
