//! Exit codes, and how a failed command reports itself.
//!
//! Scripts and CI pipelines branch on ecsim's exit status, so every code has one documented
//! meaning (README, "Exit codes") and never changes. clap exits with 2 on its own for usage
//! errors; [`Exit::Usage`] keeps that meaning for usage errors found after parsing.

use std::process::ExitCode;

/// The documented exit statuses of `ecsim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The command did what was asked.
    Ok = 0,
    /// Something failed at run time (I/O, a broker, a plugin).
    Runtime = 1,
    /// The command line was wrong.
    #[allow(dead_code)] // clap exits with 2 itself today; kept so the table is complete.
    Usage = 2,
    /// The input (a scenario file, message bytes) is invalid.
    InvalidInput = 3,
    /// The scenario's expectations do not hold.
    ExpectationsFailed = 4,
    /// Messages were not delivered to the broker.
    Undelivered = 5,
    /// A plugin library was refused, or one of its plugins did not start.
    Plugin = 6,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A command's failure: what to tell the user, and which exit status it maps to.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) exit: Exit,
    pub(crate) error: anyhow::Error,
}

impl Failure {
    pub(crate) fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit,
            error: error.into(),
        }
    }

    /// Prints the error chain to stderr and returns the exit status.
    #[allow(clippy::print_stderr)] // the user-facing error report is the point of this function
    pub(crate) fn report(self) -> ExitCode {
        eprintln!("error: {:#}", self.error);
        self.exit.into()
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::new(Exit::Runtime, error)
    }
}
