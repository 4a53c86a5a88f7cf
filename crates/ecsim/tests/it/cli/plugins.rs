//! Plugin libraries through the `ecsim` binary: inspected, loaded, configured, in Rust, C and
//! Go, in process and isolated.

use std::process::Command;

use super::{PHYSICS, ecsim, text};

/// A library built beside the ecsim binary: `cargo xtask test` builds them all first, a plain
/// `cargo test` builds it here when it is missing.
pub(super) fn built_library(package: &str) -> String {
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

    // Without the library, the scenario's expectation on the plugin's topic could only find
    // nothing: refused before the run, saying which plugin is missing.
    let out = ecsim(&["run", scenario], b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "the expectation reads aliecs.integrated_service.example, which this run never writes (no plugin example is loaded"
        ),
        "{}",
        text(&out.stderr)
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
pub(super) fn built_c_example(dir: &std::path::Path) -> String {
    let library = dir.join("libexample_c.so");
    compile_c("../../plugins/c-example/example.c", &library);
    library.display().to_string()
}

/// A C plugin source (relative to this crate) built with the system's C compiler, warnings as
/// errors, against the generated header, into `library`.
pub(super) fn compile_c(source: &str, library: &std::path::Path) {
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let built = Command::new(&compiler)
        .args([
            "-shared", "-fPIC", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
        ])
        .args(["-I", "../ecsim-plugin-abi/include", source, "-o"])
        .arg(library)
        .output()
        .unwrap_or_else(|error| panic!("the C compiler `{compiler}` does not start: {error}"));
    assert!(built.status.success(), "{}", text(&built.stderr));
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
