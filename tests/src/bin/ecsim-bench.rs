//! ecsim's end-to-end benchmarks: each figure measured side by side with its ceiling or
//! baseline in the same run, on the same broker.
//!
//! - `publish`: a large scenario replayed to a broker (embedded, tansu), messages per second
//!   from the first message to the last acknowledgement, against a bare rdkafka producer sending
//!   the same records, already encoded, to the same broker;
//! - `produce-cpu`: the broker's CPU time per MiB a bare producer sends it (the embedded
//!   broker's thread, tansu's process), same records, same client;
//! - `latency`: from the moment the core emits a message (a hook moment, publishing is
//!   synchronous) to the broker's acknowledgement, while a scenario runs in scaled real time;
//! - `scale`: 1,000 and 10,000 environments alive at once, each in a process of its own so that
//!   its peak memory is its own;
//! - `creation`: one environment of 1,000 and of 10,000 FLPs created (deployed, configured) by a
//!   core with the Kafka plugin and the core producer, as `ecsim serve` creates one: the cost of
//!   a large request;
//! - `topics`: a replay's records to 1,000 and to 10,000 distinct topics (one record each, as a
//!   recording of many environments' own topics), through ecsim's publisher — the topics
//!   created, then every record published and acknowledged — and through a bare producer to the
//!   same topics: how each grows with the topics.
//!
//! `ecsim-bench all --json FILE` runs them all; `cargo xtask bench` runs it with the micro
//! benchmarks and writes `BENCHMARKS.md`. Build with `--release`.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark's output is the point

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use ecsim_core::publish::Publisher;
use ecsim_e2e::{
    bench::{NullPublisher, lifecycles, peak_rss_kib, records, replay, replay_told, timeline_text},
    brokers::Broker,
};
use ecsim_kafka::{TopicLayout, baseline};
use ecsim_scenario::Speed;
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECT: Duration = Duration::from_secs(20);
/// Each side of a comparison runs this many times, alternating; the median counts.
const REPEATS: usize = 5;
/// Each scale point runs in this many processes; the median counts. A 1,000-environment
/// replay takes a tenth of a second, where this machine's noise is ±20%.
const SCALE_REPEATS: usize = 5;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Throughput of a replay to `broker` against the bare producer's, alternating.
fn publish(broker: &Broker) -> Value {
    // 200 environments, 3 tasks each, 10 runs each: about 200,000 messages.
    let scenario = lifecycles(200, 3, 10);
    let all = records(&scenario);
    let messages = all.len() as u64;
    let topics: Vec<String> = {
        let mut t: Vec<String> = all.iter().map(|r| r.topic.to_string()).collect();
        t.sort();
        t.dedup();
        t
    };
    let (mut ours, mut alone, mut ceiling) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPEATS {
        let kafka = Arc::new(broker.publisher(TopicLayout::default(), &topics, CONNECT));
        let started = Instant::now();
        let published = replay(&scenario, kafka.clone() as Arc<dyn Publisher>);
        let report = kafka.finish(Duration::from_secs(300));
        let elapsed = started.elapsed();
        assert!(report.all_delivered(), "{report}");
        assert_eq!(published, messages);
        ours.push(messages as f64 / elapsed.as_secs_f64());

        // ecsim's publisher without the simulation: the same records, made before the clock
        // starts, handed to it one by one as a replay hands them. What ecsim loses to the bare
        // producer is split between its publishing path and the simulation beside it.
        let kafka = Arc::new(broker.publisher(TopicLayout::default(), &topics, CONNECT));
        let copies = all.clone();
        let started = Instant::now();
        for record in copies {
            kafka.publish(record);
        }
        let report = kafka.finish(Duration::from_secs(300));
        let elapsed = started.elapsed();
        assert!(report.all_delivered(), "{report}");
        alone.push(messages as f64 / elapsed.as_secs_f64());

        let elapsed = baseline::send_all(&broker.bootstrap(), &all)
            .unwrap_or_else(|error| panic!("the bare producer failed: {error}"));
        ceiling.push(messages as f64 / elapsed.as_secs_f64());
    }
    let (ours, alone, ceiling) = (median(ours), median(alone), median(ceiling));
    json!({
        "broker": broker.name(),
        "messages": messages,
        "bytes": all.iter().map(|r| r.value.len() + r.key.as_ref().map_or(0, Vec::len)).sum::<usize>(),
        "ecsim_msgs_per_s": ours,
        "publisher_alone_msgs_per_s": alone,
        "ceiling_msgs_per_s": ceiling,
        "ratio": ours / ceiling,
        "publisher_alone_ratio": alone / ceiling,
    })
}

/// The broker's CPU time per MiB a bare producer sends it (the same records as `publish`, the
/// same client for every broker), the median of [`REPEATS`].
fn produce_cpu(broker: &Broker) -> Value {
    let all = records(&lifecycles(200, 3, 10));
    let bytes: usize = all
        .iter()
        .map(|r| r.value.len() + r.key.as_ref().map_or(0, Vec::len))
        .sum();
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let mut samples = Vec::new();
    for _ in 0..REPEATS {
        let before = broker.cpu_seconds();
        baseline::send_all(&broker.bootstrap(), &all)
            .unwrap_or_else(|error| panic!("the bare producer failed: {error}"));
        // The last acknowledgement is sent before the broker's accounting settles.
        std::thread::sleep(Duration::from_millis(200));
        match (before, broker.cpu_seconds()) {
            (Some(before), Some(after)) => samples.push((after - before) / mib),
            _ => return json!({ "broker": broker.name(), "cpu_s_per_mib": Value::Null }),
        }
    }
    json!({
        "broker": broker.name(),
        "mib": mib,
        "cpu_s_per_mib": median(samples),
    })
}

/// Acknowledgement latency while a scenario runs at 100 times real time, and a bare producer's
/// sending the same records at the same pace to the same broker.
fn latency(broker: &Broker) -> Value {
    // A p99 of one run is its 63rd-slowest message, set by whichever moments the simulation,
    // librdkafka's threads and the broker wanted the same core: several rounds, the median
    // ratio, and the spread.
    let mut rounds: Vec<Value> = (0..LATENCY_ROUNDS).map(|_| latency_once(broker)).collect();
    let ratio = |round: &Value| {
        round["p99_ms"].as_f64().unwrap_or(f64::NAN)
            / round["bare_p99_ms"].as_f64().unwrap_or(f64::NAN)
    };
    rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    let ratios: Vec<f64> = rounds.iter().map(ratio).collect();
    let mut median = rounds.swap_remove(rounds.len() / 2);
    median["round_ratios"] = json!(ratios);
    median
}

/// How many rounds [`latency`] runs on each broker.
const LATENCY_ROUNDS: usize = 3;

/// One round of [`latency`]: ecsim's publisher, then the bare producer at the same pace.
fn latency_once(broker: &Broker) -> Value {
    const SPEED: f64 = 100.0;
    let mut scenario = lifecycles(20, 3, 2);
    scenario.speed = Speed::Factor(SPEED);
    // In virtual time: the same records with the same simulated timestamps, hence the pace.
    let all = records(&lifecycles(20, 3, 2));
    let topics: Vec<String> = {
        let mut t: Vec<String> = all.iter().map(|r| r.topic.to_string()).collect();
        t.sort();
        t.dedup();
        t
    };
    let kafka = Arc::new(broker.publisher(TopicLayout::default(), &topics, CONNECT));
    let started = Instant::now();
    let published = replay(&scenario, kafka.clone() as Arc<dyn Publisher>);
    let wall = started.elapsed();
    let report = kafka.finish(Duration::from_secs(120));
    assert!(report.all_delivered(), "{report}");
    let Some(latency) = report.latency else {
        panic!("no latency measured")
    };
    let bare = match baseline::paced_latency(&broker.bootstrap(), &all, SPEED) {
        Ok(Some(bare)) => bare,
        Ok(None) => panic!("the bare producer had nothing acknowledged"),
        Err(error) => panic!("the bare producer failed: {error}"),
    };
    json!({
        "broker": broker.name(),
        "messages": published,
        "rate_msgs_per_s": published as f64 / wall.as_secs_f64(),
        "p50_ms": latency.p50_ms,
        "p99_ms": latency.p99_ms,
        "max_ms": latency.max_ms,
        "bare_p50_ms": bare.p50_ms,
        "bare_p99_ms": bare.p99_ms,
        "bare_max_ms": bare.max_ms,
    })
}

/// One scale point, in this process: `environments` alive at once, one run each; with
/// `expect`, two expectations checked as the replay goes (one reads every
/// `aliecs.environment` message).
fn scale(environments: usize, kafka: bool, expect: bool) -> Value {
    let scenario = ecsim_e2e::bench::scenario(environments, 1, 1, kafka);
    let null = Arc::new(NullPublisher::default());
    let started = Instant::now();
    let messages = if expect {
        let expectation =
            |topic: &str, min: u64, max: Option<u64>| ecsim_scenario::expect::Expectation {
                line: 1,
                topic: topic.to_owned(),
                environment: None,
                fields: Vec::new(),
                min,
                max,
                in_order: Vec::new(),
            };
        let check = Arc::new(ecsim_replay::LiveCheck::new(&[
            expectation("aliecs.core", 1, Some(1)),
            expectation("aliecs.environment", 1, None),
        ]));
        let both: Arc<dyn Publisher> = Arc::new(ecsim_core::publish::FanOut(vec![
            null.clone(),
            check.clone(),
        ]));
        let messages = replay_told(&scenario, both, check.clone());
        assert!(
            check.outcomes().iter().all(|o| o.met),
            "{:?}",
            check.outcomes()
        );
        messages
    } else {
        replay(&scenario, null.clone())
    };
    let wall = started.elapsed();
    let bytes = null.bytes();
    json!({
        "environments": environments,
        "messages": messages,
        "bytes": bytes,
        "wall_s": wall.as_secs_f64(),
        "peak_rss_kib": peak_rss_kib(),
    })
}

/// Validation time of generated timelines of 10,000 and 40,000 steps, alternating, the median
/// of five each: linear validation makes the ratio 4.
fn validation() -> Value {
    let texts = [timeline_text(10_000), timeline_text(40_000)];
    let mut samples = [Vec::new(), Vec::new()];
    // The TOML parser alone, on the same texts: the part of the cost that is not ecsim's.
    let mut toml_samples = [Vec::new(), Vec::new()];
    for _ in 0..REPEATS {
        for ((text, samples), toml_samples) in texts.iter().zip(&mut samples).zip(&mut toml_samples)
        {
            let started = Instant::now();
            let parsed = ecsim_scenario::parse("validation.toml", text);
            samples.push(started.elapsed().as_secs_f64());
            assert!(parsed.is_ok(), "the validation scenario is valid");
            let started = Instant::now();
            let parsed = toml::de::DeTable::parse(text);
            toml_samples.push(started.elapsed().as_secs_f64());
            assert!(parsed.is_ok(), "the validation scenario is TOML");
        }
    }
    let [small, large] = samples.map(median);
    let [toml_small, toml_large] = toml_samples.map(median);
    json!({
        "steps": [10_000, 40_000],
        "seconds": [small, large],
        "ratio": large / small,
        "toml_seconds": [toml_small, toml_large],
        "toml_ratio": toml_large / toml_small,
    })
}

/// The time to create one environment of `hosts` FLPs (three tasks each) through the core, with
/// the Kafka plugin and the core producer publishing into nothing, in virtual time.
fn creation_once(hosts: usize) -> f64 {
    let scenario = match ecsim_scenario::parse("creation.toml", "[scenario]\nname = \"creation\"\n")
    {
        Ok(scenario) => scenario,
        Err(problems) => panic!("the creation benchmark's setup: {problems:?}"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap_or_else(|error| panic!("a runtime: {error}"));
    runtime.block_on(async {
        let simulation = ecsim_replay::driver::Simulation::start(
            &scenario,
            Arc::new(NullPublisher::default()),
            Vec::new(),
            Arc::new(ecsim_replay::driver::Silent),
        )
        .await
        .unwrap_or_else(|error| panic!("the core starts: {error}"));
        let mut spec = ecsim_core::EnvironmentSpec::new(
            "large",
            Arc::new(ecsim_core::readout_dataflow::workflow()),
            &["TST"],
        );
        spec.hosts = (0..hosts).map(|n| format!("alio2-cr1-flp{n:05}")).collect();
        spec.timing = ecsim_core::Timing::ZERO;
        spec.vars
            .insert("kafka_enabled".to_owned(), "true".to_owned());
        let started = Instant::now();
        simulation
            .core()
            .create_environment(spec)
            .await
            .unwrap_or_else(|error| panic!("created: {error}"));
        let took = started.elapsed().as_secs_f64();
        simulation.finish().await;
        took
    })
}

/// Creation of one environment of 10,000 FLPs ÷ of 1,000, alternating, the median of five
/// each: creation linear in its hosts makes the ratio 10.
fn creation() -> Value {
    let (mut small, mut large) = (Vec::new(), Vec::new());
    for _ in 0..REPEATS {
        small.push(creation_once(1_000));
        large.push(creation_once(10_000));
    }
    let (small, large) = (median(small), median(large));
    json!({
        "hosts": [1_000, 10_000],
        "seconds": [small, large],
        "ratio": large / small,
    })
}

/// Peak memory of 10,000 environments (Kafka plugin on) with and without expectations, each in
/// processes of their own, the median of three.
fn expectations_memory() -> Value {
    let peak = |expect: bool| {
        median(
            (0..3)
                .map(|_| {
                    scale_in_child_with(10_000, true, expect)["peak_rss_kib"]
                        .as_f64()
                        .unwrap_or(f64::NAN)
                })
                .collect(),
        )
    };
    let (without, with) = (peak(false), peak(true));
    json!({
        "environments": 10_000,
        "without_kib": without,
        "with_kib": with,
        "ratio": with / without,
    })
}

/// A scale point in a child process, so that each peak is its own.
fn scale_in_child(environments: usize, kafka: bool) -> Value {
    scale_in_child_with(environments, kafka, false)
}

/// [`scale_in_child`], with expectations checked or not.
fn scale_in_child_with(environments: usize, kafka: bool, expect: bool) -> Value {
    let exe = std::env::current_exe().unwrap_or_else(|error| panic!("no executable path: {error}"));
    let mut args = vec!["scale".to_owned(), environments.to_string()];
    if !kafka {
        args.push("--no-kafka".to_owned());
    }
    if expect {
        args.push("--expect".to_owned());
    }
    let output = std::process::Command::new(exe)
        .args(&args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run the scale child: {error}"));
    assert!(
        output.status.success(),
        "the scale child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("bad child output: {error}"))
}

/// One record to each of `count` topics: ecsim's publisher (the topics created first, as a
/// replay creates them) and a bare producer (the topics already there), each on a fresh
/// embedded broker; seconds, medians of [`REPEATS`].
fn topics_once(count: usize) -> (f64, f64) {
    let names: Vec<String> = (0..count).map(|i| format!("bench.topics.{i:05}")).collect();
    let all: Vec<ecsim_core::publish::Record> = names
        .iter()
        .enumerate()
        .map(|(i, topic)| ecsim_core::publish::Record {
            topic: std::borrow::Cow::Owned(topic.clone()),
            key: None,
            value: vec![0x08, 0x01],
            timestamp: ecsim_core::clock::Timestamp::from_unix_millis(1_750_000_000_000 + i as i64),
            message_type: ecsim_proto::topics::MessageType::Event,
        })
        .collect();
    let (mut ours, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..REPEATS {
        let broker = Broker::embedded();
        let started = Instant::now();
        let kafka = broker.publisher(TopicLayout::default(), &names, CONNECT);
        for record in &all {
            kafka.publish(record.clone());
        }
        let report = kafka.finish(Duration::from_secs(300));
        assert!(report.all_delivered(), "{report}");
        ours.push(started.elapsed().as_secs_f64());
        drop(kafka);

        let broker = Broker::embedded();
        drop(broker.publisher(TopicLayout::default(), &names, CONNECT));
        let elapsed = baseline::send_all(&broker.bootstrap(), &all)
            .unwrap_or_else(|error| panic!("the bare producer failed: {error}"));
        bare.push(elapsed.as_secs_f64());
    }
    (median(ours), median(bare))
}

/// [`topics_once`] at 1,000 and 10,000 topics, and how each side grows.
fn topics() -> Value {
    let (ours_small, bare_small) = topics_once(1_000);
    let (ours_large, bare_large) = topics_once(10_000);
    json!({
        "ecsim_s": [ours_small, ours_large],
        "bare_s": [bare_small, bare_large],
        "ecsim_ratio": ours_large / ours_small,
        "bare_ratio": bare_large / bare_small,
    })
}

fn seconds(point: &Value) -> f64 {
    point["wall_s"].as_f64().unwrap_or(f64::NAN)
}

fn brokers() -> Vec<Broker> {
    let mut brokers = vec![Broker::embedded()];
    match Broker::tansu() {
        Some(tansu) => brokers.push(tansu),
        None => eprintln!("tansu is not installed: measuring the embedded broker only"),
    }
    brokers
}

fn all() -> Value {
    let mut publish_results = Vec::new();
    let mut latency_results = Vec::new();
    let mut produce_cpu_results = Vec::new();
    for broker in brokers() {
        eprintln!("produce CPU on {} …", broker.name());
        produce_cpu_results.push(produce_cpu(&broker));
        // Latency first, on a broker that has not yet taken the throughput runs' million
        // messages (tansu answers more slowly with them in memory).
        eprintln!("latency on {} …", broker.name());
        latency_results.push(latency(&broker));
        eprintln!("publish throughput on {} …", broker.name());
        publish_results.push(publish(&broker));
    }
    let mut scale = Vec::new();
    for kafka in [false, true] {
        eprintln!("scale, Kafka plugin {} …", if kafka { "on" } else { "off" });
        // The two sizes alternate, so that a busy spell of the machine falls on both.
        let (mut smalls, mut larges) = (Vec::new(), Vec::new());
        for _ in 0..SCALE_REPEATS {
            smalls.push(scale_in_child(1_000, kafka));
            larges.push(scale_in_child(10_000, kafka));
        }
        let median = |mut runs: Vec<Value>| {
            runs.sort_by(|a, b| f64::total_cmp(&seconds(a), &seconds(b)));
            runs.swap_remove(SCALE_REPEATS / 2)
        };
        let (small, large) = (median(smalls), median(larges));
        let per_environment_kib = match (
            large["peak_rss_kib"].as_f64(),
            small["peak_rss_kib"].as_f64(),
        ) {
            (Some(large), Some(small)) => json!((large - small) / 9_000.0),
            _ => Value::Null,
        };
        let bytes = |point: &Value| point["bytes"].as_f64().unwrap_or(f64::NAN);
        let time_ratio = seconds(&large) / seconds(&small);
        let bytes_ratio = bytes(&large) / bytes(&small);
        scale.push(json!({
            "kafka_plugin": kafka,
            "time_ratio": time_ratio,
            "bytes_ratio": bytes_ratio,
            "per_byte_ratio": time_ratio / bytes_ratio,
            "kib_per_environment": per_environment_kib,
            "points": [small, large],
        }));
    }
    eprintln!("validation time …");
    let validation = validation();
    eprintln!("memory with expectations …");
    let expectations = expectations_memory();
    eprintln!("creation in hosts …");
    let creation = creation();
    eprintln!("records to 1,000 and 10,000 topics …");
    let topics = topics();
    json!({
        "publish": publish_results,
        "produce_cpu": produce_cpu_results,
        "latency": latency_results,
        "scale": scale,
        "validation": validation,
        "expectations_memory": expectations,
        "creation": creation,
        "topics": topics,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("scale") => {
            let environments = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1_000);
            scale(
                environments,
                !args.iter().any(|a| a == "--no-kafka"),
                args.iter().any(|a| a == "--expect"),
            )
        }
        Some("publish") => Value::Array(brokers().iter().map(publish).collect()),
        Some("latency") => Value::Array(brokers().iter().map(latency).collect()),
        Some("produce-cpu") => Value::Array(brokers().iter().map(produce_cpu).collect()),
        Some("validation") => validation(),
        Some("memory") => expectations_memory(),
        Some("creation") => creation(),
        Some("topics") => topics(),
        Some("all") => all(),
        _ => {
            eprintln!("usage: ecsim-bench all [--json FILE] | publish | latency | scale N");
            std::process::exit(2);
        }
    };
    let text = serde_json::to_string_pretty(&result).unwrap_or_default();
    match args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
    {
        Some(path) => {
            if let Err(error) = std::fs::write(path, text + "\n") {
                eprintln!("cannot write {path}: {error}");
                std::process::exit(1);
            }
        }
        None => println!("{text}"),
    }
}
