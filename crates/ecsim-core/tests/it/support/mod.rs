//! Test plugins for the core's integration tests: a recorder of core events and a probe whose
//! functions succeed, fail, take time or panic, and log when they run.

#![allow(dead_code, unreachable_pub)] // each test target uses a different part

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use async_trait::async_trait;
use ecsim_core::{
    Core, CoreConfig, EnvironmentSpec, Timing,
    clock::{Clock, Timestamp},
    event::{CoreEvent, CoreObserver, CorePayload},
    plugin::{CallContext, CallOutcome, IntegrationPlugin, PluginContext, PluginError},
    publish::MemoryPublisher,
    registry::PluginRegistry,
    workflow::{CallSpec, Workflow},
};
use ecsim_proto::events::EvEnvironmentEvent;

pub const EPOCH: Timestamp = Timestamp::from_unix_millis(1_749_988_800_000);

/// Keeps every core event it observes.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Mutex<Vec<CoreEvent>>,
}

#[async_trait]
impl IntegrationPlugin for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn pretty_name(&self) -> &str {
        "records core events"
    }
}

impl CoreObserver for Recorder {
    fn observe(&self, event: &CoreEvent) {
        self.events.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    pub fn take(&self) -> Vec<CoreEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }

    /// The environment events so far, as (transition, step, state, status, message).
    pub fn environment_steps(&self) -> Vec<(String, String, String, String, String)> {
        self.environment_events()
            .into_iter()
            .map(|e| {
                let status = e.transition_status().as_str_name().to_owned();
                (e.transition, e.transition_step, e.state, status, e.message)
            })
            .collect()
    }

    pub fn environment_events(&self) -> Vec<EvEnvironmentEvent> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match &e.payload {
                CorePayload::Environment(env) => Some(env.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn run_events(&self) -> Vec<ecsim_proto::events::EvRunEvent> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match &e.payload {
                CorePayload::Run(run) => Some(run.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn call_events(&self) -> Vec<ecsim_proto::events::EvCallEvent> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match &e.payload {
                CorePayload::Call(call) => Some(call.clone()),
                _ => None,
            })
            .collect()
    }
}

/// What a probe function does.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Succeed,
    Fail(&'static str),
    Take(Duration),
    Panic,
    /// Returns the value of a variable of the call's var stack as output.
    EchoVar(&'static str),
}

/// A plugin called `probe` whose functions behave as configured and log `<role> start|end @ms`.
#[derive(Debug, Default)]
pub struct Probe {
    pub behaviours: BTreeMap<String, Behaviour>,
    pub log: Mutex<Vec<String>>,
    clock: OnceLock<Clock>,
}

impl Probe {
    pub fn new(behaviours: &[(&str, Behaviour)]) -> Self {
        Self {
            behaviours: behaviours
                .iter()
                .map(|(f, b)| ((*f).to_owned(), b.clone()))
                .collect(),
            ..Default::default()
        }
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn at(&self) -> i64 {
        self.clock
            .get()
            .map_or(0, |c| c.now().unix_millis() - EPOCH.unix_millis())
    }
}

#[async_trait]
impl IntegrationPlugin for Probe {
    fn name(&self) -> &str {
        "probe"
    }
    fn pretty_name(&self) -> &str {
        "test probe"
    }
    async fn init(&self, context: PluginContext) -> Result<(), PluginError> {
        let _ = self.clock.set(context.clock);
        Ok(())
    }
    fn functions(&self) -> Vec<String> {
        self.behaviours.keys().cloned().collect()
    }
    async fn call(&self, call: CallContext) -> CallOutcome {
        let role = call
            .role_path
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        self.log
            .lock()
            .unwrap()
            .push(format!("{role} start @{}", self.at()));
        let outcome = match self.behaviours.get(&call.function) {
            Some(Behaviour::Succeed) | None => CallOutcome::ok("done"),
            Some(Behaviour::Fail(message)) => {
                CallOutcome::failed(*message, Some("probe says no".into()))
            }
            Some(Behaviour::Take(duration)) => {
                if let Some(clock) = self.clock.get() {
                    clock.sleep(*duration).await;
                }
                CallOutcome::ok("slow")
            }
            Some(Behaviour::Panic) => panic!("probe panicked on purpose"),
            Some(Behaviour::EchoVar(key)) => CallOutcome::ok(call.var(key).unwrap_or_default()),
        };
        self.log
            .lock()
            .unwrap()
            .push(format!("{role} end @{}", self.at()));
        outcome
    }
}

/// A workflow of probe calls and no tasks.
pub fn workflow(calls: Vec<CallSpec>) -> Arc<Workflow> {
    Arc::new(Workflow {
        name: "wf".into(),
        description: "test workflow".into(),
        path: "tests/wf".into(),
        public: false,
        defaults: Default::default(),
        calls,
        task_classes: Vec::new(),
        role_defaults: Default::default(),
        hook_tasks: Vec::new(),
    })
}

/// A core with the recorder and the probe, in virtual time.
pub async fn core(probe: Arc<Probe>, seed: u64) -> (Core, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let mut plugins = PluginRegistry::new();
    plugins.register(probe).register_observing(recorder.clone());
    let core = Core::start(
        CoreConfig {
            seed,
            first_run_number: 1,
        },
        Clock::virtual_time(EPOCH),
        plugins,
        Arc::new(MemoryPublisher::new()),
    )
    .await;
    (core, recorder)
}

/// An environment of `workflow` on one detector, with tasks steps of 5s each.
pub fn spec(workflow: Arc<Workflow>, detector: &str) -> EnvironmentSpec {
    let mut spec = EnvironmentSpec::new("test", workflow, &[detector]);
    spec.tasks_per_host = 1;
    spec.timing = Timing {
        deploy: Duration::from_secs(5),
        configure: Duration::from_secs(5),
        ..Timing::default()
    };
    spec
}
