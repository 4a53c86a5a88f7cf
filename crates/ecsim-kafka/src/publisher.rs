//! The Kafka publisher: records from the simulation to a broker, every one accounted for.
//!
//! One librdkafka producer for every [`KafkaPublisher::TOPICS_PER_PRODUCER`] topics — one for
//! any run of a scenario, a few for the replay of a recording of thousands of topics — with
//! acks=all and idempotence by default. librdkafka finds a record's topic by walking a list of
//! every topic its producer knows, by name, at each send: one producer for n topics costs
//! n²/2 name comparisons to send a record to each, and a share per producer keeps the walk
//! bounded and the cost linear, up to [`KafkaPublisher::MAX_PRODUCERS`] producers (16,000 topics; past them the
//! shares grow, so that a recording of a million topics does not start a thousand producers and
//! their threads). A topic belongs to one producer for good, so its records keep their order. Before the first message, the topics the run will use are created, so that no
//! first message is lost to topic auto-creation as in AliECS (reference §2.5, §3.5); a topic
//! that turns up later is created before its first message goes out. `publish` never fails: a
//! full queue makes it wait (back-pressure), and whatever the broker refuses is counted in
//! [`Accounting`] with its error.
//!
//! `publish` only queues the record (`handoff.rs`); a thread of the publisher's own hands
//! records to librdkafka, so that the simulation does not pay for it on its own thread.

use std::{
    borrow::Cow,
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use ecsim_core::publish::{Publisher, Record};
use rdkafka::{
    admin::AdminClient,
    client::DefaultClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    producer::{BaseRecord, Producer as _},
};

use crate::{
    accounting::{Accounting, DeliveryReport},
    embedded::EmbeddedBroker,
    handoff::{self, Handoff, Pending},
    headers::RunTag,
    producers::{Producer, Producers, share},
    settings::{PRODUCER_DEFAULTS, Settings},
    topics,
};

pub use crate::topics::TopicLayout;

/// Why the publisher could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No `--brokers` and no `bootstrap.servers`.
    #[error(
        "no Kafka broker given: use --brokers host:port, or bootstrap.servers in --producer-config"
    )]
    NoBrokers,
    /// librdkafka refused the configuration.
    #[error("the Kafka configuration is not valid: {0}")]
    Config(KafkaError),
    /// The cluster did not answer in time.
    #[error("cannot reach the Kafka cluster at {brokers} within {} s ({reason}); nothing was published", .timeout.as_secs())]
    Unreachable {
        /// The bootstrap servers.
        brokers: String,
        /// How long ecsim waited.
        timeout: Duration,
        /// librdkafka's error.
        reason: String,
    },
    /// A topic could not be created.
    #[error("cannot create topic {topic} on {brokers}: {reason}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The bootstrap servers.
        brokers: String,
        /// The broker's error.
        reason: String,
    },
    /// The publisher's sending thread could not be started.
    #[error("cannot start the publisher's thread: {0}")]
    Thread(String),
}

/// How topics get made: through the cluster's admin API, or directly in the embedded broker
/// (same result, without a round trip).
enum Creator {
    Admin(AdminClient<DefaultClientContext>),
    Embedded(Arc<EmbeddedBroker>),
}

/// Publishes records to Kafka.
pub struct KafkaPublisher {
    connection: Arc<Connection>,
    handoff: Arc<Handoff>,
    /// The thread that hands queued records to librdkafka; joined on drop.
    sender: Option<JoinHandle<()>>,
}

/// The producers and what goes with them, shared by the publisher and its sending thread.
struct Connection {
    /// The first producer, made at connection; it also answers metadata requests.
    producer: Arc<Producer>,
    /// Every producer, the first included: the `n`th sends the records of the topics known
    /// `n`th in shares of [`KafkaPublisher::TOPICS_PER_PRODUCER`], made when its first topic is.
    producers: Producers,
    /// The delivery callback's time origin (see `Context::epoch`).
    epoch: Instant,
    creator: Creator,
    accounting: Arc<Accounting>,
    layout: TopicLayout,
    brokers: String,
    /// The topics known to exist, each with the index of the producer that sends its records.
    created: Mutex<std::collections::BTreeMap<String, usize>>,
    timeout: Duration,
    /// Set when `finish` ran out of time, or the publisher is dropped: what is not yet handed
    /// to librdkafka is counted as failed instead of waited for.
    give_up: AtomicBool,
    /// The run every record is tagged with, once set.
    tag: std::sync::OnceLock<RunTag>,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher")
            .field("brokers", &self.connection.brokers)
            .field("layout", &self.connection.layout)
            .finish_non_exhaustive()
    }
}

impl KafkaPublisher {
    /// Connects to the cluster (waiting at most `timeout`), then creates `topics`.
    pub fn connect(
        settings: &Settings,
        layout: TopicLayout,
        topics: &[String],
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let admin: AdminClient<DefaultClientContext> = settings
            .client_config(&[])
            .create()
            .map_err(ConnectError::Config)?;
        Self::connect_with(settings, Creator::Admin(admin), layout, topics, timeout)
    }

    /// Connects to an embedded broker (kept alive as long as the publisher), then creates
    /// `topics`; partition sizes are watched against what the embedded broker keeps.
    pub fn embedded(
        broker: Arc<EmbeddedBroker>,
        settings: &Settings,
        layout: TopicLayout,
        topics: &[String],
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let mut settings = settings.clone();
        settings.brokers = Some(broker.bootstrap_servers().to_owned());
        Self::connect_with(
            &settings,
            Creator::Embedded(broker),
            layout,
            topics,
            timeout,
        )
    }

    fn connect_with(
        settings: &Settings,
        creator: Creator,
        layout: TopicLayout,
        topics: &[String],
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let brokers = settings
            .bootstrap_servers()
            .ok_or(ConnectError::NoBrokers)?;
        let accounting = Arc::new(Accounting::new());
        let epoch = Instant::now();
        let producers = Producers::new(
            settings.client_config(PRODUCER_DEFAULTS),
            Arc::clone(&accounting),
            epoch,
        );
        let producer = producers.get(0).map_err(ConnectError::Config)?;

        producer
            .client()
            .fetch_metadata(None, timeout)
            .map_err(|error| ConnectError::Unreachable {
                brokers: brokers.clone(),
                timeout,
                reason: error.to_string(),
            })?;
        let connection = Arc::new(Connection {
            producers,
            producer,
            epoch,
            creator,
            accounting,
            layout,
            brokers,
            created: Mutex::new(std::collections::BTreeMap::new()),
            timeout,
            give_up: AtomicBool::new(false),
            tag: std::sync::OnceLock::new(),
        });
        connection.create_topics(topics)?;
        let handoff = Arc::new(Handoff::default());
        let sender = {
            let (connection, handoff) = (Arc::clone(&connection), Arc::clone(&handoff));
            std::thread::Builder::new()
                .name("ecsim-publisher".into())
                .spawn(move || connection.send_all(&handoff))
                .map_err(|error| ConnectError::Thread(error.to_string()))?
        };
        Ok(Self {
            connection,
            handoff,
            sender: Some(sender),
        })
    }

    /// Makes sure the topics exist before their first message: those the cluster has already
    /// are left as they are; the others are created with the topic layout. A broker that does
    /// not answer CreateTopics (ecsim's own embedded broker, reached with `--brokers`) gets
    /// them through its automatic topic creation instead, asked for with a metadata request,
    /// which creates the topic without producing to it.
    pub fn create_topics(&self, topics: &[String]) -> Result<(), ConnectError> {
        self.connection.create_topics(topics)
    }

    /// Waits up to `timeout` for every message to be acknowledged or failed, then reports.
    /// What could not even be handed to librdkafka in that time (its queue full, the broker
    /// gone) is counted as failed.
    pub fn finish(&self, timeout: Duration) -> DeliveryReport {
        let deadline = Instant::now() + timeout;
        if !self.handoff.drain(deadline) {
            self.connection.give_up.store(true, Ordering::Relaxed);
            // The sender now counts what it holds as failed, without waiting on librdkafka;
            // that takes at most one back-pressure pause.
            self.handoff.drain(Instant::now() + Duration::from_secs(1));
        }
        for producer in self.connection.producers.all() {
            while producer.in_flight_count() > 0 && Instant::now() < deadline {
                let _ = producer.flush(Duration::from_millis(100));
            }
        }
        self.connection.accounting.report()
    }

    /// How many topics one producer sends the records of, at most: past about a thousand,
    /// librdkafka's lookup of a topic by name at each send costs more than the send.
    pub const TOPICS_PER_PRODUCER: usize = crate::producers::TOPICS_PER_PRODUCER;

    /// The most producers a publisher runs (each brings librdkafka's threads): past
    /// `MAX_PRODUCERS` shares of topics, they take further shares in turn.
    pub const MAX_PRODUCERS: usize = crate::producers::MAX_PRODUCERS;

    /// How many producers the publisher runs: one per [`Self::TOPICS_PER_PRODUCER`] topics.
    pub fn producers(&self) -> usize {
        self.connection.producers.all().len()
    }

    /// The counts so far. While publishing goes on, the sending thread counts its sends once a
    /// batch, so a topic's deliveries may be counted ahead of its sends for a moment; after
    /// [`KafkaPublisher::finish`], every send is counted.
    pub fn report(&self) -> DeliveryReport {
        self.connection.accounting.report()
    }

    /// The bootstrap servers.
    pub fn brokers(&self) -> &str {
        &self.connection.brokers
    }

    /// Tags every record published from now on with the run `id` and, when known, its
    /// `scenario` (the `ecsim.run` and `ecsim.scenario` headers). The first tag set stays.
    pub fn tag_records(&self, id: &str, scenario: Option<&str>) {
        let _ = self.connection.tag.set(RunTag {
            id: id.to_owned(),
            scenario: scenario.map(str::to_owned),
        });
    }
}

impl Drop for KafkaPublisher {
    /// Dropped without [`KafkaPublisher::finish`], the publisher abandons what it has not
    /// handed to librdkafka (counted as failed), as librdkafka abandons what it has not sent.
    fn drop(&mut self) {
        self.connection.give_up.store(true, Ordering::Relaxed);
        self.handoff.close();
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

impl Connection {
    /// See [`KafkaPublisher::create_topics`].
    fn create_topics(&self, topics: &[String]) -> Result<(), ConnectError> {
        // Looked up under the lock, not copied: a replay may create tens of thousands of topics.
        let mut missing: Vec<String> = {
            let known = self
                .created
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            topics
                .iter()
                .filter(|t| !known.contains_key(*t))
                .cloned()
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let existing = topics::existing(&self.producer, &missing, self.timeout);
        self.mark_created(existing.iter().cloned());
        missing.retain(|t| !existing.contains(t));
        if missing.is_empty() {
            return Ok(());
        }
        let failures = match &self.creator {
            Creator::Embedded(broker) => missing
                .iter()
                .filter_map(|topic| {
                    broker
                        .create_topic(topic, self.layout.partitions)
                        .err()
                        .map(|e| (topic.clone(), e))
                })
                .collect::<Vec<_>>(),
            Creator::Admin(admin) => {
                match topics::create(admin, &missing, self.layout, self.timeout) {
                    Ok(failures) => failures,
                    Err(reason) => {
                        tracing::info!(%reason, "CreateTopics did not work; asking for automatic topic creation");
                        topics::auto_create(&self.producer, &missing, self.timeout)
                    }
                }
            }
        };
        let failed: BTreeSet<&String> = failures.iter().map(|(topic, _)| topic).collect();
        self.mark_created(missing.iter().filter(|t| !failed.contains(t)).cloned());
        match failures.into_iter().next() {
            None => Ok(()),
            Some((topic, reason)) => Err(ConnectError::CreateTopic {
                topic,
                brokers: self.brokers.clone(),
                reason,
            }),
        }
    }

    /// Notes `topics` as existing, each given to a producer: the next share's, once a share is
    /// full; past [`KafkaPublisher::MAX_PRODUCERS`] shares, the producers take them in turn again.
    fn mark_created(&self, topics: impl IntoIterator<Item = String>) {
        let mut created = self
            .created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for topic in topics {
            let next = share(created.len());
            created.entry(topic).or_insert(next);
        }
    }

    /// Hands every record the simulation queues to librdkafka, in order, until the queue is
    /// closed. Runs on the publisher's own thread.
    fn send_all(&self, handoff: &Handoff) {
        let mut spare = Vec::new();
        let mut shares = Shares::default();
        while let Some(mut batch) = handoff.take(spare) {
            let small = batch.len() < handoff::SMALL_BATCH;
            for pending in batch.drain(..) {
                // Waiting: never gives the record back.
                let _ = self.hand_over(pending, true, Some(&mut shares));
            }
            // Before the next `take`: once the queue is drained, every send is counted.
            shares.count_sent(&self.accounting);
            spare = batch;
            if small {
                std::thread::sleep(handoff::PAUSE);
            }
        }
    }

    /// Hands one record to librdkafka, creating its topic first if it is new, and counts it.
    /// While librdkafka's queue is full it waits (`wait`), or gives the record back. `shares`
    /// is the sending thread's memory of the topics it has seen.
    fn hand_over(
        &self,
        Pending {
            record,
            published,
            run,
        }: Pending,
        wait: bool,
        mut shares: Option<&mut Shares>,
    ) -> Option<Pending> {
        let known = |connection: &Self| {
            connection
                .created
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&*record.topic)
                .copied()
        };
        let slot = match (&record.topic, shares.as_deref_mut()) {
            (Cow::Borrowed(name), Some(shares)) => shares.slot(name, || known(self)),
            _ => None,
        };
        let remembered = slot
            .zip(shares.as_deref())
            .map(|(slot, shares)| shares.0[slot].1);
        let share = match remembered.or_else(|| known(self)) {
            Some(share) => share,
            None => match self.create_topics(&[record.topic.to_string()]) {
                // Created, so known (the lock is not held across the creation).
                Ok(()) => known(self).unwrap_or_default(),
                Err(error) => {
                    // Sending anyway would lose the first message to auto-creation; count it.
                    self.accounting.sent(&record.topic);
                    self.accounting.failed(&record.topic, &error.to_string());
                    return None;
                }
            },
        };
        // The first producer's records (every record of a scenario's run) take no lock for it.
        let further;
        let producer: &Producer = match share {
            0 => &self.producer,
            _ => match self.producers.get(share) {
                Ok(producer) => {
                    further = producer;
                    &further
                }
                Err(error) => {
                    self.accounting.sent(&record.topic);
                    self.accounting.failed(
                        &record.topic,
                        &format!("no producer for its share of the topics: {error}"),
                    );
                    return None;
                }
            },
        };
        let mut base = BaseRecord::with_opaque_to(&record.topic, published)
            .payload(&record.value)
            .timestamp(record.timestamp.unix_millis());
        if let Some(key) = &record.key {
            base = base.key(key);
        }
        // A record replayed from another run carries that run's tag, else the publisher's.
        if let Some(tag) = run.as_deref().or(self.tag.get()) {
            base = base.headers(crate::headers::of_run(&tag.id, tag.scenario.as_deref()));
        }
        loop {
            if self.give_up.load(Ordering::Relaxed) {
                self.accounting.sent(&record.topic);
                self.accounting.failed(
                    &record.topic,
                    "not handed to librdkafka before the flush timeout (its queue stayed full: is the broker reachable?)",
                );
                return None;
            }
            match producer.send(base) {
                // Counted once librdkafka has it: a record given back is not counted twice.
                Ok(()) => {
                    match slot.zip(shares) {
                        Some((slot, shares)) => shares.0[slot].2 += 1,
                        None => self.accounting.sent(&record.topic),
                    }
                    return None;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) if !wait => {
                    return Some(Pending {
                        record,
                        published,
                        run,
                    });
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    // Back-pressure: wait for the producer's thread to make room.
                    base = returned;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => {
                    self.accounting.sent(&record.topic);
                    self.accounting.failed(&record.topic, &error.to_string());
                    return None;
                }
            }
        }
    }
}

impl Publisher for KafkaPublisher {
    fn publish(&self, record: Record) {
        self.push(record, None);
    }
}

impl KafkaPublisher {
    /// Publishes `record` tagged with its own run, instead of the publisher's (a replay of a
    /// recording of several runs).
    pub fn publish_as(&self, record: Record, run: Arc<RunTag>) {
        self.push(record, Some(run));
    }

    fn push(&self, record: Record, run: Option<Arc<RunTag>>) {
        // A usize holds 584 years of nanoseconds on 64-bit targets; on 32-bit ones latencies
        // past 4 s would wrap, which only skews the latency figures, never the counts.
        let published = self.connection.epoch.elapsed().as_nanos() as usize;
        // Sent at once only if librdkafka has room; otherwise queued for the sending thread.
        let pending = Pending {
            record,
            published,
            run,
        };
        self.handoff.push(pending, |pending| {
            self.connection.hand_over(pending, false, None)
        });
    }
}

/// The sending thread's memory of the topics it has handed records of to librdkafka: each
/// with its producer's share and the records handed over since the batch began, by the address
/// of its name. The topics the core and the plugins write are `'static` names, so a record of
/// one takes no lock and no string comparison to find its producer, and its count goes to the
/// accounting once a batch ([`Shares::count_sent`]) rather than under its lock record by record.
/// Only `'static` names are remembered (another name's address may be reused); a run has a few
/// dozen such topics, so a list.
#[derive(Debug, Default)]
struct Shares(Vec<(&'static str, usize, u64)>);

impl Shares {
    /// Where topic `name` is remembered, remembering it with the share `known` finds if need
    /// be; `None` for a topic not created.
    fn slot(&mut self, name: &'static str, known: impl FnOnce() -> Option<usize>) -> Option<usize> {
        match self
            .0
            .iter()
            .position(|(seen, _, _)| std::ptr::eq(*seen, name))
        {
            Some(slot) => Some(slot),
            None => {
                self.0.push((name, known()?, 0));
                Some(self.0.len() - 1)
            }
        }
    }

    /// Counts the records handed over since the last call.
    fn count_sent(&mut self, accounting: &Accounting) {
        for (topic, _, sent) in self.0.iter_mut().filter(|(_, _, sent)| *sent > 0) {
            accounting.sent_many(topic, std::mem::take(sent));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two static names with the same text are two topics to the memory (each is looked up
    /// once), a topic not created is not remembered, and the sends counted go to the
    /// accounting once, under each topic's name.
    #[test]
    fn the_sending_threads_memory_counts_each_topic_by_its_name_once_a_batch() {
        static ROLE: &str = "aliecs.role";
        let other = Box::leak(String::from("aliecs.role").into_boxed_str());
        let mut shares = Shares::default();
        let known = |share| move || Some(share);
        assert_eq!(shares.slot(ROLE, known(0)), Some(0));
        assert_eq!(shares.slot(ROLE, || unreachable!("remembered")), Some(0));
        assert_eq!(shares.slot(other, known(3)), Some(1));
        assert_eq!(shares.0[1].1, 3);
        assert_eq!(shares.slot("aliecs.task", || None), None, "not created");
        assert_eq!(shares.0.len(), 2);
        shares.0[0].2 += 2;
        shares.0[1].2 += 1;
        let accounting = Accounting::new();
        shares.count_sent(&accounting);
        shares.count_sent(&accounting); // nothing new: nothing counted twice
        assert_eq!(accounting.report().topics["aliecs.role"].sent, 3);
    }
}
