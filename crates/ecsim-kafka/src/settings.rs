//! How to reach a Kafka cluster: bootstrap servers and librdkafka properties.
//!
//! Properties come, in increasing precedence, from ecsim's defaults, a Java-style properties
//! file (`--producer-config`, the format of Apache CloudStack's `kafka.producer.properties`:
//! `key=value`, `key: value` or `key value`, `#`/`!` comments, `\` continuation lines), and
//! `-X key=value` flags. `bootstrap.servers` may be given as a property or as `--brokers`
//! (AliECS's `kafkaEndpoints` list), which wins.

use std::{io::BufReader, path::Path};

use rdkafka::ClientConfig;

/// Producer defaults: AliECS's Kafka plugin writes with acks=all; ecsim also makes its producer
/// idempotent, so that retries after a broker outage neither lose nor duplicate a message, and
/// bounds delivery at two minutes so that a run against a dead broker ends with a report. It
/// lingers 1 ms rather than librdkafka's 5 before sending a batch: a consumer under test sees
/// each message 4 ms sooner, and at high rates batches fill within the millisecond anyway (the
/// publish benchmark measured no difference in throughput).
///
/// Keyed records go to the partition AliECS's writer (kafka-go's `Hash` balancer) would choose:
/// FNV-1a of the key, taken as a signed 32-bit integer, modulo the partition count, made
/// positive — Sarama's hash partitioner, which librdkafka's `fnv1a` partitioner reproduces. A
/// record without a key goes to a partition at random (`fnv1a_random`), as kafka-go spreads
/// them. `-X partitioner=…` chooses another of librdkafka's partitioners.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("partitioner", "fnv1a_random"),
    ("enable.idempotence", "true"),
    ("linger.ms", "1"),
    ("message.timeout.ms", "120000"),
    ("queue.buffering.max.messages", "1000000"),
];

/// librdkafka properties that load or run code, or put a pretend cluster in place of the real
/// one: given by a careless copy-paste or a hostile properties file, they run a library's
/// constructor (`plugin.library.paths`, an OpenSSL engine or provider), a command
/// (`sasl.kerberos.kinit.cmd`), or make every message "delivered" to a mock cluster inside the
/// client (`test.mock.*`). Refused unless allowed by name (`--allow-property KEY`).
pub const RISKY_PROPERTIES: &[(&str, &str)] = &[
    ("plugin.library.paths", "loads libraries into ecsim"),
    ("ssl.engine.location", "loads an OpenSSL engine into ecsim"),
    ("ssl.providers", "loads OpenSSL providers into ecsim"),
    ("sasl.kerberos.kinit.cmd", "runs a command"),
    (
        "test.mock.*",
        "replaces the cluster with librdkafka's mock: nothing reaches a broker",
    ),
];

/// Why `key` is risky, if it is ([`RISKY_PROPERTIES`]).
pub fn risk(key: &str) -> Option<&'static str> {
    RISKY_PROPERTIES
        .iter()
        .find(|(pattern, _)| match pattern.strip_suffix('*') {
            Some(prefix) => key.starts_with(prefix),
            None => key == *pattern,
        })
        .map(|(_, why)| *why)
}

/// A Kafka property as given, `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The librdkafka property name.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// Why a property or properties file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `-X` without `=`.
    #[error("`{0}` is not a property: write key=value, e.g. -X acks=all")]
    NotAProperty(String),
    /// The properties file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// Why (in the message above, so not also a `source()`: a report printing the chain
        /// would say it twice).
        cause: std::io::Error,
    },
    /// A property that loads code or replaces the cluster, not allowed.
    #[error(
        "property {key} {why}; ecsim refuses it unless allowed by name: --allow-property {key}"
    )]
    Risky {
        /// The property.
        key: String,
        /// What it does.
        why: &'static str,
    },
    /// The properties file is malformed.
    #[error("{path}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Malformed {
        /// The file.
        path: String,
        /// The line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

impl std::str::FromStr for Property {
    type Err = SettingsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok(Property {
                key: key.trim().to_owned(),
                value: value.trim().to_owned(),
            }),
            _ => Err(SettingsError::NotAProperty(text.to_owned())),
        }
    }
}

/// Reads a Java-style properties file, keeping the order of its entries.
pub fn read_properties_file(path: &Path) -> Result<Vec<Property>, SettingsError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|cause| SettingsError::Read {
        path: name.clone(),
        cause,
    })?;
    let mut properties = Vec::new();
    java_properties::PropertiesIter::new(BufReader::new(file))
        .read_into(|key, value| properties.push(Property { key, value }))
        .map_err(|error| SettingsError::Malformed {
            path: name,
            line: error.line_number(),
            message: error.to_string(),
        })?;
    Ok(properties)
}

/// Where a cluster is and how to talk to it.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `host:port,…`; when `None`, `bootstrap.servers` must be among the properties.
    pub brokers: Option<String>,
    /// Properties, applied in order over the defaults.
    pub properties: Vec<Property>,
}

impl Settings {
    /// Refuses a property of [`RISKY_PROPERTIES`] that `allowed` does not name.
    pub fn refuse_risky(&self, allowed: &[String]) -> Result<(), SettingsError> {
        for property in &self.properties {
            if let Some(why) = risk(&property.key)
                && !allowed.iter().any(|a| a == &property.key)
            {
                return Err(SettingsError::Risky {
                    key: property.key.clone(),
                    why,
                });
            }
        }
        Ok(())
    }

    /// Settings for `brokers` with no extra property.
    pub fn brokers(brokers: impl Into<String>) -> Self {
        Self {
            brokers: Some(brokers.into()),
            properties: Vec::new(),
        }
    }

    /// The bootstrap servers in effect, if any.
    pub fn bootstrap_servers(&self) -> Option<String> {
        self.brokers.clone().or_else(|| {
            self.properties
                .iter()
                .rev()
                .find(|p| p.key == "bootstrap.servers")
                .map(|p| p.value.clone())
        })
    }

    /// A librdkafka configuration: `defaults`, then the properties, then the brokers.
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for property in &self.properties {
            config.set(property.key.clone(), property.value.clone());
        }
        if let Some(brokers) = &self.brokers {
            config.set("bootstrap.servers", brokers.clone());
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn a_properties_file_reads_as_cloudstack_writes_it() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "# Kafka producer for ecsim\n\
             bootstrap.servers=kafka-1:9092,kafka-2:9092\n\
             ! another comment\n\
             acks = 1\n\
             retries: 3\n\
             client.id ecsim-\\\n    test\n"
        )
        .unwrap();
        let properties = read_properties_file(file.path()).unwrap();
        let pairs: Vec<(&str, &str)> = properties
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("bootstrap.servers", "kafka-1:9092,kafka-2:9092"),
                ("acks", "1"),
                ("retries", "3"),
                ("client.id", "ecsim-test")
            ]
        );
    }

    #[test]
    fn flags_override_the_file_and_brokers_override_both() {
        let settings = Settings {
            brokers: Some("b:1".into()),
            properties: vec![
                "bootstrap.servers=a:1".parse().unwrap(),
                "acks=1".parse().unwrap(),
                "acks=0".parse().unwrap(),
            ],
        };
        let config = settings.client_config(PRODUCER_DEFAULTS);
        assert_eq!(config.get("acks"), Some("0"), "the last one wins");
        assert_eq!(
            config.get("enable.idempotence"),
            Some("true"),
            "defaults stay"
        );
        assert_eq!(config.get("bootstrap.servers"), Some("b:1"));
        assert_eq!(settings.bootstrap_servers().as_deref(), Some("b:1"));
        let from_property = Settings {
            brokers: None,
            properties: vec!["bootstrap.servers=a:1".parse().unwrap()],
        };
        assert_eq!(from_property.bootstrap_servers().as_deref(), Some("a:1"));
    }

    #[test]
    fn malformed_input_says_what_and_where() {
        assert!(matches!(
            "acks".parse::<Property>(),
            Err(SettingsError::NotAProperty(_))
        ));
        let missing = read_properties_file(Path::new("/no/such/file.properties")).unwrap_err();
        assert!(
            missing.to_string().contains("/no/such/file.properties"),
            "{missing}"
        );
    }
}
