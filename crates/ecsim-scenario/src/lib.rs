//! The scenario format of ecsim: TOML files read, validated and described, apart from the
//! simulation that replays them.
//!
//! A scenario says what happens to AliECS environments and when: which environments exist
//! (detectors, variables, workflow changes), a timeline of requests (create, start, stop,
//! destroy …) at absolute or relative times, repeated blocks for long runs, and scenario-wide
//! events (LHC beam mode changes). [`parse`] turns a file into a validated [`Scenario`] or into
//! every problem in it, each pointing at file:line:column; [`schema`] describes the format as a
//! JSON Schema; [`expect`] checks a stream of messages against a scenario's `[[expect]]`.
//!
//! This crate is what a tool that only reads scenarios links (an editor plugin, a linter, the
//! schema generator: `examples/check.rs`): the domain it validates against (`ecsim-core`'s
//! workflows, conditions and specs; `ecsim-proto`'s topics), and no simulator, plugin library
//! or loader. The replay — assembling the simulated AliECS, loading plugin libraries, driving
//! the timeline — is `ecsim-replay`, above it (`cargo xtask tidy` checks that nothing of it
//! comes back down).
//!
//! The format is documented in `scenarios/README.md`; the files in `scenarios/` are examples
//! and test fixtures.

#![forbid(unsafe_code)]

pub mod diagnostic;
pub mod expect;
pub mod model;
mod raw;
pub mod schema;
mod shapes;
mod validate;
mod vocabulary;

use std::path::Path;

pub use diagnostic::{InvalidScenario, Problem};
pub use model::{
    Action, AtEnd, Fault, FaultOutcome, KafkaKeys, PluginLibrary, Scenario, ScheduledStep, Speed,
};
pub use validate::{DEFAULT_EPOCH, LATEST_EPOCH, parse, parse_epoch};

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The path as given.
        path: String,
        /// Why (in the message above, so not also a `source()`: a report printing the chain
        /// would say it twice).
        cause: std::io::Error,
    },
    /// Not a regular file (a FIFO, a device, a directory), or larger than a scenario can be:
    /// refused before reading, which could block or never end.
    #[error("{path}: {why}")]
    Refused {
        /// The path as given.
        path: String,
        /// What it is, and what to give instead.
        why: String,
    },
    /// The file is not a valid scenario.
    #[error(transparent)]
    Invalid(#[from] InvalidScenario),
}

/// The largest scenario file read: far above what the format's limits let a file say (a
/// generated scenario of 40,000 steps is 2 MB).
pub const MAX_SCENARIO_BYTES: u64 = 64 << 20;

/// Reads and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let name = path.display().to_string();
    let read_error = |cause| LoadError::Read {
        path: name.clone(),
        cause,
    };
    // Looked at before it is opened: opening a FIFO blocks until something writes to it.
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(LoadError::Refused {
            path: name,
            why: format!(
                "not a regular file ({}); a scenario is a TOML file",
                if metadata.is_dir() {
                    "a directory"
                } else {
                    "a FIFO, a socket or a device, which could block or never end"
                }
            ),
        });
    }
    if metadata.len() > MAX_SCENARIO_BYTES {
        return Err(LoadError::Refused {
            path: name,
            why: format!(
                "{} bytes, more than a scenario may have ({} MiB); split it",
                metadata.len(),
                MAX_SCENARIO_BYTES >> 20
            ),
        });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    // Within the limit even if the file grows while it is read.
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_SCENARIO_BYTES + 1),
        &mut bytes,
    )
    .map_err(read_error)?;
    let text = String::from_utf8(bytes).map_err(|error| not_utf8(&name, &error))?;
    let mut scenario = parse(&name, &text)?;
    scenario.base_dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    Ok(scenario)
}

/// A file that is not UTF-8 is invalid input, shown where its first bad byte is.
fn not_utf8(name: &str, error: &std::string::FromUtf8Error) -> LoadError {
    let at = error.utf8_error().valid_up_to();
    // The lossy text is the same bytes up to `at`; the bad bytes become U+FFFD (3 bytes).
    let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
    LoadError::Invalid(InvalidScenario {
        name: name.to_owned(),
        text: std::sync::Arc::new(text),
        problems: vec![
            Problem::new(at..at + 3, "the file is not UTF-8 text", "not UTF-8 from here")
                .help("a scenario is a TOML file, which is UTF-8; convert it, e.g. `iconv -f LATIN1 -t UTF-8`"),
        ],
    })
}
