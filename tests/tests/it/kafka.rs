//! The simulator publishing to real brokers — the embedded one and tansu — and an independent
//! consumer reading back: everything the simulator says it published is on the broker, once,
//! with the same key, in the same order per key. And outages: nothing lost, nothing claimed.

use std::{
    collections::BTreeMap,
    ops::ControlFlow,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use ecsim_core::{
    plugin::IntegrationPlugin,
    publish::{FanOut, MemoryPublisher, Publisher, Record},
};
use ecsim_e2e::brokers::{Broker, Storage, Tansu};
use ecsim_kafka::{
    KafkaPublisher, Settings, TopicLayout,
    consumer::{ReadOptions, Received, read},
};
use ecsim_replay::driver;
use ecsim_scenario::Scenario;

const TIMEOUT: Duration = Duration::from_secs(20);

fn scenario(name: &str) -> Scenario {
    ecsim_scenario::load(Path::new(&format!("../scenarios/{name}.toml"))).unwrap()
}

fn publisher(broker: &Broker, layout: TopicLayout, topics: &[String]) -> KafkaPublisher {
    broker.publisher(layout, topics, TIMEOUT)
}

fn read_back(bootstrap: &str, topics: &[&str]) -> Vec<Received> {
    let options = ReadOptions {
        settings: Settings::brokers(bootstrap),
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        from_beginning: true,
        count: None,
        idle: Some(Duration::from_secs(30)),
        to_end: true,
        deadline: None,
        timeout: TIMEOUT,
        stop: None,
    };
    let mut received = Vec::new();
    read(&options, |message| {
        received.push(message);
        ControlFlow::Continue(())
    })
    .unwrap();
    received
}

/// (topic, key) → values in order.
type PerKey = BTreeMap<(String, Option<Vec<u8>>), Vec<Vec<u8>>>;

fn per_key_from_records(records: &[Record]) -> PerKey {
    let mut per_key = PerKey::new();
    for r in records {
        per_key
            .entry((r.topic.to_string(), r.key.clone()))
            .or_default()
            .push(r.value.clone());
    }
    per_key
}

fn per_key_from_received(received: &[Received]) -> PerKey {
    let mut per_key = PerKey::new();
    for m in received {
        per_key
            .entry((m.topic.clone(), m.key.clone()))
            .or_default()
            .push(m.value.clone());
    }
    per_key
}

/// Replays `scenario` to `broker`, and checks that what a consumer reads back is what was
/// published: the same messages, keys and per-key order, nothing lost, nothing duplicated.
fn replay_and_compare(broker: &Broker, scenario: &Scenario, layout: TopicLayout) -> Vec<Received> {
    // The scenario's plugin libraries, loaded as `ecsim run` loads them.
    let plugins = ecsim_e2e::load_plugins(scenario).unwrap();
    let plugins: Vec<Arc<dyn IntegrationPlugin>> = plugins
        .into_iter()
        .map(|p| p as Arc<dyn IntegrationPlugin>)
        .collect();
    let topics = ecsim_replay::assembly::topics(scenario, &plugins).unwrap();
    let kafka = Arc::new(publisher(broker, layout, &topics));
    let memory = Arc::new(MemoryPublisher::new());
    let fan_out: Arc<dyn Publisher> = Arc::new(FanOut(vec![kafka.clone(), memory.clone()]));
    driver::run_blocking(scenario, fan_out, plugins, Arc::new(driver::Silent)).unwrap();
    let delivery = kafka.finish(Duration::from_secs(60));
    let printed = memory.records();
    assert!(delivery.all_delivered(), "{}: {delivery}", broker.name());
    assert_eq!(delivery.total().delivered, printed.len() as u64);

    let received = read_back(&broker.bootstrap(), &["aliecs.*", "dip.lhc.beam_mode"]);
    assert_eq!(
        received.len(),
        printed.len(),
        "{} on {}: nothing lost, nothing duplicated",
        scenario.name,
        broker.name()
    );
    assert_eq!(
        per_key_from_received(&received),
        per_key_from_records(&printed),
        "{} on {}",
        scenario.name,
        broker.name()
    );
    received
}

#[test]
fn replayed_scenarios_reach_every_broker_whole_with_their_keys_in_order() {
    for name in ["physics-run", "failed-start", "beam-dump"] {
        for broker in Broker::all() {
            replay_and_compare(&broker, &scenario(name), TopicLayout::default());
        }
    }
}

#[test]
fn the_mock_services_loaded_from_their_library_publish_to_every_broker() {
    for name in ["integrated-services", "dcs-sor-failure"] {
        for broker in Broker::all() {
            let received = replay_and_compare(&broker, &scenario(name), TopicLayout::default());
            let services: std::collections::BTreeSet<&str> = received
                .iter()
                .filter_map(|m| m.topic.strip_prefix("aliecs.integrated_service."))
                .collect();
            let expected: &[&str] = if name == "dcs-sor-failure" {
                &["dcs"]
            } else {
                &["dcs", "ddsched", "odc", "trg"]
            };
            assert_eq!(
                services.into_iter().collect::<Vec<_>>(),
                expected,
                "{name} on {}",
                broker.name()
            );
        }
    }
}

#[test]
fn one_environments_messages_keep_their_order_on_a_three_partition_topic() {
    let scenario = scenario("many-environments");
    for broker in Broker::all() {
        let received = replay_and_compare(
            &broker,
            &scenario,
            TopicLayout {
                partitions: 3,
                replication: 1,
            },
        );
        let partitions: std::collections::BTreeSet<i32> = received
            .iter()
            .filter(|m| m.topic == "aliecs.environment")
            .map(|m| m.partition)
            .collect();
        assert_eq!(
            partitions.len(),
            3,
            "{}: fifty environments spread over the three partitions",
            broker.name()
        );
        // Per key the order held (checked above); across keys it did not have to: say so if it broke.
        let environment: Vec<&Received> = received
            .iter()
            .filter(|m| m.topic == "aliecs.environment")
            .collect();
        assert!(
            environment
                .windows(2)
                .any(|w| w[0].partition != w[1].partition),
            "reading interleaves partitions"
        );
    }
}

#[test]
fn a_broker_restarted_mid_run_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tansu) = Tansu::start(Storage::Sqlite(dir.path().to_owned())) else {
        return;
    };
    let bootstrap = tansu.bootstrap();
    let scenario = scenario("soak");
    let kafka = Arc::new(
        KafkaPublisher::connect(
            &Settings::brokers(&bootstrap),
            TopicLayout::default(),
            &ecsim_replay::assembly::topics(&scenario, &[]).unwrap(),
            TIMEOUT,
        )
        .unwrap(),
    );
    let memory = Arc::new(MemoryPublisher::new());

    // Kill the broker once ten thousand messages are acknowledged, bring it back a second later.
    let watcher = {
        let kafka = Arc::clone(&kafka);
        std::thread::spawn(move || {
            let mut tansu = tansu;
            let deadline = Instant::now() + Duration::from_secs(60);
            while kafka.report().total().delivered < 10_000 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let at = kafka.report().total();
            tansu.kill();
            std::thread::sleep(Duration::from_secs(1));
            tansu.restart();
            (tansu, at)
        })
    };
    let fan_out: Arc<dyn Publisher> = Arc::new(FanOut(vec![kafka.clone(), memory.clone()]));
    driver::run_blocking(&scenario, fan_out, Vec::new(), Arc::new(driver::Silent)).unwrap();
    let delivery = kafka.finish(Duration::from_secs(120));
    let (tansu, at_kill) = watcher.join().unwrap();
    println!(
        "killed the broker with {} of {} acknowledged; at the end: {delivery}",
        at_kill.delivered, at_kill.sent
    );
    assert!(
        at_kill.delivered < memory.len() as u64,
        "the broker went away before the end"
    );
    assert!(delivery.all_delivered(), "{delivery}");

    let received = read_back(&tansu.bootstrap(), &["aliecs.*"]);
    let printed = memory.records();
    assert_eq!(received.len(), printed.len(), "every message exactly once");
    assert_eq!(
        per_key_from_received(&received),
        per_key_from_records(&printed)
    );
}

#[test]
fn a_broker_gone_for_longer_than_the_delivery_timeout_is_reported_not_hidden() {
    let Some(mut tansu) = Tansu::start(Storage::Memory) else {
        return;
    };
    let settings = Settings {
        brokers: Some(tansu.bootstrap()),
        properties: vec!["message.timeout.ms=3000".parse().unwrap()],
    };
    let topics = vec!["outage".to_owned()];
    let kafka =
        KafkaPublisher::connect(&settings, TopicLayout::default(), &topics, TIMEOUT).unwrap();
    let record = |n: u32| Record {
        topic: "outage".into(),
        key: Some(b"k".to_vec()),
        value: n.to_be_bytes().to_vec(),
        timestamp: ecsim_core::clock::Timestamp::from_unix_millis(1_750_000_000_000),
        message_type: ecsim_core::publish::MessageType::Event,
    };
    for n in 0..100 {
        kafka.publish(record(n));
    }
    assert!(kafka.finish(Duration::from_secs(20)).all_delivered());
    tansu.kill();
    for n in 100..200 {
        kafka.publish(record(n));
    }
    let report = kafka.finish(Duration::from_secs(30));
    let outage = &report.topics["outage"];
    assert_eq!(
        (
            outage.sent,
            outage.delivered,
            outage.failed,
            outage.pending()
        ),
        (200, 100, 100, 0),
        "{report}"
    );
    assert!(
        outage
            .first_error
            .as_deref()
            .is_some_and(|e| e.contains("timed out")),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("outage: 100 of 200 not delivered"),
        "{report}"
    );
}

#[test]
fn records_that_cannot_even_be_queued_before_the_flush_timeout_are_counted_as_failed() {
    let Some(mut tansu) = Tansu::start(Storage::Memory) else {
        return;
    };
    // librdkafka holds at most 10 messages; with the broker gone they stay there (their
    // delivery timeout is far away), so the publisher's own thread cannot hand over the rest.
    let settings = Settings {
        brokers: Some(tansu.bootstrap()),
        properties: vec![
            "queue.buffering.max.messages=10".parse().unwrap(),
            "message.timeout.ms=600000".parse().unwrap(),
        ],
    };
    let topics = vec!["stuck".to_owned()];
    let kafka =
        KafkaPublisher::connect(&settings, TopicLayout::default(), &topics, TIMEOUT).unwrap();
    tansu.kill();
    for n in 0..100_u32 {
        kafka.publish(Record {
            topic: "stuck".into(),
            key: None,
            value: n.to_be_bytes().to_vec(),
            timestamp: ecsim_core::clock::Timestamp::from_unix_millis(1_750_000_000_000),
            message_type: ecsim_core::publish::MessageType::Event,
        });
    }
    let started = Instant::now();
    let report = kafka.finish(Duration::from_secs(2));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "finish keeps to its timeout"
    );
    let stuck = &report.topics["stuck"];
    // Every record is accounted for: the ten in librdkafka's queue pending, the other ninety
    // failed with the reason, none delivered.
    assert_eq!(
        (stuck.sent, stuck.delivered, stuck.failed, stuck.pending()),
        (100, 0, 90, 10),
        "{report}"
    );
    assert!(
        stuck
            .first_error
            .as_deref()
            .is_some_and(|e| e.contains("not handed to librdkafka before the flush timeout")),
        "{report}"
    );
}
