//! Replays a large scenario to a broker again and again, with nothing else in the process's
//! timeline: a steady publishing load to profile ecsim's side of the publish benchmark under
//! (`perf record -g`), without the benchmark's baseline and record collection mixed in.
//!
//! `cargo run --release -p ecsim-e2e --example profile_publish -- [embedded|tansu] [ROUNDS]`

use std::{sync::Arc, time::Duration};

use ecsim_core::publish::Publisher;
use ecsim_e2e::{
    bench::{lifecycles, records, replay},
    brokers::Broker,
};
use ecsim_kafka::TopicLayout;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(clippy::print_stdout)] // the example's output
fn main() {
    let mut args = std::env::args().skip(1);
    let broker = match args.next().as_deref() {
        Some("tansu") => Broker::tansu().unwrap_or_else(|| panic!("tansu is not installed")),
        _ => Broker::embedded(),
    };
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(3);
    let scenario = lifecycles(200, 3, 10);
    // The same topics as the large scenario's, without holding its 150,000 records.
    let mut topics: Vec<String> = records(&lifecycles(2, 3, 1))
        .into_iter()
        .map(|r| r.topic.into_owned())
        .collect();
    topics.sort();
    topics.dedup();
    let kafka =
        Arc::new(broker.publisher(TopicLayout::default(), &topics, Duration::from_secs(20)));
    let started = std::time::Instant::now();
    let mut messages = 0;
    for _ in 0..rounds {
        messages += replay(&scenario, kafka.clone() as Arc<dyn Publisher>);
    }
    // The simulation is done; what remains is librdkafka and the broker catching up.
    let replayed = started.elapsed();
    let report = kafka.finish(Duration::from_secs(300));
    let elapsed = started.elapsed();
    assert!(report.all_delivered(), "{report}");
    println!(
        "{messages} messages to {} in {elapsed:?}: {:.0} messages/s \
         (replayed in {replayed:?}, all acknowledged {:?} later)",
        broker.name(),
        messages as f64 / elapsed.as_secs_f64(),
        elapsed - replayed
    );
}
