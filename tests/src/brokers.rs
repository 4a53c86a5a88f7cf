//! Real brokers for the end-to-end tests: the embedded broker (ecsim's own, `ecsim-broker`, in
//! the process) and tansu, a Kafka-API broker written in Rust, run as a child process on a
//! loopback port of its own.
//!
//! tansu is installed by `cargo xtask test` (or `cargo xtask broker install`), which tells the
//! tests where it is with `ECSIM_TANSU`. Without it, a test against tansu is skipped with a
//! message — except in CI (`CI` set), where it fails: CI must run against a real broker.

use std::{
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use ecsim_kafka::{EmbeddedBroker, KafkaPublisher, Settings, TopicLayout};

/// Where tansu keeps messages.
#[derive(Debug, Clone)]
pub enum Storage {
    /// In memory: gone with the process.
    Memory,
    /// A SQLite file in this directory: survives a restart.
    Sqlite(PathBuf),
}

/// A tansu broker on loopback, killed when dropped.
#[derive(Debug)]
pub struct Tansu {
    binary: PathBuf,
    port: u16,
    storage: Storage,
    child: Option<Child>,
}

/// The tansu binary, or `None` (with the reason printed) when it is not installed.
#[allow(clippy::print_stdout)] // a skipped test says why, in the test's output
pub fn tansu_binary() -> Option<PathBuf> {
    let default = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/ecsim/tools/tansu-0.6.0/bin/tansu"));
    let candidate = std::env::var_os("ECSIM_TANSU")
        .map(PathBuf::from)
        .or(default)?;
    if candidate.is_file() {
        return Some(candidate);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tansu is not installed at {} and CI must test against a real broker: run `cargo xtask test`",
        candidate.display()
    );
    println!(
        "SKIPPED: tansu is not installed (`cargo xtask broker install`, or run `cargo xtask test`)"
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(port: u16, up: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() != up {
        assert!(
            Instant::now() < deadline,
            "tansu did not {} 127.0.0.1:{port}",
            if up { "listen on" } else { "release" }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Tansu {
    /// Starts tansu on a free port, or returns `None` when it is not installed.
    pub fn start(storage: Storage) -> Option<Self> {
        let binary = tansu_binary()?;
        let mut tansu = Self {
            binary,
            port: free_port(),
            storage,
            child: None,
        };
        tansu.launch();
        Some(tansu)
    }

    fn launch(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // tansu reads the SQLite path relative to its working directory.
        let (storage, directory) = match &self.storage {
            Storage::Memory => ("memory://tansu/".to_owned(), None),
            Storage::Sqlite(directory) => ("sqlite://tansu.db".to_owned(), Some(directory)),
        };
        let mut command = Command::new(&self.binary);
        if let Some(directory) = directory {
            command.current_dir(directory);
        }
        let child = command
            .args([
                "broker",
                "--kafka-listener-url",
                &url,
                "--kafka-advertised-listener-url",
                &url,
                "--storage-engine",
                &storage,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} in {directory:?}: {error}",
                    self.binary.display()
                )
            });
        self.child = Some(child);
        wait_for_port(self.port, true);
    }

    /// The bootstrap address.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        wait_for_port(self.port, false);
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// The binary in use.
    pub fn binary(&self) -> &Path {
        &self.binary
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A broker to run a test against.
#[derive(Debug)]
pub enum Broker {
    /// ecsim's embedded broker, in this process.
    Embedded(Arc<EmbeddedBroker>),
    /// tansu, as a child process.
    Tansu(Tansu),
}

impl Broker {
    /// The embedded broker on a free port.
    pub fn embedded() -> Self {
        Broker::Embedded(Arc::new(
            EmbeddedBroker::start(None).expect("the embedded broker starts"),
        ))
    }

    /// tansu in memory, or `None` when it is not installed.
    pub fn tansu() -> Option<Self> {
        Tansu::start(Storage::Memory).map(Broker::Tansu)
    }

    /// The bootstrap address.
    pub fn bootstrap(&self) -> String {
        match self {
            Broker::Embedded(broker) => broker.bootstrap_servers().to_owned(),
            Broker::Tansu(tansu) => tansu.bootstrap(),
        }
    }

    /// CPU time the broker has used so far (user and system), in seconds: the embedded broker's
    /// own thread in this process, or tansu's process. `None` where /proc cannot tell.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let ticks = |stat: &str| -> Option<f64> {
            // The fields after the command name, which is in parentheses and may hold spaces.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            // Linux's USER_HZ, 100 on every platform ecsim runs on.
            Some((user + system) / 100.0)
        };
        match self {
            Broker::Embedded(_) => {
                let mut total = 0.0;
                for task in std::fs::read_dir("/proc/self/task").ok()? {
                    let path = task.ok()?.path();
                    let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
                    if comm.starts_with("kafka-broker") {
                        total += ticks(&std::fs::read_to_string(path.join("stat")).ok()?)?;
                    }
                }
                Some(total)
            }
            Broker::Tansu(tansu) => {
                let pid = tansu.child.as_ref()?.id();
                ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
            }
        }
    }

    /// Which broker, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Broker::Embedded(_) => "embedded",
            Broker::Tansu(_) => "tansu",
        }
    }

    /// A publisher to this broker with `layout`, `topics` created; at most `timeout` to
    /// connect.
    pub fn publisher(
        &self,
        layout: TopicLayout,
        topics: &[String],
        timeout: Duration,
    ) -> KafkaPublisher {
        let publisher = match self {
            Broker::Embedded(embedded) => KafkaPublisher::embedded(
                Arc::clone(embedded),
                &Settings::default(),
                layout,
                topics,
                timeout,
            ),
            Broker::Tansu(tansu) => KafkaPublisher::connect(
                &Settings::brokers(tansu.bootstrap()),
                layout,
                topics,
                timeout,
            ),
        };
        publisher.unwrap_or_else(|error| panic!("cannot publish to {}: {error}", self.name()))
    }

    /// Every broker the tests run against: the embedded one, and tansu when installed.
    pub fn all() -> Vec<Broker> {
        let mut brokers = vec![Broker::embedded()];
        brokers.extend(Broker::tansu());
        brokers
    }
}
