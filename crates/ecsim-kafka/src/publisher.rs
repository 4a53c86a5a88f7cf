//! The Kafka publisher: records from the simulation to a broker, every one accounted for.
//!
//! One librdkafka producer per process (design, Kafka), with acks=all and idempotence by
//! default. Before the first message, the topics the run will use are created, so that no
//! first message is lost to topic auto-creation as in AliECS (reference §2.5, §3.5); a topic
//! that turns up later is created before its first message goes out. `publish` never fails: a
//! full queue makes it wait (back-pressure), and whatever the broker refuses is counted in
//! [`Accounting`] with its error.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use ecsim_core::publish::{Publisher, Record};
use rdkafka::{
    ClientContext,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    config::RDKafkaLogLevel,
    error::{KafkaError, RDKafkaErrorCode},
    message::Message as _,
    producer::{BaseRecord, DeliveryResult, Producer as _, ProducerContext, ThreadedProducer},
};

use crate::{
    accounting::{Accounting, DeliveryReport},
    embedded::EmbeddedBroker,
    settings::{PRODUCER_DEFAULTS, Settings},
};

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
    Config(#[source] KafkaError),
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
}

/// Routes librdkafka's logs to tracing and counts deliveries.
struct Context {
    accounting: Arc<Accounting>,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", fac, "{message}");
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, "{reason}");
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        match result {
            Ok(message) => {
                let size = message.payload_len() + message.key_len();
                self.accounting
                    .delivered(message.topic(), message.partition(), size as u64);
            }
            Err((error, message)) => self.accounting.failed(message.topic(), &error.to_string()),
        }
    }
}

/// How topics get made: through the cluster's admin API, or through the embedded broker's mock
/// interface (the mock cluster has no CreateTopics).
enum Creator {
    Admin(AdminClient<DefaultClientContext>),
    Embedded(Arc<EmbeddedBroker>),
}

/// Publishes records to Kafka.
pub struct KafkaPublisher {
    producer: ThreadedProducer<Context>,
    creator: Creator,
    accounting: Arc<Accounting>,
    layout: TopicLayout,
    brokers: String,
    created: Mutex<BTreeSet<String>>,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher")
            .field("brokers", &self.brokers)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    // Admin futures are completed by librdkafka's own thread, not by an async runtime.
    futures::executor::block_on(future)
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
        let accounting = Arc::new(Accounting::new(matches!(creator, Creator::Embedded(_))));
        let producer: ThreadedProducer<Context> = settings
            .client_config(PRODUCER_DEFAULTS)
            .create_with_context(Context {
                accounting: Arc::clone(&accounting),
            })
            .map_err(ConnectError::Config)?;

        producer
            .client()
            .fetch_metadata(None, timeout)
            .map_err(|error| ConnectError::Unreachable {
                brokers: brokers.clone(),
                timeout,
                reason: error.to_string(),
            })?;
        let publisher = Self {
            producer,
            creator,
            accounting,
            layout,
            brokers,
            created: Mutex::new(BTreeSet::new()),
            timeout,
        };
        publisher.create_topics(topics)?;
        Ok(publisher)
    }

    /// Creates the topics that do not exist yet (an existing topic is left as it is).
    pub fn create_topics(&self, topics: &[String]) -> Result<(), ConnectError> {
        let missing: Vec<&String> = {
            let created = self
                .created
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            topics.iter().filter(|t| !created.contains(*t)).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let results: Vec<(String, Result<(), String>)> = match &self.creator {
            Creator::Embedded(broker) => missing
                .iter()
                .map(|topic| {
                    (
                        (*topic).clone(),
                        broker.create_topic(topic, self.layout.partitions),
                    )
                })
                .collect(),
            Creator::Admin(admin) => {
                let new_topics: Vec<NewTopic<'_>> = missing
                    .iter()
                    .map(|topic| {
                        NewTopic::new(
                            topic,
                            self.layout.partitions,
                            TopicReplication::Fixed(self.layout.replication),
                        )
                    })
                    .collect();
                let options = AdminOptions::new()
                    .operation_timeout(Some(self.timeout))
                    .request_timeout(Some(self.timeout));
                block_on(admin.create_topics(&new_topics, &options))
                    .map_err(|error| ConnectError::CreateTopic {
                        topic: missing
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        brokers: self.brokers.clone(),
                        reason: error.to_string(),
                    })?
                    .into_iter()
                    .map(|result| match result {
                        Ok(topic) | Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                            (topic, Ok(()))
                        }
                        Err((topic, code)) => (topic, Err(code.to_string())),
                    })
                    .collect()
            }
        };
        let mut created = self
            .created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (topic, result) in results {
            match result {
                Ok(()) => {
                    created.insert(topic);
                }
                Err(reason) => {
                    return Err(ConnectError::CreateTopic {
                        topic,
                        brokers: self.brokers.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(())
    }

    /// Waits up to `timeout` for every message to be acknowledged or failed, then reports.
    pub fn finish(&self, timeout: Duration) -> DeliveryReport {
        let deadline = Instant::now() + timeout;
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            let _ = self.producer.flush(Duration::from_millis(100));
        }
        self.accounting.report()
    }

    /// The counts so far.
    pub fn report(&self) -> DeliveryReport {
        self.accounting.report()
    }

    /// The bootstrap servers.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }
}

impl Publisher for KafkaPublisher {
    fn publish(&self, record: Record) {
        let known = self
            .created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(&record.topic);
        if !known {
            if let Err(error) = self.create_topics(std::slice::from_ref(&record.topic)) {
                // Sending anyway would lose the first message to auto-creation; count it instead.
                self.accounting.sent(&record.topic);
                self.accounting.failed(&record.topic, &error.to_string());
                return;
            }
        }
        self.accounting.sent(&record.topic);
        let mut base = BaseRecord::to(&record.topic)
            .payload(&record.value)
            .timestamp(record.timestamp.unix_millis());
        if let Some(key) = &record.key {
            base = base.key(key);
        }
        loop {
            match self.producer.send(base) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    // Back-pressure: wait for the producer's thread to make room.
                    base = returned;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => {
                    self.accounting.failed(&record.topic, &error.to_string());
                    return;
                }
            }
        }
    }
}
