//! AliECS's integrated services — DCS, ODC, TRG, DDSched — simulated, as a plugin library.
//!
//! ecsim loads this library at run time (a scenario's `[[plugin]] library = "mock-services"`)
//! like any third-party plugin: it is built with `ecsim-plugin-sdk` and speaks to ecsim only
//! through the plugin ABI. Each service offers the functions AliECS's plugin of the same name
//! offers to workflow calls, and publishes the `aliecs.integrated_service.<service>` events
//! AliECS's plugin publishes, step by step, with their operation steps, statuses, errors and
//! JSON payloads (reference §4):
//!
//! - [`dcs::Dcs`]: PrepareForRun, StartOfRun, EndOfRun, Cleanup — detector availability within
//!   the grace period, per-detector streams, the pending EOR after a SOR;
//! - [`odc::Odc`]: the EPN partition from PartitionInitialize to PartitionTerminate;
//! - [`trg::Trg`]: run load, start, stop, unload, and the Ensure* cleanups;
//! - [`ddsched::DdSched`]: partition initialize/terminate with 100 ms state polling.
//!
//! What the services do is driven by configuration (each plugin's `config` in the scenario):
//! `latency` (`instant`, the default in virtual time, or `realistic`), DCS's per-detector
//! availabilities, and `faults` — an operation that fails, times out, is slow, panics or hangs,
//! for one environment or run, from some time on, a number of times. A scenario's `[[fault]]`
//! entries become these.
//!
//! The JSON payloads are written as AliECS writes them: Go maps with their keys sorted, Go
//! structs (DCS events, ODC and TRG requests) in field order with empty fields left out. Values
//! that come from the real services (session ids, CTP replies) are the mock's own.

mod common;
pub mod dcs;
pub mod ddsched;
pub mod odc;
pub mod trg;

ecsim_plugin_sdk::declare_plugins!(dcs::Dcs, odc::Odc, trg::Trg, ddsched::DdSched);
