//! Kafka for ecsim: where the simulation's records meet a broker.
//!
//! - [`settings`]: brokers and librdkafka properties (`-X`, Java properties files);
//! - [`publisher`]: the rdkafka producer behind [`ecsim_core::publish::Publisher`], which
//!   creates topics before their first message and accounts for every delivery
//!   ([`accounting`]);
//! - [`embedded`]: the in-process broker used when no broker is given;
//! - [`consumer`]: reading topics back without joining anyone's consumer group, for
//!   `ecsim tail`, `ecsim verify` and `ecsim record`;
//! - [`recording`]: the JSON-lines format of `ecsim record`, `ecsim replay` and
//!   `ecsim run --record`;
//! - [`baseline`]: a bare producer, the ceiling the benchmarks compare the publisher with.
//!
//! This is the only crate of the workspace that links librdkafka.

#![forbid(unsafe_code)]

pub mod accounting;
pub mod baseline;
pub mod consumer;
pub mod dip;
pub mod embedded;
mod handoff;
mod headers;
mod producers;
pub mod publisher;
pub mod recording;
pub mod settings;
mod topics;

pub use accounting::{DeliveryReport, TopicDelivery};
pub use embedded::EmbeddedBroker;
pub use headers::{RUN_HEADER, RunTag, SCENARIO_HEADER};
pub use publisher::{ConnectError, KafkaPublisher, TopicLayout};
pub use settings::{Property, Settings};
