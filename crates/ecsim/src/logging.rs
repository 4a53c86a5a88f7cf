//! Logging setup: tracing to stderr, filtered by `RUST_LOG` or by `-v`/`-q`.
//!
//! stdout is reserved for output meant for programs (JSON lines), so logs never go there.

use tracing_subscriber::EnvFilter;

use crate::cli::Verbosity;

pub(crate) fn init(verbosity: &Verbosity) {
    let default_level = if verbosity.quiet {
        "error"
    } else {
        match verbosity.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    // RUST_LOG wins when set, so that a user can target one module precisely.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .init();
}
