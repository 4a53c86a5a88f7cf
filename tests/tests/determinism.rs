//! Same scenario, same seed, virtual time: the same records, byte for byte — topics, keys,
//! values, timestamps, order. A different seed gives different ids.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

use ecsim_e2e::{Simulator, two_environments};

async fn run(seed: u64) -> (Vec<ecsim_core::publish::Record>, (String, String)) {
    let sim = Simulator::start(seed, Vec::new()).await;
    let ids = two_environments(&sim).await;
    (sim.records(), ids)
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_other_ids() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    };
    let (first, first_ids) = runtime().block_on(run(7));
    let (second, second_ids) = runtime().block_on(run(7));
    assert!(first.len() > 300, "a real stream: {} records", first.len());
    assert_eq!(first_ids, second_ids);
    assert_eq!(first, second);

    let (_, other_ids) = runtime().block_on(run(8));
    assert_ne!(other_ids.0, first_ids.0);
    assert_ne!(other_ids.1, first_ids.1);
}
