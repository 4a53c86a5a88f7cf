//! AliECS's wire schema, as Rust types.
//!
//! Consumers of AliECS events decode them with AliECS's own `.proto` files, so ecsim must put
//! exactly AliECS's bytes on the wire. This crate is the single place those bytes are defined:
//!
//! - [`common`], [`events`] and [`kafka`]: prost types generated from `proto/` by
//!   `cargo xtask codegen` and checked in (`src/generated/`; `cargo xtask tidy` fails when they
//!   are stale), one module per protobuf package — so building them needs nothing but prost;
//! - [`o2control`]: AliECS's control API (the gRPC service `o2control.Control`), messages
//!   generated, the service in the descriptor set;
//! - [`plugin`]: ecsim's own protocol with dynamically loaded plugin libraries, which carries
//!   AliECS events and so lives beside them;
//! - [`FILE_DESCRIPTOR_SET`]: the compiled schema, for tools such as `pq` (`cargo xtask fdset`);
//! - with the `reflect` feature, `DESCRIPTOR_POOL` (the schema decoded, for reflection by
//!   message name) and `json` (any of these messages rendered in the proto3 JSON mapping);
//! - [`topics`]: the Kafka topics AliECS writes, and which message type each one carries;
//! - [`call`]: AliECS's call contract (the `__call_*` entries, `CallError`), shared by the core
//!   and the plugin SDK;
//! - [`fault`]: the faults a scenario configures into a plugin (`FaultSpec`, as JSON);
//! - [`duration`]: Go durations (`140s`, `1m30s`), as AliECS writes call timeouts.
//!
//! Every generated message implements [`prost::Message`] and [`prost::Name`] (its fully
//! qualified protobuf name), and with `reflect`, `prost_reflect::ReflectMessage`.
//!
//! Plugin libraries use the types without `reflect`: their build compiles no protobuf compiler
//! and no reflection.

#![forbid(unsafe_code)]

#[cfg(feature = "reflect")]
use std::sync::LazyLock;

#[cfg(feature = "reflect")]
use prost_reflect::DescriptorPool;

pub mod call;
pub mod duration;
pub mod fault;
#[cfg(feature = "reflect")]
pub mod json;
#[cfg(feature = "reflect")]
pub mod paths;
pub mod topics;

// Re-exported so that users of the generated types need not pin the same versions themselves.
pub use prost;
#[cfg(feature = "reflect")]
pub use prost_reflect;

/// Package `common`: users, workflow template info, LHC beam information.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod common {
    include!("generated/common.rs");
}

/// Package `events`: the `Event` envelope of every `aliecs.*` core topic and its payloads.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod events {
    include!("generated/events.rs");
}

/// Package `kafka`: the messages of AliECS's Kafka integration plugin.
#[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
pub mod kafka {
    include!("generated/kafka.rs");
}

/// Package `o2control`: AliECS's control API, the gRPC service `o2control.Control`: its
/// messages, and with the `grpc` feature its tonic client (`control_client::ControlClient`) and
/// server (`control_server::{Control, ControlServer}`).
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic,
    unreachable_pub,
    unused_qualifications,
    rust_2018_idioms
)]
pub mod o2control {
    include!("generated/o2control.rs");
}

/// Package `apricot`: AliECS's configuration service, the gRPC service `apricot.Apricot` (the
/// detector and FLP inventory, run numbers, the runtime key-value store), with the `grpc`
/// feature its tonic client and server.
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic,
    unreachable_pub,
    unused_qualifications,
    rust_2018_idioms
)]
pub mod apricot {
    include!("generated/apricot.rs");
}

#[cfg(feature = "grpc")]
pub mod go_codec;

/// Package `ecsim.plugin.v1`: ecsim's own messages between the host and a dynamically loaded
/// plugin library (see `ecsim-plugin-abi`). Not AliECS's: nothing here goes on Kafka.
pub use self::ecsim::plugin::v1 as plugin;

// Nested as the package name is, because the generated code reaches `events` through
// `super::super::super`.
mod ecsim {
    #[allow(unreachable_pub)] // reachable through the `plugin` re-export
    pub mod plugin {
        #[allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]
        pub mod v1 {
            include!("generated/ecsim.plugin.v1.rs");
        }
    }
}

/// The protobuf packages that are AliECS's wire schema, as opposed to ecsim's own
/// [`plugin`] protocol.
pub const ALIECS_PACKAGES: &[&str] = &["common", "events", "kafka"];

/// The protobuf package of AliECS's control API (gRPC), apart from its Kafka wire schema.
pub const CONTROL_PACKAGE: &str = "o2control";

/// The protobuf package of AliECS's configuration service (gRPC), served beside the control API.
pub const APRICOT_PACKAGE: &str = "apricot";

/// The compiled schema (`google.protobuf.FileDescriptorSet`, with imports and comments) of
/// `protos/common.proto`, `protos/events.proto`, `protos/kafka.proto`, `protos/o2control.proto`,
/// `protos/apricot.proto` (AliECS's) and `ecsim/plugin/v1/plugin.proto` (ecsim's plugin protocol).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/file_descriptor_set.bin");

/// [`FILE_DESCRIPTOR_SET`] decoded once, for reflection by message name.
#[cfg(feature = "reflect")]
pub static DESCRIPTOR_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    // The bytes were produced by protox (`cargo xtask codegen`) from the same files that
    // generated the types above; failing to decode them is a build defect, not a runtime condition.
    #[allow(clippy::expect_used)]
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("embedded descriptor set is valid")
});
