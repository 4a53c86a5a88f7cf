//! The simulated control core of the ALICE Experiment Control System (AliECS).
//!
//! This crate is the behaviour of AliECS that consumers of its events can observe: environments
//! and their state machine ([`fsm`]), the hook moments of every transition and the integration
//! calls the workflow makes at them ([`Core`], [`workflow`], [`readout_dataflow`]), run
//! numbers and run timestamps, simulated tasks and roles, and every event the core emits
//! ([`event`]). It follows `docs/aliecs.md`, ecsim's account of AliECS (cited as "reference §N").
//!
//! It knows nothing of Kafka, and loads no libraries. Everything it emits reaches the outside
//! through plugins: AliECS's [`plugin::IntegrationPlugin`] interface (the Kafka plugin, the mock
//! services) and the [`event::CoreObserver`] of core events (the core producer); they publish
//! [`publish::Record`]s through a [`publish::Publisher`] that the caller provides.
//!
//! Its modules form layers, lowest first — `clock`, `fsm`, `id`, `vars`, `user`, `uid`,
//! `run_number`, `condition`, `trigger`, `publish`; `event`; `plugin` (which reaches the core
//! only through a `RequestTarget` it defines and `control` implements); `registry`;
//! `workflow`, `readout_dataflow`, `tasks`; `control` — and none uses a module above it
//! (`cargo xtask tidy` checks that no two modules use each other).
//!
//! Time comes from a [`clock::Clock`]; in virtual time, the same inputs and seed produce the
//! same events, byte for byte.

#![forbid(unsafe_code)]

pub mod clock;
pub mod condition;
mod control;
/// Go durations, as AliECS writes call timeouts (moved to `ecsim-proto`, re-exported here).
pub use ecsim_proto::duration;
pub mod event;
pub mod fsm;
pub mod id;
pub mod panics;
pub mod plugin;
pub mod publish;
pub mod readout_dataflow;
pub mod registry;
pub mod role_state;
pub mod run_number;
mod tasks;
pub mod trigger;
mod uid;
pub mod user;
pub mod vars;
pub mod view;
pub mod workflow;

pub use control::{
    CallCounts, Core, CoreConfig, CoreError, Creation, DestroyOptions, EnvironmentSpec, StepError,
    TaskFailure, TaskFault, TaskFaultOutcome, Timing, TransitionError, TransitionTimes,
};
pub use id::{EnvironmentId, TaskId};
pub use tasks::TaskSelector;
