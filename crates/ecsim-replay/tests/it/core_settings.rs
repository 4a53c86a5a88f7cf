//! AliECS's core settings in a scenario: `integration_plugins` (AliECS's `integrationPlugins`)
//! and `enable_kafka` (`enableKafka`).

use std::sync::Arc;

use ecsim_core::publish::{MemoryPublisher, Record};
use ecsim_proto::{events::Event, prost::Message as _};
use ecsim_replay::driver::{self, ReplayError};

/// A physics run with stop_at_beam_dump and a beam dump during it; `settings` go in
/// `[scenario]`, `vars` in the environment's.
fn scenario(settings: &str, vars: &str) -> String {
    format!(
        r#"
[scenario]
name = "settings"
seed = 1
{settings}

[[environment]]
name = "physics"
detectors = ["ITS", "TPC"]
vars = {{ kafka_enabled = "true", stop_at_beam_dump = "true" {vars} }}

[[timeline]]
at = "0s"
env = "physics"
do = "create"

[[timeline]]
after = "1m"
env = "physics"
do = "start"

[[timeline]]
after = "10m"
do = "beam_mode"
mode = "BEAM_DUMP"
fill = 9000
"#
    )
}

fn replay(text: &str) -> Result<Vec<Record>, ReplayError> {
    let scenario = ecsim_scenario::parse("settings.toml", text).unwrap();
    let memory = Arc::new(MemoryPublisher::new());
    driver::run_blocking(
        &scenario,
        memory.clone(),
        Vec::new(),
        Arc::new(driver::Silent),
    )?;
    Ok(memory.records())
}

fn failed_calls(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.topic == "aliecs.call")
        .filter_map(
            |r| match Event::decode(r.value.as_slice()).unwrap().payload {
                Some(ecsim_proto::events::event::Payload::CallEvent(call))
                    if !call.error.is_empty() =>
                {
                    Some(format!("{}: {}", call.func, call.error))
                }
                _ => None,
            },
        )
        .collect()
}

#[test]
fn every_plugin_is_loaded_by_default_and_a_beam_dump_stops_the_run() {
    let records = replay(&scenario("", r#", lhc_enabled = "true""#)).unwrap();
    assert!(
        failed_calls(&records).is_empty(),
        "{:?}",
        failed_calls(&records)
    );
    assert!(
        records
            .iter()
            .any(|r| r.topic == "aliecs.env_leave_state.RUNNING")
    );
}

#[test]
fn integration_plugins_left_out_fail_their_calls_and_without_lhc_no_dump_stops_a_run() {
    let records = replay(&scenario(
        r#"integration_plugins = ["kafka"]"#,
        r#", bookkeeping_enabled = "true""#,
    ))
    .unwrap();
    let failed = failed_calls(&records);
    assert!(
        failed
            .iter()
            .any(|f| f.starts_with("bookkeeping.RetrieveFillInfo()")
                && f.contains("unknown name bookkeeping")),
        "{failed:?}"
    );
    assert!(
        !records
            .iter()
            .any(|r| r.topic == "aliecs.env_leave_state.RUNNING"),
        "AliECS hears of beam dumps through its lhc plugin: without it, the run goes on"
    );
    assert!(
        records.iter().any(|r| r.topic == "dip.lhc.beam_mode"),
        "the LHC still says so"
    );
}

#[test]
fn an_integration_plugin_nobody_provides_is_refused_before_the_replay() {
    let error = replay(&scenario(r#"integration_plugins = ["kafka", "dcs"]"#, "")).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ReplayError::UnknownIntegrationPlugin { .. }),
        "{message}"
    );
    assert!(
        message.contains("dcs") && message.contains("[[plugin]]"),
        "{message}"
    );
}

#[test]
fn enable_kafka_false_publishes_nothing_at_all() {
    let records = replay(&scenario("enable_kafka = false", "")).unwrap();
    assert!(
        records.iter().all(|r| r.topic == "dip.lhc.beam_mode"),
        "only the LHC's own messages: {:?}",
        records
            .iter()
            .map(|r| r.topic.to_string())
            .collect::<Vec<_>>()
    );
}

/// A user given by name alone carries `externalId` 0, as the Control GUI sends a person it has
/// no id for; a table gives the id.
#[test]
fn a_user_of_a_name_alone_has_person_id_0_and_a_table_gives_it() {
    let named = ecsim_scenario::parse("u.toml", &scenario("user = \"Jane Shifter\"", "")).unwrap();
    assert_eq!(
        (named.user.name.as_str(), named.user.external_id),
        ("Jane Shifter", Some(0))
    );
    let with_id = ecsim_scenario::parse(
        "u.toml",
        &scenario("user = { name = \"Jane Shifter\", external_id = 812 }", ""),
    )
    .unwrap();
    assert_eq!(with_id.user.external_id, Some(812));
}
