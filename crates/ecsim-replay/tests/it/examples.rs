//! The example scenarios in `scenarios/`: each validates, replays, and replays to the same
//! bytes with the same seed; each shows what its comment says it shows.

use std::{
    hash::{DefaultHasher, Hasher as _},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use ecsim_core::publish::{MemoryPublisher, Publisher, Record};
use ecsim_proto::{events::Event, kafka::ActiveRunsList, prost::Message as _};
use ecsim_replay::{Report, driver};
use ecsim_scenario::{Scenario, expect};

fn scenarios() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir("../../scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
}

fn load(name: &str) -> Scenario {
    ecsim_scenario::load(Path::new(&format!("../../scenarios/{name}.toml"))).unwrap()
}

/// Digests the `--print` lines of a replay, without keeping them.
#[derive(Debug, Default)]
struct Digest(Mutex<(DefaultHasher, u64)>);

impl Publisher for Digest {
    fn publish(&self, record: Record) {
        let mut state = self.0.lock().unwrap();
        state.0.write(record.to_json_line().as_bytes());
        state.1 += 1;
    }
}

/// Replays with the plugin libraries the scenario names (the mock services), as `ecsim run`.
fn replay(scenario: &Scenario, publisher: Arc<dyn Publisher>) -> Report {
    replay_told(scenario, publisher, Arc::new(driver::Silent))
}

/// [`replay`], telling `progress` how it goes.
fn replay_told(
    scenario: &Scenario,
    publisher: Arc<dyn Publisher>,
    progress: Arc<dyn driver::Progress>,
) -> Report {
    // A plain `cargo test` does not build the mock services' library; build it when missing.
    if !scenario.plugins.is_empty()
        && let Err(error) = ecsim_plugin_host::testing::ensure_built("ecsim-mock-services")
    {
        panic!("{error}");
    }
    let plugins = ecsim_replay::plugins::load(scenario, &[])
        .unwrap()
        .into_iter()
        .map(|p| p as Arc<dyn ecsim_core::plugin::IntegrationPlugin>)
        .collect();
    driver::run_blocking(scenario, publisher, plugins, progress).unwrap()
}

fn digest(scenario: &Scenario) -> (u64, u64) {
    let digest = Arc::new(Digest::default());
    replay(scenario, digest.clone());
    let state = digest.0.lock().unwrap();
    (state.0.finish(), state.1)
}

#[test]
fn there_are_the_example_scenarios_the_readme_promises() {
    let names: Vec<String> = scenarios()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "physics-run",
        "failed-start",
        "destroy-while-running",
        "beam-dump",
        "many-environments",
        "soak",
        "integrated-services",
        "dcs-sor-failure",
        "odc-partition-error",
        "task-failures",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "scenarios/{expected}.toml is missing"
        );
    }
}

/// Every user of the examples has a person id (`external_id`): ALICE's Bookkeeping stores a run
/// by it, and users of a name alone all became one Bookkeeping user (external id 0).
#[test]
fn every_example_user_has_a_person_id() {
    for path in scenarios() {
        let scenario = ecsim_scenario::load(&path).unwrap();
        let users =
            std::iter::once(&scenario.user).chain(scenario.schedule.iter().map(|s| &s.user));
        for user in users {
            assert!(
                user.external_id.is_some_and(|id| id > 0),
                "{}: {user:?} has no external_id",
                path.display()
            );
        }
    }
}

#[test]
fn every_example_replays_to_the_same_bytes_with_the_same_seed() {
    for path in scenarios() {
        let mut scenario = ecsim_scenario::load(&path).unwrap();
        // "Same bytes" holds for the same epoch: `epoch = "now"` is a different one each time,
        // by design, so it is pinned here to the moment the file was read.
        scenario.epoch_now = false;
        // …and in virtual time (consumer-test runs in real time).
        scenario.speed = ecsim_scenario::Speed::Virtual;
        let (first, count) = digest(&scenario);
        let (second, _) = digest(&scenario);
        assert!(count > 0, "{} published nothing", path.display());
        assert_eq!(first, second, "{} is not deterministic", path.display());
        if path.ends_with("soak.toml") {
            println!("soak: {count} messages");
        }
    }
}

#[test]
fn every_example_meets_its_own_expectations() {
    for path in scenarios() {
        let scenario = ecsim_scenario::load(&path).unwrap();
        if scenario.expectations.is_empty() {
            continue;
        }
        let check = Arc::new(ecsim_replay::LiveCheck::new(&scenario.expectations));
        replay_told(&scenario, check.clone(), check.clone());
        let outcomes = check.outcomes();
        assert!(
            outcomes.iter().all(|o| o.met),
            "{}:\n{}",
            path.display(),
            expect::render(&outcomes)
        );
    }
}

#[test]
fn another_seed_gives_other_ids() {
    let mut scenario = load("physics-run");
    let ids = |scenario: &Scenario| {
        let memory = Arc::new(MemoryPublisher::new());
        replay(scenario, memory.clone());
        memory
            .records()
            .into_iter()
            .filter(|r| r.topic == "aliecs.environment")
            .filter_map(|r| r.key)
            .collect::<Vec<_>>()
    };
    let first = ids(&scenario);
    scenario.seed += 1;
    let second = ids(&scenario);
    assert_eq!(first.len(), second.len());
    assert_ne!(first[0], second[0]);
}

#[test]
fn the_soak_runs_a_thousand_runs_in_virtual_time() {
    let scenario = load("soak");
    let report = replay(&scenario, Arc::new(Digest::default()));
    println!(
        "soak: {} messages, {} runs, {} ms simulated, {} ms wall",
        report.messages.total, report.runs, report.simulated_ms, report.wall_ms
    );
    assert_eq!(report.runs, 1000);
    assert_eq!(report.requests.failed, 0);
    assert_eq!(report.messages.by_topic["aliecs.env_state.RUNNING"], 1000);
    assert_eq!(
        report.messages.by_topic["aliecs.env_leave_state.RUNNING"],
        1000
    );
    assert!(
        report.simulated_ms > 7 * 24 * 3600 * 1000,
        "more than a week simulated"
    );
}

#[test]
fn a_beam_dump_stops_only_the_environment_that_asked_as_lhc() {
    let scenario = load("beam-dump");
    let memory = Arc::new(MemoryPublisher::new());
    replay(&scenario, memory.clone());
    let records = memory.records();
    let stops: Vec<(String, String)> = records
        .iter()
        .filter(|r| r.topic == "aliecs.run")
        .filter_map(
            |r| match Event::decode(r.value.as_slice()).unwrap().payload {
                Some(ecsim_proto::events::event::Payload::RunEvent(run))
                    if run.transition == "STOP_ACTIVITY"
                        && run.transition_status() == ecsim_proto::events::OpStatus::Started =>
                {
                    Some((
                        run.environment_id,
                        run.last_request_user.unwrap_or_default().name,
                    ))
                }
                _ => None,
            },
        )
        .collect();
    assert_eq!(stops.len(), 3);
    assert_eq!(stops[0].1, "TIMER", "the cosmics run stops itself first");
    assert_eq!(stops[1].1, "LHC", "the dump stops the global run");
    assert_eq!(
        stops[2].1, "Jane Shifter",
        "the shifter stops the calibration later"
    );
    let dumps = records
        .iter()
        .filter(|r| r.topic == "dip.lhc.beam_mode")
        .count();
    assert_eq!(dumps, 3, "every beam mode change is on dip.lhc.beam_mode");
}

/// ALICE's Bookkeeping finds a run's user by `id` or `externalId` and refuses the run event
/// when neither is there: every run event of every example that names a user carries the
/// user's `externalId` — the person's id, 0 for a person known by name only (as AliECS's GUI
/// sends), 60 for LHC, 65 for TIMER. Only TEARDOWN's events name no user, as in AliECS.
#[test]
fn run_events_carry_the_users_external_id() {
    let mut seen = std::collections::BTreeSet::new();
    for path in scenarios() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "soak" {
            continue; // a thousand runs of the same user: the others show everything it would
        }
        let memory = Arc::new(MemoryPublisher::new());
        replay(&load(&name), memory.clone());
        for record in memory.records().iter().filter(|r| r.topic == "aliecs.run") {
            let Some(ecsim_proto::events::event::Payload::RunEvent(run)) =
                Event::decode(record.value.as_slice()).unwrap().payload
            else {
                panic!("{name}: not a run event on aliecs.run")
            };
            match run.last_request_user.clone() {
                None => assert_eq!(run.transition, "TEARDOWN", "{name}: {run:?}"),
                Some(user) => {
                    let external_id = user.external_id.unwrap_or_else(|| {
                        panic!("{name}: a run event's user without externalId: {run:?}")
                    });
                    seen.insert((user.name, external_id));
                }
            }
        }
    }
    for expected in [
        ("LHC", 60),
        ("TIMER", 65),
        ("Jane Shifter", 812),
        ("Load Test", 90001),
    ] {
        assert!(
            seen.contains(&(expected.0.to_owned(), expected.1)),
            "{expected:?} not among {seen:?}"
        );
    }
}

#[test]
fn a_failed_start_ends_in_error_as_the_scenario_says() {
    let scenario = load("failed-start");
    let memory = Arc::new(MemoryPublisher::new());
    let report = replay(&scenario, memory.clone());
    assert_eq!(report.requests.failed, 1);
    let error = &report.requests.failures[0].error;
    assert!(
        error.contains("transition canceled with error: unknown name dcs"),
        "the call's own error, as AliECS reports one critical failure: {error}"
    );
    let topics: Vec<String> = memory
        .records()
        .into_iter()
        .map(|r| r.topic.into_owned())
        .collect();
    assert!(topics.iter().any(|t| t == "aliecs.env_state.ERROR"));
    assert!(!topics.iter().any(|t| t == "aliecs.env_state.RUNNING"));
}

#[test]
fn destroy_while_running_writes_teardown_run_events() {
    let memory = Arc::new(MemoryPublisher::new());
    replay(&load("destroy-while-running"), memory.clone());
    let teardowns = memory
        .records()
        .iter()
        .filter(|r| r.topic == "aliecs.run")
        .filter(|r| matches!(Event::decode(r.value.as_slice()).unwrap().payload, Some(ecsim_proto::events::event::Payload::RunEvent(run)) if run.transition == "TEARDOWN"))
        .count();
    assert_eq!(teardowns, 2);
}

#[test]
fn many_environments_overlap_their_runs() {
    let scenario = load("many-environments");
    assert_eq!(scenario.environments.len(), 50);
    let memory = Arc::new(MemoryPublisher::new());
    let report = replay(&scenario, memory.clone());
    assert_eq!(
        (
            report.environments.created,
            report.runs,
            report.requests.failed
        ),
        (50, 150, 0)
    );
    let most_running = memory
        .records()
        .iter()
        .filter(|r| r.topic == "aliecs.env_list.RUNNING")
        .map(|r| {
            ActiveRunsList::decode(r.value.as_slice())
                .unwrap()
                .active_runs
                .len()
        })
        .max()
        .unwrap();
    assert!(
        most_running >= 40,
        "runs overlap: at most {most_running} at once"
    );
}
