//! Write integration plugins for ecsim as libraries it loads at run time.
//!
//! An AliECS integration plugin (DCS, ODC, TRG …) offers functions that workflow calls name —
//! `dcs.StartOfRun()` — and AliECS calls them at the moments of an environment's transitions
//! with the call's variables. A plugin built with this crate does the same inside ecsim, without
//! rebuilding ecsim: implement [`Plugin`], list your plugins in [`declare_plugins!`], build the
//! crate as a `cdylib`, and load the library with `ecsim run --plugin` or a scenario's
//! `[[plugin]]` entry.
//!
//! ```
//! use ecsim_plugin_sdk::{Call, CallError, OpStatus, Plugin, Setup};
//!
//! /// Counts the runs it sees start.
//! pub struct RunCounter {
//!     runs: u32,
//! }
//!
//! impl Plugin for RunCounter {
//!     const NAME: &'static str = "counter";
//!     const PRETTY_NAME: &'static str = "Run counter";
//!     const FUNCTIONS: &'static [&'static str] = &["RunStarted"];
//!
//!     fn create(_setup: &Setup) -> Result<Self, String> {
//!         Ok(Self { runs: 0 })
//!     }
//!
//!     fn call(&mut self, call: &mut Call) -> Result<String, CallError> {
//!         let run = call.var("run_number").unwrap_or_default().to_owned();
//!         if run.is_empty() {
//!             // AliECS's __call_error and __call_error_reason.
//!             return Err(CallError::new("counter RunStarted call failed").reason("no run number"));
//!         }
//!         self.runs += 1;
//!         call.elapse(std::time::Duration::from_millis(20)); // the call takes 20 ms of simulated time
//!         let mut event = call.service_event(OpStatus::DoneOk, "count run", OpStatus::DoneOk);
//!         event.payload = format!(r#"{{"runNumber":{run},"runs":{}}}"#, self.runs);
//!         call.publish("counter", event); // on aliecs.integrated_service.counter
//!         Ok(self.runs.to_string())
//!     }
//! }
//!
//! ecsim_plugin_sdk::declare_plugins!(RunCounter);
//! ```
//!
//! # How a call runs
//!
//! ecsim runs every plugin instance on a thread of its own and calls [`Plugin::call`] there,
//! synchronously. The call does not sleep to model time: it says how long it takes with
//! [`Call::elapse`], and when each of its events happens (an event is published at the call's
//! simulated time when [`Call::publish`] is called). ecsim then plays that timeline on its clock:
//! each event appears on Kafka when it is due, and the call completes when its time is up. That
//! is what keeps a replay in virtual time both instant and deterministic, plugins included.
//!
//! A call that panics fails, with the panic's message as its error; a critical call's failure
//! sends the environment to ERROR, as a Go panic recovered by AliECS's expression evaluator does.
//! A call that does not return within its timeout (wall-clock time) fails, and later calls to
//! the same instance fail at once. The library stays loaded either way.
//!
//! # What crosses the boundary
//!
//! Nothing Rust-typed: requests and replies are the protobuf messages of
//! `proto/ecsim/plugin/v1/plugin.proto`, as bytes, through the C table of `ecsim-plugin-abi`.
//! A library built with this SDK works with every ecsim of the same SDK major version (minor,
//! for 0.x versions), whatever Rust compiler built either of them.

mod call;
#[doc(hidden)]
pub mod export;
#[cfg(feature = "async")]
pub mod runtime;

pub use call::{Call, CallError};
/// The faults a scenario configures into a plugin (its configuration's `faults` array), as
/// ecsim writes them: deserialize them with [`fault::FaultSpec`].
pub use ecsim_proto::fault;
pub use ecsim_proto::{
    self as proto, duration::parse_go_duration, events::EvIntegratedServiceEvent, events::OpStatus,
};

/// The version of this SDK, recorded in every library built with it.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One kind of plugin a library offers: `dcs`, `odc` … ecsim makes one instance of it (AliECS
/// has one instance of each plugin) and calls it from one thread.
pub trait Plugin: Send + 'static {
    /// Short name, also the object name in workflow calls: `dcs` in `dcs.StartOfRun()`.
    const NAME: &'static str;
    /// Display name.
    const PRETTY_NAME: &'static str;
    /// The functions workflow calls may name (`StartOfRun`); ecsim fails calls to any other.
    const FUNCTIONS: &'static [&'static str];
    /// The endpoint the plugin would talk to (informative).
    const ENDPOINT: &'static str = "";

    /// Makes the instance, from the configuration the scenario gives it. An error here stops
    /// the replay before it starts, with this message.
    fn create(setup: &Setup) -> Result<Self, String>
    where
        Self: Sized;

    /// Runs one workflow call of one of [`Plugin::FUNCTIONS`] ([`Call::function`] says which).
    /// `Ok` is the call's output; `Err` fails it, as a plugin writing `__call_error` does.
    fn call(&mut self, call: &mut Call) -> Result<String, CallError>;

    /// Stops the instance at the end of the replay.
    fn destroy(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// What ecsim gives a plugin instance when it makes it.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Which of the library's plugins this is ([`Plugin::NAME`]).
    pub plugin: String,
    /// AliECS's instance id: the Mesos framework id of the simulated core.
    pub instance_id: String,
    /// The configuration the scenario gives the plugin (`null` when it gives none).
    pub config: serde_json::Value,
    /// The scenario's seed, for plugins that draw random numbers.
    pub seed: u64,
    /// Whether the replay runs in virtual time (as fast as possible, deterministic).
    pub virtual_time: bool,
}

impl Setup {
    /// The configuration, deserialized; `null` reads as `T`'s defaults when `T` accepts an
    /// empty object. The error names the plugin and what serde found wrong.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        let value = match &self.config {
            serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
            other => other.clone(),
        };
        serde_json::from_value(value)
            .map_err(|error| format!("invalid configuration for plugin {}: {error}", self.plugin))
    }
}

/// Exports the library's plugins to ecsim: the entry symbol and its table of functions.
/// Write it once per library, at the crate root, listing every type that implements
/// [`Plugin`].
#[macro_export]
macro_rules! declare_plugins {
    ($($plugin:ty),+ $(,)?) => {
        /// The library's entry point for ecsim (`ecsim_plugin_entry_v1`).
        #[unsafe(no_mangle)]
        pub extern "C" fn ecsim_plugin_entry_v1() -> *const $crate::export::abi::PluginTable {
            use $crate::export::abi::{Bytes, OwnedBytes, PluginTable};

            fn factories() -> ::std::vec::Vec<$crate::export::Factory> {
                ::std::vec![$($crate::export::Factory::of::<$plugin>()),+]
            }
            extern "C" fn manifest() -> OwnedBytes {
                $crate::export::manifest(factories)
            }
            extern "C" fn create(request: Bytes<'_>) -> OwnedBytes {
                $crate::export::create(factories, request)
            }
            extern "C" fn call(instance: u64, request: Bytes<'_>) -> OwnedBytes {
                $crate::export::call(instance, request)
            }
            extern "C" fn destroy(instance: u64) -> OwnedBytes {
                $crate::export::destroy(instance)
            }
            /// # Safety
            ///
            /// `bytes` was returned by this table's functions, and is given back once.
            unsafe extern "C" fn free(bytes: OwnedBytes) {
                // SAFETY: the caller's contract, the same as `export::free`'s.
                unsafe { $crate::export::free(bytes) }
            }
            static TABLE: PluginTable = PluginTable {
                abi_version: $crate::export::abi::ABI_VERSION,
                table_size: PluginTable::SIZE,
                sdk_version: $crate::export::abi::StaticStr::new($crate::SDK_VERSION),
                manifest,
                create,
                call,
                destroy,
                free,
            };
            &TABLE
        }
    };
}
