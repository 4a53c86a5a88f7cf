//! `bookkeeping.RetrieveFillInfo()` and the Bookkeeping functions of environments that
//! Bookkeeping does not follow on Kafka (`core/integration/bookkeeping/plugin.go`).
//!
//! RetrieveFillInfo asks Bookkeeping for the fill of the run; at the start of a run (before
//! `START_ACTIVITY+11`) Bookkeeping does not know the run yet, so AliECS asks for the latest
//! LHC fill and keeps it only while its stable beams are on (started, not ended): then it sets
//! the `fill_info_*` variables, otherwise it deletes them. Bookkeeping's latest fill is the
//! LHC's, as ALICE's DIP client writes both.

use std::collections::BTreeMap;

use ecsim_core::plugin::{CallContext, CallOutcome, IntegrationPlugin, async_trait};

use crate::{FILL_INFO_VARS, LhcState};

/// AliECS's `GetData` with nothing pending.
const PENDING_MAPS: &str = r#"{"missingUpdateRunStarts":{},"pendingO2Starts":{},"pendingO2Stops":{},"pendingRunStops":{},"pendingTrgStarts":{},"pendingTrgStops":{}}"#;

/// AliECS's `bookkeeping` plugin.
#[derive(Debug)]
pub struct BookkeepingPlugin {
    lhc: LhcState,
}

impl BookkeepingPlugin {
    /// The plugin, with Bookkeeping's fills from `lhc`.
    pub fn new(lhc: LhcState) -> Self {
        Self { lhc }
    }
}

/// The functions AliECS's plugin offers. Only RetrieveFillInfo runs while Bookkeeping reads
/// Kafka (`bookkeeping_consuming_kafka`, the default); the others write to Bookkeeping, which
/// ecsim has not, and succeed.
const FUNCTIONS: [&str; 6] = [
    "RetrieveFillInfo",
    "StartOfRun",
    "UpdateRunStart",
    "UpdateRunStop",
    "CreateEnv",
    "UpdateEnv",
];

#[async_trait]
impl IntegrationPlugin for BookkeepingPlugin {
    fn name(&self) -> &str {
        "bookkeeping"
    }

    fn pretty_name(&self) -> &str {
        "Bookkeeping"
    }

    /// AliECS's pending maps (runs whose Bookkeeping updates wait), as its plugin reports them
    /// (a Go map: keys sorted). They fill only for environments Bookkeeping does not follow on
    /// Kafka, whose updates ecsim does not make: empty.
    fn data(&self) -> String {
        PENDING_MAPS.to_owned()
    }

    /// Per environment, what is pending for it: nothing, `{}` — for every environment, which
    /// is what makes AliECS's per-environment services data never empty (the Control GUI reads
    /// it for every environment).
    fn environments_data(&self, environment_ids: &[String]) -> BTreeMap<String, String> {
        environment_ids
            .iter()
            .map(|id| (id.clone(), "{}".to_owned()))
            .collect()
    }

    /// The same as [`IntegrationPlugin::environments_data`], as in AliECS.
    fn environments_short_data(&self, environment_ids: &[String]) -> BTreeMap<String, String> {
        self.environments_data(environment_ids)
    }

    fn functions(&self) -> Vec<String> {
        FUNCTIONS.map(str::to_owned).to_vec()
    }

    async fn call(&self, call: CallContext) -> CallOutcome {
        match call.function.as_str() {
            "RetrieveFillInfo" => self.retrieve_fill_info(&call),
            other if FUNCTIONS.contains(&other) => CallOutcome::ok(""),
            other => CallOutcome::failed(format!("bookkeeping offers no function {other}"), None),
        }
    }
}

impl BookkeepingPlugin {
    fn retrieve_fill_info(&self, call: &CallContext) -> CallOutcome {
        let run_number = call.var("run_number").unwrap_or_default();
        // AliECS reads the run number as a 32-bit integer and fails the call when it cannot
        // (Go's strconv error text), but goes on to the latest fill all the same.
        let outcome = match run_number.parse::<i32>() {
            Ok(_) => CallOutcome::ok(""),
            Err(error) => {
                let why = match error.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        "value out of range"
                    }
                    _ => "invalid syntax",
                };
                CallOutcome::failed(
                    "Bookkeeping RetrieveFillInfo call failed",
                    Some(format!(
                        r#"strconv.ParseInt: parsing "{run_number}": {why}"#
                    )),
                )
            }
        };
        let fill = self.lhc.current();
        let stable_beams_on = fill.stable_beams_start != 0 && fill.stable_beams_end == 0;
        if !stable_beams_on {
            return FILL_INFO_VARS
                .iter()
                .fold(outcome, |outcome, key| outcome.without_runtime_var(*key));
        }
        outcome
            .with_runtime_var("fill_info_fill_number", fill.fill_number.to_string())
            .with_runtime_var("fill_info_filling_scheme", fill.filling_scheme_name)
            .with_runtime_var("fill_info_beam_type", fill.beam_type)
            .with_runtime_var(
                "fill_info_stable_beams_start_ms",
                fill.stable_beams_start.to_string(),
            )
    }
}

#[cfg(test)]
mod tests {
    use ecsim_proto::common::{BeamInfo, BeamMode};

    use super::*;
    use crate::test_support::call;

    #[tokio::test]
    async fn retrieve_fill_info_keeps_the_fill_only_during_stable_beams() {
        let lhc = LhcState::default();
        let plugin = BookkeepingPlugin::new(lhc.clone());
        let retrieve = || {
            plugin.call(call(
                "bookkeeping",
                "RetrieveFillInfo",
                &[("run_number", "7")],
            ))
        };

        let before = retrieve().await;
        assert_eq!(
            (before.error.clone(), before.removed_vars.clone()),
            (None, FILL_INFO_VARS.map(str::to_owned).to_vec())
        );

        lhc.update(BeamInfo {
            stable_beams_start: 1_750_000_000_000,
            fill_number: 10234,
            filling_scheme_name: "25ns_2352b".into(),
            beam_type: "PROTON - PROTON".into(),
            beam_mode: BeamMode::StableBeams.into(),
            ..BeamInfo::default()
        });
        let during = retrieve().await;
        assert!(during.removed_vars.is_empty());
        assert!(
            during
                .runtime_vars
                .contains(&("fill_info_fill_number".into(), "10234".into()))
        );
        assert!(during.runtime_vars.contains(&(
            "fill_info_stable_beams_start_ms".into(),
            "1750000000000".into()
        )));

        lhc.update(BeamInfo {
            stable_beams_start: 1_750_000_000_000,
            stable_beams_end: 1_750_000_600_000,
            fill_number: 10234,
            beam_mode: BeamMode::BeamDump.into(),
            ..BeamInfo::default()
        });
        let after = retrieve().await;
        assert!(after.runtime_vars.is_empty() && after.removed_vars.len() == 5);
    }

    #[tokio::test]
    async fn without_a_run_number_the_call_fails_as_aliecs_reports_it() {
        let plugin = BookkeepingPlugin::new(LhcState::default());
        let outcome = plugin
            .call(call("bookkeeping", "RetrieveFillInfo", &[]))
            .await;
        assert_eq!(
            outcome.error.unwrap().to_string(),
            r#"Bookkeeping RetrieveFillInfo call failed. REASON: strconv.ParseInt: parsing "": invalid syntax"#
        );
    }

    #[tokio::test]
    async fn a_run_number_past_32_bits_is_out_of_range_as_go_says() {
        let plugin = BookkeepingPlugin::new(LhcState::default());
        let outcome = plugin
            .call(call(
                "bookkeeping",
                "RetrieveFillInfo",
                &[("run_number", "4294967295")],
            ))
            .await;
        assert_eq!(
            outcome.error.unwrap().to_string(),
            r#"Bookkeeping RetrieveFillInfo call failed. REASON: strconv.ParseInt: parsing "4294967295": value out of range"#
        );
    }
}
