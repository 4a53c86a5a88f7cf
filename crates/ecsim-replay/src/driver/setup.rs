//! What comes before a replay: the runtime it runs on, and the checks a replay makes before its
//! first step, alone (`ecsim validate`).

use std::sync::Arc;

use ecsim_core::plugin::IntegrationPlugin;

use super::{ReplayError, Silent, Simulation};
use ecsim_scenario::model::{Scenario, Speed};

/// A tokio runtime suited to the scenario's speed: current-thread, with its clock paused for
/// virtual time (deterministic scheduling, time jumps to the next timer).
pub fn runtime(speed: Speed) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_time();
    if speed == Speed::Virtual {
        builder.start_paused(true);
    }
    builder.build()
}

/// Everything a replay of `scenario` does before its first step, and nothing after: the core
/// started with the scenario's plugins and `extra_plugins` (each plugin created with its
/// configuration), then shut down, in virtual time, publishing nowhere. `Ok` means a replay
/// would start (`ecsim validate`).
pub fn preflight(
    scenario: &Scenario,
    extra_plugins: Vec<Arc<dyn IntegrationPlugin>>,
) -> Result<(), ReplayError> {
    let mut scenario = scenario.clone();
    scenario.speed = Speed::Virtual;
    let runtime = runtime(Speed::Virtual).map_err(ReplayError::Runtime)?;
    runtime.block_on(async {
        let publisher = Arc::new(ecsim_core::publish::MemoryPublisher::default());
        let simulation =
            Simulation::start(&scenario, publisher, extra_plugins, Arc::new(Silent)).await?;
        simulation.core.shutdown().await;
        Ok(())
    })
}
