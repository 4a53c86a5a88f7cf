//! What ecsim's benchmarks share: the scenarios they replay, a publisher that keeps nothing,
//! the work a replay does stripped to encoding alone, a plugin linked in rather than loaded, and
//! and (in `ecsim_kafka::baseline`) a bare rdkafka producer — the ceilings and baselines each
//! figure is a ratio against.
//!
//! The benchmarks themselves are `benches/micro.rs` (criterion) and `src/bin/ecsim-bench.rs`
//! (end to end, against brokers); `cargo xtask bench` runs both and writes `BENCHMARKS.md`.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use ecsim_core::publish::{MemoryPublisher, MessageType, Publisher, Record};
use ecsim_proto::{
    events::Event,
    kafka::{ActiveRunsList, NewStateNotification},
    prost::Message as _,
};
use ecsim_replay::driver;
use ecsim_scenario::Scenario;

/// A publisher that keeps nothing and counts what it is given: the simulator's own cost,
/// without a broker.
#[derive(Debug, Default)]
pub struct NullPublisher {
    records: AtomicU64,
    bytes: AtomicU64,
}

impl NullPublisher {
    /// How many records it was given.
    pub fn count(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// How many bytes of record values it was given.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Publisher for NullPublisher {
    fn publish(&self, record: Record) {
        self.records.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(record.value.len() as u64, Ordering::Relaxed);
    }
}

/// `environments` environments with a detector, a host and `tasks_per_host` tasks each, the
/// Kafka plugin on, all alive at once: created together, each runs `runs` runs of ten minutes,
/// then all are destroyed.
pub fn lifecycles(environments: usize, tasks_per_host: usize, runs: usize) -> Scenario {
    scenario(environments, tasks_per_host, runs, true)
}

/// As [`lifecycles`], with the Kafka plugin's calls on or off (`kafka_enabled`).
pub fn scenario(environments: usize, tasks_per_host: usize, runs: usize, kafka: bool) -> Scenario {
    let text = scenario_text(environments, tasks_per_host, runs, kafka);
    // The text is ours and valid; a failure here is a bug in this function.
    #[allow(clippy::expect_used)]
    ecsim_scenario::parse("bench.toml", &text).expect("the benchmark scenario is valid")
}

/// The text of [`scenario`], for what reads a file (`ecsim run` in the end-to-end tests).
pub fn scenario_text(
    environments: usize,
    tasks_per_host: usize,
    runs: usize,
    kafka: bool,
) -> String {
    format!(
        r#"
[scenario]
name = "bench-{environments}x{runs}"
seed = 1
epoch = 2025-06-15T12:00:00Z
at_end = "destroy"
own_detectors = true

[[environment]]
name = "env-{{i}}"
count = {environments}
detectors = ["D{{i}}"]
hosts = ["flp-{{i}}"]
tasks_per_host = {tasks_per_host}
vars = {{ kafka_enabled = "{kafka}" }}

[[timeline]]
at = "0s"
env = "env-*"
do = "create"

[[timeline]]
after = "1m"
env = "env-*"
repeat = {runs}
steps = [
  {{ do = "start" }},
  {{ after = "10m", do = "stop" }},
  {{ after = "1m", do = "wait" }},
]
"#
    )
}

/// Replays `scenario` in virtual time into `publisher`; returns the messages published.
pub fn replay(scenario: &Scenario, publisher: Arc<dyn Publisher>) -> u64 {
    replay_told(scenario, publisher, Arc::new(driver::Silent))
}

/// [`replay`], telling `progress` (expectations checked live, say) how it goes.
pub fn replay_told(
    scenario: &Scenario,
    publisher: Arc<dyn Publisher>,
    progress: Arc<dyn driver::Progress>,
) -> u64 {
    match driver::run_blocking(scenario, publisher, Vec::new(), progress) {
        Ok(report) => report.messages.total,
        Err(error) => panic!("the benchmark replay failed: {error}"),
    }
}

/// Every record a replay of `scenario` publishes, in order.
pub fn records(scenario: &Scenario) -> Vec<Record> {
    let memory = Arc::new(MemoryPublisher::new());
    replay(scenario, memory.clone());
    memory.records()
}

/// A message as the simulator holds it before encoding.
#[derive(Debug, Clone)]
pub enum Typed {
    /// An `aliecs.*` core event.
    Event(Event),
    /// A Kafka-plugin state notification.
    State(NewStateNotification),
    /// A Kafka-plugin running list.
    Running(ActiveRunsList),
}

impl Typed {
    /// The record's message, decoded back to its type.
    pub fn of(record: &Record) -> Self {
        let bytes = record.value.as_slice();
        let decoded = match record.message_type {
            MessageType::NewStateNotification => {
                NewStateNotification::decode(bytes).map(Typed::State)
            }
            MessageType::ActiveRunsList => ActiveRunsList::decode(bytes).map(Typed::Running),
            MessageType::Event => Event::decode(bytes).map(Typed::Event),
        };
        match decoded {
            Ok(typed) => typed,
            Err(error) => panic!("a record ecsim published does not decode: {error}"),
        }
    }

    /// Encodes it, as the simulator does before publishing.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Typed::Event(m) => m.encode_to_vec(),
            Typed::State(m) => m.encode_to_vec(),
            Typed::Running(m) => m.encode_to_vec(),
        }
    }
}

/// Percentile `q` (0..=1) of sorted samples.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// The peak resident memory of this process (VmHWM), in KiB; `None` where `/proc` is not.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The CPU time this process has used so far, all its threads, user and system, in seconds
/// (`/proc/self/stat`, in the kernel's clock ticks of 10 ms); `None` where `/proc` is not.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces: the fields are counted after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are the 14th and 15th fields, the 12th and 13th after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The resident memory of this process now (VmRSS), in KiB; `None` where `/proc` is not.
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A timeline of about `steps` steps over 100 environments (created together, then started
/// and stopped one at a time), as scenario text: what validation time is measured on.
pub fn timeline_text(steps: usize) -> String {
    let mut text = String::from(
        "[scenario]\nname = \"validation\"\nown_detectors = true\n\n[[environment]]\nname = \"env-{i}\"\ncount = 100\ndetectors = [\"D{i}\"]\n\n[[timeline]]\nat = \"0s\"\nenv = \"env-*\"\ndo = \"create\"\n\n",
    );
    for n in 0..steps.saturating_sub(100) / 2 {
        let env = n % 100 + 1;
        text.push_str(&format!(
            "[[timeline]]\nafter = \"1m\"\nenv = \"env-{env}\"\ndo = \"start\"\n\n[[timeline]]\nafter = \"1m\"\nenv = \"env-{env}\"\ndo = \"stop\"\n\n"
        ));
    }
    text
}
