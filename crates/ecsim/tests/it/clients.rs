//! Consumers written with the clients people use — kafkajs, confluent-kafka, kafka-python — each
//! with its default settings, in a consumer group started before the run, read a live,
//! real-time run (`ecsim run scenarios/consumer-test.toml --brokers …`) from the embedded broker
//! and from tansu: every message ecsim published, with its key and value bytes, in per-key
//! order, decodable with ALICE's schema.
//!
//! The clients are installed by `cargo xtask test` (`tests/clients/`, pinned), which says where
//! with `ECSIM_CLIENTS`, `ECSIM_NODE` and `ECSIM_PYTHON`. Without them a test is skipped with a
//! message — except in CI (`CI` set), where it fails.

use std::{
    collections::BTreeMap,
    io::{BufRead as _, BufReader, Write as _},
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

use ecsim_e2e::brokers::Broker;
use ecsim_kafka::TopicLayout;
use serde_json::Value;

const SCENARIO: &str = "../../scenarios/consumer-test.toml";
/// Long enough for a client to join its group on a loaded machine; the wait ends as soon as
/// the client says it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const DONE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy)]
enum Client {
    Kafkajs,
    ConfluentKafka,
    KafkaPython,
}

impl Client {
    /// The program and script, or `None` when the clients are not installed.
    fn command(self) -> Option<Command> {
        let dir = PathBuf::from(std::env::var_os("ECSIM_CLIENTS")?);
        let (program, script) = match self {
            Client::Kafkajs => (std::env::var_os("ECSIM_NODE")?, "kafkajs_consumer.js"),
            Client::ConfluentKafka => (std::env::var_os("ECSIM_PYTHON")?, "confluent_consumer.py"),
            Client::KafkaPython => (
                std::env::var_os("ECSIM_PYTHON")?,
                "kafka_python_consumer.py",
            ),
        };
        let mut command = Command::new(program);
        command.arg(dir.join(script)).current_dir(dir);
        Some(command)
    }
}

/// A client consumer running, its JSON lines arriving on a channel.
struct Consumer {
    client: Client,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    /// What the client logged, for the failure messages and the error check.
    stderr: Arc<Mutex<String>>,
}

impl Consumer {
    #[allow(clippy::print_stdout)] // a skipped test says why, in the test's output
    fn start(client: Client, bootstrap: &str, group: &str, topics: &[String]) -> Option<Self> {
        let Some(mut command) = client.command() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "the client tests' clients are not installed and CI must run them: run `cargo xtask test`"
            );
            println!("skipped: {client:?} is not installed (run `cargo xtask test`)");
            return None;
        };
        let mut child = command
            .env("ECSIM_BOOTSTRAP", bootstrap)
            .env("ECSIM_GROUP", group)
            .env("ECSIM_TOPICS", topics.join(","))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("starting the {client:?} consumer: {error}"));
        let stdout = child.stdout.take().expect("piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let log = Arc::clone(&stderr);
        let client_stderr = child.stderr.take().expect("piped");
        thread::spawn(move || {
            for line in BufReader::new(client_stderr).lines().map_while(Result::ok) {
                let mut log = log
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (send, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or_else(|error| {
                    panic!("not a JSON line from the client ({error}): {line}")
                });
                if send.send(value).is_err() {
                    return;
                }
            }
        });
        Some(Self {
            client,
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        })
    }

    /// The next line, within what is left of `deadline`.
    fn next(&self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "the {:?} consumer did not send {waiting_for} in time; it logged:\n{}",
                self.client,
                self.log()
            )
        })
    }

    fn log(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn wait_ready(&self) {
        let ready = self.next(Instant::now() + READY_TIMEOUT, "{\"ready\":true}");
        assert_eq!(ready["ready"], true, "{ready}");
    }

    /// Tells the consumer to expect `expected` messages, gathers them, and waits for it to
    /// close and exit cleanly.
    fn collect(&mut self, expected: usize) -> Vec<(Printed, i64, i64)> {
        let stdin = self.stdin.as_mut().expect("piped");
        writeln!(stdin, "{expected}").expect("the consumer reads its stdin");
        let deadline = Instant::now() + DONE_TIMEOUT;
        let mut received = Vec::new();
        loop {
            let line = self.next(deadline, "every message");
            if let Some(done) = line.get("done") {
                assert_eq!(done.as_u64(), Some(expected as u64));
                break;
            }
            received.push(render(&line));
        }
        let status = self.child.wait().expect("the consumer exits");
        assert!(
            status.success(),
            "the {:?} consumer failed: {status}\n{}",
            self.client,
            self.log()
        );
        received
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates every AliECS topic on `broker` with `layout` — before any consumer subscribes, as
/// ecsim's topics exist on AliECS's brokers — and returns its address and the topics.
fn with_aliecs_topics(broker: &Broker, layout: TopicLayout) -> (String, Vec<String>) {
    let topics = ecsim_proto::topics::all_known();
    drop(broker.publisher(layout, &topics, Duration::from_secs(30)));
    (broker.bootstrap(), topics)
}

/// A message as the run printed it: topic, key (`--print`'s rendering), decoded value.
type Printed = (String, Value, Value);

/// Runs the scenario in real time against `bootstrap`; returns what it printed.
fn run_scenario(bootstrap: &str) -> Vec<Printed> {
    let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["run", SCENARIO, "--brokers", bootstrap, "--print"])
        .output()
        .expect("ecsim runs");
    assert!(
        output.status.success(),
        "the run failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| {
            let mut value: Value = serde_json::from_str(line).expect("a JSON line");
            (
                value["topic"].as_str().expect("a topic").to_owned(),
                value["key"].take(),
                value["value"].take(),
            )
        })
        .collect()
}

/// A received message rendered as `--print` renders it (the value decoded with ALICE's
/// schema), with its record timestamp and reception time.
fn render(message: &Value) -> (Printed, i64, i64) {
    let topic = message["topic"].as_str().expect("topic");
    let bytes = |field: &str| {
        message[field].as_str().map(|hex| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect::<Vec<u8>>()
        })
    };
    let message_type = ecsim_proto::topics::message_type_for_topic(topic)
        .unwrap_or_else(|| panic!("a topic ecsim does not write: {topic}"));
    let value = bytes("value").expect("a value");
    let line = ecsim_core::publish::json_line(topic, bytes("key").as_deref(), &value, message_type);
    let mut line: Value = serde_json::from_str(&line).expect("JSON");
    assert!(
        line["value"].get("undecodable").is_none(),
        "{topic}: a value ALICE's schema cannot decode: {}",
        line["value"]
    );
    (
        (topic.to_owned(), line["key"].take(), line["value"].take()),
        message["timestamp"].as_i64().expect("timestamp"),
        message["received"].as_i64().expect("received"),
    )
}

/// (topic, key) → values in order.
fn per_key(messages: impl IntoIterator<Item = Printed>) -> BTreeMap<(String, String), Vec<Value>> {
    let mut per_key: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for (topic, key, value) in messages {
        per_key
            .entry((topic, key.to_string()))
            .or_default()
            .push(value);
    }
    per_key
}

/// The test: a consumer group of one `client` started before a real-time run on `broker`
/// receives every message of the run, as published, in per-key order.
fn consume_a_live_run(client: Client, broker: Option<Broker>) {
    let Some(broker) = broker else {
        return; // Broker::tansu() said why.
    };
    let (bootstrap, topics) = with_aliecs_topics(&broker, TopicLayout::default());
    let group = format!("ecsim-client-test-{client:?}-{}", broker.name()).to_lowercase();
    let Some(mut consumer) = Consumer::start(client, &bootstrap, &group, &topics) else {
        return;
    };
    consumer.wait_ready();
    let published = run_scenario(&bootstrap);
    let received = consumer.collect(published.len());
    assert_eq!(
        errors_logged(&consumer.log()),
        Vec::<&str>::new(),
        "{client:?} on {}: no error from the client, joining, consuming or leaving",
        broker.name()
    );

    assert_eq!(
        received.len(),
        published.len(),
        "{client:?} on {}: every message, once",
        broker.name()
    );
    let got = per_key(received.iter().map(|(printed, _, _)| printed.clone()));
    let want = per_key(published);
    assert_eq!(got.len(), want.len(), "the same (topic, key) pairs");
    for (key, values) in &want {
        assert_eq!(
            got.get(key),
            Some(values),
            "{client:?} on {}: {key:?} in the order published",
            broker.name()
        );
    }
    // With epoch "now", record timestamps are today's: what a consumer filtering by time needs.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    for (_, timestamp, _) in &received {
        assert!(
            (now - timestamp).abs() < 10 * 60 * 1000,
            "a timestamp of today: {timestamp}"
        );
    }
    print_latency(client, &broker, &received);
}

/// The delay from the record's timestamp (the moment the core published it, in real time) to
/// the client handing it over, for the benchmark notes; not asserted (timing is for
/// benchmarks, not tests).
#[allow(clippy::print_stdout)] // in the test's output, for the benchmark notes
fn print_latency(client: Client, broker: &Broker, received: &[(Printed, i64, i64)]) {
    let mut delays: Vec<i64> = received.iter().map(|(_, sent, got)| got - sent).collect();
    delays.sort_unstable();
    let at = |q: f64| delays[((delays.len() - 1) as f64 * q) as usize];
    println!(
        "{client:?} on {}: {} messages, record timestamp → delivered p50 {} ms, p99 {} ms, max {} ms",
        broker.name(),
        delays.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

#[test]
fn kafkajs_consumes_a_live_run_from_the_embedded_broker() {
    consume_a_live_run(Client::Kafkajs, Some(Broker::embedded()));
}

#[test]
fn kafkajs_consumes_a_live_run_from_tansu() {
    consume_a_live_run(Client::Kafkajs, Broker::tansu());
}

#[test]
fn confluent_kafka_consumes_a_live_run_from_the_embedded_broker() {
    consume_a_live_run(Client::ConfluentKafka, Some(Broker::embedded()));
}

#[test]
fn confluent_kafka_consumes_a_live_run_from_tansu() {
    consume_a_live_run(Client::ConfluentKafka, Broker::tansu());
}

#[test]
fn kafka_python_consumes_a_live_run_from_the_embedded_broker() {
    consume_a_live_run(Client::KafkaPython, Some(Broker::embedded()));
}

#[test]
fn kafka_python_consumes_a_live_run_from_tansu() {
    consume_a_live_run(Client::KafkaPython, Broker::tansu());
}

/// Lines of a client's log that report an error: kafkajs logs JSON with `"level":"ERROR"`,
/// the Python scripts' logging starts a line with its level (`ERROR kafka.…`), librdkafka
/// writes `%<level>|…` (3 and below are errors), and an uncaught exception is a traceback.
fn errors_logged(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            line.contains("\"level\":\"ERROR\"")
                || line.starts_with("ERROR ")
                || line.starts_with("CRITICAL ")
                || ["%0|", "%1|", "%2|", "%3|"]
                    .iter()
                    .any(|level| line.starts_with(level))
                || line.contains("Traceback")
        })
        .collect()
}

/// A consumer that closes and is started again in its group — the edit-run cycle of a consumer
/// developer — is served at once: the new one gets the next run's first message within 5 s of
/// starting (librdkafka's mock made it wait out the old member's session, up to 44 s), from the
/// offsets its predecessor committed, and neither logs an error (kafkajs logged one for every
/// LeaveGroup on the mock).
fn restart_in_the_group(client: Client) {
    let broker = Broker::embedded();
    let (bootstrap, topics) = with_aliecs_topics(&broker, TopicLayout::default());
    let group = format!("ecsim-client-restart-{client:?}").to_lowercase();
    let Some(mut first) = Consumer::start(client, &bootstrap, &group, &topics) else {
        return;
    };
    first.wait_ready();
    let published = run_scenario(&bootstrap);
    assert_eq!(first.collect(published.len()).len(), published.len());
    assert_eq!(errors_logged(&first.log()), Vec::<&str>::new());

    let started = Instant::now();
    let mut second = Consumer::start(client, &bootstrap, &group, &topics).expect("installed");
    // The next run starts at once, the new consumer still joining: it reads from the offsets
    // the first one committed, so nothing of the run is missed however long the join takes.
    let runner = thread::spawn({
        let bootstrap = bootstrap.clone();
        move || run_scenario(&bootstrap)
    });
    let first_message = loop {
        let line = second.next(started + DONE_TIMEOUT, "a message of the second run");
        if line.get("topic").is_some() {
            break render(&line);
        }
    };
    let waited =
        Duration::from_millis(u64::try_from(first_message.2 - started_ms(started)).unwrap_or(0));
    print_restart(client, waited);
    assert!(
        waited < Duration::from_secs(5),
        "{client:?}: the restarted consumer's first message came {waited:?} after it started"
    );
    let again = runner.join().expect("the second run");
    // The count the consumer waits for is its total, the message already seen included.
    let rest = second.collect(again.len());
    assert_eq!(
        rest.len() + 1,
        again.len(),
        "every message of the second run"
    );
    assert_eq!(errors_logged(&second.log()), Vec::<&str>::new());
}

#[allow(clippy::print_stdout)] // in the test's output, for the notes
fn print_restart(client: Client, waited: Duration) {
    println!("{client:?} restarted in its group: first message {waited:?} after the start");
}

/// `started` in ms since the Unix epoch, as the clients' `received`.
fn started_ms(started: Instant) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    now - started.elapsed().as_millis() as i64
}

#[test]
fn kafkajs_restarted_in_its_group_gets_the_next_message_at_once() {
    restart_in_the_group(Client::Kafkajs);
}

#[test]
fn kafka_python_restarted_in_its_group_gets_the_next_message_at_once() {
    restart_in_the_group(Client::KafkaPython);
}

/// Two consumers of one group, started together, share the topics without an error
/// (kafka-python's groups of two died at SyncGroup on librdkafka's mock, 2 starts in 4), and
/// between them receive every message once.
#[test]
fn two_kafka_python_consumers_share_a_group() {
    let client = Client::KafkaPython;
    let broker = Broker::embedded();
    // Two partitions a topic, so that each member is assigned some (range assignment).
    let layout = TopicLayout {
        partitions: 2,
        ..TopicLayout::default()
    };
    let (bootstrap, topics) = with_aliecs_topics(&broker, layout);
    let group = "ecsim-client-two-members";
    let Some(one) = Consumer::start(client, &bootstrap, group, &topics) else {
        return;
    };
    let two = Consumer::start(client, &bootstrap, group, &topics).expect("installed");
    one.wait_ready();
    two.wait_ready();
    let published = run_scenario(&bootstrap);
    let deadline = Instant::now() + DONE_TIMEOUT;
    let mut received = Vec::new();
    while received.len() < published.len() {
        for consumer in [&one, &two] {
            if let Ok(line) = consumer.lines.recv_timeout(Duration::from_millis(50)) {
                received.push(render(&line).0);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} messages; logs:\n{}\n{}",
            received.len(),
            published.len(),
            one.log(),
            two.log()
        );
    }
    assert_eq!(
        per_key(received),
        per_key(published),
        "every message once, per-key order kept"
    );
    for consumer in [&one, &two] {
        assert_eq!(errors_logged(&consumer.log()), Vec::<&str>::new());
    }
}
mod decoders;
mod wheel;
