//! One request per API and version the broker advertises (ApiVersions), encoded at that
//! version as a client would, its response decoded at that version and checked for what Kafka's
//! means: the topic described, the record read back, the offset found, the group cycled.

use std::collections::BTreeMap;

use bytes::Bytes;
use ecsim_broker::{Broker, Config};
use kafka_protocol::{
    ResponseError,
    messages::{
        ApiKey, ApiVersionsRequest, BrokerId, CreatePartitionsRequest, CreateTopicsRequest,
        DeleteRecordsRequest, DeleteTopicsRequest, DescribeConfigsRequest, DescribeGroupsRequest,
        FetchRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest, InitProducerIdRequest,
        JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, ListOffsetsRequest,
        MetadataRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest, SyncGroupRequest,
        create_partitions_request::CreatePartitionsTopic,
        create_topics_request::CreatableTopic,
        delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic},
        describe_configs_request::DescribeConfigsResource,
        fetch_request::{FetchPartition, FetchTopic},
        join_group_request::JoinGroupRequestProtocol,
        leave_group_request::MemberIdentity,
        list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic},
        metadata_request::MetadataRequestTopic,
        offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic},
        offset_fetch_request::OffsetFetchRequestTopic,
        produce_request::{PartitionProduceData, TopicProduceData},
        sync_group_request::SyncGroupRequestAssignment,
    },
    protocol::StrBytes,
    records::{Compression, RecordBatchDecoder},
};

use crate::wire::{Wire, batch, name};

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

/// A topic of one partition holding one record (timestamp 1,000), for the requests that read.
fn topic_with_a_record(wire: &mut Wire, topic: &str) {
    let created = wire.call(
        &CreateTopicsRequest::default().with_topics(vec![
            CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(1)
                .with_replication_factor(1),
        ]),
        7,
    );
    assert_eq!(created.topics[0].error_code, 0);
    let produced = wire.call(&produce_request(topic), 9);
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);
}

fn produce_request(topic: &str) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_transactional_id(None)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch(&[1_000], Compression::None, 8))),
                ]),
        ])
}

/// Joins, syncs, heartbeats and leaves a group of one at `version` of each group API (capped
/// at each one's maximum); `None` when every step meant what Kafka's does.
fn group_cycle(
    wire: &mut Wire,
    served: &BTreeMap<i16, (i16, i16)>,
    want: i16,
) -> Result<(), String> {
    let version = |api: ApiKey| {
        let (min, max) = served[&(api as i16)];
        want.clamp(min, max)
    };
    let group = GroupId(s(&format!("group-v{want}")));
    let join = |member: &str| {
        JoinGroupRequest::default()
            .with_group_id(group.clone())
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![
                JoinGroupRequestProtocol::default()
                    .with_name(s("range"))
                    .with_metadata(Bytes::from_static(b"meta")),
            ])
    };
    let join_version = version(ApiKey::JoinGroup);
    let mut joined = wire.call(&join(""), join_version);
    if joined.error_code == ResponseError::MemberIdRequired.code() {
        if join_version < 4 {
            return Err(format!(
                "JoinGroup v{join_version}: MEMBER_ID_REQUIRED before v4"
            ));
        }
        joined = wire.call(&join(&joined.member_id), join_version);
    }
    if joined.error_code != 0 || joined.leader != joined.member_id || joined.members.len() != 1 {
        return Err(format!("JoinGroup v{join_version}: {joined:?}"));
    }
    let member = joined.member_id.clone();
    let sync = SyncGroupRequest::default()
        .with_group_id(group.clone())
        .with_generation_id(joined.generation_id)
        .with_member_id(member.clone())
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(vec![
            SyncGroupRequestAssignment::default()
                .with_member_id(member.clone())
                .with_assignment(Bytes::from_static(b"assigned")),
        ]);
    let synced = wire.call(&sync, version(ApiKey::SyncGroup));
    if synced.error_code != 0 || synced.assignment.as_ref() != b"assigned" {
        return Err(format!("SyncGroup: {synced:?}"));
    }
    let heartbeat = HeartbeatRequest::default()
        .with_group_id(group.clone())
        .with_generation_id(joined.generation_id)
        .with_member_id(member.clone());
    let beat = wire.call(&heartbeat, version(ApiKey::Heartbeat));
    if beat.error_code != 0 {
        return Err(format!("Heartbeat: {beat:?}"));
    }
    let described = wire.call(
        &DescribeGroupsRequest::default().with_groups(vec![group.clone()]),
        version(ApiKey::DescribeGroups),
    );
    let described = &described.groups[0];
    if described.group_state.as_str() != "Stable" || described.members.len() != 1 {
        return Err(format!("DescribeGroups: {described:?}"));
    }
    let leave_version = version(ApiKey::LeaveGroup);
    let leave = if leave_version < 3 {
        LeaveGroupRequest::default()
            .with_group_id(group.clone())
            .with_member_id(member.clone())
    } else {
        LeaveGroupRequest::default()
            .with_group_id(group.clone())
            .with_members(vec![
                MemberIdentity::default().with_member_id(member.clone()),
            ])
    };
    let left = wire.call(&leave, leave_version);
    if left.error_code != 0 || left.members.iter().any(|m| m.error_code != 0) {
        return Err(format!("LeaveGroup v{leave_version}: {left:?}"));
    }
    let listed = wire.call(&ListGroupsRequest::default(), version(ApiKey::ListGroups));
    let this = listed.groups.iter().find(|g| g.group_id == group);
    if this.is_none_or(|g| g.protocol_type.as_str() != "consumer") {
        return Err(format!(
            "ListGroups: an empty group keeps its protocol type: {this:?}"
        ));
    }
    Ok(())
}

/// One API at one version: `Err` with what differs from Kafka's meaning.
fn check(
    wire: &mut Wire,
    served: &BTreeMap<i16, (i16, i16)>,
    api: ApiKey,
    v: i16,
) -> Result<(), String> {
    let topic = format!("conformance-{}-v{v}", api as i16);
    match api {
        ApiKey::ApiVersions => {
            let r = wire.call(&ApiVersionsRequest::default(), v);
            (r.error_code == 0 && r.api_keys.len() == served.len())
                .then_some(())
                .ok_or(format!("{r:?}"))
        }
        ApiKey::Metadata => {
            topic_with_a_record(wire, &topic);
            let wanted = MetadataRequestTopic::default().with_name(Some(name(&topic)));
            let r = wire.call(
                &MetadataRequest::default().with_topics(Some(vec![wanted])),
                v,
            );
            let t = &r.topics[0];
            (r.brokers.len() == 1
                && t.error_code == 0
                && t.partitions.len() == 1
                && t.partitions[0].leader_id == BrokerId(1))
            .then_some(())
            .ok_or(format!("{r:?}"))
        }
        ApiKey::Produce if v < 3 => Ok(()), // old formats: kafka-protocol cannot encode them (legacy.rs)
        ApiKey::Produce => {
            wire.call(
                &CreateTopicsRequest::default().with_topics(vec![
                    CreatableTopic::default()
                        .with_name(name(&topic))
                        .with_num_partitions(1)
                        .with_replication_factor(1),
                ]),
                7,
            );
            let r = wire.call(&produce_request(&topic), v);
            let p = &r.responses[0].partition_responses[0];
            (p.error_code == 0 && p.base_offset == 0)
                .then_some(())
                .ok_or(format!("{r:?}"))
        }
        ApiKey::Fetch => {
            topic_with_a_record(wire, &topic);
            let request = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(100)
                .with_min_bytes(1)
                .with_max_bytes(1 << 20)
                .with_topics(vec![
                    FetchTopic::default()
                        .with_topic(name(&topic))
                        .with_partitions(vec![
                            FetchPartition::default()
                                .with_partition(0)
                                .with_fetch_offset(0)
                                .with_partition_max_bytes(1 << 20),
                        ]),
                ]);
            let r = wire.call(&request, v);
            let p = &r.responses[0].partitions[0];
            let mut records = p.records.clone().unwrap_or_default();
            let read = RecordBatchDecoder::decode_all(&mut records).map_err(|e| e.to_string())?;
            (p.error_code == 0 && p.high_watermark == 1 && read[0].records[0].offset == 0)
                .then_some(())
                .ok_or(format!("{p:?}"))
        }
        ApiKey::ListOffsets => {
            topic_with_a_record(wire, &topic);
            let at = |timestamp| {
                ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(vec![
                        ListOffsetsTopic::default()
                            .with_name(name(&topic))
                            .with_partitions(vec![
                                ListOffsetsPartition::default()
                                    .with_partition_index(0)
                                    .with_timestamp(timestamp),
                            ]),
                    ])
            };
            let latest = wire.call(&at(-1), v).topics[0].partitions[0].offset;
            let by_time = wire.call(&at(500), v).topics[0].partitions[0].offset;
            (latest == 1 && by_time == 0)
                .then_some(())
                .ok_or(format!("latest {latest}, at 500 ms {by_time}"))
        }
        ApiKey::OffsetCommit if v < 2 => Ok(()), // kafka-protocol cannot encode them (legacy.rs)
        ApiKey::OffsetCommit | ApiKey::OffsetFetch => {
            let group = GroupId(s(&topic));
            if api == ApiKey::OffsetCommit {
                let commit = OffsetCommitRequest::default()
                    .with_group_id(group.clone())
                    .with_generation_id_or_member_epoch(-1)
                    .with_topics(vec![
                        OffsetCommitRequestTopic::default()
                            .with_name(name("t"))
                            .with_partitions(vec![
                                OffsetCommitRequestPartition::default()
                                    .with_partition_index(0)
                                    .with_committed_offset(42),
                            ]),
                    ]);
                let r = wire.call(&commit, v);
                if r.topics[0].partitions[0].error_code != 0 {
                    return Err(format!("{r:?}"));
                }
            }
            let fetch = OffsetFetchRequest::default()
                .with_group_id(group.clone())
                .with_topics(Some(vec![
                    OffsetFetchRequestTopic::default()
                        .with_name(name("t"))
                        .with_partition_indexes(vec![0]),
                ]));
            let fetch_version = if api == ApiKey::OffsetFetch { v } else { 7 };
            let r = wire.call(&fetch, fetch_version);
            let committed = r.topics[0].partitions[0].committed_offset;
            let want = if api == ApiKey::OffsetCommit { 42 } else { -1 };
            (committed == want)
                .then_some(())
                .ok_or(format!("committed {committed}, want {want}"))
        }
        ApiKey::FindCoordinator => {
            let request = if v >= 4 {
                FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g")])
            } else {
                FindCoordinatorRequest::default().with_key(s("g"))
            };
            let r = wire.call(&request, v);
            let node = if v >= 4 {
                r.coordinators[0].node_id
            } else {
                r.node_id
            };
            (node == BrokerId(1)).then_some(()).ok_or(format!("{r:?}"))
        }
        ApiKey::JoinGroup
        | ApiKey::SyncGroup
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::DescribeGroups
        | ApiKey::ListGroups => group_cycle(wire, served, v),
        ApiKey::CreateTopics => {
            let r = wire.call(
                &CreateTopicsRequest::default().with_topics(vec![
                    CreatableTopic::default()
                        .with_name(name(&topic))
                        .with_num_partitions(2)
                        .with_replication_factor(3),
                    CreatableTopic::default()
                        .with_name(name(&format!("{topic}-ok")))
                        .with_num_partitions(2)
                        .with_replication_factor(-1),
                ]),
                v,
            );
            (r.topics[0].error_code == ResponseError::InvalidReplicationFactor.code()
                && r.topics[1].error_code == 0)
                .then_some(())
                .ok_or(format!("{r:?}"))
        }
        ApiKey::DeleteTopics => {
            topic_with_a_record(wire, &topic);
            let r = wire.call(
                &DeleteTopicsRequest::default().with_topic_names(vec![name(&topic)]),
                v,
            );
            let again = wire.call(
                &DeleteTopicsRequest::default().with_topic_names(vec![name(&topic)]),
                v,
            );
            (r.responses[0].error_code == 0
                && again.responses[0].error_code == ResponseError::UnknownTopicOrPartition.code())
            .then_some(())
            .ok_or(format!("{r:?} then {again:?}"))
        }
        ApiKey::CreatePartitions => {
            topic_with_a_record(wire, &topic);
            let grow = |count| {
                CreatePartitionsRequest::default().with_topics(vec![
                    CreatePartitionsTopic::default()
                        .with_name(name(&topic))
                        .with_count(count),
                ])
            };
            let grown = wire.call(&grow(3), v).results[0].error_code;
            let shrunk = wire.call(&grow(2), v).results[0].error_code;
            (grown == 0 && shrunk == ResponseError::InvalidPartitions.code())
                .then_some(())
                .ok_or(format!("grow {grown}, shrink {shrunk}"))
        }
        ApiKey::DeleteRecords => {
            topic_with_a_record(wire, &topic);
            let r = wire.call(
                &DeleteRecordsRequest::default().with_topics(vec![
                    DeleteRecordsTopic::default()
                        .with_name(name(&topic))
                        .with_partitions(vec![
                            DeleteRecordsPartition::default()
                                .with_partition_index(0)
                                .with_offset(1),
                        ]),
                ]),
                v,
            );
            let p = &r.topics[0].partitions[0];
            (p.error_code == 0 && p.low_watermark == 1)
                .then_some(())
                .ok_or(format!("{r:?}"))
        }
        ApiKey::DescribeConfigs => {
            topic_with_a_record(wire, &topic);
            let r = wire.call(
                &DescribeConfigsRequest::default().with_resources(vec![
                    DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(s(&topic))
                        .with_configuration_keys(Some(vec![s("max.message.bytes")])),
                ]),
                v,
            );
            let result = &r.results[0];
            (result.error_code == 0
                && result.configs.len() == 1
                && result.configs[0].value.as_deref() == Some("1048588"))
            .then_some(())
            .ok_or(format!("{r:?}"))
        }
        ApiKey::InitProducerId => {
            let r = wire.call(
                &InitProducerIdRequest::default().with_transactional_id(None),
                v,
            );
            (r.error_code == 0 && r.producer_id.0 >= 0)
                .then_some(())
                .ok_or(format!("{r:?}"))
        }
        other => Err(format!(
            "{other:?} is advertised and has no conformance check"
        )),
    }
}

#[test]
fn every_api_and_version_advertised_means_what_kafkas_does() {
    let broker = Broker::start(Config::default()).expect("the broker starts");
    let mut wire = Wire::connect(broker.address());
    let versions = wire.call(&ApiVersionsRequest::default(), 3);
    let served: BTreeMap<i16, (i16, i16)> = versions
        .api_keys
        .iter()
        .map(|k| (k.api_key, (k.min_version, k.max_version)))
        .collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (&key, &(min, max)) in &served {
        let api = ApiKey::try_from(key).expect("a known API");
        for version in min..=max {
            checked += 1;
            if let Err(what) = check(&mut wire, &served, api, version) {
                failures.push(format!("{api:?} v{version}: {what}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 100, "{checked} API versions");
}
