//! The abuse findings of issue 16, one test each, named after the finding: what a careless user
//! or an attacker did, and what ecsim does about it now — a clear error with a documented exit
//! status, nothing lost, never a panic reported as success.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scenario(name: &str) -> String {
    workspace()
        .join("scenarios")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn ecsim() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecsim"));
    command
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    command
}

fn output(command: &mut Command) -> Output {
    command.output().expect("ecsim runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scenario file in a temporary directory.
fn write_scenario(dir: &tempfile::TempDir, name: &str, toml: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, toml).unwrap();
    path.to_string_lossy().into_owned()
}

fn signal(child: &std::process::Child, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, signal).unwrap();
}

/// The write end of a pipe nobody reads: a write to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

/// `out`'s stderr, once it is checked that `out` exited with `code` and said each of `says`.
fn exits(out: &Output, code: i32, says: &[&str]) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    for said in says {
        assert!(stderr.contains(said), "{said:?} not in:\n{stderr}");
    }
    stderr
}

/// The number after `label` on the line that starts with it (`messages: 168`).
fn count_after(stderr: &str, label: &str) -> u64 {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line `{label} N` in:\n{stderr}"))
}

#[test]
fn a_panic_in_the_core_ends_the_replay_with_exit_8_never_0() {
    // A bug on the core's publishing path, injected at the 100th message.
    let out = output(
        ecsim()
            .args(["run", &scenario("physics-run.toml")])
            .env("ECSIM_TEST_PANIC_AT_MESSAGE", "100"),
    );
    let stderr = exits(
        &out,
        8,
        &[
            "internal error in ecsim (a bug)",
            "injected by ECSIM_TEST_PANIC_AT_MESSAGE at message 100",
        ],
    );
    // The replay stopped there, and still said what it had published and delivered.
    assert!(
        stderr.contains("stopped early by an internal error"),
        "{stderr}"
    );
    let sent = count_after(&stderr, "delivery: ");
    assert_eq!(sent, count_after(&stderr, "messages: "), "{stderr}");
    assert!(
        stderr.contains(&format!("{sent} sent, {sent} acknowledged")),
        "{stderr}"
    );
    // physics-run publishes 403 messages when it is played to its end.
    assert!((100..403).contains(&sent), "{stderr}");
    // No backtrace unless asked for.
    assert!(!stderr.contains("stack backtrace"), "{stderr}");
}

#[test]
fn the_first_run_number_4294967295_is_given_then_start_fails_as_used_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        &dir,
        "last-run.toml",
        r#"
[scenario]
name = "last-run"
first_run_number = 4294967295

[[environment]]
name = "physics"
detectors = ["ITS"]

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
do = "start"
"#,
    );
    let out = output(ecsim().args(["run", &path, "--print"]));
    let stderr = text(&out.stderr);
    // The second START fails as AliECS's does; the replay goes on and ends normally.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("requests: 4 (1 failed)"), "{stderr}");
    assert!(
        stderr.contains("START_ACTIVITY physics: START_ACTIVITY failed on environment")
            && stderr.contains(
                "which is now ERROR: transition canceled with error: run numbers are used up"
            ),
        "{stderr}"
    );
    assert!(stderr.contains("runs: 1\n"), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains(r#""runNumber":4294967295"#), "{stdout}");
}

#[test]
fn sigint_during_a_real_time_run_ends_with_the_summary_the_delivery_report_and_every_printed_line()
{
    let mut child = ecsim()
        .args(["run", &scenario("consumer-test.toml"), "--print"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `--print` comes out line by line: the first lines arrive while the run goes on (it lasts
    // 12 s of real time), not when a 64 KB buffer fills or the run ends.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    let mut printed = 0_u64;
    let mut line = String::new();
    while printed < 20 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended early"
        );
        printed += 1;
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "20 lines took {:?}: --print is buffered",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    printed += rest.lines().count() as u64;
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("stopped early by interrupted"), "{stderr}");
    assert!(
        stderr.contains("error: interrupted after") && stderr.contains("of 4 steps"),
        "{stderr}"
    );
    let published = count_after(&stderr, "messages: ");
    assert_eq!(printed, published, "every published message printed");
    assert!(
        stderr.contains(&format!(
            "delivery: {published} sent, {published} acknowledged, 0 failed, 0 pending"
        )),
        "{stderr}"
    );
    // Its expectations are not judged on half a timeline.
    assert!(!stderr.contains("expectations:"), "{stderr}");
}

#[test]
fn a_closed_stderr_loses_the_words_not_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let status = ecsim()
        .args(["run", &scenario("physics-run.toml"), "--summary-json"])
        .arg(&summary)
        .stdout(Stdio::null())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains(r#""scenario": "physics-run""#),
        "{summary}"
    );
}

#[test]
fn plugin_inspect_into_a_closed_pipe_ends_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("libnothing.so");
    std::fs::write(&library, b"not an ELF file").unwrap();
    let out = ecsim()
        .args(["plugin", "inspect"])
        .arg(&library)
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn sigint_during_a_replay_reports_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    // A recording of 20 s: replayed at real speed, it is interrupted midway.
    let recording = dir.path().join("physics.jsonl");
    let out = output(
        ecsim()
            .args(["run", &scenario("physics-run.toml"), "--record"])
            .arg(&recording),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = std::fs::read_to_string(&recording).unwrap().lines().count();
    let broker = ecsim_e2e::brokers::Broker::embedded();
    let child = ecsim()
        .args(["replay"])
        .arg(&recording)
        .args(["--speed", "1", "--brokers", &broker.bootstrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let sent = count_after(&stderr, "delivery: ");
    assert!(sent > 0, "{stderr}");
    assert!(
        stderr.contains(&format!("replayed {sent} of {records} records")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: interrupted after {sent} of {records} records"
        )),
        "{stderr}"
    );
    assert!(sent < records as u64, "{stderr}");
}

#[test]
fn a_template_width_over_65535_is_invalid_input_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        &dir,
        "wide.toml",
        "[scenario]\nname = \"wide\"\nown_detectors = true\n\n[[environment]]\nname = \"e{i:070000}\"\ncount = 2\ndetectors = [\"D{i}\"]\n",
    );
    let out = output(ecsim().args(["validate", &path]));
    exits(&out, 3, &["pads the index to 70000 digits"]);
}

#[test]
fn a_scenario_that_is_not_utf8_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"[scenario]\nname = \"caf\xe9\"\n").unwrap();
    for command in ["validate", "run"] {
        let out = output(ecsim().arg(command).arg(&path));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{command}: {stderr}");
        assert!(
            stderr.contains("the file is not UTF-8 text") && stderr.contains("latin1.toml:2:12"),
            "{stderr}"
        );
    }
}

#[test]
fn a_speed_out_of_range_is_a_usage_error_before_anything_runs() {
    for speed in ["1e-300", "1e300", "-1", "NaN", "inf"] {
        let flag = format!("--speed={speed}");
        let out = output(ecsim().args(["run", &scenario("physics-run.toml"), &flag]));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--speed {speed}: {stderr}");
        assert!(
            stderr.contains("between 0.001 and 1000000") || stderr.contains("is not a number"),
            "{stderr}"
        );
    }
    let out = output(ecsim().args([
        "run",
        &scenario("physics-run.toml"),
        "--epoch",
        "2300-01-01T00:00:00Z",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn stagger_in_many_environments_spreads_the_runs_as_the_file_asks() {
    let out = output(ecsim().args(["run", &scenario("many-environments.toml"), "--print"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut starts: Vec<i64> = text(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["topic"] == "aliecs.env_state.RUNNING")
        .filter_map(|record| {
            record["value"]["envInfo"]["enterStateTimestamp"]
                .as_str()
                .and_then(|t| t.parse().ok())
        })
        .collect();
    starts.sort_unstable();
    assert_eq!(starts.len(), 150);
    // Each environment's first run 7 s after the previous one's: 49 × 7 s from first to last
    // (they started within 3 s of each other before).
    assert_eq!(starts[49] - starts[0], 49 * 7_000);
}

#[test]
fn verify_returns_while_a_producer_writes_every_100_ms() {
    let broker = ecsim_e2e::brokers::Broker::embedded();
    let address = broker.bootstrap();
    let run = output(ecsim().args(["run", &scenario("physics-run.toml"), "--brokers", &address]));
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let run_id = stderr
        .split("ecsim.run=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    // A steady producer on a topic verify reads: ten messages a second for a minute.
    let dir = tempfile::tempdir().unwrap();
    let steady = dir.path().join("steady.jsonl");
    let lines: Vec<String> = (0..600)
        .map(|n| {
            format!(
                r#"{{"topic":"aliecs.environment","value_hex":"","timestamp":{}}}"#,
                1_750_000_000_000_i64 + n * 100
            )
        })
        .collect();
    std::fs::write(&steady, lines.join("\n") + "\n").unwrap();
    let mut producer = ecsim()
        .arg("replay")
        .arg(&steady)
        .args(["--speed", "1", "--brokers", &address])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    let verify = output(ecsim().args([
        "verify",
        &scenario("physics-run.toml"),
        "--brokers",
        &address,
        "--run",
        &run_id,
        "--deadline",
        "50s",
    ]));
    let took = started.elapsed();
    let _ = producer.kill();
    let _ = producer.wait();
    let stderr = text(&verify.stderr);
    assert_eq!(verify.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("expectations: 5 of 5 met"), "{stderr}");
    // It waited for a second of silence that never came; now it stops past the end it found.
    assert!(took < Duration::from_secs(45), "verify took {took:?}");
}

#[test]
fn verify_gives_up_at_its_deadline_with_exit_1() {
    let broker = ecsim_e2e::brokers::Broker::embedded();
    let address = broker.bootstrap();
    let run = output(ecsim().args(["run", &scenario("physics-run.toml"), "--brokers", &address]));
    assert!(run.status.success(), "{}", text(&run.stderr));
    let verify = output(ecsim().args([
        "verify",
        &scenario("physics-run.toml"),
        "--brokers",
        &address,
        "--deadline",
        "0s",
    ]));
    exits(
        &verify,
        1,
        &["without reaching the end of the topics; give a longer --deadline"],
    );
}

/// `count` environments, each created, run once and destroyed (the benchmarks' scenario), and
/// `expectations` appended.
fn crowd(count: usize, expectations: &str) -> String {
    ecsim_e2e::bench::scenario_text(count, 2, 1, true) + expectations
}

/// The largest peak resident memory of the children waited for so far, in KiB.
fn children_peak_rss_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss()
}

#[test]
fn expectations_keep_no_message_a_thousand_environments_take_the_same_memory_with_them() {
    // Published to a broker of its own process, so that ecsim's memory is ecsim's.
    let broker = ecsim_e2e::brokers::Broker::embedded();
    let address = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let without = write_scenario(&dir, "without.toml", &crowd(1000, ""));
    // One trivial expectation made ecsim keep every aliecs.environment message as JSON
    // (~8 KB each): 20 times the memory at 10,000 environments.
    let with = write_scenario(
        &dir,
        "with.toml",
        &crowd(
            1000,
            "\n[[expect]]\ntopic = \"aliecs.core\"\ncount = 1\n\n[[expect]]\ntopic = \"aliecs.environment\"\nenv = \"env-7\"\nmin = 10\n",
        ),
    );
    let plain = output(ecsim().args(["run", &without, "--brokers", &address]));
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let without_kib = children_peak_rss_kib();
    let checked = output(ecsim().args(["run", &with, "--brokers", &address]));
    let stderr = text(&checked.stderr);
    assert!(checked.status.success(), "{stderr}");
    assert!(stderr.contains("expectations: 2 of 2 met"), "{stderr}");
    // The peak of both runs: the larger of the two.
    let with_kib = children_peak_rss_kib().max(without_kib);
    // Run to run, the peak of one child moves by up to a third here (librdkafka's queue at its
    // busiest moment, on a busy machine); keeping the messages made it seven times as large.
    // BENCHMARKS.md measures 10,000 environments in a release build: 1.02.
    let ratio = with_kib as f64 / without_kib as f64;
    assert!(
        ratio <= 2.0,
        "peak RSS without expectations {without_kib} KiB, with {with_kib} KiB: ratio {ratio:.2}"
    );
}

/// A shared library compiled from C `source` into `dir` (the C compiler the Kafka client's
/// build needs anyway).
fn c_library(dir: &Path, name: &str, source: &str) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, source).unwrap();
    let library = dir.join(format!("lib{name}.so"));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&c)
        .status()
        .expect("a C compiler (cc)");
    assert!(status.success());
    library
}

/// A plugin library that loads: the mock services, built beside ecsim.
fn mock_services() -> PathBuf {
    ecsim_plugin_host::testing::ensure_built("ecsim-mock-services")
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_plugin_named_by_its_file_name_is_that_file_never_one_on_the_library_path() {
    let here = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::copy(mock_services(), here.path().join("libplanted.so")).unwrap();
    // The same name on LD_LIBRARY_PATH, whose constructor leaves a mark when it runs.
    let mark = elsewhere.path().join("constructor-ran");
    let planted = c_library(
        elsewhere.path(),
        "planted-src",
        &format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void planted(void) {{ FILE *f = fopen(\"{}\", \"w\"); if (f) fclose(f); }}\n",
            mark.display()
        ),
    );
    std::fs::rename(&planted, elsewhere.path().join("libplanted.so")).unwrap();
    for args in [
        vec![
            "run".to_owned(),
            scenario("physics-run.toml"),
            "--plugin".to_owned(),
            "libplanted.so".to_owned(),
        ],
        vec![
            "plugin".to_owned(),
            "inspect".to_owned(),
            "libplanted.so".to_owned(),
        ],
    ] {
        let out = output(
            ecsim()
                .args(&args)
                .current_dir(here.path())
                .env("LD_LIBRARY_PATH", elsewhere.path()),
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            !mark.exists(),
            "{args:?} ran the library on LD_LIBRARY_PATH"
        );
    }
}

#[test]
fn a_library_that_calls_exit_0_when_loaded_is_a_plugin_failure_not_a_success() {
    let dir = tempfile::tempdir().unwrap();
    let library = c_library(
        dir.path(),
        "quitter",
        "#include <stdlib.h>\n__attribute__((constructor)) static void quit(void) { exit(0); }\n",
    );
    let library = library.display().to_string();
    for args in [
        vec!["plugin", "inspect", &library],
        vec!["run", &scenario("physics-run.toml"), "--plugin", &library][..].to_vec(),
    ] {
        let out = output(ecsim().args(&args));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{args:?}: {stderr}");
        assert!(
            stderr.contains("a plugin library ended the process (it called exit())"),
            "{stderr}"
        );
    }
}

#[test]
fn kafka_properties_that_load_code_or_replace_the_cluster_are_refused_unless_allowed() {
    // With librdkafka's mock cluster, a run against a dead address "delivered" everything.
    let out = output(ecsim().args([
        "run",
        &scenario("physics-run.toml"),
        "--brokers",
        "127.0.0.1:1",
        "-X",
        "test.mock.num.brokers=1",
    ]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr
            .contains("property test.mock.num.brokers replaces the cluster with librdkafka's mock")
            && stderr.contains("--allow-property test.mock.num.brokers"),
        "{stderr}"
    );
    // A properties file is held to the same rule, for readers as for writers.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("consumer.properties");
    std::fs::write(
        &file,
        "bootstrap.servers=127.0.0.1:1\nplugin.library.paths=/tmp/libevil.so\n",
    )
    .unwrap();
    let out = output(ecsim().args(["tail", "--consumer-config"]).arg(&file));
    exits(
        &out,
        3,
        &["property plugin.library.paths loads libraries into ecsim"],
    );
    // Allowed by name, it is the user's choice.
    let out = output(ecsim().args([
        "run",
        &scenario("physics-run.toml"),
        "--brokers",
        "127.0.0.1:1",
        "-X",
        "test.mock.num.brokers=1",
        "--allow-property",
        "test.mock.num.brokers",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn port_0_is_a_free_port_and_the_address_says_which() {
    let out = output(ecsim().args(["run", &scenario("physics-run.toml"), "--port", "0"]));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let broker = stderr
        .lines()
        .find_map(|line| line.strip_prefix("broker: 127.0.0.1:"))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap();
    assert_ne!(broker, 0, "{stderr}");
}

#[test]
fn a_panic_in_a_served_core_stops_the_server_with_exit_8() {
    let mut server = ecsim()
        .args([
            "serve",
            "--grpc-port",
            "0",
            "--timing",
            "deploy=100ms,configure=100ms",
        ])
        .env("ECSIM_TEST_PANIC_AT_MESSAGE", "20")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut announcement = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut announcement)
        .unwrap();
    let announced: serde_json::Value = serde_json::from_str(&announcement).unwrap();
    let endpoint = announced["grpc"].as_str().unwrap().to_owned();
    // A creation publishes more than 20 messages: the 20th panics inside the core.
    let _client = output(ecsim().args(["env", "create", "-d", "ITS", "--endpoint", &endpoint]));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = server.kill();
            panic!("the server kept serving after a panic");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = server.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains("internal error in ecsim (a bug)") && stderr.contains("stopped with"),
        "{stderr}"
    );
    // What was published is still flushed and accounted for.
    assert!(stderr.contains("0 failed, 0 pending"), "{stderr}");
}

// ---- Hostile files (issue 26) -----------------------------------------------------------------

/// A FIFO given where a file is expected — a scenario, a recording, a message, a plugin — is
/// refused at once (opening one blocks until something writes to it), with exit 3 or 6.
#[test]
fn a_fifo_given_as_any_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let fifo = fifo.to_str().unwrap();
    for (args, code, said) in [
        (vec!["validate", fifo], 3, "not a regular file"),
        (vec!["run", fifo], 3, "not a regular file"),
        (
            vec!["replay", fifo, "--brokers", "127.0.0.1:1"],
            3,
            "is not a regular file",
        ),
        (vec!["decode", fifo], 3, "is not a regular file"),
        (vec!["plugin", "inspect", fifo], 6, "it is a FIFO"),
    ] {
        let started = Instant::now();
        let out = output(ecsim().args(&args));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{args:?} blocked"
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(all.contains(said), "{args:?}: {all}");
    }
}

/// Endless or huge inputs are read within a bound: /dev/zero as a message, a recording line of
/// 81 MiB, a scenario past 64 MiB — each refused with exit 3, memory bounded by the limit.
#[test]
fn endless_and_huge_inputs_are_refused_within_their_bounds() {
    let out = output(ecsim().args(["decode", "/dev/zero"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.jsonl");
    std::fs::write(&long, vec![b'a'; 81 << 20]).unwrap();
    let out = output(ecsim().args(["replay", long.to_str().unwrap(), "--brokers", "127.0.0.1:1"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("long.jsonl:1: the line is longer than 80 MiB"),
        "{}",
        text(&out.stderr)
    );
    let big = dir.path().join("big.toml");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len((64 << 20) + 1).unwrap();
    let out = output(ecsim().args(["validate", big.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("more than a scenario may have (64 MiB)"),
        "{}",
        text(&out.stderr)
    );
}

/// A recording line that is not UTF-8, hex that only looks like hex, a timestamp Kafka does not
/// take: each exit 3 with its file and line, before anything is published.
#[test]
fn malformed_recording_lines_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"topic":"aliecs.run","value_hex":"0a00","timestamp":1750000000000}"#;
    for (bad, said) in [
        (b"\xff\xfe{}".to_vec(), "the line is not UTF-8 text"),
        (
            br#"{"topic":"aliecs.run","value_hex":"+a+b"}"#.to_vec(),
            "value_hex is not hexadecimal bytes",
        ),
        (
            br#"{"topic":"aliecs.run","value_hex":"0a00","timestamp":-5}"#.to_vec(),
            "timestamp -5 is not a time Kafka records",
        ),
        (
            br#"{"topic":"aliecs.run","value_hex":"0a00","timestamp":9999999999999999}"#.to_vec(),
            "timestamp 9999999999999999 is not a time Kafka records",
        ),
    ] {
        let path = dir.path().join("recording.jsonl");
        let mut bytes = format!("{good}\n\n").into_bytes();
        bytes.extend_from_slice(&bad);
        bytes.push(b'\n');
        std::fs::write(&path, bytes).unwrap();
        let out =
            output(ecsim().args(["replay", path.to_str().unwrap(), "--brokers", "127.0.0.1:1"]));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains(&format!("recording.jsonl:3: {said}")),
            "{said}: {stderr}"
        );
    }
}
