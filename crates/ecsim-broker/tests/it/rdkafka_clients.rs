//! The broker through librdkafka's eyes (rdkafka) for what clients ask, and raw frames for
//! what a client newer than the broker sends first.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    time::Duration,
};

use ecsim_broker::{Broker, Config};
use futures::executor::block_on;
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer as _},
    producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer},
};

const TIMEOUT: Duration = Duration::from_secs(10);

fn producer(broker: &Broker) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", broker.address().to_string())
        .set("linger.ms", "0")
        .create()
        .expect("a producer")
}

#[test]
fn offsets_for_times_finds_the_first_record_at_or_after_each_time() {
    let broker = Broker::start(Config::default()).expect("the broker starts");
    broker.ensure_topic("aliecs.run", 1).expect("a topic");
    let producer = producer(&broker);
    // One record a second from 10:00:00, each in a request of its own.
    let ten = 1_750_000_000_000_i64;
    for i in 0..10 {
        producer
            .send(
                BaseRecord::to("aliecs.run")
                    .key("env")
                    .payload(&format!("record {i}"))
                    .timestamp(ten + i * 1000),
            )
            .expect("queued");
        producer.flush(TIMEOUT).expect("delivered");
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address().to_string())
        .set("group.id", "offsets-for-times")
        .create()
        .expect("a consumer");
    let at = |millis: i64| -> Offset {
        let mut wanted = TopicPartitionList::new();
        wanted
            .add_partition_offset("aliecs.run", 0, Offset::Offset(millis))
            .expect("a partition");
        let found = consumer
            .offsets_for_times(wanted, TIMEOUT)
            .expect("an answer");
        found.elements()[0].offset()
    };
    assert_eq!(at(ten), Offset::Offset(0));
    assert_eq!(
        at(ten + 4_500),
        Offset::Offset(5),
        "between records: the next one"
    );
    assert_eq!(at(ten - 60_000), Offset::Offset(0));
    assert_eq!(at(ten + 60_000), Offset::End, "after the last record: none");
}

/// ApiVersions v9 from a client newer than the broker gets, as the protocol says, a version 0
/// reply with UNSUPPORTED_VERSION and the versions served, so that it can ask again.
#[test]
fn a_newer_client_is_told_which_api_versions_are_served() {
    let broker = Broker::start(Config::default()).expect("the broker starts");
    let mut stream = TcpStream::connect(broker.address()).expect("connects");
    // ApiVersions (key 18) v9, correlation id 7, client id "future", empty body.
    let mut request = Vec::new();
    request.extend_from_slice(&18_i16.to_be_bytes());
    request.extend_from_slice(&9_i16.to_be_bytes());
    request.extend_from_slice(&7_i32.to_be_bytes());
    request.extend_from_slice(&6_i16.to_be_bytes());
    request.extend_from_slice(b"future");
    let mut frame = (request.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&request);
    stream.write_all(&frame).expect("sent");

    let mut size = [0; 4];
    stream.read_exact(&mut size).expect("a reply");
    let mut reply = vec![0; u32::from_be_bytes(size) as usize];
    stream.read_exact(&mut reply).expect("the whole reply");
    assert_eq!(&reply[..4], &7_i32.to_be_bytes(), "the correlation id");
    assert_eq!(&reply[4..6], &35_i16.to_be_bytes(), "UNSUPPORTED_VERSION");
    let apis = i32::from_be_bytes(reply[6..10].try_into().expect("4 bytes"));
    let served: Vec<(i16, i16, i16)> = reply[10..]
        .chunks_exact(6)
        .take(usize::try_from(apis).expect("a count"))
        .map(|c| {
            let n = |i: usize| i16::from_be_bytes([c[i], c[i + 1]]);
            (n(0), n(2), n(4))
        })
        .collect();
    assert!(served.contains(&(18, 0, 3)), "ApiVersions 0-3: {served:?}");
    assert!(
        served.iter().any(|(key, _, _)| *key == 1),
        "Fetch is served"
    );
}

/// Topic administration as clients do it (rdkafka's admin client: CreateTopics, DeleteTopics),
/// with Kafka's errors for a topic that exists, a name Kafka refuses, a topic that does not.
#[test]
fn topics_are_created_and_deleted_through_the_admin_api_with_kafkas_errors() {
    use rdkafka::{
        admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
        client::DefaultClientContext,
        types::RDKafkaErrorCode,
    };
    let broker = Broker::start(Config::default()).expect("the broker starts");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.address().to_string())
        .create()
        .expect("an admin client");
    let options = AdminOptions::new().request_timeout(Some(TIMEOUT));
    let created = block_on(admin.create_topics(
        &[
            NewTopic::new("aliecs.run", 3, TopicReplication::Fixed(1)),
            NewTopic::new("not a name", 1, TopicReplication::Fixed(1)),
        ],
        &options,
    ))
    .expect("an answer");
    assert_eq!(created[0], Ok("aliecs.run".to_owned()));
    assert!(
        matches!(&created[1], Err((_, RDKafkaErrorCode::InvalidTopic))),
        "{:?}",
        created[1]
    );
    let again = block_on(admin.create_topics(
        &[NewTopic::new("aliecs.run", 1, TopicReplication::Fixed(1))],
        &options,
    ))
    .expect("an answer");
    assert!(matches!(
        &again[0],
        Err((_, RDKafkaErrorCode::TopicAlreadyExists))
    ));
    assert_eq!(
        broker
            .topics()
            .iter()
            .find(|(name, _)| name == "aliecs.run")
            .map(|(_, partitions)| partitions.len()),
        Some(3),
        "the first creation's partitions stay"
    );

    let deleted =
        block_on(admin.delete_topics(&["aliecs.run", "never.made"], &options)).expect("an answer");
    assert_eq!(deleted[0], Ok("aliecs.run".to_owned()));
    assert!(matches!(
        &deleted[1],
        Err((_, RDKafkaErrorCode::UnknownTopicOrPartition))
    ));
    assert!(broker.topics().is_empty());
}

/// A consumer group as monitoring tools see it (ListGroups, DescribeGroups through librdkafka):
/// its state, protocol and member.
#[test]
fn a_consumer_group_is_listed_and_described() {
    let broker = Broker::start(Config::default()).expect("the broker starts");
    broker.ensure_topic("aliecs.core", 1).expect("a topic");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address().to_string())
        .set("group.id", "bookkeeping")
        .create()
        .expect("a consumer");
    consumer.subscribe(&["aliecs.core"]).expect("subscribed");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while consumer.assignment().map_or(0, |a| a.count()) == 0 {
        assert!(std::time::Instant::now() < deadline, "never assigned");
        let _ = consumer.poll(Duration::from_millis(50));
    }
    let groups = consumer
        .fetch_group_list(Some("bookkeeping"), TIMEOUT)
        .expect("the group list");
    let group = &groups.groups()[0];
    assert_eq!(
        (
            group.name(),
            group.state(),
            group.protocol_type(),
            group.protocol()
        ),
        ("bookkeeping", "Stable", "consumer", "range")
    );
    assert_eq!(group.members().len(), 1);
    assert!(group.members()[0].client_host().starts_with("/127.0.0.1"));
}
