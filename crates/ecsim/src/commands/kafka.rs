//! From command-line flags to Kafka settings and a publisher, shared by `run`, `replay`,
//! `tail`, `record` and `verify`.

use std::{path::Path, sync::Arc};

use ecsim_kafka::{
    EmbeddedBroker, KafkaPublisher, Settings, TopicLayout, settings::read_properties_file,
};

use crate::{
    cli::{ConsumerArgs, ProducerArgs},
    exit::CliError,
};

/// The topics `tail` and `record` read when none is named: AliECS's and the LHC's.
pub(crate) const DEFAULT_TOPICS: &[&str] = &["aliecs.*", ecsim_proto::topics::BEAM_MODE];

/// The topics named with `--topic`, or [`DEFAULT_TOPICS`].
pub(crate) fn topics_or_default(named: &[String]) -> Vec<String> {
    if named.is_empty() {
        DEFAULT_TOPICS.iter().map(|t| (*t).to_owned()).collect()
    } else {
        named.to_vec()
    }
}

/// The settings of a reading command (`tail`, `record`, `verify`).
pub(crate) fn consumer_settings(args: &ConsumerArgs) -> Result<Settings, CliError> {
    settings(
        args.brokers.as_deref(),
        args.consumer_config.as_deref(),
        &args.properties,
        &args.allow_property,
    )
}

/// Settings from `--brokers`, a properties file and `-X` flags (flags last, so they win).
pub(crate) fn settings(
    brokers: Option<&str>,
    file: Option<&Path>,
    flags: &[String],
    allowed: &[String],
) -> Result<Settings, CliError> {
    let mut properties = match file {
        Some(path) => read_properties_file(path)?,
        None => Vec::new(),
    };
    for flag in flags {
        properties.push(flag.parse()?);
    }
    let settings = Settings {
        brokers: brokers.map(str::to_owned),
        properties,
    };
    settings.refuse_risky(allowed)?;
    Ok(settings)
}

/// A publisher to the cluster given with `--brokers` (or a properties file), else to an
/// embedded broker started here (on `port` if given), with `topics` made first.
pub(crate) fn open_publisher(
    args: &ProducerArgs,
    port: Option<u16>,
    topics: Vec<String>,
) -> Result<(Arc<KafkaPublisher>, Option<Arc<EmbeddedBroker>>), CliError> {
    let settings = settings(
        args.brokers.as_deref(),
        args.producer_config.as_deref(),
        &args.properties,
        &args.allow_property,
    )?;
    let layout = TopicLayout {
        partitions: args.partitions,
        replication: args.replication_factor,
    };
    let external = settings.bootstrap_servers().is_some();
    let topics = topics_to_create(topics, !external);
    if external {
        let kafka = KafkaPublisher::connect(&settings, layout, &topics, args.connect_timeout)?;
        return Ok((Arc::new(kafka), None));
    }
    let broker = Arc::new(EmbeddedBroker::start(port)?);
    let kafka = KafkaPublisher::embedded(
        Arc::clone(&broker),
        &settings,
        layout,
        &topics,
        args.connect_timeout,
    )?;
    Ok((Arc::new(kafka), Some(broker)))
}

/// Tells a script where the served broker is, on stdout before anything else: the address
/// alone (as `ecsim broker` prints it), or with `--print` a JSON line of its own,
/// `{"broker":"127.0.0.1:PORT"}`, so that every line of stdout stays JSON.
pub(crate) fn announce(address: &str, print: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if print {
        writeln!(stdout, "{}", serde_json::json!({ "broker": address }))?;
    } else {
        writeln!(stdout, "{address}")?;
    }
    stdout.flush()
}

/// The topics made before the first message: what the run's plugins may write and, on the
/// embedded broker, every AliECS topic besides, as `ecsim broker` makes them — so that a
/// consumer finds the same topics whether it reads `ecsim broker` or `ecsim run --serve`. A
/// cluster given with `--brokers` gets only the run's topics.
fn topics_to_create(plugin_topics: Vec<String>, embedded: bool) -> Vec<String> {
    if !embedded {
        return plugin_topics;
    }
    let mut topics = ecsim_proto::topics::all_known();
    for topic in plugin_topics {
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_broker_gets_every_aliecs_topic_and_the_runs_own() {
        let run = vec![
            "aliecs.core".to_owned(),
            "aliecs.integrated_service.logbook".to_owned(),
        ];
        let embedded = topics_to_create(run.clone(), true);
        let broker = ecsim_proto::topics::all_known();
        assert_eq!(
            &embedded[..broker.len()],
            broker.as_slice(),
            "ecsim broker's, first"
        );
        assert_eq!(
            embedded[broker.len()..],
            ["aliecs.integrated_service.logbook".to_owned()],
            "then a library's, once"
        );
        assert_eq!(
            topics_to_create(run.clone(), false),
            run,
            "a cluster gets the run's"
        );
    }
}
