//! The data APIs: Metadata, Produce, Fetch, ListOffsets, producer ids.
//!
//! A fetch reads at most Kafka's `fetch.max.bytes` (55 MiB) whatever the client asks, names
//! each partition once however often the request does, and holds the bytes it answers with in
//! the broker's in-flight budget before it copies them (`server.rs`).

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use std::{collections::HashSet, pin::Pin, sync::Arc};

use kafka_protocol::{
    ResponseError,
    messages::{
        BrokerId, FetchRequest, FetchResponse, InitProducerIdRequest, InitProducerIdResponse,
        ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest,
        ProduceResponse, ProducerId, TopicName,
        fetch_response::{FetchableTopicResponse, PartitionData},
        list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse},
        metadata_response::{
            MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
        },
        produce_response::{PartitionProduceResponse, TopicProduceResponse},
    },
    protocol::StrBytes,
};

use crate::{
    CLUSTER_ID, NODE_ID,
    batch::Inflation,
    budget::Held,
    context::{Context, code},
    log::Partition,
    store::Topic,
};

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
                        .by_id(wanted.topic_id)
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
    if request.transactional_id.is_some() {
        // No transaction was begun here (InitProducerId refuses them), so none can be written.
        let refused = refuse_all(&request, ResponseError::TransactionalIdAuthorizationFailed);
        return (request.acks != 0).then_some(refused);
    }
    // One budget for the whole request, every partition's batches together.
    let mut inflation = Inflation::per_request();
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
                    let Some((topic, partition)) = topic
                        .as_ref()
                        .and_then(|t| Some((t, t.partition(data.index)?)))
                    else {
                        return response
                            .with_error_code(code(ResponseError::UnknownTopicOrPartition));
                    };
                    let records = data.records.unwrap_or_default();
                    match store.append(topic, &partition, &mut inflation, &records) {
                        Ok(base_offset) => response
                            .with_base_offset(base_offset)
                            .with_log_start_offset(partition.log().start_offset()),
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
    (request.acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

fn refuse_all(request: &ProduceRequest, error: ResponseError) -> ProduceResponse {
    let message = StrBytes::from_static_str(NO_TRANSACTIONS);
    ProduceResponse::default().with_responses(
        request
            .topic_data
            .iter()
            .map(|topic| {
                TopicProduceResponse::default()
                    .with_name(topic.name.clone())
                    .with_partition_responses(
                        topic
                            .partition_data
                            .iter()
                            .map(|data| {
                                PartitionProduceResponse::default()
                                    .with_index(data.index)
                                    .with_error_code(error.code())
                                    .with_error_message(Some(message.clone()))
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

/// Kafka's `fetch.max.bytes` default: the most one fetch response carries, whatever the client
/// asks (a client's own default is at most this).
pub(crate) const MAX_FETCH_BYTES: usize = 57_671_680;

/// One partition a fetch asks for, resolved.
struct Wanted {
    partition: i32,
    fetch_offset: i64,
    max_bytes: usize,
    log: Option<Arc<Partition>>,
}

/// One topic a fetch asks for: as the client named it (name and id), and its partitions.
struct WantedTopic {
    name: TopicName,
    id: uuid::Uuid,
    partitions: Vec<Wanted>,
}

/// Answers when there is at least `min_bytes` to give, on an error, or at the client's
/// `max_wait_ms` — woken by an append to one of its own partitions, so a waiting consumer gets
/// a record as soon as it is stored.
pub(crate) async fn fetch(context: &Context<'_>, request: FetchRequest) -> (FetchResponse, Held) {
    let wait =
        Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_FETCH_WAIT);
    let deadline = tokio::time::Instant::from_std(Instant::now() + wait);
    let max_bytes = usize::try_from(request.max_bytes)
        .unwrap_or(0)
        .min(MAX_FETCH_BYTES);
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0).max(1);
    let wanted = resolve(context, &request);
    let logs: Vec<&Partition> = wanted
        .iter()
        .flat_map(|topic| topic.partitions.iter().filter_map(|p| p.log.as_deref()))
        .collect();
    loop {
        // Listening before looking, so that an append after the look wakes the wait.
        let mut appended: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> = logs
            .iter()
            .map(|log| Box::pin(log.appended().notified()))
            .collect();
        for notified in &mut appended {
            notified.as_mut().enable();
        }
        let (sizes, total, failed) = plan(&wanted, max_bytes);
        if total >= min_bytes || failed || tokio::time::Instant::now() >= deadline {
            // The bytes are held in the broker's budget before they are copied.
            let held = context.shared.budget.hold(total).await;
            return (read(&wanted, &sizes), held);
        }
        if appended.is_empty() {
            tokio::time::sleep_until(deadline).await;
            continue;
        }
        tokio::select! {
            _ = futures::future::select_all(appended) => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// The request's partitions, each once (Kafka keys a fetch's partitions by topic and
/// partition: one named twice is answered once).
fn resolve(context: &Context<'_>, request: &FetchRequest) -> Vec<WantedTopic> {
    let store = &context.shared.store;
    let mut seen = HashSet::new();
    request
        .topics
        .iter()
        .map(|wanted| {
            let topic = if wanted.topic.0.is_empty() {
                store.by_id(wanted.topic_id).map(|(_, topic)| topic)
            } else {
                store.get(&wanted.topic)
            };
            let partitions = wanted
                .partitions
                .iter()
                .filter(|p| seen.insert((wanted.topic.clone(), wanted.topic_id, p.partition)))
                .map(|p| Wanted {
                    partition: p.partition,
                    fetch_offset: p.fetch_offset,
                    max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                    log: topic.as_ref().and_then(|t| t.partition(p.partition)),
                })
                .collect();
            WantedTopic {
                name: wanted.topic.clone(),
                id: wanted.topic_id,
                partitions,
            }
        })
        .collect()
}

/// How many bytes each partition would give now (`None`: an error), their total, and whether
/// a partition had an error.
fn plan(wanted: &[WantedTopic], max_bytes: usize) -> (Vec<Option<usize>>, usize, bool) {
    let mut total = 0;
    let mut failed = false;
    let sizes = wanted
        .iter()
        .flat_map(|topic| &topic.partitions)
        .map(|partition| {
            let Some(log) = &partition.log else {
                failed = true;
                return None;
            };
            let limit = partition.max_bytes.min(max_bytes.saturating_sub(total));
            // The first batch of a response always comes (KIP-74); after it, only what fits.
            let size = log.log().plan(partition.fetch_offset, limit, total == 0);
            if size.is_none() {
                failed = true;
            }
            total += size.unwrap_or(0);
            size
        })
        .collect();
    (sizes, total, failed)
}

/// The response: each partition's planned bytes (what was there when planned is still there:
/// a log only grows, but for DeleteRecords, which then answers out of range).
fn read(wanted: &[WantedTopic], sizes: &[Option<usize>]) -> FetchResponse {
    let mut sizes = sizes.iter();
    let responses = wanted
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|partition| {
                    let size = sizes.next().copied().flatten();
                    let data = PartitionData::default().with_partition_index(partition.partition);
                    let Some(log) = &partition.log else {
                        return data.with_error_code(code(ResponseError::UnknownTopicOrPartition));
                    };
                    let log = log.log();
                    let read = size.and_then(|size| log.read(partition.fetch_offset, size, false));
                    let Some(read) = read else {
                        return data
                            .with_error_code(code(ResponseError::OffsetOutOfRange))
                            .with_high_watermark(log.next_offset())
                            .with_last_stable_offset(log.next_offset())
                            .with_log_start_offset(log.start_offset());
                    };
                    data.with_high_watermark(read.high_watermark)
                        .with_last_stable_offset(read.high_watermark)
                        .with_log_start_offset(log.start_offset())
                        .with_records(Some(read.records))
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic(topic.name.clone())
                .with_topic_id(topic.id)
                .with_partitions(partitions)
        })
        .collect();
    // Session id 0: no fetch session (KIP-227 lets a broker decline), so clients send full
    // fetches.
    FetchResponse::default()
        .with_session_id(0)
        .with_responses(responses)
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
    // One budget for the whole request: lookups by time open compressed batches.
    let mut inflation = Inflation::per_request();
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
                    let Some(partition_log) = topic
                        .as_ref()
                        .and_then(|t| t.partition(partition.partition_index))
                    else {
                        return response
                            .with_error_code(code(ResponseError::UnknownTopicOrPartition));
                    };
                    let log = partition_log.log();
                    let found = match partition.timestamp {
                        LATEST => Ok(Some((log.next_offset(), -1))),
                        EARLIEST | EARLIEST_LOCAL => Ok(Some((log.start_offset(), -1))),
                        MAX_TIMESTAMP => log.max_timestamp(&mut inflation),
                        timestamp if timestamp >= 0 => {
                            log.offset_for_timestamp(timestamp, &mut inflation)
                        }
                        _ => {
                            return response
                                .with_error_code(code(ResponseError::UnsupportedVersion));
                        }
                    };
                    // A request that has opened all the compressed batches it may: the rest of
                    // its lookups are refused (ListOffsets carries no message; the log says).
                    let Ok(found) = found else {
                        tracing::warn!(peer = %context.peer, "a ListOffsets inflated {} bytes of compressed batches: its other lookups are refused", crate::batch::MAX_INFLATED_PER_REQUEST);
                        return response.with_error_code(code(ResponseError::PolicyViolation));
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

/// What a client wanting a transaction is told: the error clients report as fatal and
/// non-retriable, with this message where the version carries one.
pub(crate) const NO_TRANSACTIONS: &str = "transactions are not supported by this broker (ecsim's embedded broker has no transaction coordinator)";

/// A producer id for idempotent producers. A transactional one is refused, as by a Kafka whose
/// ACLs deny transactional ids: clients then stop with a clear, fatal error ("Transactional Id
/// authorization failed") instead of failing later at the first transactional request
/// (kafka-go with "unexpected EOF", confluent-kafka with a timeout, kafkajs hanging).
pub(crate) fn init_producer_id(
    context: &Context<'_>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    if request.transactional_id.is_some() {
        tracing::debug!(peer = %context.peer, "{NO_TRANSACTIONS}");
        return InitProducerIdResponse::default()
            .with_error_code(code(ResponseError::TransactionalIdAuthorizationFailed))
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    let id = context
        .shared
        .next_producer_id
        .fetch_add(1, Ordering::Relaxed);
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(0)
}
