//! The administration APIs: CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords,
//! DescribeConfigs — with Kafka's refusals where one node and no retention cannot do what is
//! asked (a replication factor above 1, a config Kafka does not have).

use kafka_protocol::{
    ResponseError,
    messages::{
        CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
        CreateTopicsResponse, DeleteRecordsRequest, DeleteRecordsResponse, DeleteTopicsRequest,
        DeleteTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse, TopicName,
        create_partitions_response::CreatePartitionsTopicResult,
        create_topics_response::{CreatableTopicConfigs, CreatableTopicResult},
        delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult},
        delete_topics_response::DeletableTopicResult,
        describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult},
    },
    protocol::StrBytes,
};

use crate::{
    context::Context,
    context::code,
    store::{NewTopic, Topic, TopicError},
};

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
            let replication_factor = if wanted.assignments.is_empty() {
                wanted.replication_factor
            } else {
                // Explicit assignments name the replicas: one broker, so one each at most.
                let most = wanted
                    .assignments
                    .iter()
                    .map(|a| a.broker_ids.len())
                    .max()
                    .unwrap_or(1);
                i16::try_from(most).unwrap_or(i16::MAX)
            };
            let new = NewTopic {
                name: &wanted.name,
                partitions,
                replication_factor,
                configs: wanted
                    .configs
                    .iter()
                    .map(|c| {
                        (
                            c.name.to_string(),
                            c.value.as_ref().map(ToString::to_string),
                        )
                    })
                    .collect(),
            };
            let result = CreatableTopicResult::default()
                .with_name(wanted.name.clone())
                .with_num_partitions(partitions)
                .with_replication_factor(1);
            let created = if request.validate_only {
                store
                    .validate(&new)
                    .map(|topic| (uuid::Uuid::nil(), describe(&topic, None, false)))
            } else {
                store
                    .create(&new)
                    .map(|topic| (topic.id, describe(&topic, None, false)))
            };
            match created {
                Ok((id, configs)) => result.with_topic_id(id).with_configs(Some(
                    configs
                        .into_iter()
                        .map(|c| {
                            CreatableTopicConfigs::default()
                                .with_name(c.name)
                                .with_value(c.value)
                                .with_read_only(c.read_only)
                                .with_config_source(c.config_source)
                        })
                        .collect(),
                )),
                Err(error) => result
                    .with_num_partitions(-1)
                    .with_replication_factor(-1)
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
            .filter_map(|topic| {
                topic.name.or_else(|| {
                    store
                        .by_id(topic.topic_id)
                        .map(|(name, _)| TopicName(StrBytes::from_string(name)))
                })
            })
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

pub(crate) fn create_partitions(
    context: &Context<'_>,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let store = &context.shared.store;
    let results = request
        .topics
        .into_iter()
        .map(|wanted| {
            let result = CreatePartitionsTopicResult::default().with_name(wanted.name.clone());
            match store.grow(&wanted.name, wanted.count, request.validate_only) {
                Ok(()) => result,
                Err(error) => result
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(error.to_string()))),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}

pub(crate) fn delete_records(
    context: &Context<'_>,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
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
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(partition.partition_index)
                        .with_low_watermark(-1);
                    let Some(log) = topic
                        .as_ref()
                        .and_then(|t| t.partition(partition.partition_index))
                    else {
                        return result
                            .with_error_code(code(ResponseError::UnknownTopicOrPartition));
                    };
                    match store.delete_records(&log, partition.offset) {
                        Some(start) => result.with_low_watermark(start),
                        None => result.with_error_code(code(ResponseError::OffsetOutOfRange)),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(wanted.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}

/// Kafka's resource types in DescribeConfigs.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// Kafka's config sources.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;
/// Kafka's config types (DescribeConfigs v3 on).
const BOOLEAN: i8 = 1;
const STRING: i8 = 2;
const INT: i8 = 3;
const LONG: i8 = 5;

pub(crate) fn describe_configs(
    context: &Context<'_>,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let shared = context.shared;
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let keys = resource.configuration_keys.as_deref();
            let configs = match resource.resource_type {
                TOPIC => match shared.store.get(&resource.resource_name) {
                    Some(topic) => describe(&topic, keys, request.include_documentation),
                    None => {
                        let error = TopicError::Unknown(resource.resource_name.to_string());
                        return result
                            .with_error_code(error.code())
                            .with_error_message(Some(StrBytes::from_string(error.to_string())));
                    }
                },
                BROKER => broker_configs(context, keys),
                other => {
                    return result
                        .with_error_code(code(ResponseError::InvalidRequest))
                        .with_error_message(Some(StrBytes::from_string(format!(
                            "resource type {other} is not described here: topics (2) and the broker (4) are"
                        ))));
                }
            };
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// A topic's configs: those set at creation, and Kafka's defaults as they hold here.
fn describe(
    topic: &Topic,
    keys: Option<&[StrBytes]>,
    documentation: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let max_message_bytes = topic.max_message_bytes.to_string();
    let defaults: [(&str, &str, i8, &str); 6] = [
        (
            "cleanup.policy",
            "delete",
            STRING,
            "Nothing is deleted here: no retention.",
        ),
        (
            "compression.type",
            "producer",
            STRING,
            "Batches are kept as the producer compressed them.",
        ),
        (
            "max.message.bytes",
            &max_message_bytes,
            INT,
            "The largest record batch a producer may send.",
        ),
        (
            "message.timestamp.type",
            "CreateTime",
            STRING,
            "Timestamps are the producer's.",
        ),
        ("min.insync.replicas", "1", INT, "One node, one replica."),
        (
            "retention.ms",
            "-1",
            LONG,
            "Records are kept for the broker's life.",
        ),
    ];
    let mut configs: Vec<DescribeConfigsResourceResult> = defaults
        .iter()
        .filter(|(name, ..)| !topic.configs.contains_key(*name))
        .map(|&(name, value, kind, doc)| {
            config(
                name,
                value,
                DEFAULT_CONFIG,
                kind,
                documentation.then_some(doc),
            )
        })
        .collect();
    configs.extend(
        topic
            .configs
            .iter()
            .map(|(name, value)| config(name, value, DYNAMIC_TOPIC_CONFIG, STRING, None)),
    );
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    keep(configs, keys)
}

fn broker_configs(
    context: &Context<'_>,
    keys: Option<&[StrBytes]>,
) -> Vec<DescribeConfigsResourceResult> {
    let limits = &context.shared.limits;
    let configs = vec![
        config(
            "auto.create.topics.enable",
            "true",
            STATIC_BROKER_CONFIG,
            BOOLEAN,
            None,
        ),
        config(
            "connections.max.idle.ms",
            &limits.idle_timeout.as_millis().to_string(),
            STATIC_BROKER_CONFIG,
            LONG,
            None,
        ),
        config(
            "fetch.max.bytes",
            &crate::data::MAX_FETCH_BYTES.to_string(),
            STATIC_BROKER_CONFIG,
            INT,
            None,
        ),
        config(
            "max.connections",
            &limits.max_connections.to_string(),
            STATIC_BROKER_CONFIG,
            INT,
            None,
        ),
        config(
            "message.max.bytes",
            &limits.message_max_bytes.to_string(),
            STATIC_BROKER_CONFIG,
            INT,
            None,
        ),
        config(
            "num.partitions",
            &context.shared.auto_create_partitions.to_string(),
            STATIC_BROKER_CONFIG,
            INT,
            None,
        ),
        config(
            "offsets.retention.minutes",
            &(limits.group_retention.as_secs() / 60).to_string(),
            STATIC_BROKER_CONFIG,
            INT,
            None,
        ),
        config(
            "socket.request.max.bytes",
            &limits.max_request_bytes.to_string(),
            STATIC_BROKER_CONFIG,
            INT,
            None,
        ),
    ];
    keep(configs, keys)
}

fn config(
    name: &str,
    value: &str,
    source: i8,
    kind: i8,
    documentation: Option<&str>,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(name.to_owned()))
        .with_value(Some(StrBytes::from_string(value.to_owned())))
        .with_read_only(source != DYNAMIC_TOPIC_CONFIG)
        .with_config_source(source)
        .with_config_type(kind)
        .with_documentation(documentation.map(|d| StrBytes::from_string(d.to_owned())))
}

fn keep(
    configs: Vec<DescribeConfigsResourceResult>,
    keys: Option<&[StrBytes]>,
) -> Vec<DescribeConfigsResourceResult> {
    match keys {
        Some(keys) if !keys.is_empty() => configs
            .into_iter()
            .filter(|c| keys.contains(&c.name))
            .collect(),
        _ => configs,
    }
}
