//! One FSM transition, moment by moment, with the events AliECS publishes for it.
//!
//! Reference §1.3 and §1.6: `before_<EVENT>`, `leave_<SRC>`, the task step, the state switch,
//! `enter_<DST>`, `after_<EVENT>`. Only `before_`/`leave_` failures (and a failed task step)
//! cancel; `enter_`/`after_` failures leave the environment in the new state and make the
//! transition report an error. The built-in work of §1.5 (the run's, in [`super::run`], and
//! `enter_state_time_ms`) happens between a moment's negative and non-negative weights.
//!
//! The steps are one table, [`STEPS`]: what a failure of each phase does and the status of its
//! "step finished" event are data, so AliECS's quirks visible on `aliecs.environment` are written
//! where they can be read: the `leave_` "step finished" event says DONE_ERROR even on success, the
//! `before_` one says ONGOING even when its hooks failed, and hook-failure "step finished"
//! events carry no user.

use std::sync::Arc;

use ecsim_proto::events::OpStatus;

use crate::{
    fsm::{State, Transition},
    trigger::Moment,
    vars::Layer,
};

use super::{
    Core,
    environment::Env,
    hooks::Weights,
    step_error::{StepError, TaskFailure},
    task_faults::{self, TaskFault, TaskFaultOutcome},
};

/// looplab/fsm's `Event.Cancel`: the first error is the one that sticks.
fn cancel(error: &mut Option<StepError>, with: StepError) {
    if error.is_none() {
        *error = Some(with);
    }
}

/// Why a transition did not complete, worded as AliECS's state machine (looplab/fsm) words it:
/// this text is the `error` of the transition's last `aliecs.environment` event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The state machine does not allow the transition in the current state.
    #[error("event {transition} inappropriate in current state {state}")]
    Inappropriate {
        /// What was asked for.
        transition: Transition,
        /// The environment's state.
        state: State,
    },
    /// A `before_` or `leave_` hook, the core's own work or the task step failed: the
    /// transition did not happen (looplab/fsm's `CanceledError`).
    #[error("transition canceled with error: {0}")]
    Canceled(StepError),
    /// An `enter_` or `after_` hook failed: the environment is in the new state, and the
    /// transition reports the first error (its text as the hooks gave it).
    #[error("{0}")]
    Failed(StepError),
}

/// Where a hook phase sits in a transition; names its moment and the state its events carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// `before_<EVENT>`, in the source state.
    Before,
    /// `leave_<SRC>`, in the source state.
    Leave,
    /// `enter_<DST>`, in the destination state.
    Enter,
    /// `after_<EVENT>`, in the destination state.
    After,
}

/// What a failure of a phase's hooks does (looplab/fsm's callbacks as AliECS uses them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The transition is canceled. A failure of the negative weights is reported by a "step
    /// finished" DONE_ERROR of its own, without user, and the positive weights do not run.
    /// `builtin_first`: the built-in work runs before that check (it runs even when the
    /// negative weights failed).
    Cancel { builtin_first: bool },
    /// The transition goes on, and its first error is the one it reports. `negative_first`: the
    /// negative weights' error is the transition's before the built-in work, which sees it;
    /// otherwise it is joined with the positive weights' after them (Go's `errors.Join`).
    Record { negative_first: bool },
}

/// One hook phase of a transition, with AliECS's quirks as data.
#[derive(Debug, Clone, Copy)]
struct Phase {
    at: At,
    failure: Failure,
    /// The status of its "transition step finished" event when it succeeded.
    finished_ok: OpStatus,
    /// … and when it failed.
    finished_failed: OpStatus,
}

/// The steps of a transition, in order (reference §1.3): the hook phases around the task step,
/// the state switching after the tasks.
#[derive(Debug, Clone, Copy)]
enum Step {
    Hooks(Phase),
    /// `tasks_<EVENT>`, then the switch to the destination state.
    Tasks,
}

const STEPS: [Step; 5] = [
    Step::Hooks(Phase {
        at: At::Before,
        failure: Failure::Cancel {
            builtin_first: false,
        },
        finished_ok: OpStatus::Ongoing,
        // Quirk: stays ONGOING even when its hooks failed.
        finished_failed: OpStatus::Ongoing,
    }),
    Step::Hooks(Phase {
        at: At::Leave,
        failure: Failure::Cancel {
            builtin_first: true,
        },
        // Quirk: says DONE_ERROR even on success.
        finished_ok: OpStatus::DoneError,
        finished_failed: OpStatus::DoneError,
    }),
    Step::Tasks,
    Step::Hooks(Phase {
        at: At::Enter,
        failure: Failure::Record {
            negative_first: false,
        },
        finished_ok: OpStatus::Ongoing,
        finished_failed: OpStatus::DoneError,
    }),
    Step::Hooks(Phase {
        at: At::After,
        failure: Failure::Record {
            negative_first: true,
        },
        finished_ok: OpStatus::Ongoing,
        finished_failed: OpStatus::DoneError,
    }),
];

/// The transition being run: what every phase needs.
struct Run<'a> {
    env: &'a Arc<Env>,
    transition: Transition,
    source: State,
    destination: State,
    /// The transition's error once a recording phase failed: the first one sticks.
    error: Option<StepError>,
}

impl Run<'_> {
    fn moment(&self, at: At) -> Moment {
        match at {
            At::Before => Moment::Before(self.transition),
            At::Leave => Moment::Leave(self.source),
            At::Enter => Moment::Enter(self.destination),
            At::After => Moment::After(self.transition),
        }
    }

    fn state(&self, at: At) -> State {
        match at {
            At::Before | At::Leave => self.source,
            At::Enter | At::After => self.destination,
        }
    }
}

impl Core {
    /// Runs `transition` on `env` (whose transition lock the caller holds), step by step as
    /// [`STEPS`] says. Returns the FSM's error text when the transition was invalid, canceled
    /// or ended with an error.
    pub(crate) async fn try_transition(
        &self,
        env: &Arc<Env>,
        transition: Transition,
    ) -> Result<(), TransitionError> {
        let name = transition.as_str();
        let source = env.state();
        env.data().current_transition = Some(name.to_owned());
        self.emit_env(env.event(
            source.as_str(),
            "",
            OpStatus::Started,
            "transition starting",
        ));

        let Some(destination) = transition.destination(source) else {
            return self.finish(
                env,
                Some(TransitionError::Inappropriate {
                    transition,
                    state: source,
                }),
            );
        };
        let mut run = Run {
            env,
            transition,
            source,
            destination,
            error: None,
        };
        for step in STEPS {
            let canceled = match step {
                Step::Hooks(phase) => self.phase(&mut run, phase).await,
                Step::Tasks => self.task_step(&run).await,
            };
            if let Err(error) = canceled {
                return self.finish(env, Some(TransitionError::Canceled(error)));
            }
        }
        if matches!(transition, Transition::StopActivity | Transition::GoError) {
            Self::run_cleared(env);
        }

        let result = self.finish(env, run.error.map(TransitionError::Failed));
        if result.is_ok() && transition == Transition::Configure {
            env.data().watching = true;
        }
        result
    }

    /// One hook phase: its negative weights, the core's built-in work, its positive weights,
    /// and the events around them. `Err` cancels the transition.
    async fn phase(&self, run: &mut Run<'_>, phase: Phase) -> Result<(), StepError> {
        let env = run.env;
        let moment = run.moment(phase.at);
        let state = run.state(phase.at).as_str();
        let trigger = moment.as_str();
        self.emit_env(env.event(
            state,
            trigger,
            OpStatus::Ongoing,
            "transition step starting",
        ));
        let negative = self
            .handle_hooks(env, moment, Weights::Negative)
            .await
            .err();
        let finished = |error: Option<&StepError>| {
            let status = if error.is_some() {
                phase.finished_failed
            } else {
                phase.finished_ok
            };
            env.event(state, trigger, status, "transition step finished")
                .error(error.map(ToString::to_string).as_deref())
        };
        match phase.failure {
            Failure::Cancel { builtin_first } => {
                if builtin_first {
                    self.builtin(run, phase.at)?;
                }
                if let Some(error) = negative {
                    self.emit_env(
                        env.event(
                            state,
                            trigger,
                            OpStatus::DoneError,
                            "transition step finished",
                        )
                        .error(Some(&error.to_string()))
                        .without_user(),
                    );
                    return Err(error);
                }
                if !builtin_first {
                    self.builtin(run, phase.at)?;
                }
                let positive = self
                    .handle_hooks(env, moment, Weights::NonNegative)
                    .await
                    .err();
                self.emit_env(finished(positive.as_ref()));
                positive.map_or(Ok(()), Err)
            }
            Failure::Record { negative_first } => {
                if negative_first && let Some(error) = &negative {
                    cancel(&mut run.error, error.clone());
                }
                self.builtin(run, phase.at)?;
                let positive = self
                    .handle_hooks(env, moment, Weights::NonNegative)
                    .await
                    .err();
                if let Some(joined) = StepError::join(negative, positive) {
                    cancel(&mut run.error, joined);
                }
                self.emit_env(finished(run.error.as_ref()));
                Ok(())
            }
        }
    }

    /// The core's own work at a phase, between its negative and non-negative weights (reference
    /// §1.5): run numbers, run timestamps and run events, `enter_state_time_ms`.
    fn builtin(&self, run: &Run<'_>, at: At) -> Result<(), StepError> {
        match at {
            At::Before => self.run_before(run.env, run.transition)?,
            At::Leave => self.run_leave(run.env, run.source),
            At::Enter => {
                let now = self.now().unix_millis().to_string();
                run.env
                    .data()
                    .vars
                    .set(Layer::User, "enter_state_time_ms", now);
            }
            At::After => self.run_after(
                run.env,
                run.transition,
                run.error.as_ref().map(ToString::to_string).as_deref(),
            ),
        }
        Ok(())
    }

    /// `tasks_<EVENT>`: the tasks move; then the environment switches to the destination state.
    async fn task_step(&self, run: &Run<'_>) -> Result<(), StepError> {
        let env = run.env;
        let step = format!("tasks_{}", run.transition.as_str());
        self.emit_env(env.event(
            run.source.as_str(),
            &step,
            OpStatus::Ongoing,
            "transition step starting",
        ));
        if let Err(error) = self.run_tasks(env, run.transition).await {
            self.emit_env(
                env.event(
                    run.source.as_str(),
                    &step,
                    OpStatus::DoneError,
                    "transition step finished",
                )
                .error(Some(&error.to_string())),
            );
            return Err(error);
        }
        // The tasks have transitioned: AliECS reports the destination state here, before the switch.
        self.emit_env(env.event(
            run.destination.as_str(),
            &step,
            OpStatus::Ongoing,
            "transition step finished",
        ));
        env.data().state = run.destination;
        Ok(())
    }

    /// Emits the transition's last event and ends it.
    fn finish(&self, env: &Env, error: Option<TransitionError>) -> Result<(), TransitionError> {
        let state = env.state();
        let event = match &error {
            None => env.event(
                state.as_str(),
                "",
                OpStatus::DoneOk,
                "transition completed successfully",
            ),
            Some(error) => env
                .event(state.as_str(), "", OpStatus::DoneError, "transition error")
                .error(Some(&error.to_string())),
        };
        self.emit_env(event);
        env.data().current_transition = None;
        error.map_or(Ok(()), Err)
    }

    /// The task step of a transition: the tasks move, which takes the environment's timing.
    async fn run_tasks(&self, env: &Arc<Env>, transition: Transition) -> Result<(), StepError> {
        let fault = env.data().task_faults.strike(transition, self.now());
        if let Some(fault) = fault {
            super::lock(&self.0.faults_fired).note(fault.line);
            return self.run_failing_tasks(env, transition, &fault).await;
        }
        self.clock().sleep(env.timing.of(transition)).await;
        let changes = {
            let mut data = env.data();
            match transition {
                Transition::Deploy => {
                    let now = self.now();
                    let mut uids = self.uids();
                    let deployed = data.tasks.deploy(&mut uids, now);
                    env.task_count.store(
                        data.tasks.task_count(),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                    deployed
                }
                Transition::Configure | Transition::StopActivity => {
                    data.tasks.transition(State::Configured, |_| true)
                }
                Transition::StartActivity => data.tasks.transition(State::Running, |_| true),
                Transition::Reset => data.tasks.transition(State::Standby, |_| true),
                Transition::GoError => data
                    .tasks
                    .transition(State::Configured, |state| state == State::Running),
                Transition::Recover | Transition::Exit => Default::default(),
            }
        };
        self.emit_task_changes(changes);
        Ok(())
    }

    /// The task step of a transition a `tasks` fault strikes: it times out, or its first task
    /// fails the transition; either way the step's error is AliECS's.
    async fn run_failing_tasks(
        &self,
        env: &Arc<Env>,
        transition: Transition,
        fault: &TaskFault,
    ) -> Result<(), StepError> {
        match (fault.outcome, transition) {
            (TaskFaultOutcome::Timeout, Transition::Deploy) => {
                let timeout = task_faults::deploy_timeout(env.data().vars.get("deploy_timeout"));
                self.clock().sleep(timeout).await;
                let roles = env.data().tasks.planned_role_paths();
                Err(StepError::deploy_timed_out(timeout, roles))
            }
            (TaskFaultOutcome::Timeout, _) => {
                self.clock()
                    .sleep(task_faults::CONFIGURE_RESPONSE_TIMEOUT)
                    .await;
                Err(StepError::NoTaskResponse)
            }
            (TaskFaultOutcome::Error, _) => {
                self.clock().sleep(env.timing.of(transition)).await;
                let destination = match transition {
                    Transition::StartActivity => State::Running,
                    Transition::Reset => State::Standby,
                    _ => State::Configured,
                };
                let (changes, first) = {
                    let mut data = env.data();
                    let first = data.tasks.first_task();
                    (data.tasks.transition_failing_first(destination), first)
                };
                self.emit_task_changes(changes);
                // The failed task takes the workflow to ERROR: AliECS's critical-task watch sees it.
                self.workflow_went_to_error(env);
                let (role, class, host, id) = first.unwrap_or_default();
                let name = if transition == Transition::Configure {
                    role
                } else {
                    class
                };
                let message = fault
                    .message
                    .clone()
                    .unwrap_or_else(|| "the device went to ERROR".to_owned());
                Err(StepError::TaskFailed(Box::new(TaskFailure {
                    transition,
                    name,
                    host,
                    task: id,
                    message,
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_first_error_sticks() {
        let mut error = None;
        cancel(&mut error, StepError::NoTaskResponse);
        cancel(
            &mut error,
            StepError::deploy_timed_out(Duration::ZERO, Vec::new()),
        );
        assert_eq!(error, Some(StepError::NoTaskResponse));
    }
}
