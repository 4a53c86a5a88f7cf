//! Plugin libraries through the `ecsim` binary: inspected, loaded, configured, in Rust, C and
//! Go, in process and isolated.

use std::process::Command;

use super::{PHYSICS, ecsim, text};

/// A library built beside the ecsim binary: `cargo xtask test` builds them all first, a plain
/// `cargo test` builds it here when it is missing.
fn built_library(package: &str) -> String {
    match ecsim_plugin_host::testing::ensure_built(package) {
        Ok(path) => path.display().to_string(),
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn plugin_inspect_shows_what_the_mock_services_offer_and_that_they_load() {
    built_library("ecsim-mock-services");
    let out = ecsim(&["plugin", "inspect", "mock-services"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "ABI version: 1 (this ecsim: 1)",
        "plugin:      dcs (DCS)",
        "  functions: PrepareForRun, StartOfRun, EndOfRun, Cleanup",
        "plugin:      ddsched (DD scheduler)",
        "loads:       yes",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    let out = ecsim(&["plugin", "inspect", "mock-services", "--json"], b"");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["loads"], true);
    let names: Vec<&str> = json["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dcs", "odc", "trg", "ddsched"]);
}

#[test]
fn plugin_inspect_explains_every_refusal_with_exit_6() {
    let not_a_plugin = built_library("ecsim-test-not-a-plugin");
    let cases = [
        (
            PHYSICS.to_owned(),
            "is not a shared library (it starts with the text \"# A \")",
        ),
        (
            not_a_plugin,
            "is a library but not an ecsim plugin: it does not export the symbol ecsim_plugin_entry_v1",
        ),
        (
            "no/such/libplugin.so".to_owned(),
            "there is no plugin library at",
        ),
    ];
    for (library, reason) in cases {
        let out = ecsim(&["plugin", "inspect", &library], b"");
        assert_eq!(out.status.code(), Some(6), "{library}");
        let stdout = text(&out.stdout);
        assert!(stdout.contains("loads:       no: "), "{stdout}");
        assert!(stdout.contains(reason), "{reason:?} in:\n{stdout}");
        assert!(
            text(&out.stderr).starts_with("error: "),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn run_loads_a_plugin_given_on_the_command_line_and_its_calls_reach_aliecs_call() {
    let library = built_library("ecsim-example-plugin");
    let scenario = "../../plugins/example/scenario.toml";
    let out = ecsim(&["run", scenario, "--plugin", &library, "--print"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let calls: Vec<(String, String, String)> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|r| r["topic"] == "aliecs.call")
        .map(|r| {
            let call = &r["value"]["callEvent"];
            (
                call["func"].as_str().unwrap().to_owned(),
                call["callStatus"].as_str().unwrap().to_owned(),
                call["output"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .filter(|(func, _, _)| func.starts_with("example."))
        .collect();
    assert_eq!(
        calls,
        [
            (
                "example.StartOfRun()".into(),
                "STARTED".into(),
                String::new()
            ),
            (
                "example.StartOfRun()".into(),
                "DONE_OK".into(),
                "run 1 start announced (1 so far)".into()
            ),
            ("example.EndOfRun()".into(), "STARTED".into(), String::new()),
            (
                "example.EndOfRun()".into(),
                "DONE_OK".into(),
                "run 1 end announced (2 so far)".into()
            ),
        ]
    );
    assert!(text(&out.stderr).contains("expectations: 2 of 2 met"));

    // Without the library, AliECS's evaluator does not know `example`: the calls fail.
    let out = ecsim(&["run", scenario], b"");
    assert_eq!(
        out.status.code(),
        Some(4),
        "the scenario's expectations fail"
    );
}

#[test]
fn run_refuses_a_bad_library_or_a_fault_without_its_service_with_exit_6() {
    let out = ecsim(&["run", PHYSICS, "--plugin", PHYSICS], b"");
    assert_eq!(out.status.code(), Some(6));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: --plugin {PHYSICS}: {PHYSICS} is not a shared library"
        )),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fault.toml");
    std::fs::write(
        &path,
        "[scenario]\nname = \"f\"\n\n[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRun\"\noutcome = \"error\"\n",
    )
    .unwrap();
    let out = ecsim(&["run", path.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(6));
    assert!(
        text(&out.stderr).contains("fault.toml:4 ([[fault]]): a fault of dcs, but no plugin dcs is loaded; load the mock services with [[plugin]] library = \"mock-services\""),
        "{}",
        text(&out.stderr)
    );
}

// ---- A broker that goes away -----------------------------------------------------------------

/// The C example plugin (`plugins/c-example/example.c`), built with the system's C compiler
/// against the generated header, into `dir`.
fn built_c_example(dir: &std::path::Path) -> String {
    let library = dir.join("libexample_c.so");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let built = Command::new(&compiler)
        .args([
            "-shared", "-fPIC", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
        ])
        .args([
            "-I",
            "../ecsim-plugin-abi/include",
            "../../plugins/c-example/example.c",
            "-o",
        ])
        .arg(&library)
        .output()
        .unwrap_or_else(|error| panic!("the C compiler `{compiler}` does not start: {error}"));
    assert!(built.status.success(), "{}", text(&built.stderr));
    library.display().to_string()
}

/// What a plugin's calls make visible: the call events, the plugin's service events and the
/// environment's messages (which carry its runtime variables), as JSON lines.
fn plugin_traffic(scenario: &str, library: &str, config: &str) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let text_of = std::fs::read_to_string(scenario).unwrap();
    let with_plugin = text_of.replacen(
        "[scenario]",
        &format!("[[plugin]]\nlibrary = {library:?}\n{config}\n[scenario]"),
        1,
    );
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, with_plugin).unwrap();
    let out = ecsim(&["run", path.to_str().unwrap(), "--print"], b"");
    // 0, or 4 when a refused run fails the scenario's expectations.
    assert!(
        matches!(out.status.code(), Some(0 | 4)),
        "{}",
        text(&out.stderr)
    );
    let lines = text(&out.stdout)
        .lines()
        .filter(|line| {
            [
                "\"aliecs.call\"",
                "\"aliecs.integrated_service.example\"",
                "\"aliecs.environment\"",
            ]
            .iter()
            .any(|topic| line.starts_with(&format!("{{\"topic\":{topic}")))
        })
        .map(str::to_owned)
        .collect();
    (out.status.code(), lines)
}

#[test]
fn the_c_example_plugin_makes_the_same_traffic_as_the_rust_example() {
    let dir = tempfile::tempdir().unwrap();
    let c = built_c_example(dir.path());
    let rust = built_library("ecsim-example-plugin");
    let inspect = ecsim(&["plugin", "inspect", &c], b"");
    assert!(
        text(&inspect.stdout).contains("loads:       yes"),
        "{}",
        text(&inspect.stdout)
    );
    let scenario = "../../plugins/example/scenario.toml";
    for config in [
        "",
        "[plugin.config.example]\nlatency = \"500ms\"\nrefuse_detectors = [\"TPC\"]\n",
    ] {
        let from_c = plugin_traffic(scenario, &c, config);
        let from_rust = plugin_traffic(scenario, &rust, config);
        assert!(from_c.1.len() > 40, "{} messages", from_c.1.len());
        assert_eq!(from_c, from_rust, "config {config:?}");
    }
    // The failure path was taken: TPC refused.
    let (code, refused) = plugin_traffic(
        scenario,
        &c,
        "[plugin.config.example]\nrefuse_detectors = [\"TPC\"]\n",
    );
    assert_eq!(code, Some(4), "the scenario's expectations see the refusal");
    assert!(
        refused
            .iter()
            .any(|line| line.contains("the logbook refuses runs with TPC")),
        "{refused:#?}"
    );
}

#[test]
fn the_go_example_plugin_makes_the_same_traffic_as_the_rust_example() {
    // Built by `cargo xtask test` with Debian's Go (sdk/go/example).
    let Some(go) = std::env::var_os("ECSIM_GO_EXAMPLE") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_GO_EXAMPLE is not set: `cargo xtask test` builds the Go example"
        );
        return;
    };
    let go = go.to_string_lossy().into_owned();
    let rust = built_library("ecsim-example-plugin");
    let inspect = ecsim(&["plugin", "inspect", &go], b"");
    assert!(
        text(&inspect.stdout).contains("loads:       yes"),
        "{}",
        text(&inspect.stdout)
    );
    let scenario = "../../plugins/example/scenario.toml";
    for config in [
        "",
        "[plugin.config.example]\nlatency = \"500ms\"\nrefuse_detectors = [\"TPC\"]\n",
    ] {
        let from_go = plugin_traffic(scenario, &go, config);
        let from_rust = plugin_traffic(scenario, &rust, config);
        assert!(from_go.1.len() > 40, "{} messages", from_go.1.len());
        assert_eq!(from_go, from_rust, "config {config:?}");
    }
}

// ---- Isolation ------------------------------------------------------------------------------

/// `tests/plugins/crasher.c` built into `dir` as `libcrasher.so`, with `tests/plugins/crashes.toml`
/// beside it; the scenario's path.
fn crasher_in(dir: &std::path::Path) -> std::path::PathBuf {
    let library = dir.join("libcrasher.so");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let built = Command::new(&compiler)
        .args([
            "-shared", "-fPIC", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
        ])
        .args([
            "-I",
            "../ecsim-plugin-abi/include",
            "../../tests/plugins/crasher.c",
            "-o",
        ])
        .arg(&library)
        .output()
        .unwrap_or_else(|error| panic!("the C compiler `{compiler}` does not start: {error}"));
    assert!(built.status.success(), "{}", text(&built.stderr));
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
        "exited with status 6: error: a plugin library ended the process (it called exit())",
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

// ---- Starting a plugin ----------------------------------------------------------------------

/// `ecsim plugin new` in each language writes a plugin that builds outside the repository with
/// the command it prints, and passes `ecsim plugin check` under its new name.
#[test]
fn plugin_new_writes_plugins_that_build_outside_the_repository_and_conform() {
    let dir = tempfile::tempdir().unwrap();
    let go_available = std::env::var_os("ECSIM_GO_EXAMPLE").is_some();
    let workspace = std::fs::canonicalize("../..").unwrap();
    let target = std::path::Path::new(env!("CARGO_BIN_EXE_ecsim"))
        .parent()
        .and_then(|debug| debug.parent())
        .unwrap()
        .to_owned();
    for lang in ["c", "rust", "go"] {
        if lang == "go" && !go_available {
            assert!(
                std::env::var_os("CI").is_none(),
                "`cargo xtask test` installs Go"
            );
            continue;
        }
        let name = format!("logbook_{lang}");
        let plugin = dir.path().join(&name);
        let out = ecsim(
            &[
                "plugin",
                "new",
                &name,
                "--lang",
                lang,
                "--dir",
                plugin.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("build and check it:"),
            "{}",
            text(&out.stdout)
        );
        let library = match lang {
            "rust" => {
                // The workspace's lock and target directory: the same dependency versions,
                // built once.
                std::fs::copy(workspace.join("Cargo.lock"), plugin.join("Cargo.lock")).unwrap();
                let built = Command::new(env!("CARGO"))
                    .args(["build", "--quiet"])
                    .current_dir(&plugin)
                    .env("CARGO_TARGET_DIR", &target)
                    .output()
                    .unwrap();
                assert!(built.status.success(), "{}", text(&built.stderr));
                target.join(format!("debug/lib{name}.so"))
            }
            _ => {
                let built = Command::new("make")
                    .arg("-C")
                    .arg(&plugin)
                    .output()
                    .unwrap();
                assert!(built.status.success(), "{}", text(&built.stderr));
                plugin.join(format!("lib{name}.so"))
            }
        };
        let out = ecsim(&["plugin", "check", library.to_str().unwrap()], b"");
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{lang}: {stdout}");
        assert!(
            stdout.contains(&format!(
                "ok      {name}.StartOfRun at before_START_ACTIVITY+100: answers \"run 1234 start announced"
            )),
            "{stdout}"
        );
    }
    // Not over what is there, and not under a name calls cannot write.
    let again = ecsim(
        &[
            "plugin",
            "new",
            "x",
            "--lang",
            "c",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(again.status.code(), Some(3), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("already exists and is not empty"));
    let bad = ecsim(&["plugin", "new", "My-Plugin", "--lang", "c"], b"");
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("cannot name a plugin"));
}

// ---- validate and run agree -------------------------------------------------------------------

/// Every file `run` refuses before its first step, `validate` refuses too, with the same error,
/// said once: the broken fixtures, a plugin configuration the plugin refuses, a fault whose
/// operation or service is misspelt, a library that is not there. And what `run` starts,
/// `validate` calls ok.
#[test]
fn validate_refuses_every_file_run_refuses_before_its_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<std::path::PathBuf> = std::fs::read_dir("../ecsim-scenario/tests/it/broken")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    cases.sort();
    let head = "[scenario]\nname = \"x\"\n[[plugin]]\nlibrary = \"mock-services\"\n";
    let tail = "[[environment]]\nname = \"physics\"\ndetectors = [\"ITS\"]\n\
                [[timeline]]\nat = \"0s\"\nenv = \"physics\"\ndo = \"create\"\n";
    for (name, middle) in [
        ("config-key", "[plugin.config.dcs]\ntypo_key = 1\n"),
        (
            "fault-operation",
            "[[fault]]\nservice = \"dcs\"\noperation = \"StartOfRunn\"\noutcome = \"error\"\n",
        ),
        (
            "fault-service",
            "[[fault]]\nservice = \"dcss\"\noperation = \"StartOfRun\"\noutcome = \"error\"\n",
        ),
        ("only-unknown", "plugins = [\"dcss\"]\n"),
    ] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, format!("{head}{middle}{tail}")).unwrap();
        cases.push(path);
    }
    let missing = dir.path().join("missing-library.toml");
    std::fs::write(
        &missing,
        format!("[scenario]\nname = \"x\"\n[[plugin]]\nlibrary = \"libnot-here.so\"\n{tail}"),
    )
    .unwrap();
    cases.push(missing);
    let hung_config = dir.path().join("isolated-config.toml");
    std::fs::write(
        &hung_config,
        format!("{head}isolate = true\n[plugin.config.odc]\nlatency = \"soon\"\n{tail}"),
    )
    .unwrap();
    cases.push(hung_config);

    for case in &cases {
        let file = case.to_str().unwrap();
        let run = ecsim(&["run", file], b"");
        let run_err = text(&run.stderr);
        assert!(
            matches!(run.status.code(), Some(3 | 6)),
            "{file}: run exits {:?}: {run_err}",
            run.status.code()
        );
        assert!(
            !run_err.contains("simulated in"),
            "{file}: run started: {run_err}"
        );
        let validate = ecsim(&["validate", file], b"");
        let validate_err = text(&validate.stderr);
        assert_eq!(
            validate.status.code(),
            Some(3),
            "{file}: validate says: {}{validate_err}",
            text(&validate.stdout)
        );
        // Each problem run names — a diagnostic's `×` line, or its error line — validate names
        // once.
        let mut causes: Vec<&str> = run_err
            .lines()
            .filter(|l| l.contains('×'))
            .map(str::trim)
            .collect();
        if causes.is_empty() {
            causes = run_err
                .lines()
                .filter_map(|l| l.strip_prefix("error: "))
                .collect();
        }
        assert!(!causes.is_empty(), "{file}: run says no error: {run_err}");
        for cause in causes {
            assert_eq!(
                validate_err.matches(cause).count(),
                1,
                "{file}: `{cause}` not said once by validate: {validate_err}"
            );
        }
    }

    // What run starts, validate calls ok.
    for good in [
        "../../scenarios/physics-run.toml",
        "../../scenarios/integrated-services.toml",
    ] {
        let validate = ecsim(&["validate", good], b"");
        assert_eq!(
            validate.status.code(),
            Some(0),
            "{}",
            text(&validate.stderr)
        );
    }
}
