//! What the driver tells about a replay as it goes: a progress bar, a log, expectations that
//! learn each environment's id before its first message.

use std::{sync::Arc, time::Duration};

/// Told about the replay as it advances (a progress bar, a log, expectations checked live).
pub trait Progress: Send + Sync {
    /// `done` of `total` steps have run; `simulated` is the simulated time since the start.
    fn advanced(&self, done: u64, total: u64, simulated: Duration);

    /// The scenario's environment `name` is being created with the AliECS id `id`: told before
    /// anything about it is published.
    fn environment_named(&self, _name: &str, _id: &str) {}
}

/// Several listeners told the same, in order.
pub struct Listeners(pub Vec<Arc<dyn Progress>>);

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("count", &self.0.len())
            .finish()
    }
}

impl Progress for Listeners {
    fn advanced(&self, done: u64, total: u64, simulated: Duration) {
        for listener in &self.0 {
            listener.advanced(done, total, simulated);
        }
    }

    fn environment_named(&self, name: &str, id: &str) {
        for listener in &self.0 {
            listener.environment_named(name, id);
        }
    }
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn advanced(&self, _done: u64, _total: u64, _simulated: Duration) {}
}
