//! The set of loaded plugins: ordered, initialized together, destroyed in order.
//!
//! AliECS (reference §5, `PluginsInstance`, `InitAll`, `DestroyAll`) loads the plugins listed in
//! its `integrationPlugins` setting in that order, initializes them all concurrently and waits,
//! logging failures (a plugin whose `Init` failed stays loaded), and destroys them one after the
//! other. Registering a second plugin under a name already taken replaces the first, as
//! AliECS's `RegisterPlugin` does.
//!
//! A plugin may also observe the core's events ([`CoreObserver`]): registered with
//! [`PluginRegistry::register_observing`], it receives them in registry order.

use std::sync::Arc;

use crate::{
    event::CoreObserver,
    plugin::{IntegrationPlugin, PluginContext, PluginError},
};

/// The loaded plugins, in configured order.
#[derive(Clone, Default)]
pub struct PluginRegistry {
    plugins: Vec<Arc<dyn IntegrationPlugin>>,
    /// Each plugin's functions, asked once at registration: every call checks them.
    functions: Vec<Vec<String>>,
    /// Each plugin as an observer of core events, if it is one.
    observers: Vec<Option<Arc<dyn CoreObserver>>>,
}

impl std::fmt::Debug for PluginRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.plugins.iter().map(|p| p.name().to_owned()))
            .finish()
    }
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plugin at the end, or in place of the plugin already registered under its name.
    pub fn register(&mut self, plugin: Arc<dyn IntegrationPlugin>) -> &mut Self {
        self.insert(plugin, None)
    }

    /// Adds a plugin that also observes every core event, as [`PluginRegistry::register`] does.
    pub fn register_observing<P: IntegrationPlugin + CoreObserver>(
        &mut self,
        plugin: Arc<P>,
    ) -> &mut Self {
        let observer: Arc<dyn CoreObserver> = plugin.clone();
        self.insert(plugin, Some(observer))
    }

    fn insert(
        &mut self,
        plugin: Arc<dyn IntegrationPlugin>,
        observer: Option<Arc<dyn CoreObserver>>,
    ) -> &mut Self {
        let functions = plugin.functions();
        match self.plugins.iter().position(|p| p.name() == plugin.name()) {
            Some(index) => {
                tracing::warn!(
                    plugin = plugin.name(),
                    "a plugin of this name was already registered; replacing it"
                );
                self.plugins[index] = plugin;
                self.functions[index] = functions;
                self.observers[index] = observer;
            }
            None => {
                self.plugins.push(plugin);
                self.functions.push(functions);
                self.observers.push(observer);
            }
        }
        self
    }

    /// The functions of the plugin called `name`, as it declared them when registered.
    pub fn functions(&self, name: &str) -> Option<&[String]> {
        self.plugins
            .iter()
            .position(|p| p.name() == name)
            .map(|index| self.functions[index].as_slice())
    }

    /// The plugin called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn IntegrationPlugin>> {
        self.plugins.iter().find(|p| p.name() == name)
    }

    /// Every plugin, in order.
    pub fn plugins(&self) -> &[Arc<dyn IntegrationPlugin>] {
        &self.plugins
    }

    /// The plugins that observe core events, in order.
    pub(crate) fn observers(&self) -> Vec<Arc<dyn CoreObserver>> {
        self.observers.iter().flatten().cloned().collect()
    }

    /// Initializes every plugin concurrently and waits for all; returns the failures (already
    /// logged), by plugin name.
    pub async fn init_all(&self, context: &PluginContext) -> Vec<(String, PluginError)> {
        let inits = self.plugins.iter().map(|plugin| {
            let context = context.clone();
            async move { (plugin.name().to_owned(), plugin.init(context).await) }
        });
        let mut failures = Vec::new();
        for (name, result) in futures::future::join_all(inits).await {
            if let Err(error) = result {
                // Whoever started the core decides what a failure means (AliECS keeps the plugin
                // loaded; `ecsim run` refuses to start and says why): not said here as well.
                tracing::debug!(plugin = %name, %error, "plugin failed to initialize");
                failures.push((name, error));
            }
        }
        failures
    }

    /// Destroys every plugin, one after the other, in order; returns the failures (logged).
    pub async fn destroy_all(&self) -> Vec<(String, PluginError)> {
        let mut failures = Vec::new();
        for plugin in &self.plugins {
            if let Err(error) = plugin.destroy().await {
                tracing::error!(plugin = plugin.name(), %error, "plugin failed to stop");
                failures.push((plugin.name().to_owned(), error));
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::clock::{Clock, Timestamp};

    #[derive(Debug)]
    struct Probe {
        name: &'static str,
        log: Arc<Mutex<Vec<String>>>,
        fail_init: bool,
    }

    #[async_trait]
    impl IntegrationPlugin for Probe {
        fn name(&self) -> &str {
            self.name
        }
        fn pretty_name(&self) -> &str {
            "probe"
        }
        async fn init(&self, _context: PluginContext) -> Result<(), PluginError> {
            self.log.lock().unwrap().push(format!("init {}", self.name));
            if self.fail_init {
                Err(PluginError("no endpoint".into()))
            } else {
                Ok(())
            }
        }
        async fn destroy(&self) -> Result<(), PluginError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("destroy {}", self.name));
            Ok(())
        }
    }

    fn context() -> PluginContext {
        PluginContext::detached(Clock::virtual_time(Timestamp::from_unix_millis(1)))
    }

    #[tokio::test]
    async fn keeps_order_replaces_by_name_and_keeps_plugins_whose_init_failed() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let probe = |name, fail_init| {
            Arc::new(Probe {
                name,
                log: log.clone(),
                fail_init,
            })
        };
        let mut registry = PluginRegistry::new();
        registry
            .register(probe("a", false))
            .register(probe("b", true))
            .register(probe("a", false));
        assert_eq!(format!("{registry:?}"), r#"["a", "b"]"#);

        let failures = registry.init_all(&context()).await;
        assert_eq!(
            failures,
            [("b".to_owned(), PluginError("no endpoint".into()))]
        );
        assert!(
            registry.get("b").is_some(),
            "a plugin whose init failed stays loaded"
        );

        log.lock().unwrap().clear();
        registry.destroy_all().await;
        assert_eq!(*log.lock().unwrap(), ["destroy a", "destroy b"]);
    }
}
