//! `ecsim run SCENARIO`: replay a scenario on the simulated AliECS.
//!
//! Messages go to an in-memory sink today, and to stdout as JSON lines with `--print`; the
//! summary (environments, runs, requests, messages per topic) goes to stderr, as text or as
//! JSON with `--summary-json`.

use std::{io::IsTerminal as _, sync::Arc, time::Duration};

use anyhow::Context as _;
use ecsim_core::publish::Publisher;
use ecsim_scenario::{LoadError, Speed, driver};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    cli::RunArgs,
    commands::validate::width,
    exit::{Exit, Failure},
    print::JsonLines,
};

/// Publishes nowhere: without `--print` (and until a broker is given) the messages only count.
#[derive(Debug)]
struct Discard;

impl Publisher for Discard {
    fn publish(&self, _record: ecsim_core::publish::Record) {}
}

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

#[allow(clippy::print_stderr)] // the summary is for the user
pub(crate) fn run(args: &RunArgs) -> Result<(), Failure> {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut scenario = match ecsim_scenario::load(&args.scenario) {
        Ok(scenario) => scenario,
        Err(LoadError::Invalid(problems)) => {
            eprint!("{}", problems.render(color, width()));
            return Err(Failure::new(Exit::InvalidInput, problems));
        }
        Err(error) => return Err(Failure::new(Exit::Runtime, error)),
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(speed) = args.speed {
        scenario.speed = if speed == 0.0 {
            Speed::Virtual
        } else {
            Speed::Factor(speed)
        };
    }

    let printer = args.print.then(|| Arc::new(JsonLines::stdout()));
    let publisher: Arc<dyn Publisher> = match &printer {
        Some(printer) => printer.clone(),
        None => Arc::new(Discard),
    };

    // A bar only where a person watches stderr, and not over JSON lines on the same terminal.
    let show_bar = std::io::stderr().is_terminal()
        && !(args.print && std::io::stdout().is_terminal())
        && !args.quiet;
    let progress: Arc<dyn driver::Progress> = if show_bar {
        let bar = ProgressBar::new(scenario.schedule.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos}/{len} steps {wide_bar} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Arc::new(Bar(bar))
    } else {
        Arc::new(driver::Silent)
    };

    tracing::info!(scenario = %scenario.name, seed = scenario.seed, "replaying");
    let report = driver::run_blocking(&scenario, publisher, Vec::new(), Arc::clone(&progress))
        .context("starting the runtime")?;
    drop(progress);

    if let Some(printer) = &printer {
        printer.finish().context("writing to stdout")?;
    }
    match &args.summary_json {
        None => eprint!("{report}"),
        Some(path) if path.as_os_str() == "-" => {
            eprintln!(
                "{}",
                serde_json::to_string(&report).context("rendering the summary")?
            );
        }
        Some(path) => {
            let json = serde_json::to_string_pretty(&report).context("rendering the summary")?;
            std::fs::write(path, json + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
