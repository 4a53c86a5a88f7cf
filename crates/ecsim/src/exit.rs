//! Exit codes, and how a failed command reports itself.
//!
//! Scripts and CI pipelines branch on ecsim's exit status, so every code has one documented
//! meaning and never changes. The table is written here once: `--help` shows
//! [`help_text`], and the README's "Exit codes" section must be `markdown_table` (a test
//! compares them). clap exits with 2 on its own for usage errors; [`Exit::Usage`] keeps that meaning for
//! usage errors found after parsing.

use std::process::ExitCode;

/// The documented exit statuses of `ecsim`. A failure's status comes from its type:
/// [`CliError::exit`].
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
    /// A control server answered a request with an error status.
    Refused = 7,
    /// ecsim panicked: a bug. What it did until then is reported; the rest was not done.
    Internal = 8,
    /// A signal (Ctrl-C, SIGTERM) stopped a replay before the end of its timeline.
    Interrupted = 130,
}

impl Exit {
    /// Every exit status, in code order.
    pub(crate) const ALL: [Exit; 10] = [
        Exit::Ok,
        Exit::Runtime,
        Exit::Usage,
        Exit::InvalidInput,
        Exit::ExpectationsFailed,
        Exit::Undelivered,
        Exit::Plugin,
        Exit::Refused,
        Exit::Internal,
        Exit::Interrupted,
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
            Exit::Refused => "the control server refused the request",
            Exit::Internal => "internal error (a bug)",
            Exit::Interrupted => "interrupted",
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
            Exit::ExpectationsFailed => {
                "a scenario's expectations do not hold (`run`, `verify`), or a fault never struck (`run --strict`)"
            }
            Exit::Undelivered => "messages were not delivered to the broker (`run`, `replay`)",
            Exit::Plugin => {
                "a plugin library was refused, or one of its plugins did not start (`run`, `serve`, `plugin inspect`), or does not conform (`plugin check`)"
            }
            Exit::Refused => {
                "a control server answered with an error status: the gRPC code and message are printed (`env`, `info`)"
            }
            Exit::Internal => {
                "internal error: ecsim panicked, which is a bug (please report it); what was done until then is reported, the rest was not done"
            }
            Exit::Interrupted => {
                "interrupted by a signal (Ctrl-C, SIGTERM) before the end: the summary, the delivery report and what was printed are complete up to there (`run`, `replay`)"
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

/// Why a command failed: every error that reaches the command line, typed. Its exit status is
/// [`CliError::exit`], an exhaustive `match`, so a new kind of failure cannot go out without
/// one.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A scenario file that cannot be read, or is invalid.
    #[error(transparent)]
    Scenario(#[from] ecsim_scenario::LoadError),
    /// A scenario's plugin libraries: refused, or not offering what the scenario asks.
    #[error(transparent)]
    PluginSetup(#[from] ecsim_replay::plugins::PluginSetupError),
    /// A replay that could not run.
    #[error(transparent)]
    Replay(#[from] ecsim_replay::driver::ReplayError),
    /// The embedded broker did not start.
    #[error(transparent)]
    Broker(#[from] ecsim_kafka::embedded::EmbeddedError),
    /// A Kafka cluster that does not answer, or refuses the topics.
    #[error(transparent)]
    Connect(#[from] ecsim_kafka::ConnectError),
    /// Kafka properties (a file or `-X` flags) that are wrong.
    #[error(transparent)]
    Settings(#[from] ecsim_kafka::settings::SettingsError),
    /// Reading topics back (`tail`, `verify`).
    #[error(transparent)]
    Read(#[from] ecsim_kafka::consumer::ReadError),
    /// Bytes that do not decode as the message type (`decode`).
    #[error(transparent)]
    Decode(#[from] ecsim_proto::json::DecodeError),
    /// An expectation on a topic the run never writes (`run`, `validate`, `serve`).
    #[error(transparent)]
    UnwrittenTopic(#[from] ecsim_scenario::expect::UnwrittenTopic),
    /// A plugin library that would not load (`plugin inspect`): why, and what to do.
    #[error("{0}")]
    LibraryRefused(String),
    /// An argument that names nothing ecsim knows (a topic, a message type), or input with
    /// nothing in it to act on.
    #[error("{0}")]
    InvalidInput(String),
    /// A line of a recording that cannot be replayed (`replay`).
    #[error(
        "{file}:{line}: {cause}; a line is a JSON object with at least topic and value_hex, as `ecsim record` writes it"
    )]
    Recording {
        /// The recording.
        file: String,
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it (in the message, so not also a `source()`).
        cause: ecsim_kafka::recording::LineError,
    },
    /// Scenario files that could not be read (`validate`).
    #[error("{count} file(s) could not be read")]
    Unreadable {
        /// How many.
        count: usize,
    },
    /// Scenario files with problems (`validate`), each already reported.
    #[error("{invalid} of {total} scenario(s) are invalid")]
    ScenariosInvalid {
        /// How many are invalid.
        invalid: usize,
        /// How many were checked.
        total: usize,
    },
    /// The control server could not start.
    #[error(transparent)]
    Serve(#[from] ecsim_control::ServeError),
    /// No control server answers at the endpoint.
    #[error(
        "cannot reach a control server at {endpoint}: {reason}; is `ecsim serve` (or AliECS) running there? (--endpoint, ECSIM_ENDPOINT)"
    )]
    Unreachable {
        /// Where.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// The control server answered with an error status.
    #[error("{method}: {code:?}: {message}")]
    Refused {
        /// The RPC.
        method: &'static str,
        /// The gRPC status code.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
    /// Messages the broker did not acknowledge (`run`).
    #[error("{undelivered} of {sent} messages were not delivered to {broker}")]
    Undelivered {
        /// How many were not.
        undelivered: u64,
        /// How many were sent.
        sent: u64,
        /// Where to.
        broker: String,
    },
    /// Expectations that do not hold (`run`, `verify`), each already reported.
    #[error("{failed} of {total} expectations not met")]
    ExpectationsFailed {
        /// How many failed.
        failed: usize,
        /// How many were checked.
        total: usize,
    },
    /// Faults that never struck, under `run --strict` (each already reported).
    #[error("{unfired} of {total} faults never struck (--strict)")]
    FaultsNotFired {
        /// How many did not.
        unfired: usize,
        /// How many the scenario has.
        total: usize,
    },
    /// A replay stopped by a signal before the end of its timeline (its summary already
    /// printed).
    #[error("interrupted after {done} of {total} {what}: the rest was not played")]
    Interrupted {
        /// Steps (records) played.
        done: u64,
        /// Steps (records) there were.
        total: u64,
        /// What was played: "steps", "records".
        what: &'static str,
    },
    /// Standard streams and files the command writes, and anything else at run time, with the
    /// context of what was being done.
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

impl CliError {
    /// The documented exit status of this failure.
    pub(crate) fn exit(&self) -> Exit {
        use ecsim_replay::driver::ReplayError;
        use ecsim_scenario::LoadError;
        match self {
            CliError::Scenario(LoadError::Read { .. }) => Exit::Runtime,
            CliError::Scenario(LoadError::Invalid(_) | LoadError::Refused { .. }) => {
                Exit::InvalidInput
            }
            CliError::PluginSetup(_) | CliError::LibraryRefused(_) => Exit::Plugin,
            CliError::Replay(
                ReplayError::PluginStart { .. } | ReplayError::UnknownIntegrationPlugin { .. },
            ) => Exit::Plugin,
            CliError::Replay(ReplayError::Runtime(_))
            | CliError::Broker(_)
            | CliError::Connect(_)
            | CliError::Read(_)
            | CliError::Unreadable { .. }
            | CliError::Io(_) => Exit::Runtime,
            CliError::Settings(_)
            | CliError::Decode(_)
            | CliError::UnwrittenTopic(_)
            | CliError::InvalidInput(_)
            | CliError::Recording { .. }
            | CliError::ScenariosInvalid { .. } => Exit::InvalidInput,
            CliError::Undelivered { .. } => Exit::Undelivered,
            CliError::Serve(_) | CliError::Unreachable { .. } => Exit::Runtime,
            CliError::Refused { .. } => Exit::Refused,
            CliError::ExpectationsFailed { .. } | CliError::FaultsNotFired { .. } => {
                Exit::ExpectationsFailed
            }
            CliError::Interrupted { .. } => Exit::Interrupted,
        }
    }

    /// Prints the error and its causes to stderr and returns the exit status.
    pub(crate) fn report(self) -> ExitCode {
        let exit = self.exit();
        sayln!("error: {:#}", anyhow::Error::from(self));
        exit.into()
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

    /// The status of a failure follows from what failed, and the message reads as one sentence
    /// with its causes.
    #[test]
    fn a_failure_s_type_decides_its_status() {
        use ecsim_replay::driver::ReplayError;
        use ecsim_scenario::LoadError;
        let status = |error: CliError| {
            (
                error.exit().code(),
                format!("{:#}", anyhow::Error::from(error)),
            )
        };

        let invalid = ecsim_scenario::parse("bad.toml", "name = 3").unwrap_err();
        assert_eq!(status(LoadError::Invalid(invalid).into()).0, 3);
        let unreadable = LoadError::Read {
            path: "missing.toml".into(),
            cause: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(
            status(unreadable.into()),
            (1, "cannot read missing.toml: entity not found".to_owned())
        );
        let not_started = ReplayError::PluginStart {
            plugin: "probe".into(),
            reason: "bad configuration".into(),
        };
        assert_eq!(status(not_started.into()).0, 6);
        let no_runtime = ReplayError::Runtime(std::io::Error::other("no threads"));
        assert_eq!(status(no_runtime.into()).0, 1);
        assert_eq!(
            status(CliError::Undelivered {
                undelivered: 3,
                sent: 10,
                broker: "127.0.0.1:9092".into(),
            }),
            (
                5,
                "3 of 10 messages were not delivered to 127.0.0.1:9092".to_owned()
            )
        );
        assert_eq!(
            status(CliError::ExpectationsFailed {
                failed: 1,
                total: 4,
            }),
            (4, "1 of 4 expectations not met".to_owned())
        );
        let io = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing to stdout");
        assert_eq!(
            status(io.into()),
            (1, "writing to stdout: broken pipe".to_owned())
        );
    }

    #[test]
    fn codes_are_distinct_and_in_order() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 130]);
        assert!(help_text().starts_with("Exit codes: 0 success, 1 runtime failure, 2 usage error"));
    }
}
