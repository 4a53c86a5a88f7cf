//! The replay driver: a scenario's timeline played on a simulated AliECS.
//!
//! The driver assembles the simulator as AliECS is set up — the core with its integration
//! plugins (the Kafka plugin, AliECS's lhc, bookkeeping and ccdb plugins, and those of the
//! scenario's libraries, as many as `integration_plugins` lists) and the core event producer
//! (unless `enable_kafka` is off) — and plays the schedule on the scenario's clock. Each environment's
//! steps run in order on a task of their own, each no earlier than its time and not before the
//! previous step of the same environment has finished (a shifter waits for CONFIGURED before
//! pressing START); environments proceed concurrently. Scenario-wide steps (beam mode changes)
//! run on a task of their own. The replay ends when every step is done; environments still
//! alive are left, or destroyed when the scenario says `at_end = "destroy"`.
//!
//! A request that fails is what AliECS would have done (the environment usually goes to
//! ERROR); it is counted in the report, not treated as a failure of the replay.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use ecsim_core::{
    Core, CoreConfig, CoreError, DestroyOptions, EnvironmentId,
    clock::Clock,
    plugin::IntegrationPlugin,
    publish::{Publisher, Tally},
};
use ecsim_plugin_run_conditions::LhcState;

mod lhc_input;
mod setup;
mod stop;
mod unfired;

pub use crate::{
    error::ReplayError,
    progress::{Listeners, Progress, Silent},
};
pub use lhc_input::LhcInput;
pub use setup::{preflight, runtime};
pub use stop::Stop;

use ecsim_scenario::model::{Action, AtEnd, Scenario, ScheduledStep, Speed};

use crate::{
    assembly::{Plugins, Setup},
    lhc::LhcClient,
    report::{
        Environments, LeftEnvironment, Messages, PluginCalls, Report, RequestFailure, Requests,
        Stopped,
    },
};

/// Replays `scenario` on a runtime of its own, publishing through `publisher`.
pub fn run_blocking(
    scenario: &Scenario,
    publisher: Arc<dyn Publisher>,
    extra_plugins: Vec<Arc<dyn IntegrationPlugin>>,
    progress: Arc<dyn Progress>,
) -> Result<Report, ReplayError> {
    run_blocking_until(scenario, publisher, extra_plugins, progress, &Stop::new())
}

/// [`run_blocking`], ending early when `stop` is asked for: the steps under way are dropped,
/// no further step is played, the scenario's `at_end` is not applied, and the report says why
/// ([`Report::stopped`]). A step that panics asks for the stop itself.
pub fn run_blocking_until(
    scenario: &Scenario,
    publisher: Arc<dyn Publisher>,
    extra_plugins: Vec<Arc<dyn IntegrationPlugin>>,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Report, ReplayError> {
    run_blocking_with(scenario, publisher, extra_plugins, progress, stop, |_| ())
        .map(|(report, ())| report)
}

/// [`run_blocking_until`], with `started` called on the runtime once the core has started and
/// before the timeline plays (to feed it from outside, say); what it returns comes back with
/// the report, after the timeline.
pub fn run_blocking_with<T>(
    scenario: &Scenario,
    publisher: Arc<dyn Publisher>,
    extra_plugins: Vec<Arc<dyn IntegrationPlugin>>,
    progress: Arc<dyn Progress>,
    stop: &Stop,
    started: impl FnOnce(&Simulation) -> T,
) -> Result<(Report, T), ReplayError> {
    let runtime = runtime(scenario.speed).map_err(ReplayError::Runtime)?;
    runtime.block_on(async {
        let simulation = Simulation::start(scenario, publisher, extra_plugins, progress).await?;
        let extra = started(&simulation);
        simulation.play_until(stop.clone()).await;
        Ok((simulation.finish().await, extra))
    })
}

#[derive(Default)]
struct Outcomes {
    total: u64,
    failed: u64,
    failures: Vec<RequestFailure>,
    created: u64,
    failed_to_create: u64,
    destroyed: u64,
    /// Every id each environment had.
    ids: BTreeMap<String, Vec<String>>,
    /// Why the timeline was not played to its end.
    stopped: Option<Stopped>,
}

/// The state of one replay, shared by its tasks.
struct Replay {
    /// The scenario's environment definitions, by name.
    specs: BTreeMap<String, ecsim_core::EnvironmentSpec>,
    core: Core,
    publisher: Arc<dyn Publisher>,
    /// Environment name → AliECS id, while alive.
    ids: Mutex<BTreeMap<String, EnvironmentId>>,
    outcomes: Mutex<Outcomes>,
    progress: Arc<dyn Progress>,
    total_steps: u64,
    lhc: Mutex<LhcClient>,
    /// What AliECS's `lhc` plugin knows of the beam.
    lhc_state: LhcState,
    /// Whether the `lhc` plugin is loaded: without it, AliECS stops no run on a beam dump.
    lhc_loaded: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn action_name(action: &Action) -> String {
    match action {
        Action::Create => "create".into(),
        Action::Transition(t) => t.as_str().to_owned(),
        Action::Destroy(_) => "destroy".into(),
        Action::GoError(_) => "go_error".into(),
        Action::EndOfStream { .. } => "end_of_stream".into(),
        Action::TaskInternalError(_) => "task_internal_error".into(),
        Action::BeamMode(change) => format!("beam_mode {}", change.mode.as_str_name()),
        Action::Wait => "wait".into(),
    }
}

impl Replay {
    fn simulated(&self, epoch: ecsim_core::clock::Timestamp) -> Duration {
        let nanos = self.core.clock().now().unix_nanos() - epoch.unix_nanos();
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }

    fn record(
        &self,
        step: &ScheduledStep,
        result: Result<(), String>,
        epoch: ecsim_core::clock::Timestamp,
    ) {
        let done = {
            let mut outcomes = lock(&self.outcomes);
            outcomes.total += 1;
            if let Err(error) = result {
                outcomes.failed += 1;
                tracing::info!(line = step.line, environment = ?step.environment, %error, "request failed");
                if outcomes.failures.len() < Requests::MAX_LISTED {
                    outcomes.failures.push(RequestFailure {
                        at_ms: u64::try_from(self.simulated(epoch).as_millis()).unwrap_or(u64::MAX),
                        line: step.line,
                        environment: step.environment.clone().unwrap_or_default(),
                        action: action_name(&step.action),
                        error,
                    });
                }
            }
            outcomes.total
        };
        self.progress
            .advanced(done, self.total_steps, self.simulated(epoch));
    }

    async fn execute(&self, step: &ScheduledStep) -> Result<(), String> {
        let Some(name) = &step.environment else {
            if let Action::BeamMode(change) = &step.action {
                let now = self.core.clock().now();
                let info = lock(&self.lhc).publish(change, now, self.publisher.as_ref());
                self.lhc_state.update(info);
                let stopped = if self.lhc_loaded {
                    self.core.beam_mode_changed(change.mode).await
                } else {
                    Vec::new()
                };
                tracing::info!(
                    mode = change.mode.as_str_name(),
                    stopped = stopped.len(),
                    "beam mode changed"
                );
            }
            return Ok(());
        };
        if step.action == Action::Create {
            let mut spec = self
                .specs
                .get(name)
                .cloned()
                .ok_or_else(|| format!("no environment {name} in the scenario"))?;
            spec.user = step.user.clone();
            // The id first, as `Core::create_environment` makes it: the listeners learn which
            // scenario environment it is before its first message.
            let id = self.core.new_environment_id();
            self.progress.environment_named(name, id.as_str());
            let created = self
                .core
                .create_environment_as(id, spec, ecsim_core::Creation::Asynchronous)
                .await;
            return match created {
                Ok(id) => {
                    lock(&self.ids).insert(name.clone(), id.clone());
                    let mut outcomes = lock(&self.outcomes);
                    outcomes.created += 1;
                    outcomes
                        .ids
                        .entry(name.clone())
                        .or_default()
                        .push(id.into());
                    Ok(())
                }
                Err(error) => {
                    let mut outcomes = lock(&self.outcomes);
                    outcomes.failed_to_create += 1;
                    // The id it had: what it published (CREATE, DEPLOY, the teardown) is its.
                    if let CoreError::CreateFailed { id, .. } = &error {
                        outcomes
                            .ids
                            .entry(name.clone())
                            .or_default()
                            .push(id.to_string());
                    }
                    Err(error.to_string())
                }
            };
        }
        let id = lock(&self.ids).get(name).cloned().ok_or_else(|| {
            format!("environment {name} does not exist (its creation failed, or it was destroyed)")
        })?;
        let result: Result<(), CoreError> = match &step.action {
            Action::Transition(transition) => self
                .core
                .control(&id, *transition, step.user.clone())
                .await
                .map(|_| ()),
            Action::Destroy(options) => self.core.destroy(&id, *options, step.user.clone()).await,
            Action::GoError(which) => self.core.task_error(&id, which).await.map(|_| ()),
            Action::EndOfStream { reason } => {
                self.core.stop_from_core(&id, reason).await.map(|_| ())
            }
            Action::TaskInternalError(which) => {
                self.core.task_internal_error(&id, which).await.map(|_| ())
            }
            Action::Create | Action::BeamMode(_) | Action::Wait => Ok(()),
        };
        if matches!(step.action, Action::Destroy(_)) && result.is_ok() {
            lock(&self.ids).remove(name);
            lock(&self.outcomes).destroyed += 1;
        }
        if self.core.state(&id).is_none() {
            // Destroyed along the way (a failed creation path, a forced teardown).
            lock(&self.ids).remove(name);
        }
        result.map_err(|error| error.to_string())
    }
}

/// A task's panic, in words.
fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(panic) => ecsim_core::panics::message(panic.as_ref()),
        Err(error) => error.to_string(),
    }
}

/// Replays `scenario` on the current runtime (see [`runtime`]), publishing through `publisher`.
/// `extra_plugins` (the scenario's plugin libraries, test plugins) are registered after the
/// Kafka plugin and before the core producer. If a plugin fails to start, nothing is replayed.
pub async fn run(
    scenario: &Scenario,
    publisher: Arc<dyn Publisher>,
    extra_plugins: Vec<Arc<dyn IntegrationPlugin>>,
    progress: Arc<dyn Progress>,
) -> Result<Report, ReplayError> {
    run_until(scenario, publisher, extra_plugins, progress, &Stop::new()).await
}

/// [`run`], ending early when `stop` is asked for (see [`run_blocking_until`]).
pub async fn run_until(
    scenario: &Scenario,
    publisher: Arc<dyn Publisher>,
    extra_plugins: Vec<Arc<dyn IntegrationPlugin>>,
    progress: Arc<dyn Progress>,
    stop: &Stop,
) -> Result<Report, ReplayError> {
    let simulation = Simulation::start(scenario, publisher, extra_plugins, progress).await?;
    simulation.play_until(stop.clone()).await;
    Ok(simulation.finish().await)
}

/// A started simulation: the core with the scenario's plugins, and its timeline, played or not.
/// [`run`] is `start`, `play`, `finish`; a server (`ecsim serve`) starts one, plays its timeline
/// in the background and drives the same core through its control API.
pub struct Simulation {
    scenario: Scenario,
    started: Instant,
    tally: Arc<Tally>,
    core: Core,
    replay: Arc<Replay>,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("scenario", &self.scenario.name)
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

impl Simulation {
    /// Starts the core as `scenario` sets it up (clock, seed, run numbers, plugins), publishing
    /// through `publisher`. `epoch = "now"` is resolved here. If a plugin fails to start, the
    /// core is shut down again and the error says which.
    pub async fn start(
        scenario: &Scenario,
        publisher: Arc<dyn Publisher>,
        extra_plugins: Vec<Arc<dyn IntegrationPlugin>>,
        progress: Arc<dyn Progress>,
    ) -> Result<Self, ReplayError> {
        let started = Instant::now();
        let mut scenario = scenario.clone();
        if scenario.epoch_now {
            // Now, not when the file was read: connecting to a broker and loading plugins came
            // between, and real-time timestamps should be the wall clock's.
            scenario.epoch = ecsim_core::clock::Timestamp::system_now();
        }
        let tally = Arc::new(Tally::new(publisher));
        let clock = match scenario.speed {
            Speed::Virtual => Clock::virtual_time(scenario.epoch),
            Speed::Factor(factor) => Clock::scaled(scenario.epoch, factor),
        };
        let plugins = Plugins::assemble(&Setup::of(&scenario), extra_plugins)?;
        let lhc_state = plugins.lhc().clone();
        let lhc_loaded = plugins.has("lhc");
        if !scenario.enable_kafka {
            tracing::warn!(
                "enable_kafka = false: as AliECS, ecsim publishes nothing (no core event; the Kafka plugin does not start)"
            );
        }
        let plugins = plugins.registry(tally.clone());
        let config = CoreConfig {
            seed: scenario.seed,
            first_run_number: scenario.first_run_number,
        };
        let core = Core::start(config, clock, plugins, tally.clone()).await;
        if let Some((plugin, error)) = core.init_failures().into_iter().next() {
            core.shutdown().await;
            return Err(ReplayError::PluginStart {
                plugin,
                reason: error.to_string(),
            });
        }

        let replay = Arc::new(Replay {
            specs: scenario
                .environments
                .iter()
                .map(|spec| {
                    let mut spec = spec.clone();
                    spec.task_faults = scenario.task_faults_of(&spec.name);
                    (spec.name.clone(), spec)
                })
                .collect(),
            core: core.clone(),
            publisher: tally.clone(),
            ids: Mutex::new(BTreeMap::new()),
            outcomes: Mutex::new(Outcomes::default()),
            progress,
            total_steps: scenario.schedule.len() as u64,
            lhc: Mutex::new(LhcClient::default()),
            lhc_state,
            lhc_loaded,
        });
        Ok(Self {
            scenario,
            started,
            tally,
            core,
            replay,
        })
    }

    /// The simulated core: what the timeline drives, and what a server may drive beside it.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Where beam mode changes that do not come from the timeline enter: ALICE's DIP
    /// client's, read from the broker.
    pub fn lhc_input(&self) -> LhcInput {
        LhcInput(Arc::clone(&self.replay))
    }

    /// The scenario, with `epoch = "now"` resolved.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// What has been published so far, per topic.
    pub fn published(&self) -> BTreeMap<String, u64> {
        self.tally.counts()
    }

    /// Plays the timeline: each environment's steps on a task of their own, in order, each no
    /// earlier than its time. Returns when every step is done. The future owns what it needs,
    /// so it can be spawned.
    pub fn play(&self) -> impl Future<Output = ()> + Send + 'static {
        self.play_until(Stop::new())
    }

    /// [`Simulation::play`], until `stop` is asked for; a step that panics asks for it. The
    /// reason goes into the report [`Simulation::finish`] makes.
    pub fn play_until(&self, stop: Stop) -> impl Future<Output = ()> + Send + 'static {
        let replay = Arc::clone(&self.replay);
        let schedule = self.scenario.schedule.clone();
        let epoch = self.scenario.epoch;
        async move {
            // One queue per environment (in order of first appearance), one for scenario-wide
            // steps.
            let mut queues: Vec<VecDeque<ScheduledStep>> = Vec::new();
            let mut queue_of: BTreeMap<Option<String>, usize> = BTreeMap::new();
            for step in schedule {
                let index = *queue_of.entry(step.environment.clone()).or_insert_with(|| {
                    queues.push(VecDeque::new());
                    queues.len() - 1
                });
                queues[index].push_back(step);
            }
            let mut tasks = tokio::task::JoinSet::new();
            for queue in queues {
                let replay = Arc::clone(&replay);
                tasks.spawn(async move {
                    for step in queue {
                        let due = step.at.saturating_sub(replay.simulated(epoch));
                        replay.core.clock().sleep(due).await;
                        let result = replay.execute(&step).await;
                        replay.record(&step, result, epoch);
                    }
                });
            }
            let stopped = loop {
                tokio::select! {
                    biased;
                    why = stop.wait() => break Some(why),
                    joined = tasks.join_next() => match joined {
                        None => break None,
                        Some(Ok(())) => {}
                        Some(Err(error)) => {
                            let message = panic_message(error);
                            tracing::error!(%message, "a replay step panicked");
                            stop.request(Stopped::Panicked { message });
                        }
                    },
                }
            };
            if let Some(why) = stopped {
                // Steps under way are dropped where they wait; the core is left as they left it.
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                tracing::info!(%why, "the replay stops early");
                lock(&replay.outcomes).stopped = Some(why);
            }
        }
    }

    /// Ends the simulation: the environments still alive destroyed if the scenario says
    /// `at_end = "destroy"`, the plugins shut down, and the report of what happened.
    pub async fn finish(self) -> Report {
        let Self {
            scenario,
            started,
            tally,
            core,
            replay,
        } = self;
        let epoch = scenario.epoch;
        let stopped = lock(&replay.outcomes).stopped.is_some();
        // Stopped early, the user wants it over: what is alive is listed, not torn down.
        if scenario.at_end == AtEnd::Destroy && !stopped {
            let alive: Vec<(String, EnvironmentId)> =
                lock(&replay.ids).clone().into_iter().collect();
            for (name, id) in alive {
                let options = DestroyOptions {
                    force: false,
                    allow_in_running_state: true,
                    keep_tasks: false,
                };
                if core
                    .destroy(&id, options, scenario.user.clone())
                    .await
                    .is_ok()
                {
                    lock(&replay.ids).remove(&name);
                    lock(&replay.outcomes).destroyed += 1;
                }
            }
        }
        let simulated = replay.simulated(epoch);
        core.shutdown().await;

        let outcomes = std::mem::take(&mut *lock(&replay.outcomes));
        let left = lock(&replay.ids)
            .iter()
            .filter_map(|(name, id)| {
                core.state(id).map(|state| LeftEnvironment {
                    name: name.clone(),
                    id: id.to_string(),
                    state: state.as_str().to_owned(),
                })
            })
            .collect();
        let by_topic = tally.counts();
        let calls = core.plugin_calls();
        Report {
            scenario: scenario.name.clone(),
            seed: scenario.seed,
            speed: match scenario.speed {
                Speed::Virtual => "virtual".to_owned(),
                Speed::Factor(factor) => format!("{factor}x"),
            },
            simulated_ms: u64::try_from(simulated.as_millis()).unwrap_or(u64::MAX),
            wall_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            environments: Environments {
                created: outcomes.created,
                failed_to_create: outcomes.failed_to_create,
                destroyed: outcomes.destroyed,
                left,
            },
            runs: core.run_numbers_allocated(),
            requests: Requests {
                total: outcomes.total,
                failed: outcomes.failed,
                failures: outcomes.failures,
            },
            faults_not_fired: if outcomes.stopped.is_some() {
                // A timeline not played to its end says nothing of the faults it did not reach.
                Vec::new()
            } else {
                unfired::unfired(
                    &scenario.faults,
                    &core.faults_fired(),
                    &calls,
                    &scenario.environments,
                )
            },
            plugin_calls: calls.into_iter().map(PluginCalls::from).collect(),
            messages: Messages {
                total: by_topic.values().sum(),
                by_topic,
            },
            environment_ids: outcomes.ids,
            stopped: outcomes.stopped,
        }
    }
}
