//! The embedded broker: librdkafka's mock cluster, in the process.
//!
//! With no `--brokers`, `ecsim run` publishes to a broker it starts itself, so the first run
//! needs nothing installed; `ecsim broker` runs one on its own for consumers under development.
//! It is librdkafka's mock cluster (the one the rdkafka crate exposes): a real Kafka protocol
//! server on loopback, with topics, partitions, offsets and consumer groups. Its limits, which
//! the README repeats:
//!
//! - it keeps at most 5 MiB or 100,000 messages per partition and drops the oldest beyond that
//!   (`rdkafka_mock.c`); ecsim warns when a run crosses that line ([`crate::accounting`]);
//! - it lives as long as the process: nothing is stored on disk;
//! - it listens on a random loopback port; with a fixed port (`--port`), ecsim listens there
//!   itself, forwards connections to the mock, and makes the mock advertise that port.

use std::{
    io,
    net::{Shutdown, TcpListener, TcpStream},
    thread,
};

use rdkafka::{
    ClientConfig,
    producer::{BaseProducer, Producer as _},
};

/// Why the embedded broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// librdkafka could not create the mock cluster.
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
        cause: io::Error,
    },
}

/// A running embedded broker. Dropping it stops it (forwarded connections end with it).
pub struct EmbeddedBroker {
    // The client that owns the mock cluster: the cluster lives as long as it does.
    owner: BaseProducer,
    bootstrap: String,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("bootstrap", &self.bootstrap)
            .finish()
    }
}

impl EmbeddedBroker {
    /// Starts a one-broker cluster on loopback; on `port` if given, else on a free port.
    pub fn start(port: Option<u16>) -> Result<Self, EmbeddedError> {
        // Bind first, so that a taken port is reported before anything else starts.
        let listener = match port {
            Some(port) => Some(
                TcpListener::bind(("127.0.0.1", port))
                    .map_err(|cause| EmbeddedError::Port { port, cause })?,
            ),
            None => None,
        };
        let owner: BaseProducer = ClientConfig::new()
            .set("test.mock.num.brokers", "1")
            .set("log_level", "3")
            .create()
            .map_err(|error| EmbeddedError::Start(error.to_string()))?;
        let mock_address = owner
            .client()
            .mock_cluster()
            .map(|cluster| cluster.bootstrap_servers())
            .ok_or_else(|| EmbeddedError::Start("librdkafka created no mock cluster".into()))?;

        let bootstrap = match (listener, port) {
            (Some(listener), Some(port)) => {
                advertise(&owner, port)?;
                let target = mock_address.clone();
                thread::Builder::new()
                    .name(format!("embedded-broker-{port}"))
                    .spawn(move || forward_connections(&listener, &target))
                    .map_err(|error| EmbeddedError::Start(error.to_string()))?;
                format!("127.0.0.1:{port}")
            }
            _ => mock_address,
        };
        tracing::info!(%bootstrap, "embedded broker started");
        Ok(Self { owner, bootstrap })
    }

    /// The address clients bootstrap from, `127.0.0.1:port`.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Creates every topic ecsim may write (AliECS's topics and the LHC's), so that clients
    /// that reach this broker by address find them ready: the mock cluster has no
    /// CreateTopics API, and relying on automatic creation would give them a default layout.
    pub fn create_aliecs_topics(&self, partitions: i32) -> Result<(), String> {
        for topic in ecsim_proto::topics::all_known() {
            self.create_topic(&topic, partitions)?;
        }
        Ok(())
    }

    /// Creates a topic. The mock cluster has no CreateTopics API, so topics are made through
    /// librdkafka's mock interface; creating a topic that exists changes nothing.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), String> {
        let cluster = self
            .owner
            .client()
            .mock_cluster()
            .ok_or("the mock cluster is gone")?;
        cluster
            .create_topic(topic, partitions.max(1), 1)
            .map_err(|error| error.to_string())
    }
}

/// Makes the mock's broker 1 advertise `127.0.0.1:port`, so that clients come back through the
/// forwarder after bootstrapping.
fn advertise(owner: &BaseProducer, port: u16) -> Result<(), EmbeddedError> {
    use rdkafka::bindings::{rd_kafka_handle_mock_cluster, rd_kafka_mock_broker_set_host_port};
    let host = std::ffi::CString::new("127.0.0.1")
        .map_err(|error| EmbeddedError::Start(error.to_string()))?;
    // SAFETY: `owner` was created with `test.mock.num.brokers`, so its handle has a mock cluster
    // (checked non-null below) that lives as long as `owner`; broker 1 is the cluster's first
    // broker; `host` outlives the call, which copies it.
    unsafe {
        let cluster = rd_kafka_handle_mock_cluster(owner.client().native_ptr());
        if cluster.is_null() {
            return Err(EmbeddedError::Start("the mock cluster is gone".into()));
        }
        rd_kafka_mock_broker_set_host_port(cluster, 1, host.as_ptr(), i32::from(port));
    }
    Ok(())
}

/// Accepts connections on `listener` and forwards each to `target`, both ways.
fn forward_connections(listener: &TcpListener, target: &str) {
    for incoming in listener.incoming() {
        let Ok(client) = incoming else { continue };
        let Ok(server) = TcpStream::connect(target) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let (Ok(client_read), Ok(server_read)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        let _ = thread::Builder::new()
            .name("embedded-broker-up".into())
            .spawn(move || pipe(client_read, server));
        let _ = thread::Builder::new()
            .name("embedded-broker-down".into())
            .spawn(move || pipe(server_read, client));
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
