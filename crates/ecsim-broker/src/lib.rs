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
//! - **a waiting fetch is answered as soon as a record is appended** to one of its partitions,
//!   not at its `MaxWait`;
//! - **consumer groups** follow Kafka's classic protocol, with a short initial delay, LeaveGroup
//!   taking effect at once and static members (KIP-345) replaced at once (`group/`);
//! - **offsets by timestamp** (ListOffsets) are exact, the batches' maximum timestamps
//!   recomputed from their records as Kafka does (`batch.rs`);
//! - **nothing is dropped**: no retention limit (`log.rs`); past the store's ceiling a produce is
//!   refused, never a stored record dropped (`store.rs`);
//! - **Kafka's limits and refusals**: any client may connect, so every request is bounded
//!   before anything is allocated for it, and what Kafka refuses is refused with Kafka's error
//!   ([`Limits`] lists the ceilings; the memory they add up to is documented there).
//!
//! What it does not do, by design: replication (one node, id 1; a replication factor above 1
//! is refused), transactions (refused at `InitProducerId` with
//! `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`, which every client reports at once as fatal), quotas,
//! authentication, TLS, persistence, compaction, the old message formats (magic 0 and 1), the
//! KIP-848 consumer protocol, fetch sessions (a client asking for one is told, as the protocol
//! allows, to send full fetches). An idempotent producer gets a producer id; its sequence
//! numbers are not checked.
//!
//! APIs not served (a client asking gets none of them in ApiVersions, and a request for one
//! closes its connection, as Kafka does for an API it does not have): the transaction APIs
//! (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit, WriteTxnMarkers,
//! DescribeTransactions, ListTransactions), the ACL and SASL APIs, AlterConfigs and
//! IncrementalAlterConfigs, OffsetDelete, ElectLeaders, AlterPartitionReassignments, quotas,
//! delegation tokens, DescribeCluster, DescribeProducers, the KIP-848 and KRaft APIs, and the
//! versions `dispatch::SUPPORTED` leaves out (OffsetFetch v0, which reads offsets Kafka kept in
//! ZooKeeper; Fetch before v4, the old message formats'). Produce v0–v2 are answered, each
//! partition refused (`legacy.rs`).

mod admin;
mod batch;
mod budget;
mod context;
mod coordination;
mod data;
mod dispatch;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod group;
mod legacy;
mod log;
mod server;
mod store;
mod stored;

use std::{
    net::{SocketAddr, TcpListener},
    sync::{Arc, atomic::AtomicI64},
    thread,
    time::Duration,
};

pub use batch::{AppendError, DEFAULT_MESSAGE_MAX_BYTES, MAX_INFLATED, MAX_INFLATED_PER_REQUEST};
pub use store::{MAX_PARTITIONS, TopicError};

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
    /// What the broker holds at most.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            auto_create_partitions: 1,
            limits: Limits::default(),
        }
    }
}

/// The broker's ceilings, each named after Kafka's setting where Kafka has one.
///
/// Memory stays under `max_stored_bytes + in_flight_bytes + 64 MiB` plus what the
/// requests being served have decoded (a waiting Fetch, JoinGroup or SyncGroup: each at most a
/// few times its frame, which `max_request_bytes` bounds) and the groups' state (at most
/// `max_groups`). Nothing is dropped to stay under it: a produce past the store's ceiling is
/// refused, a connection past the budget waits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once (Kafka's `max.connections`). At the limit, the connection idle
    /// the longest is closed to make room, so that idle connections cannot lock clients out.
    pub max_connections: usize,
    /// A connection with no request for this long is closed (`connections.max.idle.ms`).
    pub idle_timeout: Duration,
    /// A request begun and not finished, or a response not read, for this long closes its
    /// connection: its bytes are held in the in-flight budget meanwhile.
    pub stall_timeout: Duration,
    /// The largest Produce request (`socket.request.max.bytes`).
    pub max_request_bytes: usize,
    /// The largest request of any other API: none a client sends comes near it.
    pub max_other_request_bytes: usize,
    /// Bytes of requests being read and fetch responses being written, all connections
    /// together (Kafka's `queued.max.request.bytes`); past it, connections wait.
    pub in_flight_bytes: usize,
    /// The largest record batch a producer may send to a topic created without its own
    /// `max.message.bytes` (`message.max.bytes`).
    pub message_max_bytes: usize,
    /// Record bytes stored, all partitions together.
    pub max_stored_bytes: usize,
    /// Partitions, all topics together.
    pub max_partitions: usize,
    /// Consumer groups; past it, a new group is refused.
    pub max_groups: usize,
    /// An empty group and its offsets are forgotten this long after its last member left or
    /// its last commit (`offsets.retention.minutes`).
    pub group_retention: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1_000,
            idle_timeout: Duration::from_secs(600),
            stall_timeout: Duration::from_secs(30),
            max_request_bytes: 100 * 1024 * 1024,
            max_other_request_bytes: 8 * 1024 * 1024,
            in_flight_bytes: 512 * 1024 * 1024,
            message_max_bytes: DEFAULT_MESSAGE_MAX_BYTES,
            max_stored_bytes: 4 * 1024 * 1024 * 1024,
            max_partitions: 100_000,
            max_groups: 10_000,
            group_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What connections share: the topics, the groups, the address clients are given.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: store::Store,
    pub(crate) groups: group::Groups,
    pub(crate) advertised: SocketAddr,
    pub(crate) auto_create_partitions: i32,
    pub(crate) next_producer_id: AtomicI64,
    pub(crate) limits: Limits,
    /// Bytes of requests and responses in flight ([`Limits::in_flight_bytes`]).
    pub(crate) budget: budget::Budget,
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
        let limits = config.limits;
        let shared = Arc::new(Shared {
            store: store::Store::new(store::Limits {
                max_stored_bytes: limits.max_stored_bytes,
                max_partitions: limits.max_partitions,
                message_max_bytes: limits.message_max_bytes,
            }),
            groups: group::Groups::new(limits.max_groups, limits.group_retention),
            advertised,
            auto_create_partitions: config.auto_create_partitions.clamp(1, MAX_PARTITIONS),
            next_producer_id: AtomicI64::new(1000),
            limits,
            budget: budget::Budget::new(limits.in_flight_bytes),
        });
        server::raise_file_limit(limits.max_connections);
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

    /// Record bytes stored, all topics together (bounded by [`Limits::max_stored_bytes`]).
    pub fn stored_bytes(&self) -> usize {
        self.shared.store.stored_bytes()
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
                    .map(|partition| {
                        let log = partition.log();
                        (log.next_offset(), log.bytes())
                    })
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
