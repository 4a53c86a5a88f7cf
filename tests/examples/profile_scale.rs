//! Many environments alive at once, with the system allocator (so that heap profilers such as
//! `valgrind --tool=dhat` see every allocation): where the memory per environment goes.
//!
//! `cargo run --release -p ecsim-e2e --example profile_scale -- 1000`

use std::sync::Arc;

use ecsim_e2e::bench::{NullPublisher, peak_rss_kib, replay, scenario};

#[allow(clippy::print_stdout)] // the example's output
fn main() {
    let environments: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let messages = replay(
        &scenario(environments, 1, 1, false),
        Arc::new(NullPublisher::default()),
    );
    println!("{messages} messages, peak {:?} KiB", peak_rss_kib());
}
