//! The integration tests of `ecsim-core`, in one binary (one link instead of one per file):
//! the core driven through its public API with a probe plugin and a recorder of its events.
//!
//! - `transitions`: AliECS's transition table through the core;
//! - `hooks`: hook order, call traits, failure handling at each moment;
//! - `core_initiated`: the transitions the core starts itself;
//! - `property`: random request sequences against the state machine;
//! - `support`: the probe, the recorder, a core around them.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

mod core_initiated;
mod hooks;
mod property;
mod support;
mod transitions;
