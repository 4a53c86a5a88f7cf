//! `ecsim run --report FILE.html`: the page a person opens to see what a scenario did — a lane
//! per environment with its states over simulated time, its runs as bars with their numbers,
//! failures marked — checked in the file the binary writes.

use std::process::Command;

fn report(scenario: &str) -> String {
    report_with(scenario, &[])
}

fn report_with(scenario: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["run", scenario, "--report"])
        .arg(&path)
        .args(extra)
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
    assert!(
        page.matches("<script>").count() == 1,
        "one inline script (the zoom), none loaded"
    );
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

/// Chromium, as `cargo xtask test` installs it; `None` (the test skipped) outside CI.
#[allow(clippy::print_stdout)] // a skipped test says why
fn chromium() -> Option<std::path::PathBuf> {
    match std::env::var_os("ECSIM_CHROMIUM") {
        Some(path) => Some(path.into()),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "Chromium is not installed and CI must run the browser tests: run `cargo xtask test`"
            );
            println!("skipped: Chromium is not installed (run `cargo xtask test`)");
            None
        }
    }
}

/// Where to look: a lane, a time from the start of the run, and which part of the lane (its
/// upper part shows the state, its bottom the run bar).
struct Probe {
    lane: usize,
    at_ms: i64,
    run_bar: bool,
}

/// What a person sees at each probe, as Chromium lays the report out: the page is opened
/// headless with a script appended that asks the browser which element is drawn at each
/// point (`elementFromPoint`) and writes the answers into the DOM it dumps.
fn seen(chromium: &std::path::Path, page: &str, probes: &[Probe]) -> Vec<String> {
    seen_zoomed(chromium, page, 1, probes)
}

/// [`seen`], after the page's zoom control set the time axis to `zoom` times its width.
fn seen_zoomed(chromium: &std::path::Path, page: &str, zoom: u32, probes: &[Probe]) -> Vec<String> {
    let probes: Vec<String> = probes
        .iter()
        .map(|p| format!("[{},{},{}]", p.lane, p.at_ms, p.run_bar))
        .collect();
    let script = format!(
        r#"<script>
document.querySelector('#zoom button[data-zoom="{zoom}"]')?.click();
const svg = document.getElementById('timeline');
const box = svg.getBoundingClientRect();
const k = box.width / svg.viewBox.baseVal.width;
const d = svg.dataset;
function at([lane, t, runBar]) {{
  const x = box.left + k * (+d.left + t / (+d.end - +d.start) * +d.plot);
  const y = box.top + k * (+d.axis + +d.lane * lane + (runBar ? +d.lane - 3 : +d.lane * 0.3));
  const e = document.elementFromPoint(x, y);
  if (!e) return 'nothing';
  const run = e.closest('[data-run]');
  if (run) return 'run ' + run.dataset.run;
  if (e.classList.contains('mark')) return 'mark ' + e.classList[1];
  return e.dataset.state ? 'state ' + e.dataset.state : e.tagName;
}}
document.body.dataset.seen = JSON.stringify([...[{probes}].map(at), svg.getAttribute('width')]);
</script>"#,
        probes = probes.join(",")
    );
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("probed.html");
    std::fs::write(&path, page.replace("</body>", &format!("{script}</body>")))
        .expect("the probed page");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=20000,2000",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", path.display()))
        .output()
        .expect("Chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    let json = values(&dom, "data-seen")
        .first()
        .map(|v| v.replace("&quot;", "\""))
        .unwrap_or_else(|| {
            panic!(
                "the probe's answer: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let mut seen: Vec<String> = serde_json::from_str(&json).expect("a JSON list");
    let width: f64 = seen
        .pop()
        .and_then(|w| w.parse().ok())
        .expect("the drawing's width");
    // 1200 px, of which 1060 are the plot: zoomed, the plot is `zoom` times as wide.
    assert_eq!(
        width,
        1200.0 + 1060.0 * f64::from(zoom - 1),
        "zoomed ×{zoom}"
    );
    seen
}

#[test]
fn in_a_browser_the_lanes_show_the_states_the_run_and_the_failure_where_they_happened() {
    let Some(chromium) = chromium() else { return };
    // failed-start: STANDBY until 20 s, DEPLOYED until 50 s, CONFIGURED until 1 min, when its
    // START fails (marks), then ERROR.
    let page = report("../../scenarios/failed-start.toml");
    let probe = |at_ms, run_bar| Probe {
        lane: 0,
        at_ms,
        run_bar,
    };
    assert_eq!(
        seen(
            &chromium,
            &page,
            &[
                probe(10_000, false),
                probe(30_000, false),
                probe(55_000, false),
                probe(60_000, false),
                probe(120_000, false)
            ]
        ),
        [
            "state STANDBY",
            "state DEPLOYED",
            "state CONFIGURED",
            "mark core",
            "state ERROR"
        ],
        "what a person sees at 10 s, 30 s, 55 s, 1 min and 2 min"
    );
    // Zoomed ×16 (the page's own control), the same things at the same times.
    assert_eq!(
        seen_zoomed(
            &chromium,
            &page,
            16,
            &[
                probe(30_000, false),
                probe(60_000, false),
                probe(120_000, false)
            ]
        ),
        ["state DEPLOYED", "mark core", "state ERROR"],
        "zoomed in, what a person sees at 30 s, 1 min and 2 min"
    );
    // physics-run: in the middle of its run, the run's bar and the lane RUNNING above it.
    let page = report("../../scenarios/physics-run.toml");
    let start: i64 = values(&page, "data-start")[0].parse().expect("start");
    let run_from: i64 = page
        .split("class=\"run\"")
        .nth(1)
        .and_then(|rest| {
            values(rest, "data-from")
                .first()
                .map(|v| v.parse().expect("a time"))
        })
        .expect("a run");
    let run_to: i64 = page
        .split("class=\"run\"")
        .nth(1)
        .and_then(|rest| {
            values(rest, "data-to")
                .first()
                .map(|v| v.parse().expect("a time"))
        })
        .expect("a run");
    let middle = (run_from + run_to) / 2 - start;
    assert_eq!(
        seen(
            &chromium,
            &page,
            &[probe(middle, true), probe(middle, false)]
        ),
        ["run 1", "state RUNNING"],
        "the run's bar at the bottom of the lane, RUNNING above it"
    );
}

#[test]
fn the_live_page_follows_a_real_time_run_in_a_browser() {
    let Some(chromium) = chromium() else { return };
    let (Some(node), Some(clients)) = (
        std::env::var_os("ECSIM_NODE"),
        std::env::var_os("ECSIM_CLIENTS"),
    ) else {
        panic!(
            "ECSIM_CHROMIUM is set but not ECSIM_NODE and ECSIM_CLIENTS: run `cargo xtask test`"
        );
    };
    // consumer-test: a real-time run of a few seconds (deploy 1 s, configure 1 s, a 5 s run).
    let mut run = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args([
            "run",
            "../../scenarios/consumer-test.toml",
            "--http-port",
            "0",
            "--quiet",
        ])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ecsim runs");
    let mut stderr = std::io::BufReader::new(run.stderr.take().expect("stderr"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).expect("the first line");
    let url = line
        .trim()
        .strip_prefix("live page at ")
        .unwrap_or_else(|| panic!("the live page's address first: {line:?}"))
        .to_owned();
    let rest = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let watched = Command::new(node)
        .arg(std::path::Path::new(&clients).join("live_page.js"))
        .arg(&url)
        .arg(&chromium)
        .current_dir(&clients)
        .output()
        .expect("the browser driver runs");
    let status = run.wait().expect("ecsim ends");
    let rest = rest.join().unwrap_or_default();
    assert!(status.success(), "{rest}");
    assert!(
        watched.status.success(),
        "{}",
        String::from_utf8_lossy(&watched.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&watched.stdout).expect("its JSON line");
    let states: Vec<&str> = seen["states"]
        .as_array()
        .expect("states")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    // What the environment's row showed, change by change, as the run went on: the page
    // opens while it deploys or configures, then follows it into RUNNING and out again.
    let running = states
        .iter()
        .position(|s| *s == "RUNNING")
        .expect("RUNNING seen");
    assert!(
        running > 0 && states[running + 1..].contains(&"CONFIGURED"),
        "{states:?}"
    );
    assert_eq!(seen["run"], 1, "the run's number in its row");
    assert!(
        seen["updates"].as_u64().is_some_and(|n| n >= 3),
        "updated as it went: {seen}"
    );
    assert!(
        seen["rectsLast"].as_u64() > seen["rectsFirst"].as_u64(),
        "the timeline grew: {seen}"
    );
    let topics = seen["topics"].as_array().expect("topics");
    assert!(topics.iter().any(|t| t == "aliecs.run"), "{topics:?}");
    assert_eq!(
        seen["lastEnvironment"]["environmentEvent"]["lastRequestUser"]["name"], "Jane Shifter",
        "the last message of a topic, decoded"
    );
}

#[test]
fn the_live_page_needs_real_time() {
    let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args([
            "run",
            "../../scenarios/physics-run.toml",
            "--http-port",
            "0",
        ])
        .output()
        .expect("ecsim runs");
    assert_eq!(output.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--speed 1"),
        "says what to do"
    );
}

#[test]
fn stops_the_core_starts_are_marked_with_who_asked() {
    let page = report("../../scenarios/beam-dump.toml");
    let core: Vec<&str> = page
        .split("class=\"mark core\"")
        .skip(1)
        .filter_map(|rest| rest.split("<title>").nth(1))
        .filter_map(|title| title.split("</title>").next())
        .collect();
    assert!(
        core.iter().any(|m| m.ends_with("STOP_ACTIVITY by LHC")),
        "the beam dump's stop: {core:?}"
    );
    assert!(
        core.iter().any(|m| m.ends_with("STOP_ACTIVITY by TIMER")),
        "the auto-stop: {core:?}"
    );
}
