//! Transitions requested from outside, and the ones the core starts by itself.
//!
//! Reference §1.2 and §1.8 (`core/server.go` ControlEnvironment, `core/environment/manager.go`,
//! `utils.go`). Whatever starts a transition, a failure is handled the same way: a "GO_ERROR
//! transition imminent" event, then GO_ERROR, and if even that fails, the state is forced to
//! ERROR without callbacks.

use std::{sync::Arc, time::Duration};

use ecsim_proto::{
    common::{BeamMode, User},
    events::{EvEnvironmentEvent, OpStatus},
};

use crate::{
    duration::parse_go_duration,
    event::CorePayload,
    fsm::{State, Transition},
    user,
    vars::Layer,
};

use super::{Core, CoreError, environment::Env};

/// How long AliECS waits after a critical task went to ERROR before GO_ERROR.
const CRITICAL_TASK_GRACE: Duration = Duration::from_millis(500);

impl Core {
    /// A client's request (AliECS's `ControlEnvironment`): runs `transition`; if it fails —
    /// including a request the state machine does not allow in the current state — the
    /// environment goes to ERROR and the error says what happened.
    pub async fn control(
        &self,
        id: &str,
        transition: Transition,
        user: User,
    ) -> Result<State, CoreError> {
        if !transition.is_client_requestable() {
            return Err(CoreError::NotRequestable(transition));
        }
        let env = self.environment(id)?;
        let _transition = env.transition_lock.lock().await;
        Self::set_last_request_user(&env, user);
        match self.try_transition(&env, transition).await {
            Ok(()) => Ok(env.state()),
            Err(error) => {
                self.go_error_locked(&env, &error).await;
                Err(CoreError::TransitionFailed {
                    id: id.to_owned(),
                    transition,
                    error,
                    state: env.state(),
                })
            }
        }
    }

    /// A critical error inside the environment (a task gone to ERROR, an ODC partition error,
    /// a scenario's `GO_ERROR`): after AliECS's half-second grace, GO_ERROR.
    pub async fn critical_task_error(&self, id: &str, reason: &str) -> Result<State, CoreError> {
        let env = self.environment(id)?;
        self.clock().sleep(CRITICAL_TASK_GRACE).await;
        let _transition = env.transition_lock.lock().await;
        if matches!(env.state(), State::Error | State::Done) {
            return Ok(env.state());
        }
        self.go_error_locked(&env, reason).await;
        Ok(env.state())
    }

    /// A STOP_ACTIVITY the core starts itself (END_OF_STREAM from every task,
    /// TASK_INTERNAL_ERROR): only while RUNNING; a failed stop leads to GO_ERROR.
    pub async fn stop_from_core(&self, id: &str, reason: &str) -> Result<State, CoreError> {
        let env = self.environment(id)?;
        let _transition = env.transition_lock.lock().await;
        if env.state() != State::Running {
            tracing::debug!(environment = id, reason, "not RUNNING; no stop");
            return Ok(env.state());
        }
        self.stop_locked(&env, None).await;
        Ok(env.state())
    }

    /// An ODC partition went to ERROR (reference §1.8, `manager.go`): only while RUNNING,
    /// STOP_ACTIVITY, then — whatever the stop's outcome, unless it already ended in ERROR — the
    /// GO_ERROR-imminent event and GO_ERROR.
    pub async fn partition_error(&self, id: &str, reason: &str) -> Result<State, CoreError> {
        let env = self.environment(id)?;
        let _transition = env.transition_lock.lock().await;
        if env.state() != State::Running {
            tracing::debug!(
                environment = id,
                reason,
                "partition error while not RUNNING; ignored"
            );
            return Ok(env.state());
        }
        if let Err(error) = self.try_transition(&env, Transition::StopActivity).await {
            tracing::info!(environment = id, %error, "stop after a partition error failed");
        }
        if env.state() != State::Error {
            self.go_error_locked(&env, reason).await;
        }
        Ok(env.state())
    }

    /// A beam mode change from the LHC. On BEAM_DUMP, LOST_BEAMS or NO_BEAM every RUNNING
    /// environment with `stop_at_beam_dump` = "true" and no transition in progress is stopped,
    /// with the LHC special user as the request's user. Returns the environments stopped.
    pub async fn beam_mode_changed(&self, mode: BeamMode) -> Vec<String> {
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
                data.state == State::Running && data.vars.is_true("stop_at_beam_dump")
            };
            if eligible {
                self.stop_locked(&env, Some(user::lhc())).await;
                stopped.push(env.id.clone());
            }
        }
        stopped
    }

    /// STOP_ACTIVITY on behalf of the core; GO_ERROR if it fails. Caller holds the lock.
    async fn stop_locked(&self, env: &Arc<Env>, user: Option<User>) {
        if let Some(user) = user {
            Self::set_last_request_user(env, user);
        }
        if let Err(error) = self.try_transition(env, Transition::StopActivity).await {
            self.go_error_locked(env, &error).await;
        }
    }

    /// The "GO_ERROR transition imminent" event, then GO_ERROR; if GO_ERROR itself fails, the
    /// state is forced to ERROR. Caller holds the transition lock.
    pub(crate) async fn go_error_locked(&self, env: &Arc<Env>, reason: &str) {
        let imminent = {
            let data = env.data();
            EvEnvironmentEvent {
                environment_id: env.id.clone(),
                state: data.state.as_str().to_owned(),
                run_number: data.run_number,
                error: reason.to_owned(),
                message: "a critical error occurred, GO_ERROR transition imminent".to_owned(),
                transition_status: OpStatus::Null.into(),
                ..Default::default()
            }
        };
        self.emit(CorePayload::Environment(imminent));
        if let Err(error) = self.try_transition(env, Transition::GoError).await {
            tracing::info!(environment = %env.id, %error, "GO_ERROR failed; forcing ERROR");
            env.data().state = State::Error;
        }
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
                core.stop_locked(&env, Some(user::timer())).await;
            }
        });
    }
}
