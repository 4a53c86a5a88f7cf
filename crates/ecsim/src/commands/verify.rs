//! `ecsim verify SCENARIO`: check the scenario's expectations against what a broker holds.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::IsTerminal as _,
    ops::ControlFlow,
};

use anyhow::Context as _;
use ecsim_kafka::{
    RUN_HEADER,
    consumer::{ReadOptions, Received, read},
};
use ecsim_proto::{json::decode_to_json, topics};
use ecsim_scenario::{
    LoadError,
    expect::{self, Observed},
};

use crate::{
    cli::VerifyArgs,
    commands::{kafka::consumer_settings, validate::width},
    exit::CliError,
};

pub(crate) fn run(args: &VerifyArgs) -> Result<(), CliError> {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let scenario = match ecsim_scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(LoadError::Invalid(problems)) => {
            say!("{}", problems.render(color, width()));
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
        settings: consumer_settings(kafka)?,
        topics: wanted,
        from_beginning: true,
        count: None,
        idle: None,
        to_end: true,
        timeout: kafka.connect_timeout,
        stop: None,
    };
    let mut observed = Vec::new();
    let mut runs = Runs::default();
    read(&options, |message| {
        let message_type = topics::message_type_for_topic(&message.topic).unwrap_or("");
        let value = decode_to_json(message_type, &message.value).unwrap_or(serde_json::Value::Null);
        let run = runs.saw(&message);
        observed.push((
            run,
            Observed {
                topic: message.topic,
                value,
            },
        ));
        ControlFlow::Continue(())
    })?;
    let read_count = observed.len();
    let chosen = runs.choose(args.run.as_deref())?;
    let observed: Vec<Observed> = observed
        .into_iter()
        .filter(|(run, _)| {
            chosen
                .as_ref()
                .is_none_or(|(index, _)| *run == Some(*index))
        })
        .map(|(_, observed)| observed)
        .collect();

    let environments: Vec<(String, Vec<String>)> = scenario
        .environments
        .iter()
        .map(|e| (e.name.clone(), e.detectors.clone()))
        .collect();
    let ids = expect::environment_ids_from_stream(&observed, &environments);
    let outcomes = expect::check(&scenario.expectations, &observed, &ids);
    sayln!(
        "read {read_count} messages from {}",
        options.settings.bootstrap_servers().unwrap_or_default()
    );
    if let Some((_, id)) = &chosen {
        sayln!(
            "checking run {id} ({} of its messages; {} run(s) on the broker; --run to choose)",
            observed.len(),
            runs.ids.len()
        );
    }
    say!("{}", expect::render(&outcomes));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&outcomes).context("rendering the outcomes")?;
        if path.as_os_str() == "-" {
            crate::say::stdout(&(json + "\n")).context("writing to stdout")?;
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

/// The runs found in the records' `ecsim.run` headers.
#[derive(Debug, Default)]
struct Runs {
    /// Every id, in the order first seen.
    ids: Vec<String>,
    /// Per partition, the run of its last record (`None`: a record without the header).
    last: BTreeMap<(String, i32), Option<usize>>,
}

impl Runs {
    /// Notes a record's run; returns its index in `ids`.
    fn saw(&mut self, message: &Received) -> Option<usize> {
        let id = message
            .headers
            .iter()
            .find(|(name, _)| name == RUN_HEADER)
            .and_then(|(_, value)| value.as_deref())
            .map(|value| String::from_utf8_lossy(value).into_owned());
        let index = id.map(|id| match self.ids.iter().position(|known| *known == id) {
            Some(index) => index,
            None => {
                self.ids.push(id);
                self.ids.len() - 1
            }
        });
        self.last
            .insert((message.topic.clone(), message.partition), index);
        index
    }

    /// The run to check: the one asked for, else the latest — the run of every partition's
    /// last record, since runs come one after the other. `None` when the records carry no run
    /// header (they come from AliECS, or from an ecsim before the header), or one run only:
    /// then every record counts.
    fn choose(&self, asked: Option<&str>) -> Result<Option<(usize, String)>, CliError> {
        if let Some(asked) = asked {
            return match self.ids.iter().position(|id| id == asked) {
                Some(index) => Ok(Some((index, asked.to_owned()))),
                None => Err(CliError::InvalidInput(format!(
                    "no record carries {RUN_HEADER}={asked}; the broker holds {}",
                    self.listing()
                ))),
            };
        }
        if self.ids.len() <= 1 {
            return Ok(None);
        }
        let latest: BTreeSet<usize> = self.last.values().flatten().copied().collect();
        match latest.iter().collect::<Vec<_>>().as_slice() {
            [only] => Ok(Some((**only, self.ids[**only].clone()))),
            _ => Err(CliError::InvalidInput(format!(
                "the broker holds runs that interleave ({}): choose one with --run ID",
                self.listing()
            ))),
        }
    }

    fn listing(&self) -> String {
        if self.ids.is_empty() {
            return "no record with that header".to_owned();
        }
        format!("runs {}", self.ids.join(", "))
    }
}
