//! A hostile client's requests, each as the issue that found it sent it: the broker answers
//! with Kafka's error or closes the connection, stays up, serves the next client, and its
//! memory stays far under what the request asked for. (cargo-nextest runs each test in a
//! process of its own, so the resident memory measured is this test's.)

use std::{net::SocketAddr, time::Duration};

use bytes::{BufMut as _, Bytes, BytesMut};
use ecsim_broker::{Broker, Config, Limits};
use kafka_protocol::{
    ResponseError,
    messages::{
        ApiKey, ApiVersionsRequest, CreateTopicsRequest, FetchRequest, FindCoordinatorRequest,
        GroupId, InitProducerIdRequest, ListGroupsRequest, ListOffsetsRequest, MetadataRequest,
        OffsetCommitRequest, ProduceRequest, TransactionalId,
        create_topics_request::CreatableTopic,
        fetch_request::{FetchPartition, FetchTopic},
        list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic},
        offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic},
        produce_request::{PartitionProduceData, TopicProduceData},
    },
    protocol::StrBytes,
    records::Compression,
};

use crate::wire::{Wire, api, batch, name, rss};

const MIB: usize = 1024 * 1024;

fn broker(limits: Limits) -> Broker {
    Broker::start(Config {
        limits,
        ..Config::default()
    })
    .expect("the broker starts")
}

/// The broker still answers a well-behaved client.
fn still_serves(address: SocketAddr) {
    let versions = Wire::connect(address).call(&ApiVersionsRequest::default(), 3);
    assert_eq!(versions.error_code, 0);
    assert!(!versions.api_keys.is_empty());
}

fn produce(wire: &mut Wire, topic: &str, records: Bytes) -> (i16, i64) {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    let response = wire.call(&request, 7);
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

fn offset_for_time(wire: &mut Wire, topic: &str, timestamp: i64) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(timestamp),
                ]),
        ]);
    let response = wire.call(&request, 5);
    let partition = &response.topics[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    partition.offset
}

#[test]
fn a_count_larger_than_the_request_reserves_nothing() {
    let broker = broker(Limits::default());
    let before = rss();
    // Metadata v1: the header (api key, version, correlation id, no client id), then a topic
    // count of 2^31-1 and nothing after it: 154 GB of topics, claimed in 18 bytes.
    let mut frame = BytesMut::new();
    frame.put_u32(14);
    frame.put_i16(api(ApiKey::Metadata));
    frame.put_i16(1);
    frame.put_i32(1);
    frame.put_i16(-1);
    frame.put_i32(i32::MAX);
    let mut wire = Wire::connect(broker.address());
    wire.send_raw(&frame).unwrap();
    assert!(
        wire.closed(),
        "a request that does not decode closes its connection"
    );
    // The same with a compact array (Metadata v12, flexible): a varint count of 2^32-2.
    let mut frame = BytesMut::new();
    let body: &[u8] = &[
        0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f,
    ];
    frame.put_u32(u32::try_from(body.len()).unwrap());
    frame.extend_from_slice(body);
    let mut wire = Wire::connect(broker.address());
    wire.send_raw(&frame).unwrap();
    assert!(wire.closed());
    still_serves(broker.address());
    assert!(
        rss() < before + 64 * MIB,
        "{} MiB more",
        (rss() - before) / MIB
    );
}

#[test]
fn a_claimed_frame_length_costs_nothing_until_its_bytes_come_and_idle_connections_make_room() {
    let broker = broker(Limits::default());
    let before = rss();
    // 1,200 connections, each sending only a 4-byte length of 100 MiB: past the limit of 1,000
    // connections, the ones idle the longest are closed to make room.
    let mut waiting: Vec<Wire> = (0..1_200)
        .map(|_| {
            let mut wire = Wire::connect(broker.address());
            wire.send_raw(&u32::try_from(100 * MIB).unwrap().to_be_bytes())
                .unwrap();
            wire
        })
        .collect();
    still_serves(broker.address());
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 200 * MIB,
        "{} MiB for 1,200 claims of 100 MiB",
        grown / MIB
    );
    assert!(
        waiting[0].closed(),
        "the first, idle the longest, made room"
    );
    drop(waiting.drain(..));
}

#[test]
fn one_fetch_naming_a_partition_many_times_answers_it_once_within_fetch_max_bytes() {
    let broker = broker(Limits::default());
    broker.ensure_topic("aliecs.run", 1).unwrap();
    let mut wire = Wire::connect(broker.address());
    for i in 0..10 {
        let (error, _) = produce(
            &mut wire,
            "aliecs.run",
            batch(&[i], Compression::None, 100_000),
        );
        assert_eq!(error, 0);
    }
    let before = rss();
    let partitions = vec![
        FetchPartition::default()
            .with_partition(0)
            .with_fetch_offset(0)
            .with_partition_max_bytes(i32::MAX);
        1_400
    ];
    let request = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(i32::MAX)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name("aliecs.run"))
                .with_partitions(partitions),
        ]);
    let response = wire.call(&request, 11);
    let answered = &response.responses[0].partitions;
    assert_eq!(answered.len(), 1, "the partition is answered once");
    let records = answered[0].records.as_ref().unwrap();
    assert!(
        records.len() > 1_000_000 && records.len() < 1_100_000,
        "{}",
        records.len()
    );
    assert!(
        rss() < before + 64 * MIB,
        "{} MiB more",
        (rss() - before) / MIB
    );
    still_serves(broker.address());
}

#[test]
fn a_compressed_batch_inflating_past_the_limit_is_refused_and_lookups_stay_quick() {
    let broker = broker(Limits::default());
    broker.ensure_topic("bomb", 1).unwrap();
    let mut wire = Wire::connect(broker.address());
    // 1 GiB of one byte, compressed by zstd to about 32 KB.
    let bomb = batch(&[1_000], Compression::Zstd, 1024 * MIB);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let before = rss();
    let (error, _) = produce(&mut wire, "bomb", bomb);
    assert_eq!(error, ResponseError::MessageTooLarge.code());
    assert!(
        rss() < before + 128 * MIB,
        "{} MiB more",
        (rss() - before) / MIB
    );
    let (error, offset) = produce(&mut wire, "bomb", batch(&[2_000], Compression::Zstd, 10));
    assert_eq!((error, offset), (0, 0), "nothing of the bomb was stored");
    let started = std::time::Instant::now();
    assert_eq!(offset_for_time(&mut wire, "bomb", 1_500), 0);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn garbage_records_with_a_good_checksum_are_corrupt_and_what_follows_is_readable() {
    let broker = broker(Limits::default());
    broker.ensure_topic("t", 1).unwrap();
    let mut wire = Wire::connect(broker.address());
    let mut garbage = BytesMut::from(&batch(&[1, 2, 3], Compression::None, 20)[..]);
    for byte in &mut garbage[61..] {
        *byte = 0x81;
    }
    let crc = crc32c::crc32c(&garbage[21..]);
    (&mut garbage[17..21]).put_u32(crc);
    let (error, _) = produce(&mut wire, "t", garbage.freeze());
    assert_eq!(error, ResponseError::CorruptMessage.code());
    // A batch claiming 2^31-1 records in a few bytes.
    let mut claims = BytesMut::from(&batch(&[1], Compression::None, 1)[..]);
    (&mut claims[23..27]).put_i32(i32::MAX - 1);
    (&mut claims[57..61]).put_i32(i32::MAX);
    let crc = crc32c::crc32c(&claims[21..]);
    (&mut claims[17..21]).put_u32(crc);
    let (error, _) = produce(&mut wire, "t", claims.freeze());
    assert_eq!(error, ResponseError::CorruptMessage.code());

    let (error, offset) = produce(&mut wire, "t", batch(&[5], Compression::None, 20));
    assert_eq!(
        (error, offset),
        (0, 0),
        "the good record is the first stored"
    );
    assert_eq!(offset_for_time(&mut wire, "t", 0), 0);
}

#[test]
fn sarama_s_max_timestamp_of_minus_one_is_found_by_time() {
    let broker = broker(Limits::default());
    broker.ensure_topic("t", 1).unwrap();
    let mut wire = Wire::connect(broker.address());
    let mut sent = BytesMut::from(&batch(&[100, 200], Compression::None, 5)[..]);
    (&mut sent[35..43]).put_i64(-1);
    let crc = crc32c::crc32c(&sent[21..]);
    (&mut sent[17..21]).put_u32(crc);
    assert_eq!(produce(&mut wire, "t", sent.freeze()).0, 0);
    assert_eq!(offset_for_time(&mut wire, "t", 150), 1);
    assert_eq!(
        offset_for_time(&mut wire, "t", -3),
        1,
        "the record with the largest time"
    );
}

#[test]
fn connections_idle_past_the_timeout_are_closed() {
    let broker = broker(Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let mut wire = Wire::connect(broker.address());
    std::thread::sleep(Duration::from_millis(600));
    assert!(wire.closed());
    still_serves(broker.address());
}

#[test]
fn a_request_other_than_produce_past_its_limit_closes_its_connection() {
    let broker = broker(Limits::default());
    let mut wire = Wire::connect(broker.address());
    let mut frame = BytesMut::new();
    frame.put_u32(u32::try_from(9 * MIB).unwrap());
    frame.put_i16(api(ApiKey::Metadata));
    frame.put_i16(1);
    frame.extend_from_slice(&vec![0; 128 * 1024]);
    let _ = wire.send_raw(&frame);
    assert!(wire.closed());
    still_serves(broker.address());
}

#[test]
fn groups_partitions_and_stored_bytes_have_ceilings_with_kafkas_errors() {
    let broker = broker(Limits {
        max_groups: 100,
        max_partitions: 1_000,
        max_stored_bytes: 10_000,
        ..Limits::default()
    });
    let mut wire = Wire::connect(broker.address());
    let commit = |group: usize| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(format!("g{group}"))))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(name("t"))
                    .with_partitions(vec![
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(1),
                    ]),
            ])
    };
    let errors: Vec<i16> = (0..150)
        .map(|group| wire.call(&commit(group), 8).topics[0].partitions[0].error_code)
        .collect();
    assert!(errors[..100].iter().all(|&e| e == 0));
    assert!(
        errors[100..]
            .iter()
            .all(|&e| e == ResponseError::PolicyViolation.code())
    );
    assert_eq!(
        wire.call(&ListGroupsRequest::default(), 4).groups.len(),
        100
    );

    let topics: Vec<CreatableTopic> = (0..10)
        .map(|i| {
            CreatableTopic::default()
                .with_name(name(&format!("p{i}")))
                .with_num_partitions(150)
                .with_replication_factor(1)
        })
        .collect();
    let created = wire.call(&CreateTopicsRequest::default().with_topics(topics), 5);
    let codes: Vec<i16> = created.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(codes[..6], [0; 6]);
    assert!(
        codes[6..]
            .iter()
            .all(|&c| c == ResponseError::PolicyViolation.code())
    );
    let all = wire.call(&MetadataRequest::default().with_topics(None), 12);
    assert_eq!(all.topics.len(), 6);

    let mut stored = 0;
    loop {
        let (error, _) = produce(&mut wire, "p0", batch(&[1], Compression::None, 1_000));
        if error != 0 {
            assert_eq!(error, ResponseError::PolicyViolation.code());
            break;
        }
        stored += 1;
    }
    assert_eq!(stored, 9, "10,000 bytes hold nine batches of about 1,080");
    assert!(broker.stored_bytes() <= 10_000);
}

#[test]
fn transactions_are_refused_where_clients_ask_for_them() {
    let broker = broker(Limits::default());
    let mut wire = Wire::connect(broker.address());
    let refused = ResponseError::TransactionalIdAuthorizationFailed.code();
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("tx"))))
        .with_transaction_timeout_ms(60_000);
    assert_eq!(wire.call(&init, 4).error_code, refused);
    let idempotent = InitProducerIdRequest::default().with_transactional_id(None);
    assert_eq!(
        wire.call(&idempotent, 4).error_code,
        0,
        "idempotence is fine"
    );
    let group = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_static_str("g"))
        .with_key_type(0);
    assert_eq!(
        wire.call(&group, 3).error_code,
        0,
        "groups keep their coordinator"
    );
}

#[test]
fn a_first_batch_larger_than_max_bytes_comes_alone() {
    let broker = broker(Limits::default());
    broker.ensure_topic("two", 2).unwrap();
    let mut wire = Wire::connect(broker.address());
    for partition in 0..2 {
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(name("two"))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(partition)
                            .with_records(Some(batch(&[1], Compression::None, 1_000))),
                    ]),
            ]);
        assert_eq!(
            wire.call(&request, 7).responses[0].partition_responses[0].error_code,
            0
        );
    }
    let partitions = (0..2)
        .map(|partition| {
            FetchPartition::default()
                .with_partition(partition)
                .with_partition_max_bytes(1 << 20)
        })
        .collect();
    let request = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_bytes(10)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name("two"))
                .with_partitions(partitions),
        ]);
    let response = wire.call(&request, 11);
    let sizes: Vec<usize> = response.responses[0]
        .partitions
        .iter()
        .map(|p| p.records.as_ref().map_or(0, Bytes::len))
        .collect();
    assert!(
        sizes[0] > 1_000,
        "KIP-74: the first batch comes whatever max bytes: {sizes:?}"
    );
    assert_eq!(sizes[1], 0, "and nothing after it: {sizes:?}");
}

#[test]
fn idle_connections_past_the_common_file_limit_lock_nobody_out() {
    // The common soft limit, which the broker raises at start (to the hard limit).
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("the file limit");
    if hard < 4_096 {
        return; // Nothing to raise to: the machine's hard limit is the common one.
    }
    rlimit::setrlimit(rlimit::Resource::NOFILE, 1_024, hard).expect("a lower soft limit");
    let broker = broker(Limits::default());
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("the file limit");
    assert_eq!(soft, hard, "raised at start");
    let before = rss();
    // 1,100 connections that never send a byte: this process holds both ends of each.
    let idle: Vec<Wire> = (0..1_100)
        .map(|_| Wire::connect(broker.address()))
        .collect();
    still_serves(broker.address());
    assert!(
        rss() < before + 128 * MIB,
        "{} MiB for 1,100 idle connections",
        (rss() - before) / MIB
    );
    drop(idle);
}

#[test]
fn a_client_that_reads_no_response_gives_its_budget_back() {
    let broker = broker(Limits {
        in_flight_bytes: 4 * MIB,
        stall_timeout: Duration::from_millis(500),
        ..Limits::default()
    });
    broker.ensure_topic("big", 1).unwrap();
    let mut wire = Wire::connect(broker.address());
    for i in 0..3 {
        let (error, _) = produce(&mut wire, "big", batch(&[i], Compression::None, 1_000_000));
        assert_eq!(error, 0);
    }
    let fetch_all = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_bytes(i32::MAX)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name("big"))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_partition_max_bytes(i32::MAX),
                ]),
        ]);
    // Thirty fetches of 3 MB, none of whose responses is read: the broker blocks writing them,
    // holding their bytes in its 4 MiB budget.
    let mut greedy = Wire::connect(broker.address());
    for _ in 0..30 {
        let frame = greedy.frame(&fetch_all, 11);
        greedy.send_raw(&frame).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let response = wire.call(&fetch_all, 11);
    let records = response.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap();
    assert!(records.len() > 3_000_000, "{}", records.len());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served {:?} after the greedy client stalled",
        started.elapsed()
    );
}
