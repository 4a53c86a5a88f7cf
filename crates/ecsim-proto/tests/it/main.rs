//! The integration tests of `ecsim-proto`, in one binary: the wire bytes (`wire`: round trips,
//! hand-computed bytes, the schema snapshot) and the proto3 JSON rendering (`json`), over the
//! same messages (`fixtures`).

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

mod fixtures;
mod json;
mod wire;
