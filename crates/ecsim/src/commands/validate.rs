//! `ecsim validate SCENARIO…`: check scenario files without running them.

use std::{io::IsTerminal as _, path::PathBuf};

use ecsim_scenario::LoadError;

use crate::exit::CliError;

pub(crate) fn run(paths: &[PathBuf]) -> Result<(), CliError> {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut invalid = 0;
    let mut unreadable = 0;
    for path in paths {
        match ecsim_scenario::load(path) {
            Ok(scenario) => sayln!(
                "ok: {} — {} environment{}, {} steps over {}",
                path.display(),
                scenario.environments.len(),
                if scenario.environments.len() == 1 {
                    ""
                } else {
                    "s"
                },
                scenario.schedule.len(),
                humantime::format_duration(scenario.duration()),
            ),
            Err(LoadError::Invalid(problems)) => {
                invalid += 1;
                say!("{}", problems.render(color, width()));
                sayln!("{problems}");
            }
            Err(error @ LoadError::Read { .. }) => {
                unreadable += 1;
                sayln!("error: {error}");
            }
        }
    }
    match (invalid, unreadable) {
        (0, 0) => Ok(()),
        (0, count) => Err(CliError::Unreadable { count }),
        _ => Err(CliError::ScenariosInvalid {
            invalid,
            total: paths.len(),
        }),
    }
}

/// The width to render diagnostics at: the terminal's, else 100.
pub(crate) fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}
