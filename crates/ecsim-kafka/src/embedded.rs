//! The embedded broker: ecsim's own in-memory Kafka broker ([`ecsim_broker`]), in the process.
//!
//! With no `--brokers`, `ecsim run` publishes to a broker it starts itself, so the first run
//! needs nothing installed; `ecsim broker` runs one on its own for consumers under development.
//! It speaks the protocol mainstream clients use with their default settings (kafkajs,
//! librdkafka and confluent-kafka, kafka-python, the Java client's versions), answers a waiting
//! fetch as soon as a record arrives, and keeps every record for its life: nothing is dropped,
//! nothing is stored on disk. What it does not do is in [`ecsim_broker`]'s documentation and
//! the README.

use std::net::SocketAddr;

use ecsim_broker::{Broker, Config, StartError};

/// Why the embedded broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The broker's thread could not start.
    #[error("cannot start the embedded broker: {0}")]
    Start(String),
    /// The requested port is taken or not allowed.
    #[error(
        "cannot listen on 127.0.0.1:{port}: {cause}; choose another --port, or leave it out for a free one"
    )]
    Port {
        /// The port.
        port: u16,
        /// Why (in the message, so not also a `source()`: a report printing the chain would say
        /// it twice).
        cause: std::io::Error,
    },
}

/// A running embedded broker. Dropping it stops it (connections end with it).
#[derive(Debug)]
pub struct EmbeddedBroker {
    broker: Broker,
    bootstrap: String,
}

impl EmbeddedBroker {
    /// Starts a broker on loopback; on `port` if given, else on a free port.
    pub fn start(port: Option<u16>) -> Result<Self, EmbeddedError> {
        Self::start_storing(port, ecsim_broker::Limits::default().max_stored_bytes)
    }

    /// Starts a broker that stores at most `max_stored_bytes` of records (past them, a produce
    /// is refused and nothing stored is dropped).
    pub fn start_storing(
        port: Option<u16>,
        max_stored_bytes: usize,
    ) -> Result<Self, EmbeddedError> {
        let config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0))),
            limits: ecsim_broker::Limits {
                max_stored_bytes,
                ..ecsim_broker::Limits::default()
            },
            ..Config::default()
        };
        let broker = Broker::start(config).map_err(|error| match error {
            StartError::Listen { cause, .. } => EmbeddedError::Port {
                port: port.unwrap_or(0),
                cause,
            },
            other => EmbeddedError::Start(other.to_string()),
        })?;
        let bootstrap = broker.address().to_string();
        tracing::info!(%bootstrap, "embedded broker started");
        Ok(Self { broker, bootstrap })
    }

    /// The address clients bootstrap from, `127.0.0.1:port`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Creates every topic ecsim may write (AliECS's topics and the LHC's), so that clients
    /// that reach this broker by address find them ready with ecsim's layout, not the
    /// layout automatic creation would give.
    pub fn create_aliecs_topics(&self, partitions: i32) -> Result<(), String> {
        for topic in ecsim_proto::topics::all_known() {
            self.create_topic(&topic, partitions)?;
        }
        Ok(())
    }

    /// Creates a topic; creating a topic that exists changes nothing.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), String> {
        self.broker
            .ensure_topic(topic, partitions.max(1))
            .map_err(|error| error.to_string())
    }

    /// Records stored per topic (every partition's), for reports and tests.
    pub fn record_counts(&self) -> Vec<(String, i64)> {
        self.broker
            .topics()
            .into_iter()
            .map(|(topic, partitions)| (topic, partitions.iter().map(|(count, _)| count).sum()))
            .collect()
    }
}
