//! Making a run's topics exist before their first record: asking the cluster which it has,
//! CreateTopics with the run's layout, or a broker's automatic creation through a metadata
//! request (ecsim's own embedded broker reached with `--brokers` answers no CreateTopics).

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::RDKafkaErrorCode,
    producer::Producer as _,
};

use crate::producers::Producer;

/// How topics are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicLayout {
    /// Partitions per topic.
    pub partitions: i32,
    /// Replicas per partition.
    pub replication: i32,
}

impl Default for TopicLayout {
    fn default() -> Self {
        Self {
            partitions: 1,
            replication: 1,
        }
    }
}

/// Which of `topics` the cluster already has.
pub(crate) fn existing(
    producer: &Producer,
    topics: &[String],
    timeout: Duration,
) -> BTreeSet<String> {
    let wanted: BTreeSet<&str> = topics.iter().map(String::as_str).collect();
    match producer.client().fetch_metadata(None, timeout) {
        Ok(metadata) => metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && wanted.contains(t.name()))
            .map(|t| t.name().to_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// CreateTopics; `Err` when the request as a whole failed (not answered, not supported).
pub(crate) fn create(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[String],
    layout: TopicLayout,
    timeout: Duration,
) -> Result<Vec<(String, String)>, String> {
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| {
            NewTopic::new(
                topic,
                layout.partitions,
                TopicReplication::Fixed(layout.replication),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    // Admin futures are completed by librdkafka's own thread, not by an async runtime.
    let results = futures::executor::block_on(admin.create_topics(&new_topics, &options))
        .map_err(|error| error.to_string())?;
    Ok(results
        .into_iter()
        .filter_map(|result| match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => None,
            Err((topic, code)) => Some((topic, code.to_string())),
        })
        .collect())
}

/// Asks for each topic's metadata, which makes a broker with automatic topic creation
/// create it; returns the topics that still do not exist.
pub(crate) fn auto_create(
    producer: &Producer,
    topics: &[String],
    timeout: Duration,
) -> Vec<(String, String)> {
    let mut failures = Vec::new();
    for topic in topics {
        let deadline = Instant::now() + timeout;
        let outcome = loop {
            let result = producer.client().fetch_metadata(Some(topic), timeout);
            let status = match &result {
                Ok(metadata) => match metadata.topics().iter().find(|t| t.name() == topic) {
                    Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(()),
                    Some(t) => Err(format!("{:?}", t.error())),
                    None => Err("not in the metadata".to_owned()),
                },
                Err(error) => Err(error.to_string()),
            };
            if status.is_ok() || Instant::now() >= deadline {
                break status;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if let Err(reason) = outcome {
            failures.push((
                topic.clone(),
                format!("the broker neither created it on request nor automatically ({reason})"),
            ));
        }
    }
    failures
}
