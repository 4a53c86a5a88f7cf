//! Scenario faults through the `ecsim` binary: a fault that never strikes is said (and fails
//! `--strict`), and a fault's `message` reaches what AliECS shows, or is refused where nothing
//! would show it.

use std::path::{Path, PathBuf};

use super::{ecsim, plugins::built_library, text};

/// `scenarios/dcs-sor-failure.toml` with `edit` applied, written into `dir`.
fn dcs_failure_with(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
    let original = std::fs::read_to_string("../../scenarios/dcs-sor-failure.toml").unwrap();
    let edited = edit(original.clone());
    assert_ne!(edited, original, "the edit applies");
    let path = dir.join("scenario.toml");
    std::fs::write(&path, edited).unwrap();
    path
}

/// The example's DCS fault, and a second fault of ODC, which the environment does not enable
/// (no `odc_enabled`): ODC is never called, so that fault cannot strike.
fn with_an_odc_fault_that_cannot_strike(text: String) -> String {
    text.replace(r#"plugins = ["dcs"]"#, r#"plugins = ["dcs", "odc"]"#)
        .replacen(
            "[[environment]]",
            "[[fault]]\nservice = \"odc\"\noperation = \"Start\"\noutcome = \"error\"\n\n[[environment]]",
            1,
        )
}

#[test]
fn a_fault_that_never_struck_is_a_warning_and_fails_the_run_under_strict() {
    built_library("ecsim-mock-services");
    let dir = tempfile::tempdir().unwrap();
    let scenario = dcs_failure_with(dir.path(), with_an_odc_fault_that_cannot_strike);
    let scenario = scenario.to_str().unwrap();
    let line = std::fs::read_to_string(scenario)
        .unwrap()
        .lines()
        .position(|l| l == "service = \"odc\"")
        .unwrap();

    let out = ecsim(&["run", scenario], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "a warning only: {stderr}");
    let warning = format!(
        "warning: the fault at line {line} (odc Start error) never struck: no environment called \
         odc.Start: its workflow calls it when `odc_enabled == 'true'`; set that in the \
         environment's `vars`"
    );
    assert!(stderr.contains(&warning), "{warning}\nin:\n{stderr}");
    assert_eq!(
        stderr.matches("never struck").count(),
        1,
        "the DCS fault struck: {stderr}"
    );
    assert!(stderr.contains("expectations: 6 of 6 met"), "{stderr}");

    let out = ecsim(&["run", scenario, "--strict", "--summary-json", "-"], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("error: 1 of 2 faults never struck (--strict)"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stderr.lines().next().unwrap()).unwrap();
    let unfired = summary["faults_not_fired"].as_array().unwrap();
    assert_eq!(unfired.len(), 1, "{summary}");
    assert_eq!(unfired[0]["line"], line);
    assert_eq!(unfired[0]["service"], "odc");

    // The example as it is: its one fault strikes, so --strict passes.
    let out = ecsim(
        &["run", "../../scenarios/dcs-sor-failure.toml", "--strict"],
        b"",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("never struck"), "{stderr}");
}

#[test]
fn a_fault_filtered_to_a_run_that_never_comes_says_what_calls_there_were() {
    built_library("ecsim-mock-services");
    let dir = tempfile::tempdir().unwrap();
    let scenario = dcs_failure_with(dir.path(), |text| {
        text.replace("outcome = \"error\"\n", "outcome = \"error\"\nrun = 9\n")
    });
    let out = ecsim(&["run", scenario.to_str().unwrap(), "--strict"], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(
            "(dcs StartOfRun error) never struck: 1 call was made to dcs.StartOfRun, none \
             matching run = 9"
        ),
        "{stderr}"
    );
}

#[test]
fn a_dcs_fault_with_detectors_says_its_message_as_the_detectors_error() {
    built_library("ecsim-mock-services");
    let dir = tempfile::tempdir().unwrap();
    let scenario = dcs_failure_with(dir.path(), |text| {
        text.replace(
            "outcome = \"error\"\n",
            "outcome = \"error\"\nmessage = \"TPC: HV trip in sector 4\"\n",
        )
        .replace(
            r#""integratedServiceEvent.error" = "TPC SOR failure reported by DCS""#,
            r#""integratedServiceEvent.error" = "TPC: HV trip in sector 4""#,
        )
    });
    let out = ecsim(&["run", scenario.to_str().unwrap(), "--strict"], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("expectations: 6 of 6 met"), "{stderr}");
}

#[test]
fn a_message_where_nothing_would_show_it_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dcs_failure_with(dir.path(), |text| {
        text.replace(
            "outcome = \"error\"\n",
            "outcome = \"timeout\"\nmessage = \"DCS gateway down\"\n",
        )
    });
    let line = std::fs::read_to_string(&scenario)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("message = "))
        .unwrap()
        + 1;
    let out = ecsim(&["validate", scenario.to_str().unwrap()], b"");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("a fault whose outcome is `timeout` has no message of its own"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("scenario.toml:{line}:")),
        "the line of `message`: {stderr}"
    );
    assert!(
        stderr.contains("the call's error is AliECS's deadline text"),
        "{stderr}"
    );
}
