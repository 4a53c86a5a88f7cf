//! Fixtures for ecsim's end-to-end tests: a simulator assembled as `ecsim run` assembles it —
//! the control core, the Kafka plugin, the core producer — publishing into memory, the
//! scenarios the tests share, and real brokers ([`brokers`]).

#![forbid(unsafe_code)]

pub mod bench;
pub mod brokers;

use std::{collections::BTreeMap, sync::Arc};

use ecsim_core::{
    Core, CoreConfig, DestroyOptions, EnvironmentId, EnvironmentSpec,
    clock::{Clock, Timestamp},
    fsm::Transition,
    plugin::{CallContext, CallOutcome, IntegrationPlugin, async_trait},
    publish::{MemoryPublisher, Record},
    readout_dataflow, user,
};
use ecsim_replay::assembly::{Plugins, Setup};
use ecsim_scenario::KafkaKeys;

/// Where virtual time starts in these tests: 2025-06-15 12:00:00 UTC.
pub const EPOCH: Timestamp = Timestamp::from_unix_millis(1_749_988_800_000);

/// An in-process stand-in for DCS, for tests of the core's failure handling that should not
/// depend on the mock-services library: every function succeeds but `StartOfRun`, which fails
/// the way AliECS's DCS plugin reports an incompatible detector. (The mock DCS itself is
/// tested in `tests/mock_services.rs`.)
#[derive(Debug, Default)]
pub struct RefusingDcs;

#[async_trait]
impl IntegrationPlugin for RefusingDcs {
    fn name(&self) -> &str {
        "dcs"
    }
    fn pretty_name(&self) -> &str {
        "DCS stand-in that refuses start of run"
    }
    fn functions(&self) -> Vec<String> {
        ["PrepareForRun", "StartOfRun", "EndOfRun", "Cleanup"]
            .map(str::to_owned)
            .to_vec()
    }
    async fn call(&self, call: CallContext) -> CallOutcome {
        match call.function.as_str() {
            "StartOfRun" => CallOutcome::failed(
                "DCS SOR call failed",
                Some("detector TPC is not SOR_AVAILABLE".to_owned()),
            ),
            _ => CallOutcome::ok(""),
        }
    }
}

/// A running simulator and what it published.
#[derive(Debug)]
pub struct Simulator {
    /// The core.
    pub core: Core,
    /// Everything published so far.
    pub published: Arc<MemoryPublisher>,
}

impl Simulator {
    /// Starts a simulator in virtual time (call it on a runtime whose clock is paused), with
    /// the Kafka plugin, the core producer and `extra` plugins.
    pub async fn start(seed: u64, extra: Vec<Arc<dyn IntegrationPlugin>>) -> Self {
        let published = Arc::new(MemoryPublisher::new());
        // As a scenario would load them: the Kafka plugin, `extra`, the core producer.
        let mut names = vec![ecsim_plugin_kafka::NAME.to_owned()];
        names.extend(extra.iter().map(|plugin| plugin.name().to_owned()));
        let setup = Setup {
            kafka_keys: KafkaKeys::EnvironmentId,
            integration_plugins: Some(names),
            enable_kafka: true,
        };
        let plugins = Plugins::assemble(&setup, extra)
            .expect("the plugins named are the ones given")
            .registry(published.clone());
        let config = CoreConfig {
            seed,
            first_run_number: 1,
        };
        let core = Core::start(
            config,
            Clock::virtual_time(EPOCH),
            plugins,
            published.clone(),
        )
        .await;
        Self { core, published }
    }

    /// Every record published so far.
    pub fn records(&self) -> Vec<Record> {
        self.published.records()
    }
}

/// A small environment of the standard workflow: one FLP with one task, Kafka plugin on.
pub fn environment(name: &str, detectors: &[&str], vars: &[(&str, &str)]) -> EnvironmentSpec {
    let mut spec = EnvironmentSpec::new(name, Arc::new(readout_dataflow::workflow()), detectors)
        .var("kafka_enabled", "true");
    for (key, value) in vars {
        spec = spec.var(*key, *value);
    }
    spec.hosts = vec![format!("flp-{}", name)];
    spec.tasks_per_host = 1;
    spec
}

/// The shifter who runs the scenarios.
pub fn shifter() -> ecsim_proto::common::User {
    ecsim_proto::common::User {
        external_id: Some(12345),
        id: Some(42),
        name: "Jane Shifter".into(),
    }
}

/// Create → START → STOP → DESTROY of one physics environment (reference §2.6).
pub async fn physics_run(sim: &Simulator) -> EnvironmentId {
    let id = sim
        .core
        .create_environment(environment("physics", &["TPC", "ITS"], &[]))
        .await
        .expect("created");
    sim.core
        .control(&id, Transition::StartActivity, shifter())
        .await
        .expect("started");
    sim.core
        .clock()
        .sleep(std::time::Duration::from_secs(600))
        .await;
    sim.core
        .control(&id, Transition::StopActivity, shifter())
        .await
        .expect("stopped");
    sim.core
        .destroy(&id, DestroyOptions::default(), shifter())
        .await
        .expect("destroyed");
    id
}

/// An environment created, started and destroyed while RUNNING (a `ZDC` environment, "forced").
pub async fn destroy_while_running(sim: &Simulator) -> EnvironmentId {
    let id = sim
        .core
        .create_environment(environment("forced", &["ZDC"], &[]))
        .await
        .expect("created");
    sim.core
        .control(&id, Transition::StartActivity, shifter())
        .await
        .expect("started");
    sim.core
        .destroy(&id, DestroyOptions::default(), shifter())
        .await
        .expect("destroyed while running");
    id
}

/// Two environments running at once, then stopped and destroyed one after the other.
pub async fn two_environments(sim: &Simulator) -> (EnvironmentId, EnvironmentId) {
    let tpc = sim
        .core
        .create_environment(environment("central", &["TPC", "ITS"], &[]))
        .await
        .expect("created");
    let muon = sim
        .core
        .create_environment(environment("muon", &["MID", "MCH", "MFT"], &[]))
        .await
        .expect("created");
    sim.core
        .control(&muon, Transition::StartActivity, shifter())
        .await
        .expect("started");
    sim.core
        .control(&tpc, Transition::StartActivity, shifter())
        .await
        .expect("started");
    sim.core
        .clock()
        .sleep(std::time::Duration::from_secs(60))
        .await;
    for id in [&muon, &tpc] {
        sim.core
            .control(id, Transition::StopActivity, shifter())
            .await
            .expect("stopped");
        sim.core
            .destroy(id, DestroyOptions::default(), user::person("cleanup"))
            .await
            .expect("destroyed");
    }
    (tpc, muon)
}

/// Records grouped by topic (topics in name order, records in publishing order), one JSON line
/// each: the form of the golden files.
pub fn by_topic(records: &[Record]) -> String {
    let mut topics: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for record in records {
        topics
            .entry(&*record.topic)
            .or_default()
            .push(record.to_json_line());
    }
    let mut out = String::new();
    for (topic, lines) in topics {
        out.push_str(&format!("== {topic} ({})\n", lines.len()));
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// [`ecsim_replay::plugins::load`], after building the libraries that ship with ecsim when
/// they are missing (a plain `cargo test` does not build `cdylib`s; `cargo xtask test` does).
pub fn load_plugins(
    scenario: &ecsim_scenario::Scenario,
) -> Result<Vec<Arc<ecsim_plugin_host::DylibPlugin>>, ecsim_replay::plugins::PluginSetupError> {
    for (_, package) in ecsim_plugin_host::locate::BUNDLED {
        if let Err(error) = ecsim_plugin_host::testing::ensure_built(package) {
            panic!("{error}");
        }
    }
    ecsim_replay::plugins::load(scenario, &[])
}
