//! `ecsim verify SCENARIO`: check the scenario's expectations against what a broker holds.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::IsTerminal as _,
    ops::ControlFlow,
};

use anyhow::Context as _;
use ecsim_kafka::{
    RUN_HEADER, SCENARIO_HEADER,
    consumer::{ReadOptions, Received, read},
};
use ecsim_proto::{json::decode_to_json, topics};
use ecsim_scenario::{
    LoadError,
    expect::{self, Evaluator, Namer},
};

use crate::{cli::VerifyArgs, commands::kafka::consumer_settings, exit::CliError};

pub(crate) fn run(args: &VerifyArgs) -> Result<(), CliError> {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let scenario = match ecsim_scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(LoadError::Invalid(problems)) => {
            say!("{}", problems.render(color, crate::say::width()));
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
    let environments: Vec<(String, Vec<String>)> = scenario
        .environments
        .iter()
        .map(|e| (e.name.clone(), e.detectors.clone()))
        .collect();
    let options = |topics: Vec<String>| -> Result<ReadOptions, CliError> {
        Ok(ReadOptions {
            settings: consumer_settings(kafka)?,
            topics,
            from_beginning: true,
            count: None,
            idle: None,
            to_end: true,
            deadline: Some(args.deadline),
            timeout: kafka.connect_timeout,
            stop: None,
        })
    };
    let mut runs = Runs::default();

    // First, which environment id is which scenario environment, per run: from the creation
    // events of aliecs.environment, which may come after other topics' messages about them.
    // Only the ids are kept.
    let mut named: BTreeMap<Option<usize>, Learned> = BTreeMap::new();
    let fresh = || (Namer::new(&environments), Vec::new());
    let mut all_named = fresh();
    let first = options(vec![topics::ENVIRONMENT.to_owned()])?;
    let environment_count = read(&first, |message| {
        let run = runs.saw(&message);
        let message_type = topics::message_type_for_topic(&message.topic).unwrap_or("");
        let value = decode_to_json(message_type, &message.value).unwrap_or(serde_json::Value::Null);
        for (namer, learned) in [named.entry(run).or_insert_with(fresh), &mut all_named] {
            learned.extend(namer.learn(&message.topic, &value));
        }
        ControlFlow::Continue(())
    })?;

    // Then the expectations, evaluated as the messages are read: per run, and over everything
    // (when the records carry no run, or one).
    let evaluator = |learned: &[(String, String)]| {
        let mut evaluator = Evaluator::new(&scenario.expectations);
        for (id, name) in learned {
            evaluator.name(id, name);
        }
        evaluator
    };
    let mut everything = evaluator(&all_named.1);
    let mut per_run: BTreeMap<Option<usize>, (Evaluator, u64)> = BTreeMap::new();
    let mut wanted: Vec<String> = scenario
        .expectations
        .iter()
        .map(|e| e.topic.clone())
        .collect();
    wanted.dedup();
    let second = options(wanted)?;
    let read_count = read(&second, |message| {
        let run = runs.saw(&message);
        if !everything.reads(&message.topic) {
            return ControlFlow::Continue(());
        }
        let message_type = topics::message_type_for_topic(&message.topic).unwrap_or("");
        let value = decode_to_json(message_type, &message.value).unwrap_or(serde_json::Value::Null);
        let (of_run, count) = per_run.entry(run).or_insert_with(|| {
            let learned = named.get(&run).map_or(&[][..], |(_, learned)| learned);
            (evaluator(learned), 0)
        });
        of_run.observe(&message.topic, &value);
        *count += 1;
        everything.observe(&message.topic, &value);
        ControlFlow::Continue(())
    })?;
    let of_scenario = args.scenario_name.as_deref().unwrap_or(&scenario.name);
    let chosen = runs.choose(args.run.as_deref(), of_scenario)?;
    let (outcomes, checked) = match &chosen {
        Some((index, _)) => match per_run.get(&Some(*index)) {
            Some((evaluator, count)) => (evaluator.outcomes(), *count),
            None => (Evaluator::new(&scenario.expectations).outcomes(), 0),
        },
        None => (everything.outcomes(), read_count),
    };
    sayln!(
        "read {environment_count} messages of {} (which environment is which) and {read_count} of the expected topics from {}",
        topics::ENVIRONMENT,
        first.settings.bootstrap_servers().unwrap_or_default()
    );
    if let Some((_, id)) = &chosen {
        sayln!(
            "checking run {id}{} ({} of its messages; {} run(s) on the broker; --run to choose)",
            runs.scenario_of(id)
                .map(|name| format!(" of scenario {name}"))
                .unwrap_or_default(),
            checked,
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

/// What the creation events of one run said: the namer, and the (id, scenario environment)
/// pairs it learned.
type Learned = (Namer, Vec<(String, String)>);

/// The runs found in the records' `ecsim.run` headers, and the scenarios of their
/// `ecsim.scenario` headers.
#[derive(Debug, Default)]
struct Runs {
    /// Every id, in the order first seen.
    ids: Vec<String>,
    /// Each id's place in `ids`: a broker may hold many runs, and every record asks.
    index: BTreeMap<String, usize>,
    /// Each run's scenario (by its place in `ids`), when its records name one.
    scenarios: Vec<Option<String>>,
    /// Per partition, the run of its last record (`None`: a record without the header).
    last: BTreeMap<(String, i32), Option<usize>>,
    /// Per partition and scenario, the run of the scenario's last record there.
    last_of_scenario: BTreeMap<(String, i32, String), usize>,
}

/// A header's value, as text.
fn header(message: &Received, name: &str) -> Option<String> {
    message
        .headers
        .iter()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| value.as_deref())
        .map(|value| String::from_utf8_lossy(value).into_owned())
}

impl Runs {
    /// Notes a record's run; returns its index in `ids`.
    fn saw(&mut self, message: &Received) -> Option<usize> {
        let index = header(message, RUN_HEADER).map(|id| {
            *self.index.entry(id).or_insert_with_key(|id| {
                self.ids.push(id.clone());
                self.scenarios.push(header(message, SCENARIO_HEADER));
                self.ids.len() - 1
            })
        });
        self.last
            .insert((message.topic.clone(), message.partition), index);
        if let Some(index) = index
            && let Some(scenario) = &self.scenarios[index]
        {
            self.last_of_scenario.insert(
                (message.topic.clone(), message.partition, scenario.clone()),
                index,
            );
        }
        index
    }

    /// The scenario of the run `id`, if its records name one.
    fn scenario_of(&self, id: &str) -> Option<&str> {
        self.scenarios[*self.index.get(id)?].as_deref()
    }

    /// The run to check: the one asked for, else the latest of `scenario` — the run of every
    /// partition's last record of the scenario, since runs come one after the other. When no
    /// record names its scenario (they come from AliECS, a replay of an old recording, or an
    /// ecsim before the header), the latest run; `None` when the records carry no run header
    /// either, or one run only: then every record counts.
    fn choose(
        &self,
        asked: Option<&str>,
        scenario: &str,
    ) -> Result<Option<(usize, String)>, CliError> {
        if let Some(asked) = asked {
            // The whole id, or any prefix of it that no other run shares (`0f3c`, as git does).
            let matching: Vec<usize> = match self.ids.iter().position(|id| id == asked) {
                Some(exact) => vec![exact],
                None if asked.is_empty() => Vec::new(),
                None => (0..self.ids.len())
                    .filter(|&i| self.ids[i].starts_with(asked))
                    .collect(),
            };
            return match matching.as_slice() {
                [index] => Ok(Some((*index, self.ids[*index].clone()))),
                [] => Err(CliError::InvalidInput(format!(
                    "no record carries {RUN_HEADER}={asked}…; the broker holds {}",
                    self.listing()
                ))),
                several => Err(CliError::InvalidInput(format!(
                    "--run {asked} is the start of {} runs ({}): give more of the id",
                    several.len(),
                    several
                        .iter()
                        .map(|&i| self.ids[i].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            };
        }
        if self.scenarios.iter().any(Option::is_some) {
            return self.latest_of(scenario);
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

    /// The latest run of `scenario`, of the runs that name theirs.
    fn latest_of(&self, scenario: &str) -> Result<Option<(usize, String)>, CliError> {
        let latest: BTreeSet<usize> = self
            .last_of_scenario
            .iter()
            .filter(|((_, _, name), _)| name == scenario)
            .map(|(_, index)| *index)
            .collect();
        match latest.iter().collect::<Vec<_>>().as_slice() {
            [only] => Ok(Some((**only, self.ids[**only].clone()))),
            [] => {
                let mut names: BTreeMap<&str, usize> = BTreeMap::new();
                for name in self.scenarios.iter().flatten() {
                    *names.entry(name.as_str()).or_default() += 1;
                }
                let held: Vec<String> = names
                    .iter()
                    .map(|(name, runs)| {
                        format!("{name} ({runs} run{})", if *runs == 1 { "" } else { "s" })
                    })
                    .collect();
                Err(CliError::InvalidInput(format!(
                    "no run of scenario {scenario} on the broker: it holds runs of {}; \
                     --scenario NAME checks another scenario's latest run, --run ID a run",
                    held.join(", ")
                )))
            }
            several => Err(CliError::InvalidInput(format!(
                "the broker holds runs of scenario {scenario} that interleave ({}): choose one \
                 with --run ID",
                several
                    .iter()
                    .map(|&&i| self.ids[i].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(ids: &[&str]) -> Runs {
        let mut runs = Runs::default();
        for id in ids {
            runs.index.insert((*id).to_owned(), runs.ids.len());
            runs.ids.push((*id).to_owned());
            runs.scenarios.push(None);
        }
        runs
    }

    /// A record of run `id` of `scenario` on partition `partition` of aliecs.run.
    fn record(id: &str, scenario: Option<&str>, partition: i32) -> Received {
        let mut headers = vec![(RUN_HEADER.to_owned(), Some(id.as_bytes().to_vec()))];
        if let Some(scenario) = scenario {
            headers.push((
                SCENARIO_HEADER.to_owned(),
                Some(scenario.as_bytes().to_vec()),
            ));
        }
        Received {
            topic: "aliecs.run".into(),
            partition,
            offset: 0,
            key: None,
            value: Vec::new(),
            timestamp_ms: None,
            headers,
        }
    }

    #[test]
    fn the_latest_run_of_the_scenario_is_chosen_and_others_scenarios_runs_are_left_out() {
        let mut runs = Runs::default();
        // physics twice, then beam-dump last on every partition.
        for (id, scenario) in [("p1", "physics"), ("p2", "physics"), ("b1", "beam-dump")] {
            for partition in 0..2 {
                runs.saw(&record(id, Some(scenario), partition));
            }
        }
        let chosen = |scenario: &str| runs.choose(None, scenario).map_err(|e| e.to_string());
        assert_eq!(chosen("physics"), Ok(Some((1, "p2".to_owned()))));
        assert_eq!(chosen("beam-dump"), Ok(Some((2, "b1".to_owned()))));
        assert_eq!(
            chosen("cosmics").unwrap_err(),
            "no run of scenario cosmics on the broker: it holds runs of beam-dump (1 run), \
             physics (2 runs); --scenario NAME checks another scenario's latest run, --run ID a run"
        );
        assert_eq!(runs.scenario_of("p1"), Some("physics"));
        // --run still picks any run, whatever its scenario.
        assert_eq!(
            runs.choose(Some("p1"), "beam-dump")
                .map_err(|e| e.to_string()),
            Ok(Some((0, "p1".to_owned())))
        );
    }

    #[test]
    fn records_without_a_scenario_are_chosen_among_as_before() {
        let mut runs = Runs::default();
        runs.saw(&record("old", None, 0));
        assert_eq!(
            runs.choose(None, "physics").map_err(|e| e.to_string()),
            Ok(None),
            "one run: every record counts"
        );
        runs.saw(&record("older", None, 0));
        assert_eq!(
            runs.choose(None, "physics").map_err(|e| e.to_string()),
            Ok(Some((1, "older".to_owned())))
        );
    }

    #[test]
    fn a_run_is_chosen_by_its_id_or_a_start_of_it_no_other_run_shares() {
        let runs = runs(&["0f3c9a-1", "0f3d11-2", "a17b00-3"]);
        let chosen = |asked: &str| {
            runs.choose(Some(asked), "physics")
                .map_err(|e| e.to_string())
        };
        assert_eq!(chosen("a17b00-3"), Ok(Some((2, "a17b00-3".to_owned()))));
        assert_eq!(chosen("a1"), Ok(Some((2, "a17b00-3".to_owned()))));
        assert_eq!(chosen("0f3c"), Ok(Some((0, "0f3c9a-1".to_owned()))));
        let ambiguous = chosen("0f3").unwrap_err();
        assert_eq!(
            ambiguous,
            "--run 0f3 is the start of 2 runs (0f3c9a-1, 0f3d11-2): give more of the id"
        );
        assert!(
            chosen("ffff")
                .unwrap_err()
                .starts_with("no record carries ecsim.run=ffff…")
        );
        assert!(chosen("").is_err());
    }
}
