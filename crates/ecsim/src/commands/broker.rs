//! `ecsim broker`: the embedded broker on its own, for consumers under development.

use std::io::Write as _;

use anyhow::Context as _;
use ecsim_kafka::EmbeddedBroker;

use crate::exit::CliError;

pub(crate) fn run(port: Option<u16>, partitions: i32, max_memory_mib: u64) -> Result<(), CliError> {
    let max_stored_bytes =
        usize::try_from(max_memory_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let broker = EmbeddedBroker::start_storing(port, max_stored_bytes)?;
    broker
        .create_aliecs_topics(partitions)
        .map_err(|error| anyhow::anyhow!("creating AliECS's topics: {error}"))?;
    serve_until_interrupted(&broker, || {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", broker.bootstrap_servers()).context("writing to stdout")?;
        stdout.flush().context("writing to stdout")?;
        sayln!(
            "embedded broker at {} (in memory: every message kept, up to {max_memory_mib} MiB, nothing on disk); Ctrl-C to stop",
            broker.bootstrap_servers()
        );
        Ok(())
    })
}

/// Keeps `broker` serving until the process is interrupted (Ctrl-C, SIGTERM), then returns.
/// `announce` says it is serving: it runs once the signals are caught, so that whoever reads
/// the announcement and stops the broker at once stops it cleanly.
pub(crate) fn serve_until_interrupted(
    broker: &EmbeddedBroker,
    announce: impl FnOnce() -> Result<(), CliError>,
) -> Result<(), CliError> {
    tracing::info!(bootstrap = broker.bootstrap_servers(), "serving");
    let (stop, stopped) = std::sync::mpsc::channel();
    crate::stop::on_signal(move || {
        // A second signal finds the receiver gone; nothing more to do.
        let _ = stop.send(());
    })?;
    announce()?;
    // An error means the handler is gone, which it never is: stop serving either way.
    let _ = stopped.recv();
    tracing::info!("interrupted; the embedded broker stops");
    Ok(())
}
