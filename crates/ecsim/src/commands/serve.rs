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
use ecsim_control::{Catalogue, ControlService, Identity, Inventory, Listener};
use ecsim_core::publish::{FanOut, Publisher};
use ecsim_replay::driver;
use ecsim_scenario::{LoadError, Scenario, Speed};

use crate::{cli::ServeArgs, commands::kafka::open_publisher, exit::CliError, print::JsonLines};

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
                    say!("{}", problems.render(color, crate::say::width()));
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

/// The catalogue of API-created environments: `--timing`, `--tasks-per-host`, `--inventory`.
fn catalogue(args: &ServeArgs) -> Result<Catalogue, CliError> {
    let inventory = match &args.inventory {
        None => Inventory::alice(),
        Some(path) => {
            // An inventory at its limit (20,000 FLPs) is well under a megabyte: a file of
            // more than 16 MiB (or a device that never ends) is not one, and is not read whole.
            use std::io::Read as _;
            const MAX_BYTES: u64 = 16 << 20;
            let mut text = String::new();
            std::fs::File::open(path)
                .and_then(|file| file.take(MAX_BYTES + 1).read_to_string(&mut text))
                .with_context(|| format!("reading the inventory {}", path.display()))?;
            if text.len() as u64 > MAX_BYTES {
                return Err(CliError::InvalidInput(format!(
                    "{}: an inventory is at most {} MiB",
                    path.display(),
                    MAX_BYTES >> 20
                )));
            }
            Inventory::from_toml(&text)
                .map_err(|error| CliError::InvalidInput(format!("{}: {error}", path.display())))?
        }
    };
    Ok(Catalogue {
        timing: args.timing.map_or_else(Default::default, |t| t.0),
        tasks_per_host: usize::from(args.tasks_per_host),
        inventory: Arc::new(inventory),
        ..Catalogue::default()
    })
}

pub(crate) fn run(args: &ServeArgs) -> Result<(), CliError> {
    let scenario = scenario(args)?;
    let catalogue = catalogue(args)?;
    let (plugins, plugin_topics) = crate::commands::run::plugins_of(&scenario, &args.libraries())?;
    let (kafka, embedded) = open_publisher(&args.kafka, args.port, plugin_topics)?;
    let broker_address = kafka.brokers().to_owned();
    let run_id = uuid::Uuid::new_v4().to_string();
    kafka.tag_records(&run_id, None);
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

    // A signal or a panic (a bug) stops the server; the exit is 8 after a panic, the core's
    // state then not to be trusted. A second signal quits at once.
    let stop = driver::Stop::new();
    crate::stop::on_panic(&stop);
    stop_on_signal(&stop)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    // The requests' work (creations, transitions) on threads of its own: a large creation
    // never keeps the server from answering other clients.
    let work = tokio::runtime::Builder::new_multi_thread()
        .thread_name("ecsim-core")
        .enable_all()
        .build()
        .context("starting the core's runtime")?;
    let address = SocketAddr::new(args.grpc_host, args.grpc_port);
    let served: Result<driver::Simulation, CliError> = runtime.block_on(async {
        // Bound and announced before the core starts, so that the announcement is stdout's
        // first line whatever else is printed.
        let listener = Listener::bind(address).await?;
        let http = match &live {
            Some((listener, _)) => Some(listener.local_addr().context("the live page's address")?),
            None => None,
        };
        announce(listener.address(), &broker_address, http).context("writing to stdout")?;
        let simulation = driver::Simulation::start(
            &scenario,
            publisher,
            plugins,
            Arc::new(driver::Silent),
        )
        .await?;
        sayln!(
            "serving o2control.Control and apricot.Apricot at {} (AliECS's control API and configuration service), publishing to {broker_address}{}; records tagged {}={run_id}; Ctrl-C to stop",
            listener.address(),
            if embedded.is_some() { " (embedded broker)" } else { "" },
            ecsim_kafka::RUN_HEADER,
        );
        // The LHC's state, from whoever publishes it on the broker, as AliECS's lhc plugin reads it.
        let dip = crate::commands::dip::follow(&broker_address, &run_id, simulation.lhc_input())?;
        let timeline = tokio::spawn(simulation.play_until(stop.clone()));
        let identity = Identity {
            configuration_endpoint: format!("apricot://{}", listener.address()),
            ..Identity::default()
        };
        let service = ControlService::new(simulation.core().clone(), catalogue, identity)
            .with_work_runtime(work.handle().clone());
        let live_page = match live {
            Some((listener, view)) => {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .context("serving the live page")?;
                let (stop_page, page_stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(ecsim_report::live::serve(
                    listener,
                    Arc::clone(&view),
                    Some(details(service.clone())),
                    async move {
                        let _ = page_stopped.await;
                    },
                ));
                Some((view, stop_page, task))
            }
            None => None,
        };
        let stopped = {
            let stop = stop.clone();
            async move {
                let why = stop.wait().await;
                tracing::info!(?why, "the control server stops");
            }
        };
        let tasks = service.clone();
        let served = listener.serve(service, stopped).await;
        // The requests' tasks, owned: given a second to end, the rest named and cut short.
        let cut = tasks.close_tasks(std::time::Duration::from_secs(1)).await;
        if cut > 0 {
            tracing::info!(cut, "request tasks still running at the stop are cut short");
        }
        timeline.abort();
        dip.stop();
        if let Some((view, stop_page, task)) = live_page {
            view.close();
            let _ = stop_page.send(());
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
    // What the requests had under way stops where it is, before the core shuts its plugins
    // down, so that nothing runs beside the shutdown.
    work.shutdown_timeout(std::time::Duration::from_secs(1));
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
                "  {} {}{}{} [{}]",
                view.id,
                view.state.as_str(),
                view.current_transition
                    .as_deref()
                    .map(|transition| format!(" (in {transition})"))
                    .unwrap_or_default(),
                view.run_number
                    .map(|run| format!(" run {run}"))
                    .unwrap_or_default(),
                view.detectors.join(",")
            );
        }
    }
    let report = runtime.block_on(simulation.finish());
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
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

/// Ctrl-C, SIGTERM or SIGHUP stops the server; a second quits at once.
fn stop_on_signal(stop: &driver::Stop) -> Result<(), CliError> {
    let stop = stop.clone();
    crate::stop::on_signal(move || {
        if stop.request(ecsim_replay::Stopped::Interrupted) {
            sayln!(
                "interrupted: the control server stops; streams and waiting calls are answered, the environments alive are listed, messages flushed (again to quit at once)"
            );
        } else {
            sayln!("interrupted again: quitting without waiting for the broker");
            crate::stop::quit_now(crate::exit::Exit::Interrupted);
        }
    })?;
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
