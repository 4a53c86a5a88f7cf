//! Loading the plugin libraries a replay uses: the scenario's `[[plugin]]` entries and the
//! command line's `--plugin` libraries, configured, with the scenario's `[[fault]]` entries
//! handed to the plugins they name.
//!
//! This is where what validation could not know is checked: that each library loads, has the
//! plugins asked for, that no plugin name is loaded twice, and that every fault names a loaded
//! plugin and one of its operations. Each error names the scenario line or the command-line
//! argument it comes from.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use ecsim_plugin_host::{DylibPlugin, Isolation, Library, LoadError, locate};

use ecsim_scenario::model::Scenario;

/// Why the plugins of a replay could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PluginSetupError {
    /// A library was refused.
    #[error("{origin}: {error}{}", .hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Load {
        /// The scenario line or argument that names it.
        origin: String,
        /// Why it was refused.
        error: Box<LoadError>,
        /// What to do, when there is more to say.
        hint: Option<String>,
    },
    /// The scenario asks for something the libraries do not offer.
    #[error("{origin}: {message}")]
    Invalid {
        /// The scenario line or argument.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// One plugin to make, before faults are added to its configuration.
struct Planned {
    library: Arc<Library>,
    name: String,
    config: serde_json::Value,
    origin: String,
}

/// A library named on the command line (`--plugin`, `--plugin-isolated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLineLibrary {
    /// Its path, relative to the working directory.
    pub path: PathBuf,
    /// Whether its plugins run in processes of their own, and how.
    pub isolation: Option<Isolation>,
}

impl CommandLineLibrary {
    /// `--plugin PATH`.
    pub fn in_process(path: PathBuf) -> Self {
        Self {
            path,
            isolation: None,
        }
    }

    /// `--plugin-isolated PATH`.
    pub fn isolated(path: PathBuf) -> Self {
        Self {
            path,
            isolation: Some(Isolation::default()),
        }
    }

    fn flag(&self) -> &'static str {
        if self.isolation.is_some() {
            "--plugin-isolated"
        } else {
            "--plugin"
        }
    }
}

/// Loads every library of `scenario` and `command_line`, and makes their plugins, configured.
/// The plugins start with the core.
pub fn load(
    scenario: &Scenario,
    command_line: &[CommandLineLibrary],
) -> Result<Vec<Arc<DylibPlugin>>, PluginSetupError> {
    let mut planned: Vec<Planned> = Vec::new();
    let add = |planned: &mut Vec<Planned>, plan: Planned| {
        if let Some(first) = planned.iter().find(|p| p.name == plan.name) {
            return Err(PluginSetupError::Invalid {
                origin: plan.origin,
                message: format!(
                    "plugin {} is already loaded (by {}); a name can be loaded once",
                    plan.name, first.origin
                ),
            });
        }
        planned.push(plan);
        Ok(())
    };

    for entry in &scenario.plugins {
        let origin = format!("{}:{} ([[plugin]])", scenario.file, entry.line);
        let path = locate::resolve(&entry.library, &scenario.base_dir);
        let isolation = entry.isolate.then(|| Isolation {
            restarts: entry.restarts.unwrap_or(Isolation::DEFAULT_RESTARTS),
        });
        let library = open(&path, &entry.library, &origin, isolation)?;
        let names: Vec<String> = match &entry.only {
            Some(only) => only.clone(),
            None => library.plugins().iter().map(|p| p.name.clone()).collect(),
        };
        for name in entry.config.keys() {
            if !library.plugins().iter().any(|p| &p.name == name) {
                return Err(PluginSetupError::Invalid {
                    origin,
                    message: format!(
                        "configuration for plugin {name}, which {} does not have (it has: {})",
                        library.path().display(),
                        library.offered()
                    ),
                });
            }
        }
        for name in names {
            if !library.plugins().iter().any(|p| p.name == name) {
                return Err(PluginSetupError::Load {
                    origin,
                    error: Box::new(LoadError::UnknownPlugin {
                        path: library.path().to_owned(),
                        name,
                        offered: library.offered(),
                    }),
                    hint: None,
                });
            }
            let config = entry
                .config
                .get(&name)
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            add(
                &mut planned,
                Planned {
                    library: Arc::clone(&library),
                    name,
                    config,
                    origin: origin.clone(),
                },
            )?;
        }
    }
    for given in command_line {
        let path = &given.path;
        let origin = format!("{} {}", given.flag(), path.display());
        let library = open(path, &path.display().to_string(), &origin, given.isolation)?;
        for info in library.plugins() {
            add(
                &mut planned,
                Planned {
                    library: Arc::clone(&library),
                    name: info.name.clone(),
                    config: serde_json::Value::Null,
                    origin: origin.clone(),
                },
            )?;
        }
    }

    // Faults go to the plugin of their service, in file order.
    let mut faults: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    // Faults of the tasks are the core's, not a plugin's.
    for fault in scenario.faults.iter().filter(|f| f.service != "tasks") {
        let origin = format!("{}:{} ([[fault]])", scenario.file, fault.line);
        let Some(plan) = planned.iter().find(|p| p.name == fault.service) else {
            return Err(PluginSetupError::Invalid {
                origin,
                message: format!(
                    "a fault of {}, but no plugin {} is loaded{}",
                    fault.service,
                    fault.service,
                    if ["dcs", "odc", "trg", "ddsched"].contains(&fault.service.as_str()) {
                        "; load the mock services with [[plugin]] library = \"mock-services\""
                    } else {
                        ""
                    }
                ),
            });
        };
        let functions = plan
            .library
            .plugins()
            .iter()
            .find(|p| p.name == plan.name)
            .map(|p| p.functions.clone())
            .unwrap_or_default();
        if !functions.contains(&fault.operation) {
            return Err(PluginSetupError::Invalid {
                origin,
                message: format!(
                    "{} has no operation {} (it has: {})",
                    fault.service,
                    fault.operation,
                    functions.join(", ")
                ),
            });
        }
        faults
            .entry(plan.name.as_str())
            .or_default()
            .push(fault.to_json(scenario.epoch));
    }

    let mut plugins = Vec::new();
    for plan in &planned {
        let mut config = plan.config.clone();
        if let Some(list) = faults.remove(plan.name.as_str()) {
            if config.is_null() {
                config = serde_json::Value::Object(serde_json::Map::new());
            }
            if let Some(object) = config.as_object_mut() {
                let existing = object
                    .entry("faults")
                    .or_insert_with(|| serde_json::Value::Array(Vec::new()));
                if let Some(array) = existing.as_array_mut() {
                    array.extend(list);
                }
            }
        }
        let config = if config.is_null() {
            String::new()
        } else {
            config.to_string()
        };
        let plugin =
            plan.library
                .plugin(&plan.name, &config)
                .map_err(|error| PluginSetupError::Load {
                    origin: plan.origin.clone(),
                    error: Box::new(error),
                    hint: None,
                })?;
        plugins.push(Arc::new(plugin));
    }
    Ok(plugins)
}

fn open(
    path: &Path,
    written: &str,
    origin: &str,
    isolation: Option<Isolation>,
) -> Result<Arc<Library>, PluginSetupError> {
    match isolation {
        Some(policy) => Library::open_isolated(path, policy),
        None => Library::open(path),
    }
    .map_err(|error| {
        let hint = matches!(error, LoadError::NotFound { .. })
            .then(|| locate::build_hint(written))
            .flatten();
        PluginSetupError::Load {
            origin: origin.to_owned(),
            error: Box::new(error),
            hint,
        }
    })
}
