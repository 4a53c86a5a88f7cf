//! The integration tests of the `ecsim` binary, in one test binary (one link of the whole
//! simulator instead of one per subject), a module per subject:
//!
//! - `cli`: the commands as a user runs them — arguments in, output and exit status out;
//!   plugin libraries (`cli/plugins.rs`, `cli/isolation.rs`) and faults (`cli/faults.rs`);
//! - `clients`: consumers written with the clients people use, at their defaults, on a live
//!   run; the decoders of docs/consumers.md (`clients/decoders.rs`); the Python wheel's fixtures
//!   (`clients/wheel.rs`);
//! - `hardening`: the abuse findings, one test each;
//! - `recording`: `record`, `replay` and `run --record` on real brokers;
//! - `report`: the page `run --report` writes;
//! - `serve`: AliECS's control API, driven as its clients drive it.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

mod cli;
mod clients;
mod hardening;
mod recording;
mod report;
mod serve;
