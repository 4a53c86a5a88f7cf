//! Replays a large scenario to a broker again and again, with nothing else in the process's
//! timeline: a steady publishing load to profile ecsim's side of the publish benchmark under
//! (`perf record -g`), without the benchmark's baseline and record collection mixed in.
//!
//! `cargo run --release -p ecsim-e2e --example profile_publish -- [embedded|tansu] [ROUNDS] [MODE]`
//!
//! MODE is what publishes: `replay` (the default: the simulation and ecsim's publisher),
//! `alone` (ecsim's publisher handed the scenario's records, made before the clock starts and
//! copied as they are handed over, as a replay makes each record anew), or `bare` (the bare
//! producer the benchmark compares with, the same records): the three sides of the publish
//! figure, to profile one at a time.

use std::{sync::Arc, time::Duration};

use ecsim_core::publish::Publisher;
use ecsim_e2e::{
    bench::{lifecycles, records, replay},
    brokers::Broker,
};
use ecsim_kafka::TopicLayout;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(clippy::print_stdout, clippy::print_stderr)] // the example's output and its usage error
fn main() {
    let mut args = std::env::args().skip(1);
    let broker = match args.next().as_deref() {
        Some("tansu") => Broker::tansu().unwrap_or_else(|| panic!("tansu is not installed")),
        _ => Broker::embedded(),
    };
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(3);
    let mode = args.next().unwrap_or_else(|| "replay".to_owned());
    let scenario = lifecycles(200, 3, 10);
    let made = match mode.as_str() {
        "replay" => Vec::new(),
        "alone" | "bare" => records(&scenario),
        other => {
            eprintln!("profile_publish: unknown mode {other}: replay, alone or bare");
            std::process::exit(2);
        }
    };
    let cpu = ecsim_e2e::bench::cpu_seconds;
    if mode == "bare" {
        let mut elapsed = Duration::ZERO;
        let cpu_before = cpu();
        for _ in 0..rounds {
            elapsed += ecsim_kafka::baseline::send_all(&broker.bootstrap(), &made)
                .unwrap_or_else(|error| panic!("the bare producer failed: {error}"));
        }
        let messages = made.len() * rounds;
        println!(
            "{messages} messages to {} by the bare producer in {elapsed:?}: {:.0} messages/s; {}",
            broker.name(),
            messages as f64 / elapsed.as_secs_f64(),
            cpu_per_message(cpu_before, cpu(), messages as u64)
        );
        return;
    }
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
    let cpu_before = cpu();
    let mut messages = 0;
    for _ in 0..rounds {
        if mode == "replay" {
            messages += replay(&scenario, kafka.clone() as Arc<dyn Publisher>);
        } else {
            for record in made.iter().cloned() {
                kafka.publish(record);
            }
            messages += made.len() as u64;
        }
    }
    // The simulation is done; what remains is librdkafka and the broker catching up.
    let replayed = started.elapsed();
    let report = kafka.finish(Duration::from_secs(300));
    let elapsed = started.elapsed();
    assert!(report.all_delivered(), "{report}");
    println!(
        "{messages} messages to {} in {elapsed:?}: {:.0} messages/s \
         (replayed in {replayed:?}, all acknowledged {:?} later); {}",
        broker.name(),
        messages as f64 / elapsed.as_secs_f64(),
        elapsed - replayed,
        cpu_per_message(cpu_before, cpu(), messages)
    );
}

/// The process's CPU time over the run, a message (every thread: the simulation, ecsim's
/// publisher, librdkafka's, and the embedded broker's when it is the broker).
fn cpu_per_message(before: Option<f64>, after: Option<f64>, messages: u64) -> String {
    match (before, after) {
        (Some(before), Some(after)) => format!(
            "CPU {:.2} s, {:.2} µs a message",
            after - before,
            (after - before) * 1e6 / messages as f64
        ),
        _ => "CPU time unknown".to_owned(),
    }
}
