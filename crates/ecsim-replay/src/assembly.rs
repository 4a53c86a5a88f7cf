//! The simulator as AliECS is set up: which plugins are loaded, in which order, and the topics
//! they write. The one place that decides it, for replays and for tests.
//!
//! AliECS loads the plugins its `integrationPlugins` setting lists, in that order (reference
//! §5); ecsim offers the Kafka plugin, AliECS's lhc, bookkeeping and ccdb plugins, and those of
//! the scenario's libraries, and loads as many as the scenario's `integration_plugins` lets
//! through (all when it says nothing). With `enable_kafka = false` AliECS publishes nothing: the
//! Kafka plugin does not start and the core's event writer is off. The core producer (ecsim's
//! stand-in for that writer) comes last, observing every core event.
//!
//! Each plugin says which topics it may write ([`IntegrationPlugin::topics`]); the publisher
//! creates them before the first message, so a consumer that subscribed early sees it.

use std::sync::Arc;

use ecsim_core::{plugin::IntegrationPlugin, publish::Publisher, registry::PluginRegistry};
use ecsim_plugin_core_producer::CoreProducer;
use ecsim_plugin_kafka::{KafkaPlugin, KeyPolicy};
use ecsim_plugin_run_conditions::LhcState;

use ecsim_scenario::model::{Action, KafkaKeys, Scenario};

use crate::error::ReplayError;

/// How AliECS is configured, as far as its plugins go: a scenario's `[scenario]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// How the Kafka plugin keys its messages.
    pub kafka_keys: KafkaKeys,
    /// AliECS's `integrationPlugins`: the plugins to load, in this order; all when `None`.
    pub integration_plugins: Option<Vec<String>>,
    /// AliECS's `enableKafka`.
    pub enable_kafka: bool,
}

impl Setup {
    /// The setup `scenario` asks for.
    pub fn of(scenario: &Scenario) -> Self {
        Self {
            kafka_keys: scenario.kafka_keys,
            integration_plugins: scenario.integration_plugins.clone(),
            enable_kafka: scenario.enable_kafka,
        }
    }
}

/// The plugins a simulator loads, in order, before they are registered with a core.
pub struct Plugins {
    integration: Vec<Arc<dyn IntegrationPlugin>>,
    /// The LHC the lhc and bookkeeping plugins read, which the replay updates.
    lhc: LhcState,
    /// Whether the core's events are published (the core producer is loaded).
    core_events: bool,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins")
            .field(
                "integration",
                &self
                    .integration
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .field("core_events", &self.core_events)
            .finish()
    }
}

impl Plugins {
    /// The plugins `setup` loads, `extra` (plugin libraries, test plugins) after the built-in
    /// ones. Fails when `setup` names a plugin nobody offers.
    pub fn assemble(
        setup: &Setup,
        extra: Vec<Arc<dyn IntegrationPlugin>>,
    ) -> Result<Self, ReplayError> {
        let lhc = LhcState::default();
        let keys = match setup.kafka_keys {
            KafkaKeys::EnvironmentId => KeyPolicy::EnvironmentId,
            KafkaKeys::None => KeyPolicy::Unkeyed,
        };
        let mut available: Vec<Arc<dyn IntegrationPlugin>> = vec![Arc::new(KafkaPlugin::new(keys))];
        available.extend(ecsim_plugin_run_conditions::plugins(&lhc));
        available.extend(extra);
        if let Some(names) = &setup.integration_plugins
            && let Some(missing) = names
                .iter()
                .find(|name| !available.iter().any(|p| p.name() == name.as_str()))
        {
            let mut offered: Vec<&str> = Vec::new();
            for name in available.iter().map(|p| p.name()) {
                if !offered.contains(&name) {
                    offered.push(name);
                }
            }
            return Err(ReplayError::UnknownIntegrationPlugin {
                name: missing.clone(),
                available: offered.join(", "),
            });
        }
        let listed = |name: &str| {
            setup
                .integration_plugins
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == name))
        };
        // With enableKafka off, AliECS's Kafka plugin fails to start and publishes nothing.
        let integration = available
            .into_iter()
            .filter(|plugin| {
                listed(plugin.name())
                    && (setup.enable_kafka || plugin.name() != ecsim_plugin_kafka::NAME)
            })
            .collect();
        Ok(Self {
            integration,
            lhc,
            core_events: setup.enable_kafka,
        })
    }

    /// The LHC's beam information as the lhc and bookkeeping plugins read it: what a replay's
    /// beam changes update.
    pub fn lhc(&self) -> &LhcState {
        &self.lhc
    }

    /// Whether the plugin called `name` is loaded (with `lhc`, beam dumps stop runs).
    pub fn has(&self, name: &str) -> bool {
        self.integration.iter().any(|p| p.name() == name)
    }

    /// Every topic the loaded plugins may write, each once, in plugin order.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = Vec::new();
        let core = self
            .core_events
            .then_some(CoreProducer::TOPICS.map(str::to_owned));
        for topic in core
            .into_iter()
            .flatten()
            .chain(self.integration.iter().flat_map(|p| p.topics()))
        {
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        topics
    }

    /// The registry of a core that publishes through `publisher`: the integration plugins in
    /// order, then the core producer.
    pub fn registry(self, publisher: Arc<dyn Publisher>) -> PluginRegistry {
        let mut registry = PluginRegistry::new();
        for plugin in self.integration {
            registry.register(plugin);
        }
        if self.core_events {
            registry.register_observing(Arc::new(CoreProducer::new(publisher)));
        }
        registry
    }
}

/// Every topic a replay of `scenario` with `extra` plugins may write: its plugins' and, when the
/// timeline changes the beam, the LHC's beam mode (which the replay publishes as DIP does).
pub fn topics(
    scenario: &Scenario,
    extra: &[Arc<dyn IntegrationPlugin>],
) -> Result<Vec<String>, ReplayError> {
    let plugins = Plugins::assemble(&Setup::of(scenario), extra.to_vec())?;
    let mut topics = plugins.topics();
    if scenario
        .schedule
        .iter()
        .any(|step| matches!(step.action, Action::BeamMode(_)))
    {
        topics.push(ecsim_proto::topics::BEAM_MODE.to_owned());
    }
    Ok(topics)
}
