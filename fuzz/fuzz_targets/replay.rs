//! Scenario text that validates, replayed in virtual time: whatever a valid scenario asks, the
//! simulated core never panics (a panic in a replay is a bug: `ecsim run` exits 8). Scenarios
//! are kept small (a few environments, a few hundred steps) so that each input takes
//! milliseconds.
#![no_main]

use std::sync::Arc;

use ecsim_core::publish::{Publisher, Record};
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Discard;

impl Publisher for Discard {
    fn publish(&self, _record: Record) {}
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut scenario) = ecsim_scenario::parse("fuzz.toml", text) else {
        return;
    };
    if scenario.environments.len() > 8 || scenario.schedule.len() > 300 || !scenario.plugins.is_empty() {
        return;
    }
    scenario.speed = ecsim_scenario::Speed::Virtual;
    scenario.epoch_now = false;
    let stop = ecsim_replay::driver::Stop::new();
    let report = ecsim_replay::driver::run_blocking_until(
        &scenario,
        Arc::new(Discard),
        Vec::new(),
        Arc::new(ecsim_replay::driver::Silent),
        &stop,
    );
    if let Ok(report) = report {
        // A step that panicked stops the replay and says so: that is the bug to find.
        assert!(report.stopped.is_none(), "{:?}", report.stopped);
    }
});
