//! A run as the core records it: its number in the variables, its four timestamps, and its
//! `aliecs.run` events (reference §1.5, §3.1).
//!
//! AliECS keeps a run's timestamps as runtime variables: `run_start_time_ms` at
//! `before_START_ACTIVITY`, `run_start_completion_time_ms` at `after_START_ACTIVITY`,
//! `run_end_time_ms` when the run starts ending (`leave_RUNNING`, `before_STOP_ACTIVITY`,
//! `before_GO_ERROR` or teardown, whichever comes first), `run_end_completion_time_ms` when it has
//! ended. An end timestamp is set only while it is empty, so the first of these places wins and
//! the run event that goes with it is published once. This module is the one place that writes
//! them, and the run events carry the timestamp they record.

use std::sync::Arc;

use ecsim_proto::events::{EvRunEvent, OpStatus};

use crate::{
    clock::Timestamp,
    event::CorePayload,
    fsm::{State, Transition},
    run_number::RunNumber,
    vars::Layer,
};

use super::{Core, environment::Env, step_error::StepError};

/// The variables that hold a run's number while it runs (`run_number`, and the `runNumber`
/// AliECS also sets for older workflows), and the last one after.
const RUN_NUMBER_VARS: [&str; 2] = ["run_number", "runNumber"];
const LAST_RUN_NUMBER: &str = "last_run_number";

/// A run's timestamps, as the runtime variables AliECS keeps them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunTime {
    Start,
    StartCompletion,
    End,
    EndCompletion,
}

impl RunTime {
    fn var(self) -> &'static str {
        match self {
            RunTime::Start => "run_start_time_ms",
            RunTime::StartCompletion => "run_start_completion_time_ms",
            RunTime::End => "run_end_time_ms",
            RunTime::EndCompletion => "run_end_completion_time_ms",
        }
    }
}

impl Core {
    /// Sets `time` to now; returns the instant.
    fn stamp(&self, env: &Env, time: RunTime) -> Timestamp {
        let now = self.now();
        env.data()
            .vars
            .set(Layer::User, time.var(), now.unix_millis().to_string());
        now
    }

    /// Sets `time` to now if it is set and empty (the run is on and it has not happened);
    /// returns the instant if it did.
    fn stamp_if_empty(&self, env: &Env, time: RunTime) -> Option<Timestamp> {
        let mut data = env.data();
        if data.vars.get_in(Layer::User, time.var()) != Some("") {
            return None;
        }
        let now = self.now();
        data.vars
            .set(Layer::User, time.var(), now.unix_millis().to_string());
        Some(now)
    }

    fn run_event(
        &self,
        env: &Env,
        transition: &str,
        status: OpStatus,
        error: Option<&str>,
    ) -> EvRunEvent {
        let data = env.data();
        EvRunEvent {
            environment_id: env.id.as_str().to_owned(),
            run_number: RunNumber::wire(data.run_number),
            state: data.state.as_str().to_owned(),
            error: error.unwrap_or_default().to_owned(),
            transition: transition.to_owned(),
            transition_status: status.into(),
            last_request_user: Some(data.last_request_user.clone()),
        }
    }

    /// `before_<EVENT>`'s work on runs: START_ACTIVITY takes a run number and starts the run;
    /// STOP_ACTIVITY and GO_ERROR start ending it. Fails when no run number is left.
    pub(super) fn run_before(&self, env: &Env, transition: Transition) -> Result<(), StepError> {
        match transition {
            Transition::StartActivity => {
                let run_number = self.allocate_run_number()?;
                let start = self.now();
                {
                    let mut data = env.data();
                    data.run_number = Some(run_number);
                    for key in RUN_NUMBER_VARS {
                        data.vars.set(Layer::Vars, key, run_number.to_string());
                    }
                    data.vars.set(
                        Layer::User,
                        RunTime::Start.var(),
                        start.unix_millis().to_string(),
                    );
                    for time in [
                        RunTime::StartCompletion,
                        RunTime::End,
                        RunTime::EndCompletion,
                    ] {
                        data.vars.set(Layer::User, time.var(), "");
                    }
                    // Normalize the cleanup counter: anything unparsable counts as "cleanup once".
                    let count = match data.vars.get_in(Layer::Defaults, "__fmq_cleanup_count") {
                        Some(text) if !text.is_empty() => text.parse::<u64>().unwrap_or(1),
                        _ => 0,
                    };
                    data.vars
                        .set(Layer::Defaults, "__fmq_cleanup_count", count.to_string());
                    for key in ["lhc_period", "pdp_n_hbf_per_tf"] {
                        if let Some(value) =
                            data.vars.get_in(Layer::Defaults, key).map(str::to_owned)
                        {
                            data.vars.set(Layer::Vars, key, value);
                        }
                    }
                }
                let event = self.run_event(env, transition.as_str(), OpStatus::Started, None);
                self.emit_at(start, CorePayload::Run(event));
            }
            Transition::StopActivity | Transition::GoError => {
                if let Some(end) = self.stamp_if_empty(env, RunTime::End) {
                    let event = self.run_event(env, transition.as_str(), OpStatus::Started, None);
                    self.emit_at(end, CorePayload::Run(event));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `leave_<SRC>`'s work on runs: leaving RUNNING, the run starts ending (no event: the
    /// `before_` of the transition has published it, or will find the time set).
    pub(super) fn run_leave(&self, env: &Env, source: State) {
        if source == State::Running {
            self.stamp_if_empty(env, RunTime::End);
        }
    }

    /// `after_<EVENT>`'s work on runs: the run has started, or has ended; `error` is the
    /// transition's so far.
    pub(super) fn run_after(&self, env: &Arc<Env>, transition: Transition, error: Option<&str>) {
        let status = if error.is_some() {
            OpStatus::DoneError
        } else {
            OpStatus::DoneOk
        };
        match transition {
            Transition::StartActivity => {
                {
                    let mut data = env.data();
                    let count = data
                        .vars
                        .get_in(Layer::Defaults, "__fmq_cleanup_count")
                        .and_then(|c| c.parse::<u64>().ok());
                    data.vars.set(
                        Layer::Defaults,
                        "__fmq_cleanup_count",
                        (count.unwrap_or(0) + 1).to_string(),
                    );
                }
                self.schedule_auto_stop(env);
                let completion = self.stamp(env, RunTime::StartCompletion);
                let event = self.run_event(env, transition.as_str(), status, error);
                self.emit_at(completion, CorePayload::Run(event));
            }
            Transition::StopActivity => {
                let completion = self.stamp(env, RunTime::EndCompletion);
                let event = self.run_event(env, transition.as_str(), status, error);
                self.emit_at(completion, CorePayload::Run(event));
                env.data().auto_stop_generation += 1;
            }
            Transition::GoError => {
                if let Some(completion) = self.stamp_if_empty(env, RunTime::EndCompletion) {
                    let event = self.run_event(env, transition.as_str(), OpStatus::DoneOk, None);
                    self.emit_at(completion, CorePayload::Run(event));
                }
                env.data().auto_stop_generation += 1;
            }
            _ => {}
        }
    }

    /// The end of `after_STOP_ACTIVITY`/`after_GO_ERROR`: the run is over.
    pub(super) fn run_cleared(env: &Env) {
        let mut data = env.data();
        if let Some(last) = data.run_number.take() {
            data.vars
                .set(Layer::Vars, LAST_RUN_NUMBER, last.to_string());
        }
        for key in RUN_NUMBER_VARS {
            data.vars.remove(Layer::Vars, key);
        }
    }

    /// Teardown of a RUNNING environment: the run ends, and each end timestamp not yet set is
    /// announced by a TEARDOWN run event (started, without user).
    pub(super) fn run_torn_down(&self, env: &Env) {
        for time in [RunTime::End, RunTime::EndCompletion] {
            if let Some(at) = self.stamp_if_empty(env, time) {
                let data = env.data();
                let run_event = EvRunEvent {
                    environment_id: env.id.as_str().to_owned(),
                    run_number: RunNumber::wire(data.run_number),
                    state: data.state.as_str().to_owned(),
                    transition: "TEARDOWN".to_owned(),
                    transition_status: OpStatus::Started.into(),
                    ..Default::default()
                };
                drop(data);
                self.emit_at(at, CorePayload::Run(run_event));
            }
        }
    }
}
