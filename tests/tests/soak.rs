//! A long replay — ten thousand runs in virtual time — whose memory stays flat: nothing the
//! simulator keeps grows with the number of runs, only with the number of environments.
//!
//! The resident memory is sampled as the replay goes (through its progress callback); after
//! the first tenth, which allocates what the environments need, it must not grow by more than
//! a small allowance, whatever the number of runs. Linux only (it reads `/proc/self/status`).

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use ecsim_e2e::bench::{NullPublisher, rss_kib, scenario};
use ecsim_replay::driver::{self, Progress};

/// Resident memory (KiB) at each tenth of the replay.
#[derive(Debug, Default)]
struct Sampler {
    samples: Mutex<Vec<(u64, u64)>>,
}

impl Progress for Sampler {
    fn advanced(&self, done: u64, total: u64, _simulated: Duration) {
        if total >= 10
            && done.is_multiple_of(total / 10)
            && let Some(rss) = rss_kib()
        {
            self.samples.lock().unwrap().push((done, rss));
        }
    }
}

#[test]
fn ten_thousand_runs_in_virtual_time_keep_memory_flat() {
    if rss_kib().is_none() {
        println!("SKIPPED: no /proc/self/status on this system");
        return;
    }
    // Four environments, 2,500 runs each, the Kafka plugin on: ten thousand runs.
    let scenario = scenario(4, 1, 2_500, true);
    let null = Arc::new(NullPublisher::default());
    let sampler = Arc::new(Sampler::default());
    let report =
        driver::run_blocking(&scenario, null.clone(), Vec::new(), sampler.clone()).unwrap();
    assert_eq!(report.runs, 10_000);
    assert_eq!(report.requests.failed, 0);
    assert_eq!(report.messages.by_topic["aliecs.env_state.RUNNING"], 10_000);
    assert_eq!(
        null.count(),
        report.messages.total,
        "every message reached the publisher"
    );

    let samples = sampler.samples.lock().unwrap().clone();
    assert!(samples.len() >= 9, "sampled along the way: {samples:?}");
    let after_warm_up = samples[1].1;
    let peak = samples.iter().map(|(_, rss)| *rss).max().unwrap();
    println!(
        "resident memory (KiB) at each tenth of {} steps: {samples:?}",
        scenario.schedule.len()
    );
    // The allowance covers the allocator's own bookkeeping and the runtime's timer wheel; a
    // leak of 64 bytes per run would exceed it (10,000 runs: 625 KiB).
    assert!(
        peak <= after_warm_up + 512,
        "memory grew from {after_warm_up} KiB to {peak} KiB over the replay: {samples:?}"
    );
}
