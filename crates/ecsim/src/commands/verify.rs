//! `ecsim verify SCENARIO`: check the scenario's expectations against what a broker holds.

use std::{io::IsTerminal as _, ops::ControlFlow};

use anyhow::Context as _;
use ecsim_kafka::consumer::{ReadOptions, read};
use ecsim_proto::{json::decode_to_json, topics};
use ecsim_scenario::{
    LoadError,
    expect::{self, Observed},
};

use crate::{
    cli::VerifyArgs,
    commands::{kafka::settings, validate::width},
    exit::CliError,
};

#[allow(clippy::print_stderr, clippy::print_stdout)] // the report is for the user
pub(crate) fn run(args: &VerifyArgs) -> Result<(), CliError> {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let scenario = match ecsim_scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(LoadError::Invalid(problems)) => {
            eprint!("{}", problems.render(color, width()));
            return Err(LoadError::Invalid(problems).into());
        }
        Err(error) => return Err(error.into()),
    };
    if scenario.expectations.is_empty() {
        return Err(CliError::InvalidInput(format!(
            "{} has no [[expect]] entries to verify",
            args.scenario.display()
        )));
    }
    let kafka = &args.kafka;
    let mut wanted: Vec<String> = scenario
        .expectations
        .iter()
        .map(|e| e.topic.clone())
        .collect();
    wanted.push(topics::ENVIRONMENT.to_owned());
    let options = ReadOptions {
        settings: settings(
            kafka.brokers.as_deref(),
            kafka.consumer_config.as_deref(),
            &kafka.properties,
        )?,
        topics: wanted,
        from_beginning: true,
        count: None,
        idle: None,
        to_end: true,
        timeout: kafka.connect_timeout,
        stop: None,
    };
    let mut observed = Vec::new();
    read(&options, |message| {
        let message_type = topics::message_type_for_topic(&message.topic).unwrap_or("");
        let value = decode_to_json(message_type, &message.value).unwrap_or(serde_json::Value::Null);
        observed.push(Observed {
            topic: message.topic,
            value,
        });
        ControlFlow::Continue(())
    })?;

    let environments: Vec<(String, Vec<String>)> = scenario
        .environments
        .iter()
        .map(|e| (e.name.clone(), e.detectors.clone()))
        .collect();
    let ids = expect::environment_ids_from_stream(&observed, &environments);
    let outcomes = expect::check(&scenario.expectations, &observed, &ids);
    eprintln!(
        "read {} messages from {}",
        observed.len(),
        options.settings.bootstrap_servers().unwrap_or_default()
    );
    eprint!("{}", expect::render(&outcomes));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&outcomes).context("rendering the outcomes")?;
        if path.as_os_str() == "-" {
            println!("{json}");
        } else {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let failed = outcomes.iter().filter(|o| !o.met).count();
    if failed > 0 {
        return Err(CliError::ExpectationsFailed {
            failed,
            total: outcomes.len(),
        });
    }
    Ok(())
}
