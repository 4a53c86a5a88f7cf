//! The data APIs: Metadata, Produce, Fetch, ListOffsets, topic administration, producer ids.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use bytes::Bytes;
use kafka_protocol::{
    ResponseError,
    messages::{
        BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
        DeleteTopicsResponse, FetchRequest, FetchResponse, InitProducerIdRequest,
        InitProducerIdResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest,
        MetadataResponse, ProduceRequest, ProduceResponse, ProducerId, TopicName,
        create_topics_response::CreatableTopicResult,
        delete_topics_response::DeletableTopicResult,
        fetch_response::{FetchableTopicResponse, PartitionData},
        list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse},
        metadata_response::{
            MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
        },
        produce_response::{PartitionProduceResponse, TopicProduceResponse},
    },
    protocol::StrBytes,
};

use crate::{CLUSTER_ID, NODE_ID, dispatch::Context, log::Topic};

fn code(error: ResponseError) -> i16 {
    error.code()
}

/// The longest a fetch may wait, whatever the client asks: a client's `MaxWait` is normally
/// well under its request timeout; this keeps a mistaken one from pinning a connection.
const MAX_FETCH_WAIT: Duration = Duration::from_secs(30);

pub(crate) fn metadata(context: &Context<'_>, request: MetadataRequest) -> MetadataResponse {
    let store = &context.shared.store;
    let version = context.version;
    // Version 0 asks for every topic with an empty list; later versions with null.
    let wanted = match request.topics {
        Some(topics) if !(version == 0 && topics.is_empty()) => Some(topics),
        _ => None,
    };
    let auto_create = version < 4 || request.allow_auto_topic_creation;
    let topics = match wanted {
        None => store
            .all()
            .into_iter()
            .map(|(name, topic)| describe_topic(&name, Some(&topic), 0))
            .collect(),
        Some(wanted) => wanted
            .into_iter()
            .map(|wanted| {
                let name = match wanted.name {
                    Some(name) => name.0.to_string(),
                    None => store
                        .all()
                        .into_iter()
                        .find(|(_, topic)| topic.id == wanted.topic_id)
                        .map(|(name, _)| name)
                        .unwrap_or_default(),
                };
                match store.get(&name) {
                    Some(topic) => describe_topic(&name, Some(&topic), 0),
                    None if auto_create => {
                        match store.get_or_create(&name, context.shared.auto_create_partitions) {
                            Ok(topic) => describe_topic(&name, Some(&topic), 0),
                            Err(error) => describe_topic(&name, None, error.code()),
                        }
                    }
                    None => {
                        describe_topic(&name, None, code(ResponseError::UnknownTopicOrPartition))
                    }
                }
            })
            .collect(),
    };
    let address = context.shared.advertised;
    MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(NODE_ID))
                .with_host(StrBytes::from_string(address.ip().to_string()))
                .with_port(i32::from(address.port())),
        ])
        .with_cluster_id(Some(StrBytes::from_static_str(CLUSTER_ID)))
        .with_controller_id(BrokerId(NODE_ID))
        .with_topics(topics)
}

fn describe_topic(name: &str, topic: Option<&Topic>, error: i16) -> MetadataResponseTopic {
    let described = MetadataResponseTopic::default()
        .with_error_code(error)
        .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))));
    let Some(topic) = topic else {
        return described;
    };
    described.with_topic_id(topic.id).with_partitions(
        (0..topic.partition_count())
            .map(|index| {
                MetadataResponsePartition::default()
                    .with_partition_index(i32::try_from(index).unwrap_or(i32::MAX))
                    .with_leader_id(BrokerId(NODE_ID))
                    .with_replica_nodes(vec![BrokerId(NODE_ID)])
                    .with_isr_nodes(vec![BrokerId(NODE_ID)])
            })
            .collect(),
    )
}

/// `None` for acks=0, which Kafka does not answer.
pub(crate) fn produce(context: &Context<'_>, request: ProduceRequest) -> Option<ProduceResponse> {
    let store = &context.shared.store;
    let mut appended = false;
    let responses = request
        .topic_data
        .into_iter()
        .map(|topic_data| {
            let topic = store.get(&topic_data.name.0);
            let partitions = topic_data
                .partition_data
                .into_iter()
                .map(|data| {
                    let response = PartitionProduceResponse::default().with_index(data.index);
                    let Some(mut log) = topic.as_ref().and_then(|t| t.partition(data.index)) else {
                        return response
                            .with_error_code(code(ResponseError::UnknownTopicOrPartition));
                    };
                    let records = data.records.unwrap_or_default();
                    match log.append(&records) {
                        Ok(base_offset) => {
                            appended = true;
                            response.with_base_offset(base_offset)
                        }
                        Err(error) => response
                            .with_error_code(error.code())
                            .with_error_message(Some(StrBytes::from_string(error.to_string()))),
                    }
                })
                .collect();
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_partition_responses(partitions)
        })
        .collect();
    if appended {
        store.notify_appended();
    }
    (request.acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

/// Answers when there is at least `min_bytes` to give, on an error, or at the client's
/// `max_wait_ms` — woken by every append, so a waiting consumer gets a record as soon as it
/// is stored.
pub(crate) async fn fetch(context: &Context<'_>, request: FetchRequest) -> FetchResponse {
    let store = &context.shared.store;
    let wait =
        Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_FETCH_WAIT);
    let deadline = tokio::time::Instant::from_std(Instant::now() + wait);
    let mut appends = store.watch_appends();
    loop {
        // Marked seen before looking, so that an append after the look wakes the wait.
        appends.borrow_and_update();
        let (response, bytes, failed) = read_for_fetch(context, &request);
        let enough = bytes >= usize::try_from(request.min_bytes).unwrap_or(0).max(1);
        if enough || failed || tokio::time::Instant::now() >= deadline {
            return response;
        }
        tokio::select! {
            changed = appends.changed() => if changed.is_err() { return response },
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// The response as things are now, its record bytes, and whether a partition had an error.
fn read_for_fetch(context: &Context<'_>, request: &FetchRequest) -> (FetchResponse, usize, bool) {
    let store = &context.shared.store;
    let mut budget = usize::try_from(request.max_bytes).unwrap_or(usize::MAX);
    let mut total = 0;
    let mut failed = false;
    let responses = request
        .topics
        .iter()
        .map(|wanted| {
            let topic = store.get(&wanted.topic);
            let partitions = wanted
                .partitions
                .iter()
                .map(|partition| {
                    let data = PartitionData::default().with_partition_index(partition.partition);
                    let Some(log) = topic
                        .as_ref()
                        .and_then(|t| t.partition(partition.partition))
                    else {
                        failed = true;
                        return data.with_error_code(code(ResponseError::UnknownTopicOrPartition));
                    };
                    let limit = usize::try_from(partition.partition_max_bytes)
                        .unwrap_or(0)
                        .min(budget);
                    let Some(read) = log.read(partition.fetch_offset, limit) else {
                        failed = true;
                        return data
                            .with_error_code(code(ResponseError::OffsetOutOfRange))
                            .with_high_watermark(log.next_offset())
                            .with_last_stable_offset(log.next_offset())
                            .with_log_start_offset(0);
                    };
                    // The first batch of a response always comes (KIP-74); after it, only
                    // what fits.
                    let records = if total > 0 && read.records.len() > limit {
                        Bytes::new()
                    } else {
                        read.records
                    };
                    total += records.len();
                    budget = budget.saturating_sub(records.len());
                    data.with_high_watermark(read.high_watermark)
                        .with_last_stable_offset(read.high_watermark)
                        .with_log_start_offset(0)
                        .with_records(Some(records))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(wanted.topic.clone())
                .with_topic_id(wanted.topic_id)
                .with_partitions(partitions)
        })
        .collect();
    // Session id 0: no fetch session (KIP-227 lets a broker decline), so clients send full
    // fetches.
    (
        FetchResponse::default()
            .with_session_id(0)
            .with_responses(responses),
        total,
        failed,
    )
}

/// Kafka's special timestamps in ListOffsets.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

pub(crate) fn list_offsets(
    context: &Context<'_>,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let store = &context.shared.store;
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let topic = store.get(&wanted.name);
            let partitions = wanted
                .partitions
                .into_iter()
                .map(|partition| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(partition.partition_index);
                    let Some(log) = topic
                        .as_ref()
                        .and_then(|t| t.partition(partition.partition_index))
                    else {
                        return response
                            .with_error_code(code(ResponseError::UnknownTopicOrPartition));
                    };
                    let found = match partition.timestamp {
                        LATEST => Some((log.next_offset(), -1)),
                        EARLIEST | EARLIEST_LOCAL => Some((0, -1)),
                        MAX_TIMESTAMP => log.max_timestamp(),
                        timestamp if timestamp >= 0 => log.offset_for_timestamp(timestamp),
                        _ => {
                            return response
                                .with_error_code(code(ResponseError::UnsupportedVersion));
                        }
                    };
                    // Nothing at or after the timestamp: Kafka's answer is offset -1.
                    let (offset, timestamp) = found.unwrap_or((-1, -1));
                    response.with_offset(offset).with_timestamp(timestamp)
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(wanted.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

pub(crate) fn create_topics(
    context: &Context<'_>,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let store = &context.shared.store;
    let topics = request
        .topics
        .into_iter()
        .map(|wanted| {
            let partitions = if !wanted.assignments.is_empty() {
                i32::try_from(wanted.assignments.len()).unwrap_or(i32::MAX)
            } else if wanted.num_partitions == -1 {
                context.shared.auto_create_partitions
            } else {
                wanted.num_partitions
            };
            let result = CreatableTopicResult::default()
                .with_name(wanted.name.clone())
                .with_num_partitions(partitions)
                .with_replication_factor(1);
            let created = if request.validate_only {
                store.get(&wanted.name).map_or(Ok(None), |_| {
                    Err(crate::TopicError::Exists(wanted.name.to_string()))
                })
            } else {
                store.create(&wanted.name, partitions).map(Some)
            };
            match created {
                Ok(topic) => result.with_topic_id(topic.map(|t| t.id).unwrap_or_default()),
                Err(error) => result
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(error.to_string()))),
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

pub(crate) fn delete_topics(
    context: &Context<'_>,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let store = &context.shared.store;
    let names: Vec<TopicName> = if request.topic_names.is_empty() {
        request
            .topics
            .into_iter()
            .filter_map(|topic| topic.name)
            .collect()
    } else {
        request.topic_names
    };
    let responses = names
        .into_iter()
        .map(|name| {
            let error = if store.delete(&name) {
                0
            } else {
                code(ResponseError::UnknownTopicOrPartition)
            };
            DeletableTopicResult::default()
                .with_name(Some(name))
                .with_error_code(error)
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}

/// A producer id for idempotent producers (transactions are not supported: nothing
/// coordinates them here).
pub(crate) fn init_producer_id(
    context: &Context<'_>,
    _request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let id = context
        .shared
        .next_producer_id
        .fetch_add(1, Ordering::Relaxed);
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(0)
}
