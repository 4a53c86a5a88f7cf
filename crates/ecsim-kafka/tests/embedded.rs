//! The publisher and the reader against the embedded broker: everything published is
//! acknowledged, read back in order per key, and accounted for; an unreachable broker is
//! reported clearly.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

use std::{collections::BTreeMap, ops::ControlFlow, sync::Arc, time::Duration};

use ecsim_core::{
    clock::Timestamp,
    publish::{Publisher, Record},
};
use ecsim_kafka::{
    ConnectError, EmbeddedBroker, KafkaPublisher, Settings, TopicLayout,
    consumer::{ReadOptions, Received, read},
};

fn record(topic: &str, key: &str, n: u32) -> Record {
    Record {
        topic: topic.to_owned().into(),
        key: Some(key.as_bytes().to_vec()),
        value: n.to_be_bytes().to_vec(),
        timestamp: Timestamp::from_unix_millis(1_750_000_000_000 + i64::from(n)),
        message_type: ecsim_core::publish::MessageType::Event,
    }
}

fn read_all(brokers: &str, topics: &[&str]) -> Vec<Received> {
    let options = ReadOptions {
        settings: Settings::brokers(brokers),
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        from_beginning: true,
        count: None,
        idle: Some(Duration::from_secs(10)),
        to_end: true,
        deadline: None,
        timeout: Duration::from_secs(10),
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

fn publish_and_read_back(broker: &Arc<EmbeddedBroker>, layout: TopicLayout) {
    let topics = vec!["t.a".to_owned(), "t.b".to_owned()];
    let publisher = KafkaPublisher::embedded(
        Arc::clone(broker),
        &Settings::default(),
        layout,
        &topics,
        Duration::from_secs(10),
    )
    .unwrap();
    for n in 0..600 {
        let topic = if n % 3 == 0 { "t.b" } else { "t.a" };
        publisher.publish(record(topic, &format!("env-{}", n % 7), n));
    }
    let report = publisher.finish(Duration::from_secs(30));
    assert!(report.all_delivered(), "{report}");
    assert_eq!(report.total().delivered, 600);

    let received = read_all(broker.bootstrap_servers(), &["t.*"]);
    assert_eq!(received.len(), 600, "nothing lost, nothing duplicated");
    // Per key, the values come back in the order they were published.
    let mut per_key: BTreeMap<(String, Vec<u8>), Vec<u32>> = BTreeMap::new();
    for message in &received {
        let value = u32::from_be_bytes(message.value.as_slice().try_into().unwrap());
        per_key
            .entry((message.topic.clone(), message.key.clone().unwrap()))
            .or_default()
            .push(value);
        assert_eq!(
            message.timestamp_ms,
            Some(1_750_000_000_000 + i64::from(value)),
            "the record keeps its timestamp"
        );
    }
    for (key, values) in per_key {
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "{key:?} out of order: {values:?}"
        );
    }
    if layout.partitions > 1 {
        let partitions: std::collections::BTreeSet<i32> =
            received.iter().map(|m| m.partition).collect();
        assert!(
            partitions.len() > 1,
            "keys spread over partitions: {partitions:?}"
        );
    }
}

#[test]
fn what_is_published_is_acknowledged_and_read_back_in_order_per_key() {
    let broker = Arc::new(EmbeddedBroker::start(None).unwrap());
    publish_and_read_back(
        &broker,
        TopicLayout {
            partitions: 3,
            replication: 1,
        },
    );
}

#[test]
fn thousands_of_topics_are_shared_among_producers_and_every_record_arrives_in_order() {
    let broker = Arc::new(EmbeddedBroker::start(None).unwrap());
    let share = KafkaPublisher::TOPICS_PER_PRODUCER;
    // Two full shares and one topic: three producers. Half the topics are known at connection,
    // half turn up with their first record, as in a replay of a recording.
    let topics: Vec<String> = (0..2 * share + 1).map(|i| format!("many.{i:05}")).collect();
    let (first, later) = topics.split_at(share);
    let publisher = KafkaPublisher::embedded(
        Arc::clone(&broker),
        &Settings::default(),
        TopicLayout::default(),
        first,
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(publisher.producers(), 1, "a share is one producer's");
    for n in 0..3 {
        for topic in first.iter().chain(later) {
            publisher.publish(record(topic, "k", n));
        }
    }
    let report = publisher.finish(Duration::from_secs(60));
    assert!(report.all_delivered(), "{report}");
    assert_eq!(report.total().delivered, 3 * topics.len() as u64);
    assert_eq!(report.topics.len(), topics.len());
    assert_eq!(publisher.producers(), 3);

    // One topic of each producer's share, read back: its three records, in order.
    let sample = [&topics[0], &topics[share], &topics[2 * share]];
    let received = read_all(broker.bootstrap_servers(), &sample.map(String::as_str));
    for topic in sample {
        let values: Vec<u32> = received
            .iter()
            .filter(|m| &m.topic == topic)
            .map(|m| u32::from_be_bytes(m.value.as_slice().try_into().unwrap()))
            .collect();
        assert_eq!(values, [0, 1, 2], "{topic}");
    }
}

/// kafka-go's `Hash` balancer, which AliECS's core writer uses (Sarama's hash partitioner):
/// FNV-1a of the key as a signed 32-bit integer, Go's remainder, made positive.
fn kafka_go_hash_partition(key: &[u8], partitions: i32) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    #[allow(clippy::cast_possible_wrap)] // Go's int32(hash): the wrap is the point
    let signed = hash as i32;
    (signed % partitions).abs()
}

#[test]
fn keyed_records_land_on_the_partition_kafka_go_hash_picks() {
    // The helper against values worked out by hand (FNV-1a 0xeccfc0fa is negative as int32).
    assert_eq!(kafka_go_hash_partition(b"2v9orU9KHFx", 3), 0);
    assert_eq!(kafka_go_hash_partition(b"2v9orU9KVQo", 3), 1);
    assert_eq!(kafka_go_hash_partition(b"RUNNING", 3), 2);
    assert_eq!(kafka_go_hash_partition(b"env-0", 5), 4);

    let broker = Arc::new(EmbeddedBroker::start(None).unwrap());
    let layout = TopicLayout {
        partitions: 5,
        replication: 1,
    };
    let publisher = KafkaPublisher::embedded(
        Arc::clone(&broker),
        &Settings::default(),
        layout,
        &["t.keys".to_owned()],
        Duration::from_secs(10),
    )
    .unwrap();
    for n in 0..200 {
        publisher.publish(record("t.keys", &format!("2v9orU9K{n:03}"), n));
    }
    assert!(publisher.finish(Duration::from_secs(30)).all_delivered());
    let received = read_all(broker.bootstrap_servers(), &["t.keys"]);
    assert_eq!(received.len(), 200);
    let mut used = std::collections::BTreeSet::new();
    for message in &received {
        let key = message.key.as_deref().unwrap();
        assert_eq!(
            message.partition,
            kafka_go_hash_partition(key, 5),
            "{}",
            String::from_utf8_lossy(key)
        );
        used.insert(message.partition);
    }
    assert_eq!(used.len(), 5, "200 keys use every partition");
}

#[test]
fn a_fixed_port_is_served_and_a_taken_one_is_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = Arc::new(EmbeddedBroker::start(Some(port)).unwrap());
    assert_eq!(broker.bootstrap_servers(), format!("127.0.0.1:{port}"));
    publish_and_read_back(&broker, TopicLayout::default());

    let taken = EmbeddedBroker::start(Some(port)).unwrap_err();
    assert!(
        taken.to_string().contains(&format!("127.0.0.1:{port}")),
        "{taken}"
    );
}

#[test]
fn an_unreachable_broker_is_reported_after_the_timeout() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let error = KafkaPublisher::connect(
        &Settings::brokers(format!("127.0.0.1:{closed}")),
        TopicLayout::default(),
        &[],
        Duration::from_secs(2),
    )
    .unwrap_err();
    assert!(matches!(error, ConnectError::Unreachable { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{closed}"))
            && message.contains("nothing was published"),
        "{message}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn reading_without_a_broker_says_so() {
    let options = ReadOptions {
        settings: Settings::default(),
        topics: vec!["aliecs.*".into()],
        from_beginning: true,
        count: Some(1),
        idle: None,
        to_end: false,
        deadline: None,
        timeout: Duration::from_secs(1),
        stop: None,
    };
    let error = read(&options, |_| ControlFlow::Continue(())).unwrap_err();
    assert!(error.to_string().contains("--brokers"), "{error}");
}
