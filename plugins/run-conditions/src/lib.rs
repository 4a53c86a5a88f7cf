//! AliECS's `lhc`, `bookkeeping` and `ccdb` integration plugins, as ecsim plugins: what a run
//! records of its conditions.
//!
//! With a production-like variable set (`lhc_enabled`, `bookkeeping_enabled`, `ccdb_enabled`
//! "true") the standard workflow calls them at every transition (docs/aliecs.md §1.9), and the
//! `lhc` call before DEPLOY is critical: without them, creation fails. They talk to nothing but
//! the LHC's state, which in ecsim is the scenario's: the beam mode changes it publishes on
//! `dip.lhc.beam_mode` are handed to [`LhcState`], which both fill-information calls read.
//!
//! - `lhc.UpdateFillInfo()` ([`LhcPlugin`]) sets the `fill_info_*` variables from the latest beam
//!   information, as AliECS's plugin does from the `dip.lhc.beam_mode` messages it reads.
//! - `bookkeeping.RetrieveFillInfo()` ([`BookkeepingPlugin`]) sets them from Bookkeeping's latest
//!   LHC fill when stable beams are on, and deletes them otherwise. The other Bookkeeping
//!   functions (used only when Bookkeeping does not read Kafka) succeed without effect.
//! - `ccdb.RunStart()`/`ccdb.RunStop()` ([`CcdbPlugin`]) upload the run's GRP object in AliECS,
//!   a command whose failures are only logged: the calls always succeed and publish nothing.
//!
//! None of the three publishes integrated-service events, in AliECS or here; what a consumer
//! sees of them is their `aliecs.call` events and the `fill_info_*` variables that later calls
//! of the environment read. Their calls take no simulated time.

#![forbid(unsafe_code)]

mod bookkeeping;
mod ccdb;
mod lhc;

use std::sync::{Arc, Mutex};

use ecsim_proto::common::{BeamInfo, BeamMode};

pub use bookkeeping::BookkeepingPlugin;
pub use ccdb::CcdbPlugin;
pub use lhc::LhcPlugin;

/// The variables the fill-information calls set, and delete.
pub const FILL_INFO_VARS: [&str; 5] = [
    "fill_info_fill_number",
    "fill_info_filling_scheme",
    "fill_info_beam_type",
    "fill_info_stable_beams_start_ms",
    "fill_info_stable_beams_end_ms",
];

/// The LHC's latest beam information, as the scenario's LHC client last published it. Shared
/// by the plugins that read it and the replay that updates it; cloning shares.
#[derive(Debug, Clone)]
pub struct LhcState(Arc<Mutex<BeamInfo>>);

impl Default for LhcState {
    /// Nothing heard from the LHC yet: beam mode UNKNOWN, as AliECS's `lhc` plugin starts.
    fn default() -> Self {
        Self(Arc::new(Mutex::new(BeamInfo {
            beam_mode: BeamMode::Unknown.into(),
            ..BeamInfo::default()
        })))
    }
}

impl LhcState {
    /// Records the LHC's new beam information.
    pub fn update(&self, info: BeamInfo) {
        *self.lock() = info;
    }

    /// The latest beam information.
    pub fn current(&self) -> BeamInfo {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BeamInfo> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// All three, reading `lhc`, in the order AliECS's workflow lists them.
pub fn plugins(lhc: &LhcState) -> Vec<Arc<dyn ecsim_core::plugin::IntegrationPlugin>> {
    vec![
        Arc::new(CcdbPlugin),
        Arc::new(BookkeepingPlugin::new(lhc.clone())),
        Arc::new(LhcPlugin::new(lhc.clone())),
    ]
}

#[cfg(test)]
mod test_support {
    use ecsim_core::plugin::{CallContext, CallTraits};

    /// A call of `plugin.function()` for an environment with `vars`.
    pub(crate) fn call(plugin: &str, function: &str, vars: &[(&str, &str)]) -> CallContext {
        CallContext {
            environment_id: "2oDvieFrVTi".into(),
            environment_name: "physics".into(),
            plugin: plugin.into(),
            function: function.into(),
            func: format!("{plugin}.{function}()"),
            role_path: format!("readout-dataflow.{plugin}.sor"),
            traits: CallTraits {
                trigger: "before_START_ACTIVITY-50".into(),
                r#await: "before_START_ACTIVITY-50".into(),
                timeout: "5s".into(),
                critical: true,
            },
            vars: vars.iter().copied().collect(),
        }
    }
}
