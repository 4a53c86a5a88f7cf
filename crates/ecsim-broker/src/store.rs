//! Topics and what they hold, within the broker's ceilings.
//!
//! What the store holds in all is bounded by [`Limits::max_stored_bytes`]; past it a produce is
//! refused with a message that says so, and nothing already stored is dropped. Partitions are
//! bounded too ([`Limits::max_partitions`], and [`MAX_PARTITIONS`] a topic). Topics are
//! created, grown and configured as Kafka's CreateTopics and CreatePartitions do, with Kafka's
//! refusals (one node: a replication factor of 1; Kafka's topic configs only).

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

use crate::{
    batch::{self, AppendError},
    log::Partition,
};

/// A topic: a name, an id (for the protocol versions that name topics by id), partitions, the
/// configs a client set.
#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) id: Uuid,
    partitions: RwLock<Vec<Arc<Partition>>>,
    /// Kafka's `max.message.bytes`: the largest batch a producer may send.
    pub(crate) max_message_bytes: usize,
    /// The topic configs set at creation, as given (DescribeConfigs reports them).
    pub(crate) configs: BTreeMap<String, String>,
}

impl Topic {
    pub(crate) fn partition_count(&self) -> usize {
        self.partitions().len()
    }

    fn partitions(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Partition>>> {
        self.partitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The partition; `None` for one the topic does not have.
    pub(crate) fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        self.partitions().get(usize::try_from(index).ok()?).cloned()
    }
}

/// Why a topic cannot be created or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// A topic of that name exists.
    #[error("topic {0:?} already exists")]
    Exists(String),
    /// No topic of that name.
    #[error("topic {0:?} does not exist")]
    Unknown(String),
    /// Kafka's rules for names: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
    #[error(
        "{0:?} is not a valid topic name: use 1 to 249 of the characters a-z A-Z 0-9 . _ -, not \".\" or \"..\""
    )]
    InvalidName(String),
    /// Fewer than one partition, or more than [`MAX_PARTITIONS`].
    #[error("a topic has 1 to {MAX_PARTITIONS} partitions, not {0}")]
    InvalidPartitions(i32),
    /// The broker holds as many partitions as it may.
    #[error(
        "the broker holds {held} partitions and may hold {limit}: delete topics, or ask for fewer"
    )]
    TooManyPartitions {
        /// Partitions the broker has.
        held: usize,
        /// Its ceiling.
        limit: usize,
    },
    /// A replication factor other than 1 (or -1, the broker's default): one node here.
    #[error("Replication factor: {0} larger than available brokers: 1.")]
    ReplicationFactor(i16),
    /// A topic config Kafka does not have.
    #[error("Unknown topic config name: {0}")]
    UnknownConfig(String),
    /// A topic config with a value Kafka would refuse.
    #[error("Invalid value {value} for configuration {name}: {why}")]
    InvalidConfig {
        /// The config's name.
        name: String,
        /// The value given.
        value: String,
        /// What it must be.
        why: &'static str,
    },
}

impl TopicError {
    pub(crate) fn code(&self) -> i16 {
        match self {
            Self::Exists(_) => ResponseError::TopicAlreadyExists.code(),
            Self::Unknown(_) => ResponseError::UnknownTopicOrPartition.code(),
            Self::InvalidName(_) => ResponseError::InvalidTopicException.code(),
            Self::InvalidPartitions(_) => ResponseError::InvalidPartitions.code(),
            Self::TooManyPartitions { .. } => ResponseError::PolicyViolation.code(),
            Self::ReplicationFactor(_) => ResponseError::InvalidReplicationFactor.code(),
            Self::UnknownConfig(_) | Self::InvalidConfig { .. } => {
                ResponseError::InvalidConfig.code()
            }
        }
    }
}

/// The most partitions one topic may have here.
pub const MAX_PARTITIONS: i32 = 10_000;

/// Kafka's topic configs (`TopicConfig`), which CreateTopics accepts by name. Only
/// `max.message.bytes` changes what this broker does; the others are kept and described, and
/// have no effect (no retention, compaction, segments or replicas here).
pub(crate) const TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.format.version",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// What the store may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Record bytes, all partitions together.
    pub(crate) max_stored_bytes: usize,
    /// Partitions, all topics together.
    pub(crate) max_partitions: usize,
    /// The `max.message.bytes` of a topic created without one.
    pub(crate) message_max_bytes: usize,
}

/// A topic to create.
#[derive(Debug)]
pub(crate) struct NewTopic<'a> {
    pub(crate) name: &'a str,
    pub(crate) partitions: i32,
    pub(crate) replication_factor: i16,
    pub(crate) configs: Vec<(String, Option<String>)>,
}

impl<'a> NewTopic<'a> {
    /// A topic with the broker's defaults (auto-created, or made by ecsim).
    pub(crate) fn plain(name: &'a str, partitions: i32) -> Self {
        Self {
            name,
            partitions,
            replication_factor: -1,
            configs: Vec::new(),
        }
    }
}

/// Every topic, and what they hold.
#[derive(Debug)]
pub(crate) struct Store {
    topics: Mutex<BTreeMap<String, Arc<Topic>>>,
    /// Topic names by id: requests of the versions that name topics by id look them up for
    /// each one they name, so not by a search of every topic.
    ids: Mutex<std::collections::HashMap<Uuid, String>>,
    limits: Limits,
    stored: AtomicUsize,
    partitions: AtomicUsize,
    /// Whether the store has said, once, that it is full: a client's error may not show the
    /// broker's message (librdkafka says "Policy violation"), so the log does.
    said_full: std::sync::atomic::AtomicBool,
}

impl Store {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            topics: Mutex::new(BTreeMap::new()),
            ids: Mutex::default(),
            limits,
            stored: AtomicUsize::new(0),
            partitions: AtomicUsize::new(0),
            said_full: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn topics(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Topic>>> {
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics().get(name).cloned()
    }

    /// Every topic, by name.
    pub(crate) fn all(&self) -> Vec<(String, Arc<Topic>)> {
        self.topics()
            .iter()
            .map(|(name, topic)| (name.clone(), Arc::clone(topic)))
            .collect()
    }

    /// The topic whose id is `id`.
    pub(crate) fn by_id(&self, id: Uuid) -> Option<(String, Arc<Topic>)> {
        let name = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .cloned()?;
        let topic = self.get(&name)?;
        (topic.id == id).then_some((name, topic))
    }

    /// Checks a topic as CreateTopics would, without creating it.
    pub(crate) fn validate(&self, new: &NewTopic<'_>) -> Result<Topic, TopicError> {
        check_name(new.name)?;
        if !(1..=MAX_PARTITIONS).contains(&new.partitions) {
            return Err(TopicError::InvalidPartitions(new.partitions));
        }
        if !matches!(new.replication_factor, -1 | 1) {
            return Err(TopicError::ReplicationFactor(new.replication_factor));
        }
        let mut max_message_bytes = self.limits.message_max_bytes;
        let mut configs = BTreeMap::new();
        for (name, value) in &new.configs {
            if !TOPIC_CONFIGS.contains(&name.as_str()) {
                return Err(TopicError::UnknownConfig(name.clone()));
            }
            let Some(value) = value else { continue };
            if name == "max.message.bytes" {
                max_message_bytes = value
                    .parse::<u32>()
                    .ok()
                    .and_then(|bytes| usize::try_from(bytes).ok())
                    .ok_or_else(|| TopicError::InvalidConfig {
                        name: name.clone(),
                        value: value.clone(),
                        why: "a number of bytes from 0 to 2147483647",
                    })?;
            }
            configs.insert(name.clone(), value.clone());
        }
        if self.topics().contains_key(new.name) {
            return Err(TopicError::Exists(new.name.to_owned()));
        }
        self.check_room(new.partitions)?;
        Ok(Topic {
            id: Uuid::new_v4(),
            partitions: RwLock::new(
                (0..new.partitions)
                    .map(|_| Arc::new(Partition::default()))
                    .collect(),
            ),
            max_message_bytes,
            configs,
        })
    }

    fn check_room(&self, more: i32) -> Result<(), TopicError> {
        let held = self.partitions.load(Ordering::Relaxed);
        let more = usize::try_from(more).unwrap_or(0);
        if held + more > self.limits.max_partitions {
            return Err(TopicError::TooManyPartitions {
                held,
                limit: self.limits.max_partitions,
            });
        }
        Ok(())
    }

    pub(crate) fn create(&self, new: &NewTopic<'_>) -> Result<Arc<Topic>, TopicError> {
        let topic = Arc::new(self.validate(new)?);
        let mut topics = self.topics();
        // Checked again under the lock: another connection may have created it meanwhile.
        if topics.contains_key(new.name) {
            return Err(TopicError::Exists(new.name.to_owned()));
        }
        self.check_room(new.partitions)?;
        self.partitions
            .fetch_add(topic.partition_count(), Ordering::Relaxed);
        topics.insert(new.name.to_owned(), Arc::clone(&topic));
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.id, new.name.to_owned());
        tracing::debug!(
            topic = new.name,
            partitions = new.partitions,
            "topic created"
        );
        Ok(topic)
    }

    /// The topic, created with `partitions` if it does not exist.
    pub(crate) fn get_or_create(
        &self,
        name: &str,
        partitions: i32,
    ) -> Result<Arc<Topic>, TopicError> {
        if let Some(topic) = self.get(name) {
            return Ok(topic);
        }
        match self.create(&NewTopic::plain(name, partitions)) {
            Err(TopicError::Exists(_)) => self
                .get(name)
                .ok_or_else(|| TopicError::Exists(name.to_owned())),
            other => other,
        }
    }

    pub(crate) fn delete(&self, name: &str) -> bool {
        let Some(topic) = self.topics().remove(name) else {
            return false;
        };
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&topic.id);
        let partitions = topic.partitions();
        let freed: usize = partitions.iter().map(|p| p.log().bytes()).sum();
        self.stored.fetch_sub(freed, Ordering::Relaxed);
        self.partitions
            .fetch_sub(partitions.len(), Ordering::Relaxed);
        true
    }

    /// Grows a topic to `count` partitions (CreatePartitions); `validate_only` checks alone.
    pub(crate) fn grow(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.to_owned()))?;
        let mut partitions = topic
            .partitions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = i32::try_from(partitions.len()).unwrap_or(i32::MAX);
        if count <= now || count > MAX_PARTITIONS {
            return Err(TopicError::InvalidPartitions(count));
        }
        self.check_room(count - now)?;
        if !validate_only {
            let more = usize::try_from(count - now).unwrap_or(0);
            partitions.extend((0..more).map(|_| Arc::new(Partition::default())));
            self.partitions.fetch_add(more, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Appends a produce request's records to a partition of `topic`: checked whole, stored
    /// whole or not at all. Returns the first record's offset.
    pub(crate) fn append(
        &self,
        topic: &Topic,
        partition: &Partition,
        inflation: &mut batch::Inflation,
        records: &Bytes,
    ) -> Result<i64, AppendError> {
        let checked = batch::check_all(records, topic.max_message_bytes, inflation)?;
        let size: usize = checked.iter().map(|c| c.data.len()).sum();
        let limit = self.limits.max_stored_bytes;
        self.stored
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |stored| {
                (stored + size <= limit).then_some(stored + size)
            })
            .map_err(|_| {
                let error = AppendError::StoreFull { limit };
                if !self.said_full.swap(true, Ordering::Relaxed) {
                    tracing::warn!("{error}");
                }
                error
            })?;
        let base = partition.log().append(checked);
        partition.appended().notify_waiters();
        Ok(base)
    }

    /// Deletes a partition's records before `offset` (-1: all); returns the new start offset.
    pub(crate) fn delete_records(&self, partition: &Partition, offset: i64) -> Option<i64> {
        let mut log = partition.log();
        let offset = if offset == -1 {
            log.next_offset()
        } else {
            offset
        };
        if offset < 0 || offset > log.next_offset() {
            return None;
        }
        let freed = log.delete_before(offset);
        self.stored.fetch_sub(freed, Ordering::Relaxed);
        Some(log.start_offset())
    }

    /// Record bytes held, all partitions together.
    pub(crate) fn stored_bytes(&self) -> usize {
        self.stored.load(Ordering::Relaxed)
    }
}

fn check_name(name: &str) -> Result<(), TopicError> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(TopicError::InvalidName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::Compression;

    use super::*;

    fn batch(timestamps: &[i64]) -> Bytes {
        batch::tests::encoded(timestamps, Compression::None, 4)
    }

    const LIMITS: Limits = Limits {
        max_stored_bytes: 1 << 30,
        max_partitions: 100,
        message_max_bytes: batch::DEFAULT_MESSAGE_MAX_BYTES,
    };

    fn one_partition(store: &Store) -> (Arc<Topic>, Arc<Partition>) {
        let topic = store.get_or_create("t", 1).unwrap();
        let partition = topic.partition(0).unwrap();
        (topic, partition)
    }

    #[test]
    fn the_store_refuses_past_its_ceiling_and_keeps_what_it_has() {
        let one = batch(&[1]);
        let store = Store::new(Limits {
            max_stored_bytes: one.len() * 2,
            ..LIMITS
        });
        let (topic, partition) = one_partition(&store);
        assert_eq!(
            store.append(
                &topic,
                &partition,
                &mut batch::Inflation::per_request(),
                &one
            ),
            Ok(0)
        );
        assert_eq!(
            store.append(
                &topic,
                &partition,
                &mut batch::Inflation::per_request(),
                &one
            ),
            Ok(1)
        );
        assert_eq!(
            store.append(
                &topic,
                &partition,
                &mut batch::Inflation::per_request(),
                &one
            ),
            Err(AppendError::StoreFull {
                limit: one.len() * 2
            })
        );
        assert_eq!(partition.log().next_offset(), 2);
        assert_eq!(store.delete_records(&partition, 1), Some(1));
        assert_eq!(
            store.stored_bytes(),
            one.len(),
            "the deleted batch's bytes are free"
        );
        assert_eq!(
            store.append(
                &topic,
                &partition,
                &mut batch::Inflation::per_request(),
                &one
            ),
            Ok(2)
        );
        assert!(
            partition.log().read(0, 100, true).is_none(),
            "before the start"
        );
        let id = store.get("t").unwrap().id;
        assert!(store.delete("t"));
        assert!(store.by_id(id).is_none(), "the id goes with the topic");
        assert_eq!(store.stored_bytes(), 0);
    }

    #[test]
    fn topic_names_partitions_replicas_and_configs_follow_kafka_rules() {
        let store = Store::new(LIMITS);
        assert!(store.get_or_create("aliecs.environment", 1).is_ok());
        assert_eq!(
            store
                .create(&NewTopic::plain("aliecs.environment", 1))
                .unwrap_err(),
            TopicError::Exists("aliecs.environment".into())
        );
        assert!(store.get_or_create("aliecs.environment", 3).is_ok());
        assert_eq!(
            store.get("aliecs.environment").unwrap().partition_count(),
            1
        );
        for bad in ["", ".", "..", "a b", &"x".repeat(250)] {
            assert!(
                matches!(
                    store.create(&NewTopic::plain(bad, 1)),
                    Err(TopicError::InvalidName(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            store.create(&NewTopic::plain("t", 0)).unwrap_err(),
            TopicError::InvalidPartitions(0)
        );
        assert_eq!(
            store.create(&NewTopic::plain("t", 100)).unwrap_err(),
            TopicError::TooManyPartitions {
                held: 1,
                limit: 100
            }
        );
        let replicated = NewTopic {
            replication_factor: 3,
            ..NewTopic::plain("t", 1)
        };
        assert_eq!(
            store.create(&replicated).unwrap_err().to_string(),
            "Replication factor: 3 larger than available brokers: 1."
        );
        let configured = |name: &str, value: &str| NewTopic {
            configs: vec![(name.to_owned(), Some(value.to_owned()))],
            ..NewTopic::plain("t", 1)
        };
        assert_eq!(
            store
                .create(&configured("retention.msx", "1"))
                .unwrap_err()
                .to_string(),
            "Unknown topic config name: retention.msx"
        );
        assert!(matches!(
            store.create(&configured("max.message.bytes", "-1")),
            Err(TopicError::InvalidConfig { .. })
        ));
        let topic = store
            .create(&configured("max.message.bytes", "100"))
            .unwrap();
        assert_eq!(topic.max_message_bytes, 100);
        let partition = topic.partition(0).unwrap();
        let large = batch::tests::encoded(&[1], Compression::None, 200);
        assert!(matches!(
            store.append(
                &topic,
                &partition,
                &mut batch::Inflation::per_request(),
                &large
            ),
            Err(AppendError::TooLarge { limit: 100, .. })
        ));
        let id = topic.id;
        assert_eq!(store.by_id(id).map(|(name, _)| name), Some("t".to_owned()));
        store.grow("t", 3, false).unwrap();
        assert_eq!(topic.partition_count(), 3);
        assert_eq!(
            store.grow("t", 2, false),
            Err(TopicError::InvalidPartitions(2))
        );
    }
}
