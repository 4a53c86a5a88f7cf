//! ecsim's end-to-end tests, in one binary (the soak, which measures its own process's memory,
//! has a binary of its own):
//!
//! - `golden`: whole streams, byte for byte, snapshotted;
//! - `determinism`: same scenario, same seed, same bytes;
//! - `reference`: facts of `docs/aliecs.md` checked on the stream;
//! - `mock_services`: the mock DCS, ODC, TRG and DDSched, one snapshot per operation and failure;
//! - `kafka`: real brokers (embedded and tansu) read back by a consumer;
//! - `client_matrix`: the client × feature matrix of `docs/consumers.md`, each client against
//!   the embedded broker and tansu.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

mod client_matrix;
mod determinism;
mod golden;
mod kafka;
mod mock_services;
mod reference;
