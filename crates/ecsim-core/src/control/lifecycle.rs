//! Creating and destroying environments: the parts of an environment's life outside the FSM.
//!
//! Reference §1.7 (`core/environment/manager.go`, `core/server.go`). Creation publishes its own
//! `CREATE` sequence, loads the workflow, then runs DEPLOY and CONFIGURE; a failure there sends
//! the environment to ERROR and tears it down. Destruction resets a CONFIGURED environment first
//! (stops a RUNNING one first when allowed), then tears it down: `leave_<state>` hooks, task
//! release, the `DESTROY`/`after_DESTROY` calls one by one, state DONE.

use std::{collections::BTreeMap, sync::Arc};

use ecsim_proto::{
    common::{User, WorkflowTemplateInfo},
    events::{EvEnvironmentEvent, OpStatus},
};

use crate::{
    condition::resolve_template,
    event::CorePayload,
    fsm::{State, Transition},
    id::EnvironmentId,
    tasks::{PlannedHook, TaskTree},
    trigger::Moment,
    user,
    vars::{Layer, VarStack},
    workflow::Workflow,
};

use super::{
    Core, CoreError, DestroyOptions, EnvironmentSpec,
    environment::{Env, EnvData, LoadedWorkflow},
    hooks::Weights,
    requests::GoErrorCause,
};

/// Whether a teardown may be refused (AliECS's `force` of `TeardownEnvironment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Teardown {
    /// Whatever the state (a destruction that already stopped or reset, a failed creation).
    Forced,
    /// Refused unless the environment is STANDBY or DEPLOYED.
    Refusable,
}

/// Which of AliECS's creation RPCs a creation is: the asynchronous one (`NewEnvironmentAsync`,
/// what the GUI uses, and what a scenario's `create` models) writes a last word of its own —
/// "created new environment", or "cannot create new environment" with the error — after the
/// CREATE events (`core/server.go` doNewEnvironmentAsync); the synchronous one (`NewEnvironment`)
/// answers its client instead and writes nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    /// `NewEnvironmentAsync`: the outcome also as an event.
    Asynchronous,
    /// `NewEnvironment`: the outcome only in the reply.
    Synchronous,
}

impl Core {
    /// Creates an environment and brings it to CONFIGURED (AliECS's `CreateEnvironment` and
    /// `NewEnvironment` RPC). Returns its id; on failure the environment has been torn down and
    /// the error says why.
    pub async fn create_environment(
        &self,
        spec: EnvironmentSpec,
    ) -> Result<EnvironmentId, CoreError> {
        let id = self.new_environment_id();
        self.create_environment_as(id, spec, Creation::Asynchronous)
            .await
    }

    /// A fresh environment id, as AliECS's server makes one before creating (so that an
    /// asynchronous creation can answer with it at once).
    pub fn new_environment_id(&self) -> EnvironmentId {
        EnvironmentId::from(self.uids().next_id(self.now()))
    }

    /// [`Core::create_environment`] with an id from [`Core::new_environment_id`], as the
    /// `creation` RPC does it.
    pub async fn create_environment_as(
        &self,
        id: EnvironmentId,
        spec: EnvironmentSpec,
        creation: Creation,
    ) -> Result<EnvironmentId, CoreError> {
        let created = self.now();
        let id = id.to_string();
        // AliECS's pre-deployment cleanup: tasks left running outside any environment are
        // killed first.
        self.cleanup_tasks(&[]);
        let workflow = Arc::clone(&spec.workflow);
        let detectors = spec.sorted_detectors();
        let hosts = spec.hosts_or_default();

        // The variables, as AliECS's newEnvironment and workflow load set them up.
        let mut user_vars = spec.vars.clone();
        user_vars.insert("environment_id".into(), id.clone());
        user_vars.insert("last_request_user".into(), user::to_json(&spec.user));
        user_vars.insert(
            "enter_state_time_ms".into(),
            self.now().unix_millis().to_string(),
        );
        // The environment's own defaults, over the workflow's (shared, not copied).
        let mut defaults = BTreeMap::new();
        defaults.insert("__fmq_cleanup_count".into(), "0".into());
        defaults.insert(
            "detectors".into(),
            serde_json::to_string(&detectors).unwrap_or_else(|_| "[]".into()),
        );
        defaults.insert(
            "hosts".into(),
            serde_json::to_string(&hosts).unwrap_or_else(|_| "[]".into()),
        );
        let mut vars =
            VarStack::with_workflow_defaults(Arc::clone(&workflow.defaults), defaults, user_vars);
        // Template defaults (`{{ detectors }}`, `{{ epn_enabled }}` …) resolve once, at load.
        let templated: Vec<(String, String)> = workflow
            .defaults
            .iter()
            .filter(|(_, value)| value.trim_start().starts_with("{{"))
            .map(|(key, value)| (key.clone(), resolve_template(value, &|k| vars.get(k))))
            .collect();
        for (key, value) in templated {
            vars.set(Layer::Defaults, key, value);
        }

        // Which events carry the template (`manager.go` CreateEnvironment): none on the first and
        // last, the template parsed from the file on "instantiating" and "workflow loaded", and
        // an empty one while the workflow is not loaded yet ("running hooks", "loading workflow").
        let info = Env::template_info_of(&workflow);
        let creation_event = |state: &str,
                              step: &str,
                              status: OpStatus,
                              message: &str,
                              template: Option<WorkflowTemplateInfo>| {
            EvEnvironmentEvent {
                environment_id: id.clone(),
                state: state.to_owned(),
                message: message.to_owned(),
                transition: "CREATE".to_owned(),
                transition_step: step.to_owned(),
                transition_status: status.into(),
                last_request_user: Some(spec.user.clone()),
                workflow_template_info: template,
                ..Default::default()
            }
        };
        self.emit(CorePayload::Environment(creation_event(
            "PENDING",
            "",
            OpStatus::Started,
            "transition starting",
            None,
        )));
        self.emit(CorePayload::Environment(creation_event(
            "PENDING",
            "before_CREATE",
            OpStatus::Started,
            "instantiating",
            Some(info.clone()),
        )));
        self.emit(CorePayload::Environment(creation_event(
            "PENDING",
            "before_CREATE",
            OpStatus::Ongoing,
            "running hooks",
            Some(WorkflowTemplateInfo::default()),
        )));
        self.emit(CorePayload::Environment(creation_event(
            "PENDING",
            "CREATE",
            OpStatus::Ongoing,
            "loading workflow",
            Some(WorkflowTemplateInfo::default()),
        )));

        let creation_failed = |reason: String| {
            let mut event =
                creation_event("PENDING", "", OpStatus::DoneError, "transition error", None);
            event.error = reason.clone();
            self.emit(CorePayload::Environment(event));
            CoreError::CreateFailed {
                id: EnvironmentId::from(id.clone()),
                reason,
            }
        };
        if let Err(reason) = self.claim_detectors(&id, &detectors) {
            let error = creation_failed(reason.clone());
            if creation == Creation::Asynchronous {
                self.announce_creation_failure(&id, &spec.user, &info, &reason);
            }
            return Err(error);
        }

        let loaded = LoadedWorkflow::load(&workflow, &vars);
        // Task hooks, per host: those switched on, on the hosts of their detector (known when
        // the hosts are the detectors' default FLPs).
        let host_detector = |index: usize| {
            spec.hosts
                .is_empty()
                .then(|| detectors.get(index).cloned())
                .flatten()
        };
        let lookup = |key: &str| vars.get(key);
        let hooks: Vec<PlannedHook> = hosts
            .iter()
            .enumerate()
            .flat_map(|(index, host)| {
                let detector = host_detector(index);
                workflow
                    .hook_tasks
                    .iter()
                    .filter(|hook| hook.enabled.evaluate(&lookup))
                    .filter(move |hook| hook.detector.is_none() || hook.detector == detector)
                    .map(|hook| {
                        let trigger = crate::trigger::Trigger::parse(&hook.trigger);
                        PlannedHook {
                            host: host.clone(),
                            name: hook.name.clone(),
                            class_name: hook.class_name.clone(),
                            trigger: hook.trigger.clone(),
                            moment: trigger.moment,
                            weight: trigger.weight,
                            timeout: resolve_template(&hook.timeout, &lookup),
                            critical: hook.critical,
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let tasks = TaskTree::new(
            &id,
            &workflow,
            &hosts,
            spec.tasks_per_host,
            loaded.call_roles(),
            hooks,
        );
        let data = EnvData {
            state: State::Standby,
            vars,
            run_number: None,
            current_transition: None,
            last_request_user: spec.user.clone(),
            pending: BTreeMap::new(),
            tasks,
            auto_stop_generation: 0,
            watching: false,
            task_faults: super::task_faults::TaskFaults::new(spec.task_faults.clone()),
            keep_tasks: false,
        };
        let env = Arc::new(Env::new(
            EnvironmentId::from(id.clone()),
            spec.name.clone(),
            detectors.clone(),
            hosts.clone(),
            created,
            workflow,
            loaded,
            spec.timing,
            data,
        ));
        self.register(Arc::clone(&env));

        let mut loaded_event = creation_event(
            State::Standby.as_str(),
            "after_CREATE",
            OpStatus::DoneOk,
            "workflow loaded",
            Some(info.clone()),
        );
        loaded_event.vars = env.data().vars.consolidated().to_map();
        self.emit(CorePayload::Environment(loaded_event));
        self.emit(CorePayload::Environment(creation_event(
            State::Standby.as_str(),
            "",
            OpStatus::DoneOk,
            "transition completed successfully",
            None,
        )));

        let _transition = env.transition_lock.lock().await;
        for transition in [Transition::Deploy, Transition::Configure] {
            if let Err(error) = self.try_transition(&env, transition).await {
                self.announce_go_error(&env, GoErrorCause::DeployOrConfigure(&error));
                self.go_error_locked(&env).await;
                self.teardown_locked(&env, Teardown::Forced).await;
                let error = error.to_string();
                creation_failed(error.clone());
                if creation == Creation::Asynchronous {
                    self.announce_creation_failure(&id, &spec.user, &info, &error);
                }
                return Err(CoreError::CreateFailed {
                    id: EnvironmentId::from(id),
                    reason: error,
                });
            }
        }
        if creation == Creation::Asynchronous {
            self.emit(CorePayload::Environment(EvEnvironmentEvent {
                environment_id: id.clone(),
                state: env.state().as_str().to_owned(),
                message: "created new environment".to_owned(),
                last_request_user: Some(spec.user.clone()),
                workflow_template_info: Some(info),
                ..Default::default()
            }));
        }
        Ok(EnvironmentId::from(id))
    }

    /// The asynchronous creation RPC's word on a failure (`core/server.go`
    /// doNewEnvironmentAsync, "GUI listens for this concrete string"): state ERROR, the error,
    /// and the template as requested — its path and whether it is public — since the
    /// environment is gone.
    fn announce_creation_failure(
        &self,
        id: &str,
        user: &User,
        template: &WorkflowTemplateInfo,
        error: &str,
    ) {
        self.emit(CorePayload::Environment(EvEnvironmentEvent {
            environment_id: id.to_owned(),
            state: State::Error.as_str().to_owned(),
            message: "cannot create new environment".to_owned(),
            error: error.to_owned(),
            last_request_user: Some(user.clone()),
            workflow_template_info: Some(WorkflowTemplateInfo {
                path: template.path.clone(),
                public: template.public,
                ..Default::default()
            }),
            ..Default::default()
        }));
    }

    /// A creation that fails before the environment exists, as AliECS's `CreateEnvironment`
    /// fails when it cannot read the template (`workflow` is `None`: "transition starting",
    /// then "transition error") or cannot load it with the request's variables (`Some`: the
    /// events up to "loading workflow", then "transition error"). Nothing is claimed or kept.
    /// `id` comes from [`Core::new_environment_id`]; `requested` is the template as the request
    /// named it (path, public). Returns the error to give the client.
    pub fn refuse_creation(
        &self,
        id: &EnvironmentId,
        workflow: Option<&Workflow>,
        requested: &WorkflowTemplateInfo,
        user: User,
        reason: &str,
        creation: Creation,
    ) -> CoreError {
        let id = id.to_string();
        let event = |state: &str, step: &str, status: OpStatus, message: &str| EvEnvironmentEvent {
            environment_id: id.clone(),
            state: state.to_owned(),
            message: message.to_owned(),
            transition: "CREATE".to_owned(),
            transition_step: step.to_owned(),
            transition_status: status.into(),
            last_request_user: Some(user.clone()),
            ..Default::default()
        };
        self.emit(CorePayload::Environment(event(
            "PENDING",
            "",
            OpStatus::Started,
            "transition starting",
        )));
        if let Some(workflow) = workflow {
            let steps = [
                ("before_CREATE", OpStatus::Started, "instantiating"),
                ("before_CREATE", OpStatus::Ongoing, "running hooks"),
                ("CREATE", OpStatus::Ongoing, "loading workflow"),
            ];
            for (index, (step, status, message)) in steps.into_iter().enumerate() {
                let mut announced = event("PENDING", step, status, message);
                announced.workflow_template_info = Some(if index == 0 {
                    Env::template_info_of(workflow)
                } else {
                    WorkflowTemplateInfo::default()
                });
                self.emit(CorePayload::Environment(announced));
            }
        }
        let mut failed = event("PENDING", "", OpStatus::DoneError, "transition error");
        failed.error = reason.to_owned();
        self.emit(CorePayload::Environment(failed));
        if creation == Creation::Asynchronous {
            self.announce_creation_failure(&id, &user, requested, reason);
        }
        CoreError::CreateFailed {
            id: EnvironmentId::from(id),
            reason: reason.to_owned(),
        }
    }

    /// Destroys an environment (AliECS's `DestroyEnvironment` RPC).
    pub async fn destroy(
        &self,
        id: &EnvironmentId,
        options: DestroyOptions,
        user: User,
    ) -> Result<(), CoreError> {
        let env = self.environment(id)?;
        let _transition = env.transition_lock.lock().await;
        Self::set_last_request_user(&env, user);
        // AliECS keeps the tasks only on the destruction's own teardown, not on the forced one
        // that follows a failure (or a state it cannot destroy from).
        let keep = |keep: bool| env.data().keep_tasks = keep;
        if options.force {
            keep(options.keep_tasks);
            self.teardown_locked(&env, Teardown::Forced).await;
            return Ok(());
        }
        loop {
            let state = env.state();
            let step = match state {
                State::Running if options.allow_in_running_state => Transition::StopActivity,
                State::Configured => Transition::Reset,
                State::Deployed | State::Standby => {
                    keep(options.keep_tasks);
                    if !self.teardown_locked(&env, Teardown::Refusable).await {
                        // A refused non-forced teardown is retried once, forced.
                        self.teardown_locked(&env, Teardown::Forced).await;
                    }
                    return Ok(());
                }
                State::Running | State::Error | State::Done => {
                    self.teardown_locked(&env, Teardown::Forced).await;
                    return Ok(());
                }
            };
            if let Err(error) = self.try_transition(&env, step).await {
                tracing::info!(environment = %id, %error, "{step} before teardown failed");
                let cause = if step == Transition::Reset {
                    GoErrorCause::ResetDuringDestroy
                } else {
                    GoErrorCause::StopDuringDestroy
                };
                self.announce_go_error(&env, cause);
                self.go_error_locked(&env).await;
                self.teardown_locked(&env, Teardown::Forced).await;
                return Ok(());
            }
        }
    }

    /// Tears the environment down (AliECS's `TeardownEnvironment`); the caller holds the
    /// transition lock. Returns false when a [`Teardown::Refusable`] teardown is refused.
    pub(crate) async fn teardown_locked(&self, env: &Arc<Env>, mode: Teardown) -> bool {
        let state = env.state();
        let refused = match mode {
            Teardown::Forced => false,
            Teardown::Refusable => !matches!(state, State::Standby | State::Deployed),
        };
        if state == State::Done || refused {
            return false;
        }
        env.data().current_transition = Some("DESTROY".to_owned());
        // Teardown's events never carry a run number (`manager.go` TeardownEnvironment), even
        // when the environment is destroyed in RUNNING.
        let event = |state: State, step: &str, status: OpStatus, message: &str| {
            env.event(state.as_str(), step, status, message)
                .transition("DESTROY")
                .without_run_number()
        };
        self.emit_env(event(
            state,
            "before_DESTROY",
            OpStatus::Started,
            "workflow teardown started",
        ));

        let moment = Moment::Leave(state);
        let leave = moment.as_str();
        self.emit_env(event(
            state,
            leave,
            OpStatus::Ongoing,
            "workflow teardown ongoing",
        ));
        if let Err(error) = self.handle_hooks(env, moment, Weights::All).await {
            tracing::info!(environment = %env.id, %error, "hooks failed during teardown");
        }

        if state == State::Running {
            self.run_torn_down(env);
        }

        let (destroy, after_destroy) = (Moment::Destroy.as_str(), Moment::AfterDestroy.as_str());
        self.emit_env(event(
            env.state(),
            destroy,
            OpStatus::Ongoing,
            "releasing tasks",
        ));
        self.clock().sleep(env.timing.release).await;
        let released = env.data().tasks.release();
        self.emit_task_changes(released);

        self.emit_env(event(
            env.state(),
            after_destroy,
            OpStatus::Ongoing,
            "running DESTROY hooks",
        ));
        // Quirk: merged by weight, an after_DESTROY weight replaces a DESTROY weight.
        let mut by_weight: BTreeMap<i32, Vec<usize>> =
            env.loaded.hooks.get(destroy).cloned().unwrap_or_default();
        if let Some(after) = env.loaded.hooks.get(after_destroy) {
            by_weight.extend(after.iter().map(|(weight, calls)| (*weight, calls.clone())));
        }
        // The weights of the calls and of the task hooks; at each, the calls one by one, then
        // the task hooks.
        let mut weights: std::collections::BTreeSet<i32> = by_weight.keys().copied().collect();
        {
            let data = env.data();
            weights.extend(data.tasks.hook_weights(destroy));
            weights.extend(data.tasks.hook_weights(after_destroy));
        }
        for weight in weights {
            for &index in by_weight.get(&weight).into_iter().flatten() {
                if let Err(error) = self.call_now(env, index).await {
                    tracing::debug!(environment = %env.id, %error, "DESTROY hook failed");
                }
            }
            let ran = {
                let mut data = env.data();
                let mut ran = data.tasks.trigger_hooks(destroy, weight);
                ran.0
                    .extend(data.tasks.trigger_hooks(after_destroy, weight).0);
                ran
            };
            self.emit_task_changes(ran);
        }

        {
            let mut data = env.data();
            // Pending calls are dropped: their tasks run on and report, but nobody awaits them.
            data.pending.clear();
            data.state = State::Done;
            data.current_transition = None;
            data.auto_stop_generation += 1;
            data.watching = false;
        }
        self.unregister(env);
        self.emit_env(event(
            State::Done,
            after_destroy,
            OpStatus::DoneOk,
            crate::event::TEARDOWN_COMPLETE,
        ));
        // Then the tasks are killed; they report as tasks of no environment. Kept, they run on
        // outside it, and report so when a cleanup kills them.
        let (keep, views, killed) = {
            let mut data = env.data();
            let views = data.tasks.task_views();
            (data.keep_tasks, views, data.tasks.kill())
        };
        if keep {
            self.release_tasks(views, killed);
        } else {
            for task in killed {
                self.emit(CorePayload::Task(task));
            }
        }
        true
    }
}
