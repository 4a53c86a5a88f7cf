//! `ecsim serve`: AliECS's control API over a live simulated core.
//!
//! The core is set up as `run` sets it up (a scenario's plugins, libraries, faults and
//! header, or defaults), its clock runs in real time (or `--speed`), and the scenario's
//! timeline, if any, plays in the background while clients drive the same core through
//! `o2control.Control`. A signal ends it: the server stops taking requests and answers those
//! in flight, the environments still alive are listed (not destroyed: AliECS does not destroy
//! them when its core stops either), and every message is flushed to the broker before the
//! delivery report.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use ecsim_control::{Catalogue, ControlService, Identity, Listener};
use ecsim_core::publish::{FanOut, Publisher};
use ecsim_scenario::{LoadError, Scenario, Speed, driver};

use crate::{
    cli::ServeArgs, commands::kafka::open_publisher, commands::validate::width, exit::CliError,
    print::JsonLines,
};

/// The setup of a server started without `--scenario`.
const NO_SCENARIO: &str = "[scenario]\nname = \"serve\"\nepoch = \"now\"\nspeed = 1\n";

fn scenario(args: &ServeArgs) -> Result<Scenario, CliError> {
    use std::io::IsTerminal as _;
    let mut scenario = match &args.scenario {
        None => ecsim_scenario::parse("serve", NO_SCENARIO)
            .map_err(|problems| anyhow::anyhow!("the built-in setup is invalid: {problems:?}"))?,
        Some(path) => match ecsim_scenario::load(path) {
            Ok(scenario) => scenario,
            Err(LoadError::Invalid(problems)) => {
                let color =
                    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                {
                    say!("{}", problems.render(color, width()));
                }
                return Err(LoadError::Invalid(problems).into());
            }
            Err(error) => return Err(error.into()),
        },
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    // A server lives in the present: its timestamps are today's, its clock runs.
    scenario.epoch_now = true;
    scenario.speed = Speed::Factor(match (args.speed, scenario.speed) {
        (Some(speed), _) => speed,
        (None, Speed::Factor(speed)) => speed,
        (None, Speed::Virtual) => 1.0,
    });
    Ok(scenario)
}

pub(crate) fn run(args: &ServeArgs) -> Result<(), CliError> {
    let scenario = scenario(args)?;
    let (plugins, plugin_topics) = crate::commands::run::plugins_of(&scenario, &args.plugins)?;
    let (kafka, embedded) = open_publisher(&args.kafka, args.port, plugin_topics)?;
    let broker_address = kafka.brokers().to_owned();
    let run_id = uuid::Uuid::new_v4().to_string();
    kafka.tag_records(&run_id);
    let printer = args.print.then(|| Arc::new(JsonLines::stdout()));
    let mut outputs: Vec<Arc<dyn Publisher>> = vec![kafka.clone()];
    if let Some(printer) = &printer {
        outputs.push(printer.clone());
    }
    let live = match args.http_port {
        Some(port) => {
            let listener = ecsim_report::live::bind(port)
                .with_context(|| format!("listening for the live page on 127.0.0.1:{port}"))?;
            let view = Arc::new(ecsim_report::live::LiveView::new(&scenario.name));
            outputs.push(view.clone());
            Some((listener, view))
        }
        None => None,
    };
    // Last, so that every output has the message it panics at.
    if let Some(fault) = crate::stop::injected_panic() {
        outputs.push(Arc::new(fault));
    }
    let publisher: Arc<dyn Publisher> = Arc::new(FanOut(outputs));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let catalogue = Catalogue {
        timing: args.timing.map_or_else(Default::default, |t| t.0),
        tasks_per_host: usize::from(args.tasks_per_host),
        ..Catalogue::default()
    };
    let address = SocketAddr::new(args.grpc_host, args.grpc_port);
    let served: Result<driver::Simulation, CliError> = runtime.block_on(async {
        let simulation =
            driver::Simulation::start(&scenario, publisher, plugins, Arc::new(driver::Silent))
                .await?;
        let listener = match Listener::bind(address).await {
            Ok(listener) => listener,
            Err(error) => {
                simulation.finish().await;
                return Err(error.into());
            }
        };
        // A panic (a bug) stops the server as a signal does, and the exit is 8: the core's state
        // after a panic is not to be trusted.
        let bug = driver::Stop::new();
        crate::stop::on_panic(&bug);
        let interrupted = interruption(bug.clone())?;
        let http = match &live {
            Some((listener, _)) => Some(listener.local_addr().context("the live page's address")?),
            None => None,
        };
        announce(listener.address(), &broker_address, http).context("writing to stdout")?;
        sayln!(
            "serving o2control.Control at {} (AliECS's control API), publishing to {broker_address}{}; records tagged {}={run_id}; Ctrl-C to stop",
            listener.address(),
            if embedded.is_some() { " (embedded broker)" } else { "" },
            ecsim_kafka::RUN_HEADER,
        );
        let timeline = tokio::spawn(simulation.play_until(bug));
        let service = ControlService::new(
            simulation.core().clone(),
            catalogue,
            Identity::default(),
        );
        let live_page = match live {
            Some((listener, view)) => {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .context("serving the live page")?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(ecsim_report::live::serve(
                    listener,
                    Arc::clone(&view),
                    Some(details(service.clone())),
                    async move {
                        let _ = stopped.await;
                    },
                ));
                Some((view, stop, task))
            }
            None => None,
        };
        let served = listener.serve(service, interrupted).await;
        timeline.abort();
        if let Some((view, stop, task)) = live_page {
            view.close();
            let _ = stop.send(());
            if let Ok(Err(error)) = task.await {
                tracing::warn!(%error, "the live page stopped");
            }
        }
        if let Err(error) = served {
            simulation.finish().await;
            return Err(error.into());
        }
        Ok(simulation)
    });
    let simulation = served?;
    let alive = simulation.core().views();
    if alive.is_empty() {
        sayln!("stopped; no environment was alive");
    } else {
        sayln!(
            "stopped with {} environment(s) alive, left as they were (not destroyed):",
            alive.len()
        );
        for view in &alive {
            sayln!(
                "  {} {}{} [{}]",
                view.id,
                view.state.as_str(),
                view.run_number
                    .map(|run| format!(" run {run}"))
                    .unwrap_or_default(),
                view.detectors.join(",")
            );
        }
    }
    let report = runtime.block_on(simulation.finish());
    drop(runtime);
    let delivery = kafka.finish(args.kafka.flush_timeout);
    if let Some(printer) = &printer {
        printer.finish().context("writing to stdout")?;
    }
    sayln!(
        "{} message(s) published; {} run number(s) handed out",
        report.messages.total,
        report.runs
    );
    say!("{delivery}");
    if !delivery.all_delivered() {
        let total = delivery.total();
        return Err(CliError::Undelivered {
            undelivered: total.sent - total.delivered,
            sent: total.sent,
            broker: broker_address,
        });
    }
    Ok(())
}

/// The first line of stdout: where to reach the server, its broker and its live page, as one
/// JSON object.
fn announce(grpc: SocketAddr, broker: &str, http: Option<SocketAddr>) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut announcement = serde_json::json!({ "grpc": grpc.to_string(), "broker": broker });
    if let Some(http) = http {
        announcement["http"] = serde_json::Value::from(format!("http://{http}/"));
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{announcement}")?;
    stdout.flush()
}

/// The live page's link of an environment: its `GetEnvironment` reply, through the service.
fn details(service: ControlService) -> ecsim_report::live::Details {
    Arc::new(move |id: String| {
        let service = service.clone();
        Box::pin(async move {
            use ecsim_control::service::Control as _;
            let request = tonic::Request::new(ecsim_proto::o2control::GetEnvironmentRequest {
                id,
                show_workflow_tree: false,
            });
            let reply = service.get_environment(request).await.ok()?;
            Some(ecsim_proto::json::to_json(&reply.into_inner()))
        })
    })
}

/// A future that resolves at Ctrl-C (SIGINT), SIGTERM, or a panic (`bug`). The signals are
/// caught from this call on, not from the first poll: a client that reads the announcement and
/// stops the server at once stops it cleanly.
fn interruption(bug: driver::Stop) -> Result<impl Future<Output = ()> + Send, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            biased;
            _ = interrupt.recv() => tracing::info!("interrupted: the control server stops"),
            _ = terminate.recv() => tracing::info!("terminated: the control server stops"),
            why = bug.wait() => tracing::error!(%why, "the control server stops"),
        }
    })
}
