//! The host side of ecsim's dynamic plugins: integration plugins loaded from libraries at run
//! time, without rebuilding ecsim.
//!
//! - [`Library`] opens a library and checks it, in order: the file is a shared library, it
//!   exports the entry symbol, its ABI version and table size are ones this ecsim knows, it was
//!   built with a compatible `ecsim-plugin-sdk`, and its manifest decodes. Every refusal is a
//!   [`LoadError`] that says what was wrong and what to do. [`Inspection`] is the same walk,
//!   recording what it learned on the way (`ecsim plugin inspect`).
//! - [`DylibPlugin`] is one of a library's plugins as an
//!   [`IntegrationPlugin`](ecsim_core::plugin::IntegrationPlugin): the core calls it like any
//!   other plugin. Its instance lives on a thread of its own ([`worker`]); a call that panics
//!   or does not return in time fails with a message, and the simulator carries on.
//! - [`locate`] turns what a user writes (`mock-services`, `./libmine.so`) into a path.
//!
//! Libraries are loaded only from paths given explicitly, and never unloaded: a plugin's
//! threads, statics or buffers may outlive any call, and unloading under them is undefined
//! behaviour for no gain in a process that lives as long as a replay.

pub mod call;
pub mod child;
pub mod conformance;
mod error;
pub mod exit_guard;
mod inspection;
pub mod isolation;
mod library;
pub mod locate;
mod plugin;
mod table;
#[cfg(feature = "test-support")]
pub mod testing;
mod threads;
mod timeline;
pub mod worker;

pub use error::LoadError;
pub use inspection::Inspection;
pub use isolation::{Isolation, process::HostCommand};
pub use library::Library;
pub use plugin::DylibPlugin;

/// The `ecsim-plugin-sdk` version this host was built with. The host and the SDK are versioned
/// together (the workspace version), so this is also the newest SDK the host understands.
pub const HOST_SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
