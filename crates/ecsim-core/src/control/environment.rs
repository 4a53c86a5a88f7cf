//! One environment: its loaded workflow, its state and variables, and the events it emits.
//!
//! An [`Env`] is shared between the code that drives its transitions and the calls running on
//! its behalf. Its mutable part sits behind a plain mutex that is only ever held for a few
//! statements, never across an `.await`; transitions are serialized by a separate async lock
//! ([`Env::transition_lock`]), as AliECS serializes them with `transitionMutex`.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, MutexGuard},
};

use ecsim_proto::{
    common::{User, WorkflowTemplateInfo},
    events::{EvEnvironmentEvent, OpStatus},
};

use crate::{
    condition::resolve_template, fsm::State, id::EnvironmentId, run_number::RunNumber,
    tasks::TaskTree, trigger::Trigger, vars::VarStack, view::EnvironmentView, workflow::Workflow,
};

use super::Timing;

/// A started call, not yet awaited (`hooks.rs` starts and awaits them; an environment keeps
/// them by the moment that awaits them).
#[derive(Debug)]
pub(crate) struct PendingCall {
    pub(crate) index: usize,
    pub(crate) critical: bool,
    pub(crate) handle: tokio::task::JoinHandle<Result<(), crate::plugin::CallError>>,
}

/// A call role of the loaded workflow, with its templates resolved.
#[derive(Debug, Clone)]
pub(crate) struct LoadedCall {
    pub(crate) role_path: String,
    pub(crate) func: String,
    /// `func` split into its plugin and function names once, at load (none: not a call ecsim
    /// can make, which fails each time it is made).
    pub(crate) target: Option<(String, String)>,
    pub(crate) trigger_expr: String,
    pub(crate) await_expr: String,
    pub(crate) trigger: Trigger,
    pub(crate) await_at: Trigger,
    pub(crate) timeout: String,
    pub(crate) critical: bool,
    pub(crate) return_var: Option<String>,
    /// The defaults of the call's role and its ancestors below the root, resolved.
    pub(crate) role_defaults: Arc<BTreeMap<String, String>>,
}

/// The loaded workflow of an environment: enabled calls and the moments they hook into.
#[derive(Debug, Default)]
pub(crate) struct LoadedWorkflow {
    pub(crate) calls: Vec<LoadedCall>,
    /// moment → weight → indexes into `calls`, in role order.
    pub(crate) hooks: BTreeMap<String, BTreeMap<i32, Vec<usize>>>,
}

impl LoadedWorkflow {
    /// Resolves the workflow against the environment's variables: keeps the call roles whose
    /// `enabled` condition holds, resolves their timeouts, and indexes them by trigger. Like
    /// AliECS's workflow load, this happens once, at creation.
    pub(crate) fn load(workflow: &Workflow, vars: &VarStack) -> Self {
        let lookup = |key: &str| vars.get(key);
        let mut loaded = LoadedWorkflow::default();
        // Resolved once per role, shared by its calls.
        let resolved: BTreeMap<&str, BTreeMap<String, String>> = workflow
            .role_defaults
            .iter()
            .map(|(role, defaults)| {
                let values = defaults
                    .iter()
                    .map(|(key, value)| (key.clone(), resolve_template(value, &lookup)))
                    .collect();
                (role.as_str(), values)
            })
            .collect();
        let mut shared: BTreeMap<String, Arc<BTreeMap<String, String>>> = BTreeMap::new();
        for spec in workflow
            .calls
            .iter()
            .filter(|spec| spec.enabled.evaluate(&lookup))
        {
            let index = loaded.calls.len();
            // A role's defaults, then its descendants' over them: `dcs` for `dcs.sor`.
            let role_defaults = shared
                .entry(spec.role.clone())
                .or_insert_with(|| {
                    let mut merged = BTreeMap::new();
                    let parts: Vec<&str> = spec.role.split('.').collect();
                    for depth in 1..=parts.len() {
                        if let Some(defaults) = resolved.get(parts[..depth].join(".").as_str()) {
                            merged.extend(defaults.clone());
                        }
                    }
                    Arc::new(merged)
                })
                .clone();
            let call = LoadedCall {
                role_defaults,
                role_path: workflow.role_path(&spec.role),
                func: spec.func.clone(),
                target: crate::workflow::split_func(&spec.func)
                    .map(|(plugin, function)| (plugin.to_owned(), function.to_owned())),
                trigger_expr: spec.trigger.clone(),
                await_expr: spec.await_expression().to_owned(),
                trigger: Trigger::parse(&spec.trigger),
                await_at: Trigger::parse(spec.await_expression()),
                timeout: resolve_template(&spec.timeout, &lookup),
                critical: spec.critical,
                return_var: spec.return_var.clone(),
            };
            loaded
                .hooks
                .entry(call.trigger.moment.clone())
                .or_default()
                .entry(call.trigger.weight)
                .or_default()
                .push(index);
            loaded.calls.push(call);
        }
        loaded
    }

    /// The call roles, deduplicated, in role order, with whether each is critical.
    pub(crate) fn call_roles(&self) -> Vec<(String, bool)> {
        let mut seen = BTreeSet::new();
        self.calls
            .iter()
            .filter(|c| seen.insert(c.role_path.clone()))
            .map(|c| (c.role_path.clone(), c.critical))
            .collect()
    }
}

/// The mutable part of an environment.
#[derive(Debug)]
pub(crate) struct EnvData {
    pub(crate) state: State,
    pub(crate) vars: VarStack,
    pub(crate) run_number: Option<RunNumber>,
    /// The FSM event in progress, between `before_` and the end of `after_` (or "DESTROY").
    pub(crate) current_transition: Option<String>,
    pub(crate) last_request_user: User,
    /// Calls started and not yet awaited, by await moment and weight.
    pub(crate) pending: BTreeMap<(String, i32), Vec<PendingCall>>,
    pub(crate) tasks: TaskTree,
    /// Bumped to invalidate a scheduled auto-stop.
    pub(crate) auto_stop_generation: u64,
    /// Whether the environment watches its workflow for a critical task in ERROR: from its
    /// first successful CONFIGURE until it handles one (AliECS's `subscribeToWfState`).
    pub(crate) watching: bool,
    /// Task steps that fail, and how often each has.
    pub(crate) task_faults: super::task_faults::TaskFaults,
    /// Whether its teardown releases its tasks instead of killing them (`keepTasks`).
    pub(crate) keep_tasks: bool,
}

/// An environment.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) id: EnvironmentId,
    pub(crate) name: String,
    /// The detectors it holds while it lives.
    pub(crate) detectors: Vec<String>,
    /// Its FLPs.
    pub(crate) hosts: Vec<String>,
    /// When it was created.
    pub(crate) created: crate::clock::Timestamp,
    pub(crate) workflow: Arc<Workflow>,
    pub(crate) loaded: LoadedWorkflow,
    pub(crate) timing: Timing,
    /// Held for the whole of a transition (or a teardown): a second request waits.
    pub(crate) transition_lock: tokio::sync::Mutex<()>,
    /// How many tasks it runs, readable without its data's lock (which a large environment's
    /// view holds for a while).
    pub(crate) task_count: std::sync::atomic::AtomicUsize,
    data: Mutex<EnvData>,
    /// The last environment event emitted, kept so that the next one is written into its
    /// strings: an event's dozen fields cost no allocation once the first is made.
    spare: Mutex<Option<EvEnvironmentEvent>>,
}

impl Env {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: EnvironmentId,
        name: String,
        detectors: Vec<String>,
        hosts: Vec<String>,
        created: crate::clock::Timestamp,
        workflow: Arc<Workflow>,
        loaded: LoadedWorkflow,
        timing: Timing,
        data: EnvData,
    ) -> Self {
        Self {
            spare: Mutex::new(None),
            id,
            name,
            detectors,
            hosts,
            created,
            workflow,
            loaded,
            timing,
            transition_lock: tokio::sync::Mutex::new(()),
            task_count: std::sync::atomic::AtomicUsize::new(0),
            data: Mutex::new(data),
        }
    }

    /// The mutable part. Never hold the guard across an `.await`.
    pub(crate) fn data(&self) -> MutexGuard<'_, EnvData> {
        // Nothing that runs under this lock can leave the data inconsistent halfway.
        self.data
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn state(&self) -> State {
        self.data().state
    }

    /// A copy of what it is now.
    pub(crate) fn view(&self) -> EnvironmentView {
        let data = self.data();
        let vars = data.vars.consolidated();
        EnvironmentView {
            id: self.id.clone(),
            name: self.name.clone(),
            created: self.created,
            state: data.state,
            current_transition: data.current_transition.clone(),
            run_number: data.run_number,
            workflow: Arc::clone(&self.workflow),
            detectors: self.detectors.clone(),
            hosts: self.hosts.clone(),
            defaults: vars.defaults_map(),
            vars: vars.vars_map(),
            user_vars: vars.user_vars_map(),
            tasks: data.tasks.task_views(),
            roles: data.tasks.role_views(),
        }
    }

    pub(crate) fn template_info_of(workflow: &Workflow) -> WorkflowTemplateInfo {
        WorkflowTemplateInfo {
            name: workflow.name.clone(),
            description: workflow.description.clone(),
            path: workflow.path.clone(),
            public: workflow.public,
        }
    }

    /// An `aliecs.environment` event about this environment, with the fields every transition
    /// event carries: id, state as given, current run number, transition in progress, the
    /// last request's user and the workflow template.
    pub(crate) fn event(
        &self,
        state: &str,
        step: &str,
        status: OpStatus,
        message: &str,
    ) -> EnvEvent<'_> {
        let mut event = self
            .spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        {
            let data = self.data();
            // Every field is set (the destructuring names them all): nothing of the previous
            // event remains.
            let EvEnvironmentEvent {
                environment_id,
                state: state_field,
                run_number,
                error,
                message: message_field,
                transition,
                transition_step,
                transition_status,
                vars,
                last_request_user,
                workflow_template_info,
            } = &mut event;
            set(environment_id, self.id.as_str());
            set(state_field, state);
            *run_number = RunNumber::wire(data.run_number);
            error.clear();
            set(message_field, message);
            set(
                transition,
                data.current_transition.as_deref().unwrap_or_default(),
            );
            set(transition_step, step);
            *transition_status = status.into();
            vars.clear();
            let user = last_request_user.get_or_insert_with(Default::default);
            user.external_id = data.last_request_user.external_id;
            user.id = data.last_request_user.id;
            set(&mut user.name, &data.last_request_user.name);
            let info = workflow_template_info.get_or_insert_with(Default::default);
            set(&mut info.name, &self.workflow.name);
            set(&mut info.description, &self.workflow.description);
            set(&mut info.path, &self.workflow.path);
            info.public = self.workflow.public;
        }
        EnvEvent { event, home: self }
    }

    /// Takes back an emitted event's fields for the next event.
    pub(crate) fn recycle(&self, event: EvEnvironmentEvent) {
        *self
            .spare
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(event);
    }
}

/// `field` becomes `value`, in the capacity it has.
fn set(field: &mut String, value: &str) {
    field.clear();
    field.push_str(value);
}

/// An environment event being built, and the environment whose spare it came from.
#[derive(Debug)]
pub(crate) struct EnvEvent<'a> {
    pub(crate) event: EvEnvironmentEvent,
    pub(crate) home: &'a Env,
}

impl EnvEvent<'_> {
    pub(crate) fn error(mut self, error: Option<&str>) -> Self {
        set(&mut self.event.error, error.unwrap_or_default());
        self
    }

    /// AliECS's hook-failure "step finished" events are written without the user.
    pub(crate) fn without_user(mut self) -> Self {
        self.event.last_request_user = None;
        self
    }

    pub(crate) fn without_run_number(mut self) -> Self {
        self.event.run_number = 0;
        self
    }

    pub(crate) fn transition(mut self, transition: &str) -> Self {
        set(&mut self.event.transition, transition);
        self
    }
}
