//! The control core: AliECS's environment manager, simulated.
//!
//! [`Core`] owns the environments, the run-number counter, the detectors in use and the plugins.
//! It is cheap to clone (an `Arc`); every clone is the same core. Requests come in through
//! [`Core::create_environment`], [`Core::control`], [`Core::destroy`] and the core-initiated
//! entry points ([`Core::critical_task_error`], [`Core::stop_from_core`],
//! [`Core::beam_mode_changed`]); many environments run concurrently, and each environment's
//! transitions are serialized.
//!
//! The core publishes nothing itself: every event goes to the plugins' `observe`.

mod call_counts;
mod environment;
mod hooks;
mod lifecycle;
mod released;
mod requests;
mod run;
mod step_error;
mod task_faults;
mod timing;
mod transition;

pub use call_counts::CallCounts;
pub use lifecycle::Creation;
pub use requests::TransitionTimes;
pub use step_error::{StepError, TaskFailure};
pub use task_faults::{TaskFault, TaskFaultOutcome};
pub use timing::Timing;
pub use transition::TransitionError;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, Weak},
};

use ecsim_proto::{common::User, events::EvMetaEventCoreStart};
use rand::{RngExt as _, SeedableRng as _};

use crate::{
    clock::{Clock, Timestamp},
    event::{CoreEvent, CorePayload, EventBus, EventEmitter},
    fsm::{State, Transition},
    id::EnvironmentId,
    plugin::{CoreRequests, IntegrationPlugin, PluginContext, RequestTarget},
    publish::Publisher,
    registry::PluginRegistry,
    run_number::{RunNumber, RunNumberError},
    tasks::{Change, Changes},
    uid::UidGenerator,
    view::EnvironmentView,
    workflow::Workflow,
};

use self::{
    environment::{Env, EnvEvent},
    released::ReleasedTask,
};

/// What an environment is made of.
#[derive(Debug, Clone)]
pub struct EnvironmentSpec {
    /// A name for people and logs (scenarios refer to environments by it); not on the wire.
    pub name: String,
    /// The workflow template.
    pub workflow: Arc<Workflow>,
    /// The detectors (`detectors` var, sorted, as AliECS computes it).
    pub detectors: Vec<String>,
    /// The FLP hosts; empty means one host per detector, `flp-<detector>`.
    pub hosts: Vec<String>,
    /// Simulated tasks on every host.
    pub tasks_per_host: usize,
    /// User variables (`kafka_enabled`, `run_type` …), over the workflow's defaults.
    pub vars: BTreeMap<String, String>,
    /// Who creates it.
    pub user: User,
    /// How long task steps take.
    pub timing: Timing,
    /// Task steps that fail.
    pub task_faults: Vec<TaskFault>,
}

impl EnvironmentSpec {
    /// The detectors, sorted and each once, as AliECS computes `detectors`.
    pub fn sorted_detectors(&self) -> Vec<String> {
        let mut detectors = self.detectors.clone();
        detectors.sort();
        detectors.dedup();
        detectors
    }

    /// The FLPs: the given hosts, or one per detector, `flp-<detector>`, in detector order.
    pub fn hosts_or_default(&self) -> Vec<String> {
        if self.hosts.is_empty() {
            self.sorted_detectors()
                .iter()
                .map(|d| format!("flp-{}", d.to_lowercase()))
                .collect()
        } else {
            self.hosts.clone()
        }
    }

    /// An environment of `workflow` with these detectors, default hosts, three tasks per host,
    /// no user variables, created by user "ecsim", default timing.
    pub fn new(name: impl Into<String>, workflow: Arc<Workflow>, detectors: &[&str]) -> Self {
        Self {
            name: name.into(),
            workflow,
            detectors: detectors.iter().map(|d| (*d).to_owned()).collect(),
            hosts: Vec::new(),
            tasks_per_host: 3,
            vars: BTreeMap::new(),
            user: crate::user::person("ecsim"),
            timing: Timing::default(),
            task_faults: Vec::new(),
        }
    }

    /// Sets a user variable.
    pub fn var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(key.into(), value.into());
        self
    }
}

/// How to destroy an environment (AliECS's `DestroyEnvironmentRequest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DestroyOptions {
    /// Tear down whatever the state, without RESET or STOP first.
    pub force: bool,
    /// A RUNNING environment is stopped first rather than torn down while running.
    pub allow_in_running_state: bool,
    /// The tasks are released, not killed: they keep running outside any environment until a
    /// cleanup (`CleanupTasks`, or the next creation's) kills them.
    pub keep_tasks: bool,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// No environment has this id (never created, or already destroyed).
    #[error("there is no environment {0}")]
    UnknownEnvironment(EnvironmentId),
    /// The request names a transition clients cannot request.
    #[error(
        "{0} cannot be requested: only DEPLOY, CONFIGURE, RESET, START_ACTIVITY and STOP_ACTIVITY can"
    )]
    NotRequestable(Transition),
    /// Creation failed; the environment has been cleaned up.
    #[error("cannot create environment {id}: {reason}")]
    CreateFailed {
        /// The id the environment had.
        id: EnvironmentId,
        /// Why.
        reason: String,
    },
    /// A transition failed, and the environment went to ERROR.
    #[error("{transition} failed on environment {id}, which is now {state}: {error}")]
    TransitionFailed {
        /// The environment.
        id: EnvironmentId,
        /// What was requested.
        transition: Transition,
        /// The state machine's error.
        error: TransitionError,
        /// The state after the failure handling.
        state: State,
        /// GO_ERROR's own error, when the GO_ERROR that followed failed too (AliECS then forces
        /// ERROR and its server answers `ABORTED` with this error).
        go_error: Option<TransitionError>,
    },
    /// No task of the environment matches.
    #[error("environment {id} has no {which}")]
    NoSuchTask {
        /// The environment.
        id: EnvironmentId,
        /// What was asked for.
        which: crate::tasks::TaskSelector,
    },
}

/// How the core is set up.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Seeds every id the core makes (environments, tasks, framework id).
    pub seed: u64,
    /// The first run number handed out.
    pub first_run_number: u32,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            first_run_number: 1,
        }
    }
}

#[derive(Debug)]
struct RunNumbers {
    first: u64,
    /// Wider than a run number, so that the last one (`u32::MAX`, reachable with a scenario's
    /// `first_run_number`) can be handed out and the counter still say it is used up.
    next: u64,
    failures_to_inject: u32,
}

struct Inner {
    clock: Clock,
    plugins: PluginRegistry,
    bus: Arc<EventBus>,
    framework_id: String,
    uids: Mutex<UidGenerator>,
    run_numbers: Mutex<RunNumbers>,
    environments: Mutex<BTreeMap<EnvironmentId, Arc<Env>>>,
    detectors_in_use: Mutex<BTreeMap<String, String>>,
    /// The plugins whose `init` failed, and why.
    init_failures: Mutex<Vec<(String, crate::plugin::PluginError)>>,
    /// Tasks released by a destruction that kept them, running outside any environment.
    released: Mutex<Vec<ReleasedTask>>,
    /// How the plugin calls ended.
    calls: Mutex<call_counts::CallTally>,
    /// The scenario faults that struck (plugin calls' and task steps').
    faults_fired: Mutex<call_counts::FiredFaults>,
}

/// The simulated AliECS core.
#[derive(Clone)]
pub struct Core(Arc<Inner>);

/// The core as its plugins' requests reach it: weak, so that a plugin holding its
/// [`CoreRequests`] does not keep the core alive; requests made after the core is gone are
/// ignored.
struct Requests(Weak<Inner>);

#[async_trait::async_trait]
impl RequestTarget for Requests {
    async fn partition_error(&self, environment_id: &str, reason: &str) {
        if let Some(inner) = self.0.upgrade()
            && let Err(error) = Core(inner)
                .partition_error(&EnvironmentId::from(environment_id), reason)
                .await
        {
            tracing::debug!(environment = environment_id, %error, "partition error ignored");
        }
    }

    async fn critical_error(&self, environment_id: &str, reason: &str) {
        if let Some(inner) = self.0.upgrade()
            && let Err(error) = Core(inner)
                .critical_task_error(&EnvironmentId::from(environment_id), reason)
                .await
        {
            tracing::debug!(environment = environment_id, %error, "critical error ignored");
        }
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("framework_id", &self.0.framework_id)
            .field("plugins", &self.0.plugins)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent; a panic elsewhere cannot poison it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Core {
    /// Starts the core as AliECS does: the `aliecs.core` start event, then every plugin's
    /// `init`, concurrently. Plugins publish through `publisher`.
    pub async fn start(
        config: CoreConfig,
        clock: Clock,
        plugins: PluginRegistry,
        publisher: Arc<dyn Publisher>,
    ) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(config.seed);
        let framework_id = format!(
            "{}-0000",
            uuid::Builder::from_random_bytes(rng.random()).into_uuid()
        );
        let bus = Arc::new(EventBus::default());
        bus.set_observers(plugins.observers());
        let core = Core(Arc::new(Inner {
            clock: clock.clone(),
            plugins,
            bus: Arc::clone(&bus),
            framework_id: framework_id.clone(),
            uids: Mutex::new(UidGenerator::new(rng.random())),
            run_numbers: Mutex::new(RunNumbers {
                first: u64::from(config.first_run_number.max(1)),
                next: u64::from(config.first_run_number.max(1)),
                failures_to_inject: 0,
            }),
            environments: Mutex::new(BTreeMap::new()),
            detectors_in_use: Mutex::new(BTreeMap::new()),
            init_failures: Mutex::new(Vec::new()),
            released: Mutex::new(Vec::new()),
            calls: Mutex::new(call_counts::CallTally::default()),
            faults_fired: Mutex::new(call_counts::FiredFaults::default()),
        }));
        core.emit(CorePayload::CoreStart(EvMetaEventCoreStart {
            framework_id: framework_id.clone(),
        }));
        let context = PluginContext {
            instance_id: framework_id,
            publisher,
            events: EventEmitter::new(&bus, clock.clone()),
            clock,
            core: CoreRequests::new(Arc::new(Requests(Arc::downgrade(&core.0)))),
            seed: config.seed,
        };
        let failures = core.0.plugins.init_all(&context).await;
        *lock(&core.0.init_failures) = failures;
        core
    }

    /// Every plugin function called so far, with how its calls ended: plugin, function, counts,
    /// in name order.
    pub fn plugin_calls(&self) -> Vec<(String, String, CallCounts)> {
        lock(&self.0.calls).all()
    }

    /// The scenario faults that struck so far, by the line of their `[[fault]]` (as the
    /// plugins reported them, and the task faults the core played), in order.
    pub fn faults_fired(&self) -> Vec<u32> {
        lock(&self.0.faults_fired).lines()
    }

    /// The plugins whose `init` failed (they stay loaded, as in AliECS), and why.
    pub fn init_failures(&self) -> Vec<(String, crate::plugin::PluginError)> {
        lock(&self.0.init_failures).clone()
    }

    /// Destroys every plugin, in order. Environments still alive are left as they are.
    pub async fn shutdown(&self) {
        self.0.plugins.destroy_all().await;
    }

    /// The integration plugins, in registry order (the control API's `GetIntegratedServices`).
    pub fn plugins(&self) -> &[Arc<dyn IntegrationPlugin>] {
        self.0.plugins.plugins()
    }

    /// The Mesos framework id the core reports (`aliecs.core`, plugin instance id).
    pub fn framework_id(&self) -> &str {
        &self.0.framework_id
    }

    /// The simulation's clock.
    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    /// The state of an environment, or `None` once it is destroyed.
    pub fn state(&self, id: &EnvironmentId) -> Option<State> {
        lock(&self.0.environments).get(id).map(|env| env.state())
    }

    /// What an environment is now, or `None` once it is destroyed.
    pub fn view(&self, id: &EnvironmentId) -> Option<EnvironmentView> {
        let env = lock(&self.0.environments).get(id).cloned();
        env.map(|env| env.view())
    }

    /// What every live environment is now, in id order.
    pub fn views(&self) -> Vec<EnvironmentView> {
        self.environments().iter().map(|env| env.view()).collect()
    }

    /// How many live environments there are and how many tasks the core knows, without
    /// copying them (AliECS's `GetFrameworkInfo` counts).
    pub fn counts(&self) -> (usize, usize) {
        let environments = self.environments();
        let tasks: usize = environments
            .iter()
            .map(|env| env.task_count.load(std::sync::atomic::Ordering::Relaxed))
            .sum();
        (environments.len(), tasks + lock(&self.0.released).len())
    }

    /// The detectors live environments hold, sorted (AliECS's `GetActiveDetectors`).
    pub fn detectors_in_use(&self) -> Vec<String> {
        lock(&self.0.detectors_in_use).keys().cloned().collect()
    }

    /// Every core event from now on, as the core emits it, for a live view (the control API's
    /// `Subscribe`). At most `capacity` events wait for this receiver (each subscriber has a
    /// queue of its own size); past that it misses events and is told how many
    /// (`RecvError::Lagged`), so a stalled client cannot make the core's memory grow, nor hold
    /// back another.
    pub fn subscribe(&self, capacity: usize) -> tokio::sync::broadcast::Receiver<Arc<CoreEvent>> {
        self.0.bus.subscribe(capacity)
    }

    /// The ids of the live environments, in id order.
    pub fn environment_ids(&self) -> Vec<EnvironmentId> {
        lock(&self.0.environments).keys().cloned().collect()
    }

    /// The id of the live environment created under `name`.
    pub fn find_by_name(&self, name: &str) -> Option<EnvironmentId> {
        lock(&self.0.environments)
            .values()
            .find(|env| env.name == name)
            .map(|env| env.id.clone())
    }

    /// An environment's resolved variable, e.g. `run_number`.
    pub fn var(&self, id: &EnvironmentId, key: &str) -> Option<String> {
        lock(&self.0.environments)
            .get(id)
            .and_then(|env| env.data().vars.get(key).map(str::to_owned))
    }

    /// An environment's current run number: `None` outside a run, or when there is no such
    /// environment.
    pub fn run_number(&self, id: &EnvironmentId) -> Option<RunNumber> {
        lock(&self.0.environments)
            .get(id)
            .and_then(|env| env.data().run_number)
    }

    /// How many run numbers the core has handed out (failed allocations count: they consume
    /// their number, as in AliECS).
    pub fn run_numbers_allocated(&self) -> u32 {
        let numbers = lock(&self.0.run_numbers);
        // At most u32::MAX: numbers run from `first` ≥ 1 to u32::MAX.
        u32::try_from(numbers.next - numbers.first).unwrap_or(u32::MAX)
    }

    /// The next `count` run-number allocations fail, as a Consul check-and-set conflict does
    /// (feature `test-hooks`).
    #[cfg(feature = "test-hooks")]
    pub fn inject_run_number_failures(&self, count: u32) {
        lock(&self.0.run_numbers).failures_to_inject += count;
    }

    /// A run number from the core's counter for a client that asks outside a START (AliECS's
    /// configuration service's `NewRunNumber`): consumed as a START consumes it.
    pub fn new_run_number(&self) -> Result<RunNumber, RunNumberError> {
        self.allocate_run_number()
    }

    fn allocate_run_number(&self) -> Result<RunNumber, RunNumberError> {
        let mut numbers = lock(&self.0.run_numbers);
        let number = u32::try_from(numbers.next)
            .ok()
            .and_then(RunNumber::new)
            .ok_or(RunNumberError::UsedUp)?;
        numbers.next += 1;
        if numbers.failures_to_inject > 0 {
            numbers.failures_to_inject -= 1;
            // The number was read and incremented, but the write-back lost the race: consumed.
            return Err(RunNumberError::WriteBackLost);
        }
        Ok(number)
    }

    fn now(&self) -> Timestamp {
        self.0.clock.now()
    }

    fn uids(&self) -> MutexGuard<'_, UidGenerator> {
        lock(&self.0.uids)
    }

    fn plugin(&self, name: &str) -> Option<&Arc<dyn IntegrationPlugin>> {
        self.0.plugins.get(name)
    }

    fn environment(&self, id: &EnvironmentId) -> Result<Arc<Env>, CoreError> {
        lock(&self.0.environments)
            .get(id)
            .cloned()
            .ok_or_else(|| CoreError::UnknownEnvironment(id.clone()))
    }

    fn environments(&self) -> Vec<Arc<Env>> {
        lock(&self.0.environments).values().cloned().collect()
    }

    fn register(&self, env: Arc<Env>) {
        lock(&self.0.environments).insert(env.id.clone(), env);
    }

    fn unregister(&self, env: &Env) {
        lock(&self.0.environments).remove(&env.id);
        let mut in_use = lock(&self.0.detectors_in_use);
        for detector in &env.detectors {
            if in_use
                .get(detector)
                .is_some_and(|holder| env.id == holder.as_str())
            {
                in_use.remove(detector);
            }
        }
    }

    /// Reserves the detectors for `id`, or says which one another environment holds.
    fn claim_detectors(&self, id: &str, detectors: &[String]) -> Result<(), String> {
        let mut in_use = lock(&self.0.detectors_in_use);
        if let Some(taken) = detectors.iter().find(|d| in_use.contains_key(*d)) {
            return Err(format!("detector {taken} is already in use"));
        }
        for detector in detectors {
            in_use.insert(detector.clone(), id.to_owned());
        }
        Ok(())
    }

    fn emit(&self, payload: CorePayload) {
        self.emit_at(self.now(), payload);
    }

    fn emit_at(&self, timestamp: Timestamp, payload: CorePayload) {
        self.0.bus.emit(&CoreEvent { timestamp, payload });
    }

    fn emit_env(&self, event: EnvEvent<'_>) {
        let EnvEvent { event, home } = event;
        let event = CoreEvent {
            timestamp: self.now(),
            payload: CorePayload::Environment(event),
        };
        self.0.bus.emit(&event);
        if let CorePayload::Environment(event) = event.payload {
            home.recycle(event);
        }
    }

    fn emit_task_changes(&self, changes: Changes) {
        // In virtual time, one moment for the whole batch: nothing awaits between its events,
        // so the clock cannot move, and reading it (tokio's paused clock takes a lock) once
        // instead of per event is the same stream for less. In real time each event reads the
        // wall clock, as AliECS stamps each write.
        let batch = self.0.clock.is_virtual().then(|| self.now());
        for change in changes.0 {
            let payload = match change {
                Change::Task(task) => CorePayload::Task(task),
                Change::Role(role) => CorePayload::Role(role),
            };
            self.emit_at(batch.unwrap_or_else(|| self.now()), payload);
        }
    }
}
