//! An in-memory Kafka broker: one node on loopback, built for developing and testing Kafka
//! consumers against ecsim.
//!
//! ecsim first embedded librdkafka's mock cluster. Tried with the clients consumer developers
//! use, with their default settings, it fell short where it hurts: a fetch with no data waited
//! the client's whole `MaxWait` even when data arrived (kafkajs saw each message 0.5–5 s
//! late), kafka-python 3 could not bootstrap, restarting a consumer in its group stalled for a
//! session timeout, LeaveGroup v3 was misread, and a partition dropped its oldest records past
//! 5 MiB without a word. This broker is written for those clients:
//!
//! - **the protocol** is [`kafka_protocol`]'s (a well-kept crate generated from Kafka's own
//!   message definitions), at the versions `dispatch::SUPPORTED` lists, so every mainstream
//!   client negotiates a version it speaks;
//! - **a waiting fetch is answered as soon as a record is appended**, not at its `MaxWait`;
//! - **consumer groups** follow Kafka's classic protocol, with a short initial delay and
//!   LeaveGroup taking effect at once (`group/`);
//! - **offsets by timestamp** (ListOffsets) are exact;
//! - **nothing is dropped**: no retention limit (`log.rs`).
//!
//! What it does not do, by design: replication (one node, id 1), transactions, quotas,
//! authentication, TLS, persistence, compaction, the old message formats (magic 0 and 1), the
//! KIP-848 consumer protocol, fetch sessions (a client asking for one is told, as the protocol
//! allows, to send full fetches). An idempotent producer gets a producer id; its sequence
//! numbers are not checked.

mod coordination;
mod data;
mod dispatch;
mod group;
mod log;
mod server;

use std::{
    net::{SocketAddr, TcpListener},
    sync::{Arc, atomic::AtomicI64},
    thread,
};

pub use log::{AppendError, MAX_PARTITIONS, TopicError};

/// The broker's node id, in metadata and coordinator replies.
pub const NODE_ID: i32 = 1;

/// The cluster id the broker reports.
pub const CLUSTER_ID: &str = "ecsim-embedded";

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address is taken or not allowed.
    #[error("cannot listen on {address}: {cause}")]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// Why (in the message, so not also a `source()`).
        cause: std::io::Error,
    },
    /// The runtime or its thread could not be created.
    #[error("cannot start the broker's thread: {0}")]
    Thread(std::io::Error),
}

/// How to start a broker.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; port 0 for a free one.
    pub listen: SocketAddr,
    /// Partitions of a topic created because a client asked for it (Kafka's `num.partitions`).
    pub auto_create_partitions: i32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            auto_create_partitions: 1,
        }
    }
}

/// What connections share: the topics, the groups, the address clients are given.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: log::Store,
    pub(crate) groups: group::Groups,
    pub(crate) advertised: SocketAddr,
    pub(crate) auto_create_partitions: i32,
    pub(crate) next_producer_id: AtomicI64,
}

/// A running broker. Dropping it stops it: the listener closes and connections end.
#[derive(Debug)]
pub struct Broker {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Broker {
    /// Binds `config.listen` and serves from a thread of its own (so that it answers whatever
    /// the caller's threads are doing).
    pub fn start(config: Config) -> Result<Self, StartError> {
        let listener = TcpListener::bind(config.listen).map_err(|cause| StartError::Listen {
            address: config.listen,
            cause,
        })?;
        let advertised = listener.local_addr().map_err(|cause| StartError::Listen {
            address: config.listen,
            cause,
        })?;
        listener.set_nonblocking(true).map_err(StartError::Thread)?;
        let shared = Arc::new(Shared {
            store: log::Store::new(),
            groups: group::Groups::default(),
            advertised,
            auto_create_partitions: config.auto_create_partitions.clamp(1, MAX_PARTITIONS),
            next_producer_id: AtomicI64::new(1000),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError::Thread)?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let serving = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name(format!("kafka-broker-{}", advertised.port()))
            .spawn(move || runtime.block_on(server::serve(listener, serving, stopped)))
            .map_err(StartError::Thread)?;
        tracing::debug!(%advertised, "broker started");
        Ok(Self {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address clients bootstrap from.
    pub fn address(&self) -> SocketAddr {
        self.shared.advertised
    }

    /// Creates a topic; one that exists is left as it is (whatever its partitions).
    pub fn ensure_topic(&self, name: &str, partitions: i32) -> Result<(), TopicError> {
        self.shared
            .store
            .get_or_create(name, partitions)
            .map(|_| ())
    }

    /// Every topic with, per partition, its record count (the next offset) and bytes stored.
    pub fn topics(&self) -> Vec<(String, Vec<(i64, usize)>)> {
        self.shared
            .store
            .all()
            .into_iter()
            .map(|(name, topic)| {
                let partitions = (0..topic.partition_count())
                    .filter_map(|index| topic.partition(i32::try_from(index).ok()?))
                    .map(|log| (log.next_offset(), log.bytes()))
                    .collect();
                (name, partitions)
            })
            .collect()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
