//! From command-line flags to Kafka settings, shared by `run`, `tail` and `verify`.

use std::path::Path;

use ecsim_kafka::{Settings, settings::read_properties_file};

use crate::exit::{Exit, Failure};

/// Settings from `--brokers`, a properties file and `-X` flags (flags last, so they win).
pub(crate) fn settings(
    brokers: Option<&str>,
    file: Option<&Path>,
    flags: &[String],
) -> Result<Settings, Failure> {
    let mut properties = match file {
        Some(path) => {
            read_properties_file(path).map_err(|error| Failure::new(Exit::InvalidInput, error))?
        }
        None => Vec::new(),
    };
    for flag in flags {
        properties.push(
            flag.parse()
                .map_err(|error| Failure::new(Exit::InvalidInput, error))?,
        );
    }
    Ok(Settings {
        brokers: brokers.map(str::to_owned),
        properties,
    })
}
