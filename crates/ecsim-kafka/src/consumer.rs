//! Reading topics back, as a consumer that takes nothing from anyone.
//!
//! `ecsim tail` and `ecsim verify` read AliECS's topics from a broker that real consumers may
//! be reading too. AliECS's documentation warns that a consumer joining an existing group takes
//! partitions away from its members; so this consumer never joins a group and never commits:
//! it assigns itself every partition of the topics it reads (librdkafka still wants a group id
//! for that; it gets a private, unused one).

use std::{
    collections::BTreeMap,
    ops::ControlFlow,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rdkafka::{
    ClientContext, Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer as _, ConsumerContext},
    error::KafkaError,
    message::Headers as _,
};

use crate::settings::Settings;

/// What to read, and when to stop.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The cluster.
    pub settings: Settings,
    /// Topic names or patterns (`*` matches anything: `aliecs.env_state.*`).
    pub topics: Vec<String>,
    /// Read what the topics already hold; otherwise only what arrives from now on.
    pub from_beginning: bool,
    /// Stop after this many messages.
    pub count: Option<u64>,
    /// Stop when nothing arrives for this long.
    pub idle: Option<Duration>,
    /// Stop once every partition has been read up to where it ended when reading started, and
    /// nothing more has come for a second (some brokers report high watermarks that lag
    /// behind what they hold) — or, under steady traffic, five seconds after reaching the end.
    pub to_end: bool,
    /// Give up when reading has taken this long ([`ReadError::Deadline`]).
    pub deadline: Option<Duration>,
    /// How long to wait for the cluster's metadata.
    pub timeout: Duration,
    /// Stop when this becomes true (set from a signal handler, say); checked between polls.
    pub stop: Option<Arc<AtomicBool>>,
}

/// A message read from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The key.
    pub key: Option<Vec<u8>>,
    /// The value (empty for a tombstone).
    pub value: Vec<u8>,
    /// The record's timestamp, in ms, if it has one.
    pub timestamp_ms: Option<i64>,
    /// The record's headers, in order (AliECS sends none).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Why topics could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No broker configured.
    #[error(
        "no Kafka broker given: use --brokers host:port, or bootstrap.servers in --consumer-config"
    )]
    NoBrokers,
    /// librdkafka refused the configuration.
    #[error("the Kafka configuration is not valid: {0}")]
    Config(KafkaError),
    /// The cluster did not answer.
    #[error("cannot reach the Kafka cluster at {brokers} within {} s: {reason}", .timeout.as_secs())]
    Unreachable {
        /// The bootstrap servers.
        brokers: String,
        /// How long ecsim waited.
        timeout: Duration,
        /// librdkafka's error.
        reason: String,
    },
    /// The deadline passed before reading was done.
    #[error(
        "read {read} messages from {brokers} in {} s without reaching the end of the topics; give a longer --deadline",
        .deadline.as_secs()
    )]
    Deadline {
        /// The bootstrap servers.
        brokers: String,
        /// The deadline.
        deadline: Duration,
        /// Messages read by then.
        read: u64,
    },
    /// Reading failed for good.
    #[error("reading from {brokers} failed: {reason}")]
    Read {
        /// The bootstrap servers.
        brokers: String,
        /// Why.
        reason: String,
    },
}

pub use ecsim_proto::topics::matches_pattern as matches;

struct Quiet;

impl ClientContext for Quiet {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        tracing::debug!(target: "librdkafka", ?level, fac, "{message}");
    }
}

impl ConsumerContext for Quiet {}

/// With `to_end`, how long to keep reading after reaching the watermarks.
const SETTLE: Duration = Duration::from_secs(1);
/// How long reading goes on past the end when messages keep coming: a producer writing every
/// second never leaves a second of quiet.
const PAST_THE_END: Duration = Duration::from_secs(5);

/// The state of one read: which partitions are assigned, where they ended, how far they are read.
struct Reader<'a> {
    options: &'a ReadOptions,
    brokers: String,
    consumer: BaseConsumer<Quiet>,
    /// Partition → the offset where it ended when reading started (for `to_end`).
    ends: BTreeMap<(String, i32), i64>,
    /// Partition → the last offset read (-1 before the first).
    positions: BTreeMap<(String, i32), i64>,
    /// Partition → where reading it started.
    starts: BTreeMap<(String, i32), Offset>,
}

impl Reader<'_> {
    fn unreachable(&self, error: KafkaError) -> ReadError {
        ReadError::Unreachable {
            brokers: self.brokers.clone(),
            timeout: self.options.timeout,
            reason: error.to_string(),
        }
    }

    /// Assigns every partition of the matching topics not assigned yet. Without a group there
    /// is no incremental assignment: the whole list is assigned again, partitions already
    /// being read resuming after their last offset.
    fn assign(&mut self, first_time: bool) -> Result<(), ReadError> {
        let metadata = self
            .consumer
            .fetch_metadata(None, self.options.timeout)
            .map_err(|e| self.unreachable(e))?;
        let mut added = false;
        for topic in metadata.topics() {
            if !self.options.topics.iter().any(|p| matches(p, topic.name())) {
                continue;
            }
            for partition in topic.partitions() {
                let key = (topic.name().to_owned(), partition.id());
                if self.positions.contains_key(&key) {
                    continue;
                }
                // Topics found later were created while reading: read them from their start.
                let offset = if self.options.from_beginning || !first_time {
                    Offset::Beginning
                } else {
                    Offset::End
                };
                self.starts.insert(key.clone(), offset);
                added = true;
                if self.options.to_end {
                    let (low, high) = self
                        .consumer
                        .fetch_watermarks(topic.name(), partition.id(), self.options.timeout)
                        .map_err(|e| self.unreachable(e))?;
                    if high > low {
                        self.ends.insert(key.clone(), high);
                    }
                }
                self.positions.insert(key, -1);
            }
        }
        if added {
            let mut list = TopicPartitionList::new();
            for (key, start) in &self.starts {
                let offset = match self.positions.get(key) {
                    Some(&last) if last >= 0 => Offset::Offset(last + 1),
                    _ => *start,
                };
                list.add_partition_offset(&key.0, key.1, offset)
                    .map_err(|e| self.unreachable(e))?;
            }
            self.consumer
                .assign(&list)
                .map_err(|error| ReadError::Read {
                    brokers: self.brokers.clone(),
                    reason: error.to_string(),
                })?;
        }
        Ok(())
    }

    fn at_end(&self) -> bool {
        self.ends
            .iter()
            .all(|(key, end)| self.positions.get(key).is_some_and(|p| *p + 1 >= *end))
    }
}

/// Reads the topics, calling `each` for every message, until a stop condition holds or `each`
/// breaks; returns how many messages were read.
pub fn read(
    options: &ReadOptions,
    mut each: impl FnMut(Received) -> ControlFlow<()>,
) -> Result<u64, ReadError> {
    let brokers = options
        .settings
        .bootstrap_servers()
        .ok_or(ReadError::NoBrokers)?;
    let defaults: &[(&str, &str)] = &[
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("enable.partition.eof", "false"),
        ("auto.offset.reset", "earliest"),
    ];
    let mut config = options.settings.client_config(defaults);
    // librdkafka wants a group id to assign partitions; the consumer never subscribes, so it
    // never joins this (private, unique) group, and never commits to it.
    if config.get("group.id").is_none() {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        config.set(
            "group.id",
            format!("ecsim-reader-{}-{unique}", std::process::id()),
        );
    }
    let consumer: BaseConsumer<Quiet> = config
        .create_with_context(Quiet)
        .map_err(ReadError::Config)?;
    let mut reader = Reader {
        options,
        brokers,
        consumer,
        ends: BTreeMap::new(),
        positions: BTreeMap::new(),
        starts: BTreeMap::new(),
    };
    reader.assign(true)?;

    let mut read = 0_u64;
    let started = Instant::now();
    let mut at_end_since: Option<Instant> = None;
    let mut last_message = Instant::now();
    let mut last_refresh = Instant::now();
    loop {
        if options.count.is_some_and(|count| read >= count)
            || options
                .stop
                .as_ref()
                .is_some_and(|stop| stop.load(Ordering::Relaxed))
            || (options.to_end
                && reader.at_end()
                && (last_message.elapsed() >= SETTLE
                    || at_end_since.get_or_insert_with(Instant::now).elapsed() >= PAST_THE_END))
            || options
                .idle
                .is_some_and(|idle| last_message.elapsed() >= idle)
        {
            break;
        }
        if let Some(deadline) = options.deadline
            && started.elapsed() >= deadline
        {
            return Err(ReadError::Deadline {
                brokers: reader.brokers.clone(),
                deadline,
                read,
            });
        }
        if !options.to_end && last_refresh.elapsed() >= Duration::from_secs(2) {
            reader.assign(false)?;
            last_refresh = Instant::now();
        }
        match reader.consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(error)) => tracing::warn!(%error, "reading a topic"),
            Some(Ok(message)) => {
                read += 1;
                last_message = Instant::now();
                let received = Received {
                    topic: message.topic().to_owned(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    timestamp_ms: message.timestamp().to_millis(),
                    headers: message
                        .headers()
                        .map(|headers| {
                            headers
                                .iter()
                                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                reader.positions.insert(
                    (received.topic.clone(), received.partition),
                    received.offset,
                );
                if each(received).is_break() {
                    break;
                }
            }
        }
    }
    Ok(read)
}
