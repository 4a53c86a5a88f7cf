//! The integration tests of `ecsim-replay`, in one binary:
//!
//! - `examples`: the scenarios of `scenarios/` replayed (what each shows, determinism);
//! - `core_settings`: AliECS's core settings (`integration_plugins`, `enable_kafka`, …).

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

mod core_settings;
mod examples;
