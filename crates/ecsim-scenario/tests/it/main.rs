//! The integration tests of `ecsim-scenario`, in one binary:
//!
//! - `broken`: every file of `broken/` refused, its diagnostics snapshotted;
//! - `fuzz`: mutated scenarios never panic the validator;
//! - `limits`: every limit of an expanded scenario, and validation time linear in the file;
//! - `schema`: the JSON Schema shipped fresh, the examples valid by it, the broken ones not.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

mod broken;
mod fuzz;
mod limits;
mod schema;
