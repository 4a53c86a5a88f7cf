//! `lhc.UpdateFillInfo()`: the latest beam information as the environment's `fill_info_*`
//! variables (docs/aliecs.md §1.9; AliECS's `core/integration/lhc/plugin.go`).

use ecsim_core::plugin::{CallContext, CallOutcome, IntegrationPlugin, async_trait};
use ecsim_proto::common::BeamMode;

use crate::{FILL_INFO_VARS, LhcState};

/// AliECS's `lhc` plugin.
#[derive(Debug)]
pub struct LhcPlugin {
    state: LhcState,
}

impl LhcPlugin {
    /// The plugin, reading the LHC's state from `state`.
    pub fn new(state: LhcState) -> Self {
        Self { state }
    }
}

#[async_trait]
impl IntegrationPlugin for LhcPlugin {
    fn name(&self) -> &str {
        "lhc"
    }

    fn pretty_name(&self) -> &str {
        "LHC (DIP/Kafka client)"
    }

    /// The latest beam information, as AliECS's plugin reports it (a Go map: keys sorted).
    fn data(&self) -> String {
        let info = self.state.current();
        format!(
            r#"{{"BeamMode":"{}","BeamType":{},"FillNumber":{},"FillingSchemeName":{},"StableBeamsEnd":{},"StableBeamsStart":{}}}"#,
            info.beam_mode().as_str_name(),
            quoted(&info.beam_type),
            info.fill_number,
            quoted(&info.filling_scheme_name),
            info.stable_beams_end,
            info.stable_beams_start
        )
    }

    fn functions(&self) -> Vec<String> {
        vec!["UpdateFillInfo".to_owned()]
    }

    async fn call(&self, call: CallContext) -> CallOutcome {
        if call.function != "UpdateFillInfo" {
            return CallOutcome::failed(format!("lhc offers no function {}", call.function), None);
        }
        let info = self.state.current();
        let outcome = CallOutcome::ok("")
            .with_runtime_var("fill_info_beam_mode", info.beam_mode().as_str_name());
        // NO_BEAM: only the beam mode is left.
        if info.beam_mode() == BeamMode::NoBeam {
            return FILL_INFO_VARS
                .iter()
                .fold(outcome, |outcome, key| outcome.without_runtime_var(*key));
        }
        let outcome = outcome
            .with_runtime_var("fill_info_fill_number", info.fill_number.to_string())
            .with_runtime_var("fill_info_filling_scheme", info.filling_scheme_name.clone())
            .with_runtime_var("fill_info_beam_type", info.beam_type.clone());
        let outcome = match info.stable_beams_start {
            start if start > 0 => {
                outcome.with_runtime_var("fill_info_stable_beams_start_ms", start.to_string())
            }
            _ => outcome.without_runtime_var("fill_info_stable_beams_start_ms"),
        };
        match info.stable_beams_end {
            end if end > 0 => {
                outcome.with_runtime_var("fill_info_stable_beams_end_ms", end.to_string())
            }
            _ => outcome.without_runtime_var("fill_info_stable_beams_end_ms"),
        }
    }
}

/// A string as a JSON string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use ecsim_proto::common::BeamInfo;

    use super::*;
    use crate::test_support::call;

    fn vars(outcome: &CallOutcome) -> (Vec<(String, String)>, Vec<String>) {
        (outcome.runtime_vars.clone(), outcome.removed_vars.clone())
    }

    #[tokio::test]
    async fn update_fill_info_sets_the_fill_from_the_latest_beam_information() {
        let state = LhcState::default();
        let plugin = LhcPlugin::new(state.clone());
        state.update(BeamInfo {
            stable_beams_start: 1_750_000_000_000,
            stable_beams_end: 0,
            fill_number: 10234,
            filling_scheme_name: "25ns_2352b".into(),
            beam_type: "p-p".into(),
            beam_mode: BeamMode::StableBeams.into(),
        });
        let outcome = plugin.call(call("lhc", "UpdateFillInfo", &[])).await;
        assert_eq!(outcome.error, None);
        let (set, removed) = vars(&outcome);
        let set: Vec<(&str, &str)> = set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            set,
            [
                ("fill_info_beam_mode", "STABLE_BEAMS"),
                ("fill_info_fill_number", "10234"),
                ("fill_info_filling_scheme", "25ns_2352b"),
                ("fill_info_beam_type", "p-p"),
                ("fill_info_stable_beams_start_ms", "1750000000000"),
            ]
        );
        assert_eq!(removed, ["fill_info_stable_beams_end_ms"]);
        assert!(
            plugin.data().contains(r#""FillNumber":10234"#),
            "{}",
            plugin.data()
        );
    }

    #[tokio::test]
    async fn no_beam_leaves_only_the_beam_mode_and_nothing_heard_is_unknown() {
        let state = LhcState::default();
        let plugin = LhcPlugin::new(state.clone());
        let first = plugin.call(call("lhc", "UpdateFillInfo", &[])).await;
        assert_eq!(
            first.runtime_vars[0],
            ("fill_info_beam_mode".into(), "UNKNOWN".into())
        );
        assert!(
            first
                .runtime_vars
                .iter()
                .any(|(k, v)| k == "fill_info_fill_number" && v == "0")
        );

        state.update(BeamInfo {
            fill_number: 10234,
            beam_mode: BeamMode::NoBeam.into(),
            ..BeamInfo::default()
        });
        let outcome = plugin.call(call("lhc", "UpdateFillInfo", &[])).await;
        let (set, removed) = vars(&outcome);
        assert_eq!(
            set,
            [("fill_info_beam_mode".to_owned(), "NO_BEAM".to_owned())]
        );
        assert_eq!(removed, FILL_INFO_VARS);
    }
}
