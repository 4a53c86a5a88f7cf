//! Replays ten full environment lifecycles many times with a publisher that keeps nothing: a
//! steady load to profile the simulator under (`perf record`, `valgrind --tool=callgrind`).
//!
//! `cargo run --release -p ecsim-e2e --example profile_core -- 200`

use std::sync::Arc;

use ecsim_e2e::bench::{NullPublisher, lifecycles, replay};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(clippy::print_stdout)] // the example's output
fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let scenario = lifecycles(10, 3, 1);
    let started = std::time::Instant::now();
    let mut messages = 0;
    for _ in 0..iterations {
        messages += replay(&scenario, Arc::new(NullPublisher::default()));
    }
    let elapsed = started.elapsed();
    println!(
        "{messages} messages in {elapsed:?}: {:.0} messages/s",
        messages as f64 / elapsed.as_secs_f64()
    );
}
