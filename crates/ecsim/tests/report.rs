//! `ecsim run --report FILE.html`: the page a person opens to see what a scenario did — a lane
//! per environment with its states over simulated time, its runs as bars with their numbers,
//! failures marked — checked in the file the binary writes.

use std::process::Command;

fn report(scenario: &str) -> String {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["run", scenario, "--report"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .output()
        .expect("ecsim runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(&path).expect("the report")
}

/// The values of `attribute` in the page, in order.
fn values<'a>(page: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!("{attribute}=\"");
    page.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &page[at + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn a_failed_start_shows_its_lane_states_run_and_failure() {
    let page = report("../../scenarios/failed-start.toml");
    assert!(!page.contains("<script"), "no script");
    assert!(
        !page.contains("src=") && !page.contains("href="),
        "self-contained: nothing loaded from elsewhere"
    );
    assert_eq!(
        values(&page, "data-name"),
        ["tpc"],
        "one lane, named as in the scenario"
    );
    assert_eq!(
        values(&page, "data-state"),
        [
            "PENDING",
            "STANDBY",
            "DEPLOYED",
            "CONFIGURED",
            "ERROR",
            "DONE"
        ],
        "its states, in order"
    );
    assert_eq!(
        values(&page, "data-run"),
        ["1"],
        "run 1, whose START failed"
    );
    let failures: Vec<&str> = page
        .split("class=\"mark failure\"")
        .skip(1)
        .filter_map(|rest| rest.split("<title>").nth(1))
        .filter_map(|title| title.split("</title>").next())
        .collect();
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("1m00s: START_ACTIVITY") && f.contains("unknown name dcs")),
        "the failure, where and why: {failures:?}"
    );
    assert!(
        page.contains("class=\"mark core\""),
        "the GO_ERROR the core started"
    );
    assert!(
        page.contains("<pre id=\"summary\">scenario failed-start"),
        "the summary"
    );
}

#[test]
fn fifty_environments_make_fifty_lanes_and_their_hundred_and_fifty_runs() {
    let page = report("../../scenarios/many-environments.toml");
    let names = values(&page, "data-name");
    assert_eq!(names.len(), 50);
    assert_eq!(
        names[0], "env-01",
        "in order of creation, named as in the scenario"
    );
    let mut runs: Vec<u32> = values(&page, "data-run")
        .iter()
        .map(|n| n.parse().expect("a run number"))
        .collect();
    runs.sort_unstable();
    assert_eq!(runs, (1..=150).collect::<Vec<u32>>());
    assert!(page.len() < 1_000_000, "small: {} bytes", page.len());
}
