//! The LHC's beam mode from outside the timeline — ALICE's DIP client's, read from the broker
//! by the binary (`dip.lhc.beam_mode`) — into a running simulation, as AliECS's `lhc` plugin
//! takes it.

use std::sync::Arc;

use ecsim_core::EnvironmentId;

use super::Replay;

/// Beam mode changes from outside the timeline — ALICE's DIP client's, read from the broker
/// (`dip.lhc.beam_mode`) — into a running simulation (see [`super::Simulation::lhc_input`]).
#[derive(Clone)]
pub struct LhcInput(pub(super) Arc<Replay>);

impl std::fmt::Debug for LhcInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LhcInput").finish_non_exhaustive()
    }
}

impl LhcInput {
    /// The `lhc` plugin's fill information follows `info`, and unless it was on the topic
    /// already (`backlog`), the runs that asked for it stop on a beam dump, as AliECS's `lhc`
    /// plugin does. Returns the environments stopped.
    pub async fn apply(
        &self,
        info: ecsim_proto::common::BeamInfo,
        backlog: bool,
    ) -> Vec<EnvironmentId> {
        let replay = &self.0;
        let mode = info.beam_mode();
        replay.lhc_state.update(info);
        if backlog || !replay.lhc_loaded {
            return Vec::new();
        }
        let stopped = replay.core.beam_mode_changed(mode).await;
        tracing::info!(
            mode = mode.as_str_name(),
            stopped = stopped.len(),
            "beam mode changed (read from the broker)"
        );
        stopped
    }
}
