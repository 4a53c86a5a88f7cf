//! The `ecsim` binary as a user runs it: arguments in, output and exit status out.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

use std::{
    collections::BTreeMap,
    io::Write as _,
    process::{Command, Output, Stdio},
};

use ecsim_proto::{
    events::{EvRunEvent, Event, OpStatus, event::Payload},
    kafka::{ActiveRunsList, EnvInfo},
    prost::Message as _,
};

fn ecsim(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ecsim starts");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin)
        .expect("stdin written");
    child.wait_with_output().expect("ecsim ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_names_the_release_the_commit_and_the_aliecs_schema() {
    let out = ecsim(&["--version"], b"");
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("ecsim {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
    assert!(stdout.contains("AliceO2Group/Control"), "{stdout}");

    let short = text(&ecsim(&["-V"], b"").stdout);
    assert_eq!(short.trim(), format!("ecsim {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_lists_the_commands_and_the_exit_codes() {
    let out = ecsim(&["--help"], b"");
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("decode"), "{stdout}");
    assert!(
        stdout.contains("Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 invalid input"),
        "{stdout}"
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let out = ecsim(&["decode", "--no-such-flag"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--no-such-flag"));
}

#[test]
fn decode_reads_an_event_from_stdin_by_default() {
    let event = Event {
        timestamp: 1_700_000_000_123,
        timestamp_nano: 1_700_000_000_123_000_000,
        payload: Some(Payload::RunEvent(EvRunEvent {
            environment_id: "2oDvieFrVTi".into(),
            run_number: 42,
            state: "RUNNING".into(),
            transition: "STOP_ACTIVITY".into(),
            transition_status: OpStatus::Started.into(),
            ..Default::default()
        })),
    };
    let out = ecsim(&["decode"], &event.encode_to_vec());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        concat!(
            r#"{"timestamp":"1700000000123","timestampNano":"1700000000123000000","runEvent":{"#,
            r#""environmentId":"2oDvieFrVTi","runNumber":42,"state":"RUNNING","#,
            r#""transition":"STOP_ACTIVITY","transitionStatus":"STARTED"}}"#,
            "\n"
        )
    );
}

#[test]
fn decode_chooses_the_type_from_the_topic_and_reads_a_file() {
    let list = ActiveRunsList {
        active_runs: vec![EnvInfo {
            environment_id: "2oDvieFrVTi".into(),
            run_number: Some(7),
            run_type: Some("PHYSICS".into()),
            state: "RUNNING".into(),
            detectors: vec!["ITS".into()],
            enter_state_timestamp: 1_700_000_000_000,
        }],
        timestamp: 1_700_000_000_001,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("value.bin");
    std::fs::write(&path, list.encode_to_vec()).unwrap();

    let out = ecsim(
        &[
            "decode",
            "--topic",
            "aliecs.env_list.RUNNING",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["activeRuns"][0]["runNumber"], 7);
    assert_eq!(json["activeRuns"][0]["detectors"][0], "ITS");
    assert_eq!(json["timestamp"], "1700000000001");
}

#[test]
fn undecodable_bytes_are_invalid_input_and_say_which_type_was_tried() {
    let out = ecsim(
        &["decode", "--type", "kafka.NewStateNotification"],
        &[0x0a, 0x09, 0x01],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("kafka.NewStateNotification"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unknown_topic_asks_for_an_explicit_type() {
    let out = ecsim(&["decode", "--topic", "my.topic"], b"");
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("my.topic") && stderr.contains("--type"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_type_lists_the_known_ones() {
    let out = ecsim(&["decode", "--type", "events.Nope"], b"");
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("events.Nope") && stderr.contains("kafka.ActiveRunsList"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_a_runtime_error_naming_the_file() {
    let out = ecsim(&["decode", "/nonexistent/value.bin"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/value.bin"));
}

// ---- ecsim run / ecsim validate ---------------------------------------------------------------

const PHYSICS: &str = "../../scenarios/physics-run.toml";

#[test]
fn run_prints_aliecs_messages_as_json_lines_and_a_summary() {
    let out = ecsim(&["run", PHYSICS, "--print"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["topic"], "aliecs.core");
    assert!(
        lines
            .iter()
            .any(|l| l["topic"] == "aliecs.env_state.RUNNING"),
        "start of run"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["type"].is_string() && l["value"].is_object())
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("scenario physics-run (seed 2025, virtual time)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("messages: {}", lines.len())),
        "the summary counts what was printed: {stderr}"
    );
}

#[test]
fn epoch_now_gives_todays_timestamps_and_a_fixed_epoch_its_own() {
    let first_timestamp = |args: &[&str]| -> i64 {
        let out = ecsim(args, b"");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let first: serde_json::Value =
            serde_json::from_str(stdout.lines().next().expect("a first message")).unwrap();
        first["value"]["timestamp"]
            .as_str()
            .expect("an events.Event's timestamp")
            .parse()
            .unwrap()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let today = first_timestamp(&["run", PHYSICS, "--print", "--epoch", "now"]);
    assert!(
        (today - now).abs() < 60_000,
        "--epoch now starts at the wall clock: {today} vs {now}"
    );
    let fixed = first_timestamp(&["run", PHYSICS, "--print", "--epoch", "2030-01-02T03:04:05Z"]);
    assert_eq!(fixed, 1_893_553_445_000);
    let bad = ecsim(&["run", PHYSICS, "--epoch", "yesterday"], b"");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("\"now\" or an RFC 3339 instant"));
}

#[test]
fn run_is_deterministic_for_a_seed_and_the_seed_can_be_overridden() {
    let first = ecsim(&["run", PHYSICS, "--print"], b"").stdout;
    let second = ecsim(&["run", PHYSICS, "--print"], b"").stdout;
    assert_eq!(first, second);
    let reseeded = ecsim(&["run", PHYSICS, "--print", "--seed", "99"], b"").stdout;
    assert_ne!(first, reseeded);
    assert_eq!(
        text(&first).lines().count(),
        text(&reseeded).lines().count()
    );
}

#[test]
fn run_writes_the_summary_as_json_when_asked() {
    let out = ecsim(&["run", PHYSICS, "--summary-json"], b"");
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "nothing on stdout without --print");
    let summary: serde_json::Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!(summary["scenario"], "physics-run");
    assert_eq!(summary["runs"], 1);
    assert_eq!(
        summary["messages"]["by_topic"]["aliecs.env_state.RUNNING"],
        1
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("summary.json");
    let out = ecsim(
        &["run", PHYSICS, "--summary-json", file.to_str().unwrap()],
        b"",
    );
    assert!(out.status.success());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(summary["environments"]["created"], 1);
}

#[test]
fn run_stops_printing_quietly_when_stdout_closes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["run", "../../scenarios/soak.toml", "--print"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0_u8; 64];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout); // as `| head` does
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("runs: 1000"),
        "the replay went on to the end"
    );
}

#[test]
fn validate_accepts_the_examples_and_refuses_a_broken_file_with_its_position() {
    let examples: Vec<String> = std::fs::read_dir("../../scenarios")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    let args: Vec<&str> = std::iter::once("validate")
        .chain(examples.iter().map(String::as_str))
        .collect();
    let out = ecsim(&args, b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr).matches("ok: ").count(), examples.len());

    let broken = "../ecsim-scenario/tests/it/broken/04-unknown-environment.toml";
    for command in ["validate", "run"] {
        let out = ecsim(&[command, broken], b"");
        assert_eq!(out.status.code(), Some(3), "{command}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("[{broken}:10:7]")),
            "{command}: {stderr}"
        );
        assert!(stderr.contains("did you mean `physics`?"), "{stderr}");
    }
}

#[test]
fn a_missing_scenario_file_is_a_runtime_error() {
    let out = ecsim(&["run", "no/such/scenario.toml"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no/such/scenario.toml"));
    let out = ecsim(&["run", PHYSICS, "--speed", "-1"], b"");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a negative speed is a usage error"
    );
}

// ---- Kafka: the embedded broker, tail, verify ----------------------------------------------------

/// `ecsim broker` in the background, killed when dropped.
struct BrokerProcess {
    child: std::process::Child,
    address: String,
}

impl BrokerProcess {
    fn start() -> Self {
        Self::start_with(&[], Stdio::null())
    }

    fn start_with(args: &[&str], stderr: Stdio) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ecsim"))
            .arg("broker")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let address = line.trim().to_owned();
        assert!(
            address.starts_with("127.0.0.1:"),
            "ecsim broker prints its address first: {address:?}"
        );
        Self { child, address }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = text(bytes).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn run_publishes_to_the_embedded_broker_by_default_and_says_so() {
    let out = ecsim(&["run", PHYSICS], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("(embedded)"), "{stderr}");
    assert!(
        stderr.contains("delivery: 403 sent, 403 acknowledged, 0 failed, 0 pending"),
        "{stderr}"
    );
    assert!(stderr.contains("expectations: 5 of 5 met"), "{stderr}");
}

#[test]
fn tail_prints_what_run_published_and_verify_checks_it() {
    let broker = BrokerProcess::start();
    let run = ecsim(
        &["run", PHYSICS, "--brokers", &broker.address, "--print"],
        b"",
    );
    assert!(run.status.success(), "{}", text(&run.stderr));

    let tail = ecsim(
        &[
            "tail",
            "--brokers",
            &broker.address,
            "--from-beginning",
            "--idle",
            "3s",
        ],
        b"",
    );
    assert!(tail.status.success(), "{}", text(&tail.stderr));
    // Across topics the order is the broker's; as a set, and per topic, it is what run printed.
    assert_eq!(sorted_lines(&tail.stdout), sorted_lines(&run.stdout));
    let per_topic = |bytes: &[u8], topic: &str| -> Vec<String> {
        text(bytes)
            .lines()
            .filter(|l| l.contains(&format!("\"topic\":\"{topic}\"")))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        per_topic(&tail.stdout, "aliecs.environment"),
        per_topic(&run.stdout, "aliecs.environment")
    );

    let verify = ecsim(&["verify", PHYSICS, "--brokers", &broker.address], b"");
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    assert!(
        text(&verify.stderr).contains("expectations: 5 of 5 met"),
        "{}",
        text(&verify.stderr)
    );
}

#[test]
fn verify_checks_the_latest_run_of_its_scenario_or_the_one_named() {
    let broker = BrokerProcess::start();
    let run_id = |stderr: &str| -> String {
        let at = stderr
            .find("ecsim.run=")
            .expect("the run's id in the summary")
            + 10;
        stderr[at..]
            .split_whitespace()
            .next()
            .expect("an id")
            .to_owned()
    };
    let mut ids = Vec::new();
    for _ in 0..2 {
        // Same scenario, same seed, same ids and bytes: only the header tells them apart.
        let run = ecsim(&["run", PHYSICS, "--brokers", &broker.address], b"");
        assert!(run.status.success(), "{}", text(&run.stderr));
        ids.push(run_id(&text(&run.stderr)));
    }
    assert_ne!(ids[0], ids[1]);
    // Then another scenario, on the same broker: the latest run, but not physics-run's.
    let other = ecsim(
        &[
            "run",
            "../../scenarios/beam-dump.toml",
            "--brokers",
            &broker.address,
        ],
        b"",
    );
    assert!(other.status.success(), "{}", text(&other.stderr));
    let other_id = run_id(&text(&other.stderr));

    let verify = ecsim(&["verify", PHYSICS, "--brokers", &broker.address], b"");
    let stderr = text(&verify.stderr);
    assert!(verify.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "checking run {} of scenario physics-run (8 of its messages; 3 run(s)",
            ids[1]
        )),
        "{stderr}"
    );
    assert!(stderr.contains("expectations: 5 of 5 met"), "{stderr}");

    // The other scenario's latest run, checked against this file's expectations.
    let named = ecsim(
        &[
            "verify",
            PHYSICS,
            "--brokers",
            &broker.address,
            "--scenario",
            "beam-dump",
        ],
        b"",
    );
    let stderr = text(&named.stderr);
    assert!(
        stderr.contains(&format!("checking run {other_id} of scenario beam-dump")),
        "{stderr}"
    );
    let nobody = ecsim(
        &[
            "verify",
            PHYSICS,
            "--brokers",
            &broker.address,
            "--scenario",
            "cosmics",
        ],
        b"",
    );
    assert_eq!(nobody.status.code(), Some(3));
    assert!(
        text(&nobody.stderr).contains(
            "no run of scenario cosmics on the broker: it holds runs of beam-dump (1 run), \
             physics-run (2 runs)"
        ),
        "{}",
        text(&nobody.stderr)
    );

    let first = ecsim(
        &[
            "verify",
            PHYSICS,
            "--brokers",
            &broker.address,
            "--run",
            &ids[0],
        ],
        b"",
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stderr).contains(&format!("checking run {}", ids[0])));
    // A start of the id is enough, as the README shows it.
    let by_prefix = ecsim(
        &[
            "verify",
            PHYSICS,
            "--brokers",
            &broker.address,
            "--run",
            &ids[0][..8],
        ],
        b"",
    );
    assert!(by_prefix.status.success(), "{}", text(&by_prefix.stderr));
    assert!(text(&by_prefix.stderr).contains(&format!("checking run {}", ids[0])));

    let unknown = ecsim(
        &[
            "verify",
            PHYSICS,
            "--brokers",
            &broker.address,
            "--run",
            "nope",
        ],
        b"",
    );
    assert_eq!(unknown.status.code(), Some(3));
    assert!(
        text(&unknown.stderr).contains(&format!(
            "no record carries ecsim.run=nope…; the broker holds runs {}, {}, {other_id}",
            ids[0], ids[1]
        )),
        "{}",
        text(&unknown.stderr)
    );
}

/// The soak scenario (93,211 messages, ~20 MB on `aliecs.environment` alone) through `ecsim
/// broker` and `--brokers`: every message the run says was acknowledged is on the broker,
/// readable from the first (librdkafka's mock kept the newest 5 MiB of a partition and dropped
/// the rest without a word).
#[test]
fn the_soak_through_ecsim_broker_keeps_every_message() {
    let broker = BrokerProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let run = ecsim(
        &[
            "run",
            "../../scenarios/soak.toml",
            "--brokers",
            &broker.address,
            "--summary-json",
            summary.to_str().expect("a UTF-8 path"),
        ],
        b"",
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let acknowledged: BTreeMap<String, u64> = summary["delivery"]["topics"]
        .as_object()
        .expect("per-topic delivery")
        .iter()
        .map(|(topic, counts)| {
            (
                topic.clone(),
                counts["delivered"].as_u64().expect("a count"),
            )
        })
        .collect();
    assert!(acknowledged.values().sum::<u64>() > 90_000);

    let recording = dir.path().join("soak.jsonl");
    let record = ecsim(
        &[
            "record",
            "--brokers",
            &broker.address,
            "--to-end",
            "-o",
            recording.to_str().expect("a UTF-8 path"),
        ],
        b"",
    );
    assert!(record.status.success(), "{}", text(&record.stderr));
    let mut held: BTreeMap<String, u64> = BTreeMap::new();
    let mut first_offsets = BTreeMap::new();
    for line in std::fs::read_to_string(&recording).unwrap().lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let topic = line["topic"].as_str().expect("a topic").to_owned();
        *held.entry(topic.clone()).or_default() += 1;
        first_offsets
            .entry(topic)
            .or_insert_with(|| line["offset"].as_i64().expect("an offset"));
    }
    assert_eq!(
        held, acknowledged,
        "every acknowledged message is on the broker"
    );
    assert!(
        first_offsets.values().all(|offset| *offset == 0),
        "every topic readable from its first message: {first_offsets:?}"
    );
}

#[test]
fn verify_reports_an_expectation_that_does_not_hold() {
    let broker = BrokerProcess::start();
    let scenario = "tests/fixtures/wrong-expectation.toml";
    let run = ecsim(&["run", scenario, "--brokers", &broker.address], b"");
    assert_eq!(
        run.status.code(),
        Some(4),
        "run checks expectations too: {}",
        text(&run.stderr)
    );

    let verify = ecsim(
        &[
            "verify",
            scenario,
            "--brokers",
            &broker.address,
            "--json",
            "-",
        ],
        b"",
    );
    assert_eq!(verify.status.code(), Some(4));
    let stderr = text(&verify.stderr);
    assert!(stderr.contains("expectations: 1 of 2 met"), "{stderr}");
    assert!(stderr.contains("FAIL line 34: exactly 1 aliecs.env_state.RUNNING for physics where envInfo.runType = \"COSMICS\""), "{stderr}");
    assert!(
        stderr.contains(
            "expected exactly 1, found 0; 1 message(s) on aliecs.env_state.RUNNING for physics"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"runType\":\"PHYSICS\""),
        "shows what was found: {stderr}"
    );
    let outcomes: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(outcomes[1]["met"], false);
    assert_eq!(outcomes[1]["found"], 0);
}

#[test]
fn a_broker_that_is_down_is_a_clear_runtime_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{closed}");
    for args in [
        vec![
            "run",
            PHYSICS,
            "--brokers",
            &address,
            "--connect-timeout",
            "2s",
        ],
        vec![
            "tail",
            "--brokers",
            &address,
            "--connect-timeout",
            "2s",
            "--count",
            "1",
        ],
        vec![
            "verify",
            PHYSICS,
            "--brokers",
            &address,
            "--connect-timeout",
            "2s",
        ],
    ] {
        let out = ecsim(&args, b"");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "cannot reach the Kafka cluster at {address} within 2 s"
            )),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn bad_kafka_flags_are_usage_or_input_errors() {
    let out = ecsim(&["run", PHYSICS, "-X", "acks"], b"");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("`acks` is not a property"),
        "{}",
        text(&out.stderr)
    );
    let out = ecsim(
        &["run", PHYSICS, "--producer-config", "no/such.properties"],
        b"",
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("no/such.properties"));
    let out = ecsim(&["run", PHYSICS, "--partitions", "0"], b"");
    assert_eq!(out.status.code(), Some(2));
}

/// The broker dies two seconds into a real-time run and stays down past the delivery timeout:
/// the run ends on its own with exit status 5 and a report, and whatever the report claims
/// delivered is on the broker when it comes back — counts checked by reading everything back.
#[test]
fn a_broker_gone_mid_run_gives_exit_5_and_a_report_that_claims_only_what_the_broker_holds() {
    use ecsim_e2e::brokers::{Storage, Tansu};
    use ecsim_kafka::{
        Settings,
        consumer::{ReadOptions, read},
    };

    let dir = tempfile::tempdir().unwrap();
    let Some(mut tansu) = Tansu::start(Storage::Sqlite(dir.path().to_owned())) else {
        return;
    };
    let summary = dir.path().join("summary.json");
    // About an hour of simulated time at 600 times real time: six seconds of publishing.
    let child = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args([
            "run",
            "../../scenarios/many-environments.toml",
            "--speed",
            "600",
            "--brokers",
            &tansu.bootstrap(),
            "-X",
            "message.timeout.ms=3000",
            "--summary-json",
            summary.to_str().unwrap(),
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    tansu.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("messages were not delivered to"),
        "{}",
        text(&out.stderr)
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let (mut sent, mut delivered, mut failed) = (0, 0, 0);
    for counts in summary["delivery"]["topics"].as_object().unwrap().values() {
        sent += counts["sent"].as_u64().unwrap();
        delivered += counts["delivered"].as_u64().unwrap();
        failed += counts["failed"].as_u64().unwrap();
    }
    assert!(
        delivered > 0 && failed > 0,
        "the outage came mid-run: {summary}"
    );
    assert_eq!(delivered + failed, sent, "nothing left pending: {summary}");

    tansu.restart();
    let options = ReadOptions {
        settings: Settings::brokers(tansu.bootstrap()),
        topics: vec!["aliecs.*".to_owned()],
        from_beginning: true,
        count: None,
        idle: Some(std::time::Duration::from_secs(30)),
        to_end: true,
        deadline: None,
        timeout: std::time::Duration::from_secs(20),
        stop: None,
    };
    let mut on_broker = 0_u64;
    read(&options, |_| {
        on_broker += 1;
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    println!("sent {sent}, acknowledged {delivered}, failed {failed}; on the broker: {on_broker}");
    assert!(
        on_broker >= delivered,
        "every message reported acknowledged is on the broker ({on_broker} < {delivered})"
    );
    assert!(on_broker <= sent, "and nothing else ({on_broker} > {sent})");
}

// ---- Serving ----------------------------------------------------------------------------------

/// Starts `ecsim run … --serve`, reads the broker's address from the first line of stdout,
/// waits for the replay to end (stderr says it serves), checks that the broker answers, then
/// stops ecsim as a supervisor would (SIGTERM) and returns the first line and the exit status.
fn serve_then_stop(args: &[&str]) -> (String, std::process::ExitStatus) {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let first = first.trim().to_owned();
    // The rest of stdout, read aside so that the child never blocks on a full pipe.
    let rest = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let (lines, serving) = std::sync::mpsc::channel();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut said = Vec::new();
    while let Ok(line) = serving.recv_timeout(std::time::Duration::from_secs(120)) {
        let done = line.contains("serving the embedded broker at");
        said.push(line);
        if done {
            break;
        }
    }
    assert!(
        said.iter()
            .any(|l| l.contains("serving the embedded broker at")),
        "the replay ended and ecsim serves: {said:#?}"
    );
    let address = match serde_json::from_str::<serde_json::Value>(&first) {
        Ok(json) => json["broker"].as_str().unwrap_or_default().to_owned(),
        Err(_) => first.clone(),
    };
    assert!(
        std::net::TcpStream::connect(&address).is_ok(),
        "nothing listens at {address:?}"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "still serving after the replay"
    );
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    let _ = rest.join();
    (first, status)
}

/// `--port 0` asks the system for a free port, and the address announced is the one it gave
/// (librdkafka's mock advertised `127.0.0.1:0`, which no client can reach).
#[test]
fn serve_on_port_0_announces_the_port_it_got() {
    let (first, status) = serve_then_stop(&["run", PHYSICS, "--serve", "--quiet", "--port", "0"]);
    let port: u16 = first
        .strip_prefix("127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("an address: {first:?}"));
    assert_ne!(port, 0, "the port the system chose");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serve_prints_the_address_first_and_serves_until_stopped_then_exits_with_the_runs_status() {
    let (first, status) = serve_then_stop(&["run", PHYSICS, "--serve", "--quiet"]);
    assert!(
        first.starts_with("127.0.0.1:") && first[10..].parse::<u16>().is_ok(),
        "the bare address: {first:?}"
    );
    assert_eq!(status.code(), Some(0));

    // With --print, every line of stdout is JSON, the address too.
    let (first, status) = serve_then_stop(&["run", PHYSICS, "--serve", "--quiet", "--print"]);
    assert!(first.starts_with(r#"{"broker":"127.0.0.1:"#), "{first}");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serve_serves_a_run_whose_expectations_fail_and_then_exits_4() {
    let (_, status) = serve_then_stop(&[
        "run",
        "tests/fixtures/wrong-expectation.toml",
        "--serve",
        "--quiet",
    ]);
    assert_eq!(
        status.code(),
        Some(4),
        "the run's own status, after serving"
    );
}

#[test]
fn a_broker_at_its_memory_ceiling_refuses_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("broker.log");
    let broker = BrokerProcess::start_with(
        &["--max-memory", "1"],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let run = ecsim(
        &[
            "run",
            "../../scenarios/soak.toml",
            "--brokers",
            &broker.address,
        ],
        b"",
    );
    assert_eq!(
        run.status.code(),
        Some(5),
        "messages not delivered: {}",
        text(&run.stderr)
    );
    assert!(
        text(&run.stderr).contains("Policy violation"),
        "{}",
        text(&run.stderr)
    );
    drop(broker);
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("holds 1048576 bytes of records, its ceiling")
            && said.contains("--max-memory"),
        "{said}"
    );
    let refused = ecsim(&["broker", "--max-memory", "0"], b"");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
}

/// `--first-run-number` replaces the scenario's: run after run against one consumer, the
/// numbers need not start at 1 again.
#[test]
fn first_run_number_on_the_command_line_numbers_the_runs() {
    let out = ecsim(
        &["run", PHYSICS, "--print", "--first-run-number", "500"],
        b"",
    );
    // physics-run.toml expects run number 1: with 500, its expectations fail (exit 4).
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("envInfo.runNumber = 1"),
        "{}",
        text(&out.stderr)
    );
    let numbers: std::collections::BTreeSet<u64> = text(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["topic"] == "aliecs.run")
        .filter_map(|m| m["value"]["runEvent"]["runNumber"].as_u64())
        .collect();
    assert_eq!(numbers.into_iter().collect::<Vec<_>>(), [500]);
    let zero = ecsim(&["run", PHYSICS, "--first-run-number", "0"], b"");
    assert_eq!(zero.status.code(), Some(2), "{}", text(&zero.stderr));
}

// ---- Plugin libraries and faults: cli/plugins.rs, isolation.rs, faults.rs ---------------
mod faults;
mod isolation;
mod plugins;
