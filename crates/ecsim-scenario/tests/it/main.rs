//! The integration tests of `ecsim-scenario`, in one binary:
//!
//! - `broken`: every file of `broken/` refused, its diagnostics snapshotted;
//! - `fuzz`: mutated scenarios never panic the validator;
//! - `examples`: the scenarios of `scenarios/` replayed (what each shows, determinism);
//! - `core_settings`: AliECS's core settings (`integration_plugins`, `enable_kafka`, …);
//! - `limits`: every limit of an expanded scenario, and validation time linear in the file;
//! - `schema`: the JSON Schema shipped fresh, the examples valid by it, the broken ones not.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

mod broken;
mod core_settings;
mod examples;
mod fuzz;
mod limits;
mod schema;
