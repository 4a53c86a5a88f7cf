//! What every test of `ecsim serve` shares: a server started as a user starts it, a client,
//! AliECS's requests, and what the broker holds.

pub(crate) use std::{
    collections::BTreeMap,
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

pub(crate) use ecsim_proto::{
    common::User,
    o2control::{self as pb, control_client::ControlClient, control_environment_request::Optype},
};
pub(crate) use serde_json::Value;
pub(crate) use tonic::{Code, transport::Channel};

/// Task steps short enough for tests, the same in the server and the equivalent scenario.
pub(crate) const TIMING: &str =
    "deploy=200ms,configure=200ms,start=100ms,stop=100ms,reset=100ms,go_error=100ms,release=100ms";

/// A running `ecsim serve`, stopped with SIGINT when dropped.
pub(crate) struct Server {
    pub(crate) child: Option<Child>,
    pub(crate) grpc: String,
    pub(crate) broker: String,
    /// The live page, with `--http-port`.
    pub(crate) http: Option<String>,
}

impl Server {
    pub(crate) fn start(extra: &[&str]) -> Self {
        Self::start_timed(TIMING, extra)
    }

    pub(crate) fn start_timed(timing: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ecsim"))
            .args([
                "serve",
                "--grpc-port",
                "0",
                "--seed",
                "13",
                "--timing",
                timing,
            ])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ecsim serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the first line");
        let announced: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("{line:?} is not the announcement: {error}"));
        Self {
            grpc: format!("http://{}", announced["grpc"].as_str().expect("grpc")),
            broker: announced["broker"].as_str().expect("broker").to_owned(),
            http: announced["http"].as_str().map(str::to_owned),
            child: Some(child),
        }
    }

    pub(crate) async fn client(&self) -> ControlClient<Channel> {
        ControlClient::connect(self.grpc.clone())
            .await
            .expect("the server accepts a connection")
    }

    /// Stops it as Ctrl-C would; its exit status and what it wrote on stderr.
    pub(crate) fn stop(mut self) -> (std::process::ExitStatus, String) {
        let child = self.child.take().expect("running");
        interrupt(&child);
        let output = child.wait_with_output().expect("ecsim serve stops");
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

pub(crate) fn interrupt(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            interrupt(&child);
            let _ = child.wait();
        }
    }
}

pub(crate) fn jane() -> Option<User> {
    Some(User {
        external_id: Some(812),
        id: None,
        name: "Jane Shifter".to_owned(),
    })
}

pub(crate) fn physics_vars() -> BTreeMap<String, String> {
    [
        ("detectors", r#"["ITS","TPC"]"#),
        ("hosts", r#"["alio2-cr1-flp001","alio2-cr1-flp145"]"#),
        ("run_type", "PHYSICS"),
        ("kafka_enabled", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub(crate) fn new_environment(vars: BTreeMap<String, String>) -> pb::NewEnvironmentRequest {
    pb::NewEnvironmentRequest {
        workflow_template: "readout-dataflow".to_owned(),
        vars,
        public: true,
        auto_transition: false,
        request_user: jane(),
    }
}

/// Creates the physics environment; its id.
pub(crate) async fn create_physics(client: &mut ControlClient<Channel>) -> String {
    create(client, physics_vars()).await
}

/// Creates an environment of readout-dataflow with `vars`; its id.
pub(crate) async fn create(
    client: &mut ControlClient<Channel>,
    vars: BTreeMap<String, String>,
) -> String {
    client
        .new_environment(new_environment(vars))
        .await
        .expect("created")
        .into_inner()
        .environment
        .expect("info")
        .id
}

pub(crate) fn control(id: &str, optype: Optype) -> pb::ControlEnvironmentRequest {
    pb::ControlEnvironmentRequest {
        id: id.to_owned(),
        r#type: optype as i32,
        request_user: jane(),
    }
}

pub(crate) fn destroy(id: &str) -> pb::DestroyEnvironmentRequest {
    pb::DestroyEnvironmentRequest {
        id: id.to_owned(),
        request_user: jane(),
        ..Default::default()
    }
}

/// Everything a broker holds, as (topic, decoded value) in offset order per topic.
pub(crate) fn recorded(broker: &str) -> Vec<(String, Value)> {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("recording.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["record", "--brokers", broker, "--to-end", "-o"])
        .arg(&path)
        .output()
        .expect("ecsim record runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(&path)
        .expect("the recording")
        .lines()
        .map(|line| {
            let record = ecsim_kafka::recording::Recorded::parse(line).expect("a record");
            let bytes = record.value().expect("value bytes");
            let kind = ecsim_proto::topics::message_type_for_topic(&record.topic)
                .expect("an AliECS topic");
            let value = ecsim_proto::json::decode_to_json(kind, &bytes).expect("decodes");
            (record.topic, value)
        })
        .collect()
}

/// A message with what differs between two runs of the same steps taken out: ids (replaced by
/// their order of appearance), times and durations.
pub(crate) fn shape(value: &Value, ids: &mut Vec<String>) -> Value {
    pub(crate) fn walk(value: &Value, key: &str, ids: &mut Vec<String>) -> Value {
        let lower = key.to_lowercase();
        if lower.contains("time") || lower.contains("when") || lower == "duration" {
            return Value::from("<time>");
        }
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, k, ids)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, key, ids)).collect()),
            Value::String(text) => {
                if matches!(
                    lower.as_str(),
                    "environmentid" | "taskid" | "environment_id"
                ) && !text.is_empty()
                    && !ids.contains(text)
                {
                    ids.push(text.clone());
                }
                let mut text = text.clone();
                for (n, id) in ids.iter().enumerate() {
                    text = text.replace(id.as_str(), &format!("<id{n}>"));
                }
                Value::from(text)
            }
            other => other.clone(),
        }
    }
    walk(value, "", ids)
}

pub(crate) fn shapes(records: &[(String, Value)]) -> BTreeMap<String, Vec<Value>> {
    // Per topic, in offset order: the order a recording keeps (across topics it depends on
    // how the reader interleaved them).
    let mut by_topic: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for (topic, value) in records {
        by_topic.entry(topic.clone()).or_default().push(value);
    }
    // Ids numbered by first appearance in that order, all of them before any is replaced, so
    // that a value naming an id before the id's own message does is replaced too.
    let mut ids = Vec::new();
    for value in by_topic.values().flatten() {
        shape(value, &mut ids);
    }
    by_topic
        .into_iter()
        .map(|(topic, values)| {
            let shaped = values.into_iter().map(|v| shape(v, &mut ids)).collect();
            (topic, shaped)
        })
        .collect()
}

/// The same environment and steps as a scenario, replayed in virtual time.
pub(crate) const EQUIVALENT_SCENARIO: &str = r#"
[scenario]
name = "api-equivalent"
seed = 13
user = { name = "Jane Shifter", external_id = 812 }

[[environment]]
name = "physics"
detectors = ["ITS", "TPC"]
hosts = ["alio2-cr1-flp001", "alio2-cr1-flp145"]
tasks_per_host = 3
run_type = "PHYSICS"
vars = { kafka_enabled = "true" }
timing = { deploy = "200ms", configure = "200ms", start = "100ms", stop = "100ms", reset = "100ms", go_error = "100ms", release = "100ms" }

[[timeline]]
at = "0s"
env = "physics"
do = "create"

[[timeline]]
after = "1s"
env = "physics"
do = "start"

[[timeline]]
after = "1s"
env = "physics"
do = "stop"

[[timeline]]
after = "1s"
env = "physics"
do = "destroy"
"#;

/// What the equivalent scenario publishes, replayed with `ecsim run`, compared topic by topic
/// and message by message with `through_api`, modulo ids and times.
pub(crate) fn assert_same_messages_as_the_scenario(through_api: &[(String, Value)]) {
    let dir = tempfile::tempdir().expect("a directory");
    let scenario = dir.path().join("equivalent.toml");
    std::fs::write(&scenario, EQUIVALENT_SCENARIO).expect("the scenario");
    let recording = dir.path().join("scenario.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .arg("run")
        .arg(&scenario)
        .arg("--record")
        .arg(&recording)
        .output()
        .expect("ecsim run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_scenario: Vec<(String, Value)> = std::fs::read_to_string(&recording)
        .expect("the recording")
        .lines()
        .map(|line| {
            let record = ecsim_kafka::recording::Recorded::parse(line).expect("a record");
            let kind = ecsim_proto::topics::message_type_for_topic(&record.topic).expect("a topic");
            let value = ecsim_proto::json::decode_to_json(kind, &record.value().expect("bytes"))
                .expect("decodes");
            (record.topic, value)
        })
        .collect();

    let (api, mut scenario) = (shapes(through_api), shapes(&from_scenario));
    // A scenario's `create` is the GUI's asynchronous RPC, whose last word is "created new
    // environment"; the clients here use NewEnvironment, which answers them instead.
    let created = |m: &Value| m["environmentEvent"]["message"] == "created new environment";
    let environment = scenario
        .get_mut("aliecs.environment")
        .expect("environment events");
    let before = environment.len();
    environment.retain(|m| !created(m));
    assert_eq!(
        environment.len(),
        before - 1,
        "the scenario's creation says so once"
    );
    assert!(
        !api["aliecs.environment"].iter().any(created),
        "NewEnvironment writes no such event"
    );
    assert_eq!(
        api.keys().collect::<Vec<_>>(),
        scenario.keys().collect::<Vec<_>>(),
        "the same topics"
    );
    for (topic, messages) in &scenario {
        let from_api = &api[topic];
        assert_eq!(from_api.len(), messages.len(), "{topic}: as many messages");
        for (n, (a, s)) in from_api.iter().zip(messages).enumerate() {
            assert_eq!(a, s, "{topic} message {n}");
        }
    }
}
