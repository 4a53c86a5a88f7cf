//! `ecsim plugin inspect LIB`: what a plugin library declares, and whether it would load;
//! `ecsim plugin check LIB`: whether it behaves as a plugin should; and `ecsim plugin host LIB`,
//! the process an isolated plugin runs in.
//!
//! The inspection runs every check `ecsim run` runs on a library, in the same order, and shows
//! what each one learned before the first that failed — so an author sees at once which ABI and
//! SDK versions their library carries and what ecsim makes of them.

use ecsim_plugin_host::{Inspection, locate};

use crate::exit::CliError;

pub(crate) fn inspect(library: &str, json: bool) -> Result<(), CliError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let path = locate::resolve(library, &cwd);
    let inspection = Inspection::of(&path);
    if json {
        let text = serde_json::to_string(&inspection).map_err(anyhow::Error::from)?;
        crate::say::stdout(&format!("{text}\n")).map_err(anyhow::Error::from)?;
    } else {
        crate::say::stdout(&inspection.to_string()).map_err(anyhow::Error::from)?;
    }
    if inspection.loads {
        return Ok(());
    }
    let mut message = inspection.refusal.clone().unwrap_or_default();
    if path.exists() {
        message = format!("{} would not load", path.display());
    } else if let Some(hint) = locate::build_hint(library) {
        message = format!("{message}\n  hint: {hint}");
    }
    Err(CliError::LibraryRefused(message))
}

/// The host process of an isolated plugin: serves its pipe until ecsim closes it.
pub(crate) fn host(library: &std::path::Path) -> Result<(), CliError> {
    // ecsim reports this process's end with the line that says why.
    ecsim_plugin_host::exit_guard::set_message(
        b"the plugin called exit() in its isolated process\n",
    );
    ecsim_plugin_host::child::serve(library)
        .map_err(|error| CliError::LibraryRefused(format!("plugin host process: {error}")))
}

/// `ecsim plugin check`: the conformance check, printed; exit 6 when anything does not conform.
pub(crate) fn check(library: &str, config: &[String], json: bool) -> Result<(), CliError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let path = locate::resolve(library, &cwd);
    if !path.exists() {
        let mut message = format!("there is no plugin library at {}", path.display());
        if let Some(hint) = locate::build_hint(library) {
            message = format!("{message}\n  hint: {hint}");
        }
        return Err(CliError::LibraryRefused(message));
    }
    let mut options = ecsim_plugin_host::conformance::CheckOptions::default();
    for given in config {
        let Some((name, json_text)) = given.split_once('=') else {
            return Err(CliError::InvalidInput(format!(
                "--config {given}: write NAME=JSON, e.g. --config example='{{\"latency\":\"2s\"}}'"
            )));
        };
        if let Err(error) = serde_json::from_str::<serde_json::Value>(json_text) {
            return Err(CliError::InvalidInput(format!(
                "--config {given}: the configuration of {name} is not JSON: {error}"
            )));
        }
        options
            .config
            .insert(name.trim().to_owned(), json_text.to_owned());
    }
    let report = ecsim_plugin_host::conformance::check(&path, &options);
    if json {
        let text = serde_json::to_string(&report).map_err(anyhow::Error::from)?;
        crate::say::stdout(&format!("{text}\n")).map_err(anyhow::Error::from)?;
    } else {
        crate::say::stdout(&report.to_string()).map_err(anyhow::Error::from)?;
    }
    match report.problems() {
        0 => Ok(()),
        n => Err(CliError::LibraryRefused(format!(
            "{} does not conform: {n} problem{} (above)",
            path.display(),
            if n == 1 { "" } else { "s" }
        ))),
    }
}
