//! `ecsim record`, `ecsim replay` and `ecsim run --record`, through the binary, on real
//! brokers (the embedded one, in this process): a stream recorded, replayed into another
//! broker and recorded again is the same records — topics, keys, value bytes, per-key order,
//! distances in time.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Output},
};

use ecsim_e2e::brokers::Broker;
use ecsim_kafka::recording::Recorded;

const PHYSICS: &str = "../../scenarios/physics-run.toml";

fn ecsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("ecsim runs")
}

fn succeed(args: &[&str]) -> Output {
    let output = ecsim(args);
    assert!(
        output.status.success(),
        "ecsim {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn read(path: &Path) -> Vec<Recorded> {
    std::fs::read_to_string(path)
        .expect("the recording")
        .lines()
        .map(|line| Recorded::parse(line).expect("a recorded line"))
        .collect()
}

/// Everything a broker holds, recorded.
fn record(broker: &Broker, path: &Path) -> Vec<Recorded> {
    let out = path.to_str().expect("a UTF-8 path");
    succeed(&[
        "record",
        "--brokers",
        &broker.bootstrap(),
        "--to-end",
        "-o",
        out,
    ]);
    read(path)
}

/// (topic, key) → (value, distance in ms from the first record of the recording), in order.
type PerKey = BTreeMap<(String, Option<String>), Vec<(String, i64)>>;

fn per_key(records: &[Recorded]) -> PerKey {
    let first = records
        .iter()
        .filter_map(|r| r.timestamp)
        .min()
        .expect("timestamps");
    let mut per_key = PerKey::new();
    for r in records {
        per_key
            .entry((r.topic.clone(), r.key_hex.clone()))
            .or_default()
            .push((
                r.value_hex.clone(),
                r.timestamp.expect("a timestamp") - first,
            ));
    }
    per_key
}

#[test]
fn record_replay_record_gives_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (Broker::embedded(), Broker::embedded());
    let published = dir.path().join("published.jsonl");
    succeed(&[
        "run",
        PHYSICS,
        "--brokers",
        &first.bootstrap(),
        "--record",
        published.to_str().expect("a UTF-8 path"),
    ]);
    let recorded = record(&first, &dir.path().join("first.jsonl"));
    assert_eq!(
        recorded.len(),
        403,
        "the physics run publishes 403 messages"
    );
    assert!(
        recorded
            .iter()
            .all(|r| r.partition.is_some() && r.offset.is_some())
    );
    // What the run wrote is what the broker holds.
    assert_eq!(per_key(&read(&published)), per_key(&recorded));

    let replayed = dir.path().join("first.jsonl");
    let replay = succeed(&[
        "replay",
        replayed.to_str().expect("a UTF-8 path"),
        "--brokers",
        &second.bootstrap(),
        "--speed",
        "0",
    ]);
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(stderr.contains("replayed 403 records"), "{stderr}");
    let again = record(&second, &dir.path().join("second.jsonl"));
    assert_eq!(again.len(), recorded.len());
    assert_eq!(
        per_key(&again),
        per_key(&recorded),
        "same keys, values, per-key order and distances in time"
    );
    let exact = |records: &[Recorded]| -> Vec<Option<i64>> {
        records.iter().map(|r| r.timestamp).collect()
    };
    let mut before = exact(&recorded);
    let mut after = exact(&again);
    before.sort_unstable();
    after.sort_unstable();
    assert_eq!(before, after, "without --epoch, the very timestamps");
}

/// The run id a record carries, from its recorded `ecsim.run` header.
fn run_of(record: &Recorded) -> String {
    header(record, "ecsim.run")
}

/// A recorded header's value, as text.
fn header(record: &Recorded, name: &str) -> String {
    let hex = record
        .headers
        .iter()
        .find(|h| h.name == name)
        .and_then(|h| h.value_hex.clone())
        .unwrap_or_else(|| panic!("a {name} header"));
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// A recording of two runs replays as two runs — a new id each, or the recorded ones with
/// `--keep-run-ids` — so that `verify` tells them apart as it told the originals; and
/// `record --to-end` writes in time order across topics.
#[test]
fn a_recording_of_two_runs_replays_as_two_runs_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, third) = (Broker::embedded(), Broker::embedded(), Broker::embedded());
    for _ in 0..2 {
        succeed(&["run", PHYSICS, "--brokers", &first.bootstrap()]);
    }
    let recording = dir.path().join("two.jsonl");
    let recorded = record(&first, &recording);
    assert_eq!(recorded.len(), 806);
    let timestamps: Vec<i64> = recorded.iter().map(|r| r.timestamp.unwrap()).collect();
    assert!(
        timestamps.windows(2).all(|w| w[0] <= w[1]),
        "record --to-end writes in time order across topics"
    );
    let original: std::collections::BTreeSet<String> = recorded.iter().map(run_of).collect();
    assert_eq!(original.len(), 2);

    let replay = succeed(&[
        "replay",
        recording.to_str().unwrap(),
        "--brokers",
        &second.bootstrap(),
        "--speed",
        "0",
    ]);
    let again = record(&second, &dir.path().join("again.jsonl"));
    let replayed: std::collections::BTreeSet<String> = again.iter().map(run_of).collect();
    assert_eq!(
        replayed.len(),
        2,
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(replayed.is_disjoint(&original), "new ids");
    assert!(
        again
            .iter()
            .all(|r| header(r, "ecsim.scenario") == "physics-run"),
        "each replayed run keeps the scenario it played"
    );
    // Each recorded run's records went to one new run, whole.
    for run in &replayed {
        assert_eq!(again.iter().filter(|r| &run_of(r) == run).count(), 403);
    }
    let verify = succeed(&["verify", PHYSICS, "--brokers", &second.bootstrap()]);
    assert!(
        String::from_utf8_lossy(&verify.stderr).contains("2 run(s) on the broker"),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    succeed(&[
        "replay",
        recording.to_str().unwrap(),
        "--brokers",
        &third.bootstrap(),
        "--speed",
        "0",
        "--keep-run-ids",
    ]);
    let kept: std::collections::BTreeSet<String> = record(&third, &dir.path().join("kept.jsonl"))
        .iter()
        .map(run_of)
        .collect();
    assert_eq!(kept, original);
}

#[test]
fn replay_with_epoch_now_moves_the_stream_to_today_keeping_its_distances() {
    let dir = tempfile::tempdir().unwrap();
    let published = dir.path().join("published.jsonl");
    let broker = Broker::embedded();
    succeed(&[
        "run",
        PHYSICS,
        "--record",
        published.to_str().expect("a UTF-8 path"),
    ]);
    succeed(&[
        "replay",
        published.to_str().expect("a UTF-8 path"),
        "--brokers",
        &broker.bootstrap(),
        "--speed",
        "0",
        "--epoch",
        "now",
    ]);
    let moved = record(&broker, &dir.path().join("moved.jsonl"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let earliest = moved
        .iter()
        .filter_map(|r| r.timestamp)
        .min()
        .expect("timestamps");
    assert!(
        (now - earliest).abs() < 60_000,
        "{earliest} is not today ({now})"
    );
    assert_eq!(per_key(&moved), per_key(&read(&published)));
}

#[test]
fn a_bad_recording_publishes_nothing_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::embedded();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"topic\":\"aliecs.run\",\"value_hex\":\"0a00\"}\n\n{\"topic\":\"aliecs.run\",\"value_hex\":\"xyz\"}\n",
    )
    .unwrap();
    let out = ecsim(&[
        "replay",
        bad.to_str().expect("a UTF-8 path"),
        "--brokers",
        &broker.bootstrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "invalid input");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.jsonl:3: value_hex is not hexadecimal bytes"),
        "{stderr}"
    );
    let Broker::Embedded(embedded) = &broker else {
        unreachable!()
    };
    assert!(
        embedded
            .record_counts()
            .iter()
            .all(|(_, count)| *count == 0),
        "the good first line was not published either"
    );

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap();
    let out = ecsim(&[
        "replay",
        empty.to_str().expect("a UTF-8 path"),
        "--brokers",
        &broker.bootstrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));

    // A pace that would wait longer than a clock can count is refused before anything goes.
    let long = dir.path().join("long.jsonl");
    std::fs::write(
        &long,
        "{\"topic\":\"aliecs.run\",\"value_hex\":\"\",\"timestamp\":0}\n{\"topic\":\"aliecs.run\",\"value_hex\":\"\",\"timestamp\":9000000000000}\n",
    )
    .unwrap();
    let slow = ecsim(&[
        "replay",
        long.to_str().expect("a UTF-8 path"),
        "--brokers",
        &broker.bootstrap(),
        "--speed",
        "0.001",
    ]);
    assert_eq!(slow.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&slow.stderr).contains("at --speed 0.001 the 9000000000 s of")
            && String::from_utf8_lossy(&slow.stderr).contains("would take more than ten years"),
        "{}",
        String::from_utf8_lossy(&slow.stderr)
    );

    let nowhere = ecsim(&["replay", bad.to_str().expect("a UTF-8 path")]);
    assert_eq!(nowhere.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("give --brokers"));
}

/// `record` follows until Ctrl-C, then ends cleanly: exit 0, every record read written whole.
#[test]
fn record_stops_cleanly_on_ctrl_c_with_every_record_written() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::embedded();
    succeed(&["run", PHYSICS, "--brokers", &broker.bootstrap()]);
    let path = dir.path().join("followed.jsonl");
    let child = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["record", "--brokers", &broker.bootstrap(), "-o"])
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ecsim record starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&path).map_or(0, |text| text.lines().count()) < 403 {
        assert!(
            std::time::Instant::now() < deadline,
            "the records never came"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("signalled");
    let out = child.wait_with_output().expect("ecsim record ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("recorded 403 records"));
    assert_eq!(read(&path).len(), 403, "every line whole");
}

#[test]
fn a_replay_draws_the_same_report_as_the_run_it_replays() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::embedded();
    let (recording, from_run, from_replay) = (
        dir.path().join("run.jsonl"),
        dir.path().join("run.html"),
        dir.path().join("replay.html"),
    );
    let path = |p: &Path| p.to_str().expect("a UTF-8 path").to_owned();
    succeed(&[
        "run",
        "../../scenarios/failed-start.toml",
        "--record",
        &path(&recording),
        "--report",
        &path(&from_run),
    ]);
    succeed(&[
        "replay",
        &path(&recording),
        "--brokers",
        &broker.bootstrap(),
        "--speed",
        "0",
        "--report",
        &path(&from_replay),
    ]);
    let svg = |file: &Path| {
        let page = std::fs::read_to_string(file).expect("a report");
        let start = page.find("<svg id=\"timeline\"").expect("the timeline");
        let end = start + page[start..].find("</svg>").expect("its end");
        // Lanes are named by the scenario in a run, by id in a replay: compare the drawing.
        page[start..end]
            .split("<g class=\"lane\"")
            .map(|lane| {
                lane.split_once("\">")
                    .map_or(lane, |(_, drawn)| drawn)
                    .to_owned()
            })
            .map(|lane| lane.replace(">tpc<", ">").to_owned())
            .collect::<Vec<_>>()
    };
    let (run, replay) = (svg(&from_run), svg(&from_replay));
    assert_eq!(run.len(), replay.len());
    // The same states, runs and marks, where they were.
    let drawn = |lanes: &[String]| -> Vec<String> {
        lanes
            .iter()
            .flat_map(|l| {
                l.split("<rect")
                    .skip(1)
                    .map(|r| r.split("><title>").next().unwrap_or_default().to_owned())
            })
            .collect()
    };
    assert_eq!(drawn(&run), drawn(&replay));
}
