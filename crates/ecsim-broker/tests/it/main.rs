//! The broker's tests through a socket: one binary (rust-analyzer's advice: one integration test
//! crate per crate), one module per concern.

mod conformance;
mod hostile;
mod rdkafka_clients;
mod wire;
