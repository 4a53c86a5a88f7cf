//! From command-line flags to Kafka settings, shared by `run`, `tail` and `verify`.

use std::path::Path;

use ecsim_kafka::{Settings, settings::read_properties_file};

use crate::exit::CliError;

/// Settings from `--brokers`, a properties file and `-X` flags (flags last, so they win).
pub(crate) fn settings(
    brokers: Option<&str>,
    file: Option<&Path>,
    flags: &[String],
) -> Result<Settings, CliError> {
    let mut properties = match file {
        Some(path) => read_properties_file(path)?,
        None => Vec::new(),
    };
    for flag in flags {
        properties.push(flag.parse()?);
    }
    Ok(Settings {
        brokers: brokers.map(str::to_owned),
        properties,
    })
}
