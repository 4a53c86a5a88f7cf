//! Replaying scenario files on the simulated AliECS.
//!
//! `ecsim-scenario` reads a file into a validated [`Scenario`](ecsim_scenario::Scenario); this
//! crate plays it: [`assembly`] builds the core with the integration plugins the scenario's
//! settings ask for, [`plugins`] loads its plugin libraries (and `--plugin`'s) with its faults,
//! [`driver`] walks the timeline at virtual or real speed, a [`LiveCheck`] checks the
//! expectations on what is published, and the [`Report`] says what happened.
//!
//! The split follows nextest's metadata and runner: what a scenario *says* is below, in the
//! format crate, which links no simulator; what a replay *does* is here.

#![forbid(unsafe_code)]

pub mod assembly;
pub mod driver;
mod error;
mod lhc;
mod live;
pub mod plugins;
mod progress;
pub mod report;

pub use live::LiveCheck;
pub use report::{Report, Stopped};
