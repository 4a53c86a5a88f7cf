//! The broker through real clients' eyes: librdkafka (rdkafka) for what clients ask, raw
//! frames for what a client newer than the broker sends first.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    time::Duration,
};

use ecsim_broker::{Broker, Config};
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
