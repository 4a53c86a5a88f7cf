//! Why a replay could not run: the one error of assembling the simulator and of driving it,
//! below both (`assembly` refuses an unknown integration plugin; `driver` a runtime or a plugin
//! that does not start).

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The async runtime could not be made.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// `integration_plugins` names a plugin that neither ecsim nor a loaded library provides.
    #[error(
        "integration_plugins names {name}, which no plugin provides (available: {available}); \
         load the library that has it with [[plugin]] or --plugin"
    )]
    UnknownIntegrationPlugin {
        /// The name.
        name: String,
        /// The plugins there are.
        available: String,
    },
    /// A plugin did not start (its configuration, usually); nothing was replayed.
    #[error("plugin {plugin} did not start: {reason}")]
    PluginStart {
        /// The plugin.
        plugin: String,
        /// Why.
        reason: String,
    },
}
