//! `ecsim run SCENARIO`: replay a scenario on the simulated AliECS and publish what AliECS
//! would publish.
//!
//! Messages go to a Kafka cluster (`--brokers`) or, by default, to the embedded broker started
//! for the run; with `--print` they also go to stdout as JSON lines. At the end: the replay's
//! summary, the delivery report (every message acknowledged, failed or pending, per topic) and,
//! when the scenario has expectations, whether they hold — on stderr, as text or as JSON with
//! `--summary-json`.

use std::{io::IsTerminal as _, sync::Arc, time::Duration};

use anyhow::Context as _;
use ecsim_core::{
    plugin::IntegrationPlugin,
    publish::{FanOut, Publisher},
};
use ecsim_kafka::DeliveryReport;
use ecsim_replay::{Report, driver};
use ecsim_scenario::{LoadError, Speed, expect};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::{
    cli::{Epoch, RunArgs},
    commands::{
        broker::serve_until_interrupted,
        kafka::{announce, open_publisher},
    },
    exit::CliError,
    print::{Format, JsonLines},
};

/// A progress bar on stderr, cleared when the replay is over.
struct Bar(ProgressBar);

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl driver::Progress for Bar {
    fn advanced(&self, done: u64, total: u64, simulated: Duration) {
        self.0.set_length(total);
        self.0.set_position(done);
        self.0.set_message(format!(
            "{} simulated",
            humantime::format_duration(Duration::from_secs(simulated.as_secs()))
        ));
    }
}

/// Everything `--summary-json` writes.
#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    replay: &'a Report,
    broker: String,
    /// What every record's `ecsim.run` header says (`ecsim verify --run`).
    run_id: &'a str,
    delivery: &'a DeliveryReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    expectations: Vec<expect::Outcome>,
}

pub(crate) fn run(args: &RunArgs) -> Result<(), CliError> {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut scenario = match ecsim_scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(LoadError::Invalid(problems)) => {
            say!("{}", problems.render(color, crate::say::width()));
            return Err(LoadError::Invalid(problems).into());
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(first) = args.first_run_number {
        scenario.first_run_number = first;
    }
    match args.epoch {
        Some(Epoch::Now) => scenario.epoch_now = true,
        Some(Epoch::At(epoch)) => {
            scenario.epoch = epoch;
            scenario.epoch_now = false;
        }
        None => {}
    }
    if let Some(speed) = args.speed {
        scenario.speed = if speed == 0.0 {
            Speed::Virtual
        } else {
            Speed::Factor(speed)
        };
    }

    // Caught from here, before anything is announced: a signal stops the replay, which then
    // ends as it always does (summary, delivery report), and exits 130.
    let stop = driver::Stop::new();
    crate::stop::stop_on_signal(&stop)?;
    crate::stop::on_panic(&stop);

    let (plugins, plugin_topics) = plugins_of(&scenario, &args.libraries())?;

    // Where the messages go: the cluster given, else a broker of our own.
    let kafka_args = &args.kafka;
    if kafka_args.brokers.is_some() && scenario.speed == Speed::Virtual {
        // Said once: a consumer that writes a database (Bookkeeping) lost every run of a burst.
        tracing::warn!(
            "virtual time: the whole scenario reaches {} in a burst of milliseconds; a consumer \
             that writes a database (ALICE's Bookkeeping) may not keep up — give it real pace \
             with --speed 1 (or 10) and --epoch now",
            kafka_args.brokers.as_deref().unwrap_or_default()
        );
    }
    let (kafka, embedded) = open_publisher(kafka_args, args.port, plugin_topics)?;
    let broker_address = kafka.brokers().to_owned();
    // Not seeded: two runs of one scenario publish the same bytes, and this tells them apart.
    let run_id = uuid::Uuid::new_v4().to_string();
    kafka.tag_records(&run_id, Some(&scenario.name));
    if args.serve
        && let Some(broker) = &embedded
    {
        announce(broker.bootstrap_servers(), args.print).context("writing to stdout")?;
    }

    let printer = args.print.then(|| Arc::new(JsonLines::stdout()));
    let recorder = match &args.record {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating the recording {}", path.display()))?;
            Some(Arc::new(JsonLines::to(Box::new(file), Format::Recording)))
        }
        None => None,
    };
    let expectations = (!scenario.expectations.is_empty())
        .then(|| Arc::new(ecsim_replay::LiveCheck::new(&scenario.expectations)));
    let mut outputs: Vec<Arc<dyn Publisher>> = vec![kafka.clone()];
    if let Some(printer) = &printer {
        outputs.push(printer.clone());
    }
    if let Some(recorder) = &recorder {
        outputs.push(recorder.clone());
    }
    if let Some(expectations) = &expectations {
        outputs.push(expectations.clone());
    }
    let timeline = args
        .report
        .as_ref()
        .map(|_| Arc::new(ecsim_report::TimelineRecorder::new()));
    if let Some(timeline) = &timeline {
        outputs.push(timeline.clone());
    }
    let live = match args.http_port {
        Some(_) if scenario.speed == Speed::Virtual => {
            return Err(CliError::InvalidInput(
                "--http-port shows a run as it goes, in real time: give --speed 1 (or any speed; the scenario runs in virtual time)".to_owned(),
            ));
        }
        Some(port) => {
            let listener = ecsim_report::live::bind(port)
                .with_context(|| format!("listening for the live page on 127.0.0.1:{port}"))?;
            let address = listener.local_addr().context("the live page's address")?;
            let view = Arc::new(ecsim_report::live::LiveView::new(&scenario.name));
            let server = ecsim_report::live::LiveServer::start(listener, Arc::clone(&view))
                .context("starting the live page")?;
            sayln!("live page at http://{address}/");
            outputs.push(view.clone());
            Some((view, server))
        }
        None => None,
    };
    // Last, so that every output has the message it panics at.
    if let Some(fault) = crate::stop::injected_panic() {
        outputs.push(Arc::new(fault));
    }
    let publisher: Arc<dyn Publisher> = Arc::new(FanOut(outputs));

    // A bar only where a person watches stderr, and not over JSON lines on the same terminal.
    let show_bar = std::io::stderr().is_terminal()
        && !(args.print && std::io::stdout().is_terminal())
        && !args.quiet;
    let shown: Arc<dyn driver::Progress> = if show_bar {
        let bar = ProgressBar::new(scenario.schedule.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos}/{len} steps {wide_bar} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Arc::new(Bar(bar))
    } else {
        Arc::new(driver::Silent)
    };
    // Expectations learn each environment's id from the driver, before its first message.
    let progress: Arc<dyn driver::Progress> = match &expectations {
        Some(check) => Arc::new(driver::Listeners(vec![shown, check.clone()])),
        None => shown,
    };

    tracing::info!(scenario = %scenario.name, seed = scenario.seed, broker = %broker_address, "replaying");
    // In real time the LHC's state is also read from the broker, as AliECS's lhc plugin reads
    // it; in virtual time the timeline is over in milliseconds and must not depend on the wall
    // clock, so only its own beam_mode steps count.
    let real_time = scenario.speed != Speed::Virtual;
    let replayed = driver::run_blocking_with(
        &scenario,
        publisher,
        plugins,
        Arc::clone(&progress),
        &stop,
        |simulation| {
            real_time
                .then(|| {
                    crate::commands::dip::follow(&broker_address, &run_id, simulation.lhc_input())
                })
                .transpose()
        },
    );
    let report = match replayed {
        Ok((report, dip)) => {
            if let Ok(Some(dip)) = dip {
                dip.stop();
            } else if let Err(error) = dip {
                tracing::warn!(%error, "the LHC's state was not read from the broker");
            }
            report
        }
        Err(error) => {
            // What was published before the failure still goes out.
            drop(progress);
            kafka.finish(kafka_args.flush_timeout);
            return Err(error.into());
        }
    };
    drop(progress);
    if let Some((view, server)) = live {
        // The pages get the last state, then their streams end.
        view.close();
        server.stop();
    }
    let delivery = kafka.finish(kafka_args.flush_timeout);
    if let Some(printer) = &printer {
        printer.finish().context("writing to stdout")?;
    }
    if let (Some(recorder), Some(path)) = (&recorder, &args.record) {
        recorder
            .finish()
            .with_context(|| format!("writing the recording {}", path.display()))?;
    }
    let outcomes = match &expectations {
        // A timeline not played to its end: its expectations would only report the stop.
        Some(_) if report.stopped.is_some() => Vec::new(),
        Some(check) => check.outcomes(),
        None => Vec::new(),
    };

    if let (Some(timeline), Some(path)) = (&timeline, &args.report) {
        let mut summary = format!("{report}{delivery}");
        if !outcomes.is_empty() {
            summary.push_str(&expect::render(&outcomes));
        }
        // Lanes by the names the scenario gives (`env-07`), a name created twice numbered.
        let mut names = std::collections::BTreeMap::new();
        for (name, ids) in &report.environment_ids {
            for (n, id) in ids.iter().enumerate() {
                let label = if ids.len() == 1 {
                    name.clone()
                } else {
                    format!("{name} #{}", n + 1)
                };
                names.insert(id.clone(), label);
            }
        }
        let page = ecsim_report::render(&timeline.timeline(), &scenario.name, &summary, &names);
        std::fs::write(path, page)
            .with_context(|| format!("writing the report {}", path.display()))?;
    }

    match &args.summary_json {
        None => {
            say!("{report}");
            sayln!(
                "broker: {broker_address}{}; records tagged {}={run_id}",
                if embedded.is_some() {
                    " (embedded)"
                } else {
                    ""
                },
                ecsim_kafka::RUN_HEADER
            );
            say!("{delivery}");
            if !outcomes.is_empty() {
                say!("{}", expect::render(&outcomes));
            }
        }
        Some(path) => {
            let summary = Summary {
                replay: &report,
                broker: broker_address.clone(),
                run_id: &run_id,
                delivery: &delivery,
                expectations: outcomes.clone(),
            };
            if path.as_os_str() == "-" {
                sayln!(
                    "{}",
                    serde_json::to_string(&summary).context("rendering the summary")?
                );
            } else {
                let json =
                    serde_json::to_string_pretty(&summary).context("rendering the summary")?;
                std::fs::write(path, json + "\n")
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }

    let status = match report.stopped {
        // Expectations of a timeline not played to its end say nothing: the stop is the news.
        Some(ecsim_replay::Stopped::Interrupted) => Err(CliError::Interrupted {
            done: report.requests.total,
            total: scenario.schedule.len() as u64,
            what: "steps",
        }),
        _ => status(&delivery, &outcomes, broker_address).and_then(|()| {
            let unfired = report.faults_not_fired.len();
            if args.strict && unfired > 0 {
                Err(CliError::FaultsNotFired {
                    unfired,
                    total: scenario.faults.len(),
                })
            } else {
                Ok(())
            }
        }),
    };
    if args.serve
        && let Some(broker) = &embedded
    {
        // Whatever the outcome: what was published is there to read, failures included.
        serve_until_interrupted(broker, || {
            sayln!(
                "serving the embedded broker at {} until interrupted (Ctrl-C); then exit {}",
                broker.bootstrap_servers(),
                match &status {
                    Ok(()) => 0,
                    Err(error) => error.exit().code(),
                }
            );
            Ok(())
        })?;
    }
    status
}

/// A replay's extra plugins.
pub(crate) type Plugins = Vec<Arc<dyn IntegrationPlugin>>;

/// The scenario's plugin libraries and those given with `--plugin`, checked and configured
/// before anything connects anywhere, and every topic their plugins may write (made before the
/// first message).
pub(crate) fn plugins_of(
    scenario: &ecsim_scenario::Scenario,
    extra: &[ecsim_replay::plugins::CommandLineLibrary],
) -> Result<(Plugins, Vec<String>), CliError> {
    let dynamic = ecsim_replay::plugins::load(scenario, extra)?;
    let plugins: Vec<Arc<dyn IntegrationPlugin>> = dynamic
        .iter()
        .map(|p| Arc::clone(p) as Arc<dyn IntegrationPlugin>)
        .collect();
    let topics = ecsim_replay::assembly::topics(scenario, &plugins)?;
    expect::check_topics(&scenario.file, &scenario.expectations, &topics)?;
    Ok((plugins, topics))
}

/// The run's exit status: undelivered messages first, then expectations that do not hold.
fn status(
    delivery: &DeliveryReport,
    outcomes: &[expect::Outcome],
    broker: String,
) -> Result<(), CliError> {
    if !delivery.all_delivered() {
        let total = delivery.total();
        return Err(CliError::Undelivered {
            undelivered: total.sent - total.delivered,
            sent: total.sent,
            broker,
        });
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
