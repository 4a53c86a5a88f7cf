//! Transitions requested from outside, and the ones the core starts by itself.
//!
//! Reference §1.2 and §1.8 (`core/server.go` ControlEnvironment, `core/environment/manager.go`,
//! `utils.go`). What follows a failure depends on who started the transition, as in AliECS:
//! a client's request, the auto-stop timer, an ODC partition error or a critical task announce
//! GO_ERROR with a "GO_ERROR transition imminent" event whose error says why ([`GoErrorCause`]),
//! then GO_ERROR, and if even that fails the state is forced to ERROR without callbacks; a
//! beam-dump stop that fails goes to GO_ERROR without the announcement; a stop after
//! END_OF_STREAM or TASK_INTERNAL_ERROR that fails is only logged.

use std::{sync::Arc, time::Duration};

use ecsim_proto::{
    common::{BeamMode, User},
    events::OpStatus,
};

use crate::{
    clock::Timestamp,
    duration::parse_go_duration,
    fsm::{State, Transition},
    tasks::TaskSelector,
    user,
    vars::Layer,
};

use super::{Core, CoreError, environment::Env, transition::TransitionError};
use crate::id::EnvironmentId;

/// Why the core is about to GO_ERROR: the error of the "GO_ERROR transition imminent" event,
/// framed as AliECS frames it at each place it announces one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GoErrorCause<'a> {
    /// A client's transition failed (`ControlEnvironment`, `core/server.go`).
    Transition {
        transition: Transition,
        error: &'a TransitionError,
    },
    /// DEPLOY or CONFIGURE failed while creating the environment (`manager.go`).
    DeployOrConfigure(&'a TransitionError),
    /// The STOP_ACTIVITY of a destruction allowed in RUNNING failed (`core/server.go`).
    StopDuringDestroy,
    /// The RESET of a destruction failed (`core/server.go`).
    ResetDuringDestroy,
    /// The auto-stop timer's STOP_ACTIVITY failed (`environment.go`).
    AutoStop(&'a TransitionError),
    /// ODC reported the partition in ERROR while RUNNING (`manager.go`).
    PartitionError,
    /// A critical task went to ERROR: the text says which (`environment.go`).
    CriticalTask(&'a str),
}

/// The changes a task selector made, or the error that it matched no task.
fn found<T>(changes: Option<T>, id: &EnvironmentId, which: &TaskSelector) -> Result<T, CoreError> {
    changes.ok_or_else(|| CoreError::NoSuchTask {
        id: id.to_owned(),
        which: which.clone(),
    })
}

impl std::fmt::Display for GoErrorCause<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transition { transition, error } => {
                write!(f, "transition {transition} failed: {error}")
            }
            Self::DeployOrConfigure(error) => {
                write!(f, "deployment or configuration failed: {error}")
            }
            Self::StopDuringDestroy => {
                f.write_str("STOP_ACTIVITY during environment destruction failed")
            }
            Self::ResetDuringDestroy => f.write_str("RESET during environment destruction failed"),
            Self::AutoStop(error) => write!(f, "scheduled auto stop transition failed: {error}"),
            Self::PartitionError => f.write_str("ODC partition went to ERROR during RUNNING"),
            Self::CriticalTask(text) => f.write_str(text),
        }
    }
}

/// When a client's transition started and ended (`ControlEnvironment`'s reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionTimes {
    /// Before waiting for a transition in progress.
    pub started: Timestamp,
    /// When the requested transition ended, before any GO_ERROR that followed.
    pub ended: Timestamp,
}

/// How long AliECS waits after a critical task went to ERROR before GO_ERROR.
const CRITICAL_TASK_GRACE: Duration = Duration::from_millis(500);

impl Core {
    /// A client's request (AliECS's `ControlEnvironment`): runs `transition`; if it fails —
    /// including a request the state machine does not allow in the current state — the
    /// environment goes to ERROR and the error says what happened.
    pub async fn control(
        &self,
        id: &EnvironmentId,
        transition: Transition,
        user: User,
    ) -> Result<State, CoreError> {
        self.control_timed(id, transition, user).await.0
    }

    /// [`Core::control`], with when the requested transition started and ended: AliECS's
    /// server times the transition itself, waiting for one in progress included, and not the
    /// GO_ERROR that follows a failure. The request's user becomes the environment's last
    /// requester before anything else, even for a transition clients cannot request, so that
    /// the events of a transition in progress carry it from then on, as AliECS's do.
    pub async fn control_timed(
        &self,
        id: &EnvironmentId,
        transition: Transition,
        user: User,
    ) -> (Result<State, CoreError>, TransitionTimes) {
        let started = self.now();
        let untimed = |result| {
            (
                result,
                TransitionTimes {
                    started,
                    ended: started,
                },
            )
        };
        let env = match self.environment(id) {
            Ok(env) => env,
            Err(error) => return untimed(Err(error)),
        };
        Self::set_last_request_user(&env, user);
        if !transition.is_client_requestable() {
            return untimed(Err(CoreError::NotRequestable(transition)));
        }
        let started = self.now();
        let _transition = env.transition_lock.lock().await;
        let result = self.try_transition(&env, transition).await;
        let times = TransitionTimes {
            started,
            ended: self.now(),
        };
        let result = match result {
            Ok(()) => Ok(env.state()),
            Err(error) => {
                let cause = GoErrorCause::Transition {
                    transition,
                    error: &error,
                };
                self.announce_go_error(&env, cause);
                let go_error = self.go_error_locked(&env).await;
                Err(CoreError::TransitionFailed {
                    id: id.to_owned(),
                    transition,
                    error,
                    state: env.state(),
                    go_error,
                })
            }
        };
        (result, times)
    }

    /// A critical error inside the environment (a task gone to ERROR, an ODC partition error,
    /// a scenario's `GO_ERROR`): after AliECS's half-second grace, GO_ERROR.
    pub async fn critical_task_error(
        &self,
        id: &EnvironmentId,
        reason: &str,
    ) -> Result<State, CoreError> {
        let env = self.environment(id)?;
        self.clock().sleep(CRITICAL_TASK_GRACE).await;
        let _transition = env.transition_lock.lock().await;
        if matches!(env.state(), State::Error | State::Done) {
            return Ok(env.state());
        }
        self.announce_go_error(&env, GoErrorCause::CriticalTask(reason));
        self.go_error_locked(&env).await;
        Ok(env.state())
    }

    /// A task goes to ERROR (docs/aliecs.md §1.8): its task event and its roles' events at once;
    /// then, if the environment watches its workflow (it has been CONFIGURED), half a second
    /// later the GO_ERROR-imminent event naming the failed critical task, and GO_ERROR.
    pub async fn task_error(
        &self,
        id: &EnvironmentId,
        which: &TaskSelector,
    ) -> Result<State, CoreError> {
        let env = self.environment(id)?;
        let changes = env.data().tasks.fail_task(which);
        self.emit_task_changes(found(changes, id, which)?);
        if !env.data().watching {
            return Ok(env.state());
        }
        self.clock().sleep(CRITICAL_TASK_GRACE).await;
        let _transition = env.transition_lock.lock().await;
        self.handle_critical_tasks_locked(&env).await;
        Ok(env.state())
    }

    /// TASK_INTERNAL_ERROR from a task while RUNNING (docs/aliecs.md §1.8): its task role goes
    /// to ERROR, then STOP_ACTIVITY (a failure only logged). The role's ERROR reaches the
    /// workflow, so an environment that watches it then goes GO_ERROR, half a second after the
    /// error or once the stop is over, whichever is later — and since no task itself is in
    /// ERROR, AliECS's reason is "no critical tasks in ERROR".
    pub async fn task_internal_error(
        &self,
        id: &EnvironmentId,
        which: &TaskSelector,
    ) -> Result<State, CoreError> {
        let env = self.environment(id)?;
        if env.state() != State::Running {
            tracing::debug!(environment = %id,
                "TASK_INTERNAL_ERROR while not RUNNING; ignored"
            );
            return Ok(env.state());
        }
        let at = self.now();
        let changes = env.data().tasks.fail_role_of(which);
        self.emit_task_changes(found(changes, id, which)?);
        let watching = env.data().watching;
        let _transition = env.transition_lock.lock().await;
        if let Err(error) = self.try_transition(&env, Transition::StopActivity).await {
            tracing::info!(environment = %id, %error, "the stop after TASK_INTERNAL_ERROR failed");
        }
        if watching {
            let due = at.unix_nanos() + CRITICAL_TASK_GRACE.as_nanos() as i64;
            let left = due - self.now().unix_nanos();
            if left > 0 {
                self.clock()
                    .sleep(Duration::from_nanos(left.unsigned_abs()))
                    .await;
            }
            self.handle_critical_tasks_locked(&env).await;
        }
        Ok(env.state())
    }

    /// The workflow went to ERROR: the imminent event with AliECS's reason, and GO_ERROR —
    /// whatever the state, as AliECS's watch does (in ERROR already, its GO_ERROR fails as
    /// inappropriate and the state stays ERROR); only an environment gone has nothing to do.
    /// The environment stops watching: AliECS's watch fires once.
    async fn handle_critical_tasks_locked(&self, env: &Arc<Env>) {
        if env.state() == State::Done {
            return;
        }
        let reason = {
            let mut data = env.data();
            data.watching = false;
            data.tasks.critical_tasks_error()
        };
        self.announce_go_error(env, GoErrorCause::CriticalTask(&reason));
        self.go_error_locked(env).await;
    }

    /// A STOP_ACTIVITY the core starts itself (END_OF_STREAM from every task): only while
    /// RUNNING. AliECS only logs a stop that fails here (`manager.go` handleDeviceEvent): the
    /// environment stays where the failure left it.
    pub async fn stop_from_core(
        &self,
        id: &EnvironmentId,
        reason: &str,
    ) -> Result<State, CoreError> {
        let env = self.environment(id)?;
        let _transition = env.transition_lock.lock().await;
        if env.state() != State::Running {
            tracing::debug!(environment = %id, reason, "not RUNNING; no stop");
            return Ok(env.state());
        }
        if let Err(error) = self.try_transition(&env, Transition::StopActivity).await {
            tracing::info!(environment = %id, reason, %error, "the stop the core started failed");
        }
        Ok(env.state())
    }

    /// An ODC partition went to ERROR (reference §1.8, `manager.go`): only while RUNNING,
    /// STOP_ACTIVITY, then — whatever the stop's outcome, unless it already ended in ERROR — the
    /// GO_ERROR-imminent event and GO_ERROR.
    pub async fn partition_error(
        &self,
        id: &EnvironmentId,
        reason: &str,
    ) -> Result<State, CoreError> {
        let env = self.environment(id)?;
        let _transition = env.transition_lock.lock().await;
        if env.state() != State::Running {
            tracing::debug!(environment = %id,
                reason,
                "partition error while not RUNNING; ignored"
            );
            return Ok(env.state());
        }
        tracing::info!(environment = %id,
            reason,
            "ODC partition in ERROR: stopping the run"
        );
        if let Err(error) = self.try_transition(&env, Transition::StopActivity).await {
            tracing::info!(environment = %id, %error, "stop after a partition error failed");
        }
        if env.state() != State::Error {
            self.announce_go_error(&env, GoErrorCause::PartitionError);
            self.go_error_locked(&env).await;
        }
        Ok(env.state())
    }

    /// A beam mode change from the LHC. On BEAM_DUMP, LOST_BEAMS or NO_BEAM every RUNNING
    /// environment with `stop_at_beam_dump` = "true" and no transition in progress is stopped,
    /// with the LHC special user as the request's user. Returns the environments stopped.
    pub async fn beam_mode_changed(&self, mode: BeamMode) -> Vec<EnvironmentId> {
        if !matches!(
            mode,
            BeamMode::BeamDump | BeamMode::LostBeams | BeamMode::NoBeam
        ) {
            return Vec::new();
        }
        let mut stopped = Vec::new();
        for env in self.environments() {
            let Ok(_transition) = env.transition_lock.try_lock() else {
                continue; // a transition is in progress
            };
            let eligible = {
                let data = env.data();
                data.state == State::Running && data.vars.parses_true("stop_at_beam_dump")
            };
            if eligible {
                Self::set_last_request_user(&env, user::lhc());
                // A failed beam-dump stop goes to GO_ERROR unannounced (`manager.go`).
                if let Err(error) = self.try_transition(&env, Transition::StopActivity).await {
                    tracing::info!(environment = %env.id, %error, "the beam-dump stop failed");
                    if env.state() != State::Error {
                        self.go_error_locked(&env).await;
                    }
                }
                stopped.push(env.id.clone());
            }
        }
        stopped
    }

    /// The "GO_ERROR transition imminent" event (`NewEnvGoErrorEvent`): the state, run, last
    /// request's user and workflow template of the environment, and why.
    pub(crate) fn announce_go_error(&self, env: &Env, cause: GoErrorCause<'_>) {
        let imminent = env
            .event(
                env.state().as_str(),
                "",
                OpStatus::Null,
                "a critical error occurred, GO_ERROR transition imminent",
            )
            .error(Some(&cause.to_string()))
            // Written outside any transition: no transition field.
            .transition("");
        self.emit_env(imminent);
    }

    /// GO_ERROR; if it fails, the state is forced to ERROR and GO_ERROR's error returned.
    /// Caller holds the transition lock.
    pub(crate) async fn go_error_locked(&self, env: &Arc<Env>) -> Option<TransitionError> {
        let error = self.try_transition(env, Transition::GoError).await.err()?;
        tracing::info!(environment = %env.id, %error, "GO_ERROR failed; forcing ERROR");
        env.data().state = State::Error;
        Some(error)
    }

    /// A task went to ERROR during a transition: if the environment watches its workflow (it
    /// has been CONFIGURED), AliECS's watch fires half a second later, once the transition in
    /// progress (and its own failure handling) has let go of the environment.
    pub(crate) fn workflow_went_to_error(&self, env: &Arc<Env>) {
        if !env.data().watching {
            return;
        }
        let core = self.clone();
        let env = Arc::clone(env);
        tokio::spawn(async move {
            core.clock().sleep(CRITICAL_TASK_GRACE).await;
            let _transition = env.transition_lock.lock().await;
            if env.data().watching {
                core.handle_critical_tasks_locked(&env).await;
            }
        });
    }

    pub(crate) fn set_last_request_user(env: &Env, user: User) {
        let mut data = env.data();
        data.vars
            .set(Layer::User, "last_request_user", user::to_json(&user));
        data.last_request_user = user;
    }

    /// After START_ACTIVITY: if `auto_stop_enabled` is "true" and `auto_stop_timeout` is a Go
    /// duration, stop the run when it expires, as the TIMER special user.
    pub(crate) fn schedule_auto_stop(&self, env: &Arc<Env>) {
        let (timeout, generation) = {
            let mut data = env.data();
            if !data.vars.is_true("auto_stop_enabled") {
                return;
            }
            let Some(timeout) = data
                .vars
                .get("auto_stop_timeout")
                .and_then(parse_go_duration)
            else {
                return;
            };
            data.auto_stop_generation += 1;
            (timeout, data.auto_stop_generation)
        };
        let core = self.clone();
        let env = Arc::clone(env);
        tokio::spawn(async move {
            core.clock().sleep(timeout).await;
            let _transition = env.transition_lock.lock().await;
            let due = {
                let data = env.data();
                data.auto_stop_generation == generation && data.state == State::Running
            };
            if due {
                Self::set_last_request_user(&env, user::timer());
                if let Err(error) = core.try_transition(&env, Transition::StopActivity).await {
                    core.announce_go_error(&env, GoErrorCause::AutoStop(&error));
                    core.go_error_locked(&env).await;
                }
            }
        });
    }
}
