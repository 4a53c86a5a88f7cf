//! Isolated plugins and the conformance check through the `ecsim` binary: libraries that
//! crash in every way (`tests/plugins/crasher.c`, `sdk/go/testdata/crasher`), run isolated and
//! checked, beside the examples that conform.

use super::{
    ecsim,
    plugins::{built_c_example, built_library, compile_c},
    text,
};

// ---- Isolation ------------------------------------------------------------------------------

/// `tests/plugins/crasher.c` built into `dir` as `libcrasher.so`, with `tests/plugins/crashes.toml`
/// beside it; the scenario's path.
pub(super) fn crasher_in(dir: &std::path::Path) -> std::path::PathBuf {
    compile_c("../../tests/plugins/crasher.c", &dir.join("libcrasher.so"));
    let scenario = dir.join("crashes.toml");
    std::fs::copy("../../tests/plugins/crashes.toml", &scenario).unwrap();
    scenario
}

/// The summary's JSON, from `--summary-json` in `dir`.
fn summary_json(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// `function`'s counts in a summary's `plugin_calls`: calls, failed, crashed, timed out.
fn counts(summary: &serde_json::Value, plugin: &str, function: &str) -> [u64; 4] {
    let entry = summary["plugin_calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["plugin"] == plugin && c["function"] == function)
        .unwrap_or_else(|| panic!("no {plugin}.{function} in {summary}"));
    ["calls", "failed", "crashed", "timed_out"].map(|key| entry[key].as_u64().unwrap())
}

/// A C library that dies in every way (a hang past its timeout, segfault, abort, exit(0), stack
/// overflow), isolated: each death fails its call with its cause, the plugin comes back at
/// its next call while restarts are left and then stays down, and the run ends with its
/// summary, every message delivered and the scenario's expectations (the call events) met.
#[test]
fn an_isolated_c_plugin_that_crashes_fails_its_calls_and_the_run_ends_complete() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = crasher_in(dir.path());
    // The summary and the log are on standard error.
    let out = ecsim(&["run", scenario.to_str().unwrap()], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("expectations: 2 of 2 met"), "{stderr}");
    assert!(stderr.contains("plugin calls: 7 (6 failed)"), "{stderr}");
    assert!(
        stderr.contains("crasher.Segfault: 1 of 1 failed (1 crashed)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("crasher.Hang: 1 of 1 failed (1 timed out)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("acknowledged, 0 failed, 0 pending"),
        "{stderr}"
    );
    // Each death is reported with its cause, then the restart.
    for cause in [
        "was killed by ecsim: crasher.Hang() (environment",
        "was killed by signal 11 (SIGSEGV, a segmentation fault)",
        "was killed by signal 6 (SIGABRT, an abort)",
        "exited with status 6: the plugin called exit() in its isolated process",
    ] {
        assert!(stderr.contains(cause), "{cause}: {stderr}");
    }
    let summary = dir.path().join("summary.json");
    let out = ecsim(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = summary_json(dir.path());
    assert_eq!(counts(&summary, "crasher", "Hang"), [1, 1, 0, 1]);
    assert_eq!(counts(&summary, "crasher", "Segfault"), [1, 1, 1, 0]);
    assert_eq!(counts(&summary, "crasher", "StackOverflow"), [1, 1, 1, 0]);
    // The first Ok ran on a restarted process; the last found the plugin down for good.
    assert_eq!(counts(&summary, "crasher", "Ok"), [2, 1, 1, 0]);
}

/// The same library loaded in process: its first segfault ends ecsim, by the signal, with no
/// summary — what isolation is for.
#[test]
fn the_same_crash_in_process_ends_ecsim() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = crasher_in(dir.path());
    let text_of = std::fs::read_to_string(&scenario).unwrap();
    let in_process = text_of
        .replace("isolate = true\nrestarts = 4\n", "")
        .replace("crasher.Hang()", "crasher.Segfault()");
    std::fs::write(&scenario, in_process).unwrap();
    let out = ecsim(&["run", scenario.to_str().unwrap()], b"");
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(out.status.signal(), Some(11), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("plugin calls"));
}

/// A call that does not return within its timeout gets its isolated process killed; the next
/// call starts a new one, which answers. Restarts are the scenario's (`restarts = 0` leaves the
/// plugin down).
#[test]
fn an_isolated_plugin_that_hangs_is_killed_at_its_timeout_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    crasher_in(dir.path());
    let scenario = dir.path().join("hang.toml");
    let write = |restarts: u32| {
        std::fs::write(
            &scenario,
            format!(
                r#"[scenario]
name = "hang"
[[plugin]]
library = "libcrasher.so"
isolate = true
restarts = {restarts}
[[environment]]
name = "physics"
detectors = ["ITS"]
tasks_per_host = 1
[[environment.call]]
role = "crasher.hang"
func = "crasher.Hang()"
trigger = "after_CONFIGURE"
timeout = "1s"
critical = false
[[environment.call]]
role = "crasher.ok"
func = "crasher.Ok()"
trigger = "before_START_ACTIVITY"
critical = true
[[timeline]]
at = "0s"
env = "physics"
do = "create"
[[timeline]]
after = "1m"
env = "physics"
do = "start"
"#
            ),
        )
        .unwrap();
    };
    let summary = dir.path().join("summary.json");
    let run = || {
        ecsim(
            &[
                "run",
                scenario.to_str().unwrap(),
                "--summary-json",
                summary.to_str().unwrap(),
            ],
            b"",
        )
    };
    write(1);
    let out = run();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}{stderr}", text(&out.stdout));
    assert!(
        stderr.contains("was killed by ecsim: crasher.Hang() (environment"),
        "{stderr}"
    );
    let report = summary_json(dir.path());
    assert_eq!(counts(&report, "crasher", "Hang"), [1, 1, 0, 1]);
    assert_eq!(counts(&report, "crasher", "Ok"), [1, 0, 0, 0]);
    assert_eq!(report["environments"]["left"][0]["state"], "RUNNING");

    // Without restarts the critical Ok fails: the start fails, as AliECS's would.
    write(0);
    let out = run();
    let report = summary_json(dir.path());
    assert_eq!(counts(&report, "crasher", "Ok"), [1, 1, 1, 0]);
    assert_eq!(report["environments"]["left"][0]["state"], "ERROR");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let failure = report["requests"]["failures"][0]["error"].as_str().unwrap();
    assert!(
        failure.contains("crasher.Ok() failed: plugin crasher crashed. REASON: it stays down: its process died 1 time"),
        "{failure}"
    );
}

/// A Go plugin dying where the SDK's `recover` cannot reach — a panic on a goroutine of its own,
/// `abort()` through cgo, `os.Exit` — isolated: each fails its call with the cause Go printed,
/// and the plugin answers again after each.
#[test]
fn an_isolated_go_plugin_that_panics_or_aborts_fails_its_calls_and_the_run_goes_on() {
    let Some(go) = std::env::var_os("ECSIM_GO_CRASHER") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_GO_CRASHER is not set: `cargo xtask test` builds the Go crasher"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("go.toml");
    let call = |role: &str, func: &str, trigger: &str| {
        format!(
            "[[environment.call]]\nrole = \"gocrasher.{role}\"\nfunc = \"gocrasher.{func}()\"\ntrigger = \"{trigger}\"\ncritical = false\n"
        )
    };
    std::fs::write(
        &scenario,
        format!(
            "[scenario]\nname = \"go-crashes\"\n[[plugin]]\nlibrary = {:?}\nisolate = true\n\
             [[environment]]\nname = \"physics\"\ndetectors = [\"ITS\"]\ntasks_per_host = 1\n\
             {}{}{}{}{}{}\
             [[timeline]]\nat = \"0s\"\nenv = \"physics\"\ndo = \"create\"\n\
             [[timeline]]\nafter = \"1m\"\nenv = \"physics\"\ndo = \"start\"\n\
             [[timeline]]\nafter = \"1m\"\nenv = \"physics\"\ndo = \"stop\"\n",
            go.to_str().unwrap(),
            call("panic", "PanicInGoroutine", "after_CONFIGURE"),
            call("ok1", "Ok", "before_START_ACTIVITY"),
            call("abort", "Abort", "after_START_ACTIVITY"),
            call("ok2", "Ok", "before_STOP_ACTIVITY"),
            call("exit", "Exit", "after_STOP_ACTIVITY"),
            call("ok3", "Ok", "after_STOP_ACTIVITY+10"),
        ),
    )
    .unwrap();
    let summary = dir.path().join("summary.json");
    let out = ecsim(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--print",
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        b"",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report = summary_json(dir.path());
    assert_eq!(
        counts(&report, "gocrasher", "PanicInGoroutine"),
        [1, 1, 1, 0]
    );
    assert_eq!(counts(&report, "gocrasher", "Abort"), [1, 1, 1, 0]);
    assert_eq!(counts(&report, "gocrasher", "Exit"), [1, 1, 1, 0]);
    assert_eq!(counts(&report, "gocrasher", "Ok"), [3, 0, 0, 0]);
    // The call events carry the cause as AliECS's carry a call's error.
    let calls: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["topic"] == "aliecs.call")
        .collect();
    let error_of = |func: &str| {
        calls
            .iter()
            .find(|m| {
                m["value"]["callEvent"]["func"] == func
                    && m["value"]["callEvent"]["callStatus"] == "DONE_ERROR"
            })
            .map(|m| {
                m["value"]["callEvent"]["error"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .unwrap_or_else(|| panic!("no failed {func}"))
    };
    let panic = error_of("gocrasher.PanicInGoroutine()");
    // A Go runtime in a C-shared library aborts on an unrecovered panic, after printing it.
    assert!(
        panic.contains(
            "was killed by signal 6 (SIGABRT, an abort): panic: the logbook connection is gone"
        ),
        "{panic}"
    );
    let abort = error_of("gocrasher.Abort()");
    assert!(abort.contains("SIGABRT"), "{abort}");
    assert!(
        error_of("gocrasher.Exit()").contains("exited with status 3"),
        "os.Exit(3)"
    );
}

// ---- Conformance ----------------------------------------------------------------------------

/// The example plugin in Rust, C and Go, and the mock services, conform: `ecsim plugin check`
/// exits 0, having called every function at configure, start and end of run, and found no
/// leak.
#[test]
fn the_example_plugins_in_rust_c_and_go_and_the_mock_services_pass_plugin_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut libraries = vec![
        built_library("ecsim-example-plugin"),
        built_c_example(dir.path()),
        built_library("ecsim-mock-services"),
    ];
    match std::env::var("ECSIM_GO_EXAMPLE") {
        Ok(go) => libraries.push(go),
        Err(_) => assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_GO_EXAMPLE is not set: `cargo xtask test` builds the Go example"
        ),
    }
    for library in &libraries {
        let out = ecsim(&["plugin", "check", library], b"");
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{library}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.ends_with("conforms: yes\n"), "{stdout}");
        assert!(!stdout.contains("PROBLEM"), "{stdout}");
    }
    let out = ecsim(&["plugin", "check", &libraries[0]], b"");
    let stdout = text(&out.stdout);
    for line in [
        "ok      example.StartOfRun at before_START_ACTIVITY+100: answers \"run 1234 start announced (1 so far)\", 2 events, 1 runtime variable, 1000 ms simulated",
        // Refusing a call without a run number is the plugin's right: noted, not a problem.
        "note    example.StartOfRun at before_CONFIGURE: fails: example StartOfRun call failed",
        "ok      example: a function it does not declare: fails: example has no function NotAFunctionOfThisPlugin",
        "ok      example: 200 instances started and stopped: its process grew by",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    // A configuration the plugin refuses is a problem, said in the plugin's words.
    let out = ecsim(
        &[
            "plugin",
            "check",
            &libraries[0],
            "--config",
            r#"example={"latency":"soon"}"#,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(6));
    assert!(
        text(&out.stdout).contains(
            "PROBLEM example: start: refused to start with the configuration {\"latency\":\"soon\"}"
        ),
        "{}",
        text(&out.stdout)
    );
}

/// A library that crashes, hangs and accepts what it should refuse does not conform: each is a
/// problem in words, the check survives all of them, and exits 6.
#[test]
fn plugin_check_reports_crashes_hangs_and_calls_that_should_fail() {
    let dir = tempfile::tempdir().unwrap();
    crasher_in(dir.path());
    let library = dir.path().join("libcrasher.so");
    let out = ecsim(&["plugin", "check", library.to_str().unwrap()], b"");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(6), "{stdout}");
    for line in [
        "ok      crasher.Ok at before_START_ACTIVITY+100: answers \"ok\"",
        "PROBLEM crasher.Segfault at before_CONFIGURE: crashed: its process was killed by signal 11 (SIGSEGV, a segmentation fault)",
        "PROBLEM crasher.Abort at before_CONFIGURE: crashed: its process was killed by signal 6 (SIGABRT, an abort)",
        "PROBLEM crasher.StackOverflow at before_CONFIGURE: crashed",
        "PROBLEM crasher.Hang at before_CONFIGURE: did not return within 11 s",
        "PROBLEM crasher: a function it does not declare: succeeds: a call AliECS would never make must fail",
        "conforms: no, 7 problems",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    // A crashed function is not called again at the other moments.
    assert!(
        !stdout.contains("crasher.Segfault at before_START_ACTIVITY"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("does not conform: 7 problems"),
        "{}",
        text(&out.stderr)
    );
}
