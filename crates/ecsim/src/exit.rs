//! Exit codes, and how a failed command reports itself.
//!
//! Scripts and CI pipelines branch on ecsim's exit status, so every code has one documented
//! meaning and never changes. The table is written here once: `--help` shows
//! [`help_text`], and the README's "Exit codes" section must be `markdown_table` (a test
//! compares them). clap exits with 2 on its own for usage errors; [`Exit::Usage`] keeps that meaning for
//! usage errors found after parsing.

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

impl Exit {
    /// Every exit status, in code order.
    pub(crate) const ALL: [Exit; 7] = [
        Exit::Ok,
        Exit::Runtime,
        Exit::Usage,
        Exit::InvalidInput,
        Exit::ExpectationsFailed,
        Exit::Undelivered,
        Exit::Plugin,
    ];

    /// The status's number.
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// A few words, for `--help`.
    fn summary(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Runtime => "runtime failure",
            Exit::Usage => "usage error",
            Exit::InvalidInput => "invalid input",
            Exit::ExpectationsFailed => "expectations not met",
            Exit::Undelivered => "messages not delivered",
            Exit::Plugin => "a plugin library refused or not started",
        }
    }

    /// What it means, for the README (whose table the tests check against this).
    #[cfg(test)]
    fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Runtime => {
                "runtime failure: a file that cannot be read or written, a broker that does not answer"
            }
            Exit::Usage => "usage error (the command line)",
            Exit::InvalidInput => {
                "invalid input: a scenario file with problems, bytes that do not decode, an unknown message type or topic"
            }
            Exit::ExpectationsFailed => "a scenario's expectations do not hold (`run`, `verify`)",
            Exit::Undelivered => "messages were not delivered to the broker (`run`)",
            Exit::Plugin => {
                "a plugin library was refused, or one of its plugins did not start (`run`, `plugin inspect`)"
            }
        }
    }
}

/// The exit codes as `--help` lists them, after the commands.
pub(crate) fn help_text() -> String {
    let codes: Vec<String> = Exit::ALL
        .iter()
        .map(|exit| format!("{} {}", exit.code(), exit.summary()))
        .collect();
    format!(
        "Exit codes: {}.\nLogs go to stderr; set RUST_LOG (e.g. RUST_LOG=ecsim=debug) for fine-grained control.",
        codes.join(", ")
    )
}

/// The exit codes as the README's table.
#[cfg(test)]
pub(crate) fn markdown_table() -> String {
    let mut table = String::from("| code | meaning |\n|---|---|\n");
    for exit in Exit::ALL {
        table.push_str(&format!("| {} | {} |\n", exit.code(), exit.meaning()));
    }
    table
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table is this module's, between its markers.
    #[test]
    fn the_readme_lists_every_exit_code_as_written_here() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .expect("the README beside the workspace");
        let start = "<!-- exit-codes: start (crates/ecsim/src/exit.rs) -->\n";
        let end = "<!-- exit-codes: end -->";
        let from = readme.find(start).expect("the README's exit-code markers") + start.len();
        let to = readme[from..].find(end).expect("the end marker") + from;
        assert_eq!(
            &readme[from..to],
            markdown_table(),
            "the README's exit codes differ from crates/ecsim/src/exit.rs: paste the table above"
        );
    }

    #[test]
    fn codes_are_distinct_and_in_order() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, (0..7).collect::<Vec<u8>>());
        assert!(help_text().starts_with("Exit codes: 0 success, 1 runtime failure, 2 usage error"));
    }
}
