//! `ecsim validate SCENARIO…`: check scenario files without running them — every check `ecsim
//! run` makes before its first step, so that "ok" means a run will start: the file itself, then
//! its plugin libraries (they load, have the plugins and operations the file names), then its
//! plugins started with their configuration, and stopped.

use std::{io::IsTerminal as _, path::PathBuf};

use ecsim_scenario::LoadError;

use crate::exit::CliError;

pub(crate) fn run(
    paths: &[PathBuf],
    libraries: &[ecsim_replay::plugins::CommandLineLibrary],
) -> Result<(), CliError> {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut invalid = 0;
    let mut unreadable = 0;
    for path in paths {
        match ecsim_scenario::load(path) {
            Ok(scenario) if let Err(error) = would_start(&scenario, libraries) => {
                invalid += 1;
                // Said once: most of these errors name the file's line already.
                let error = format!("{:#}", anyhow::Error::from(error));
                let file = path.display().to_string();
                if error.starts_with(&file) {
                    sayln!("error: {error}");
                } else {
                    sayln!("error: {file}: {error}");
                }
            }
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
                say!("{}", problems.render(color, crate::say::width()));
                sayln!("{problems}");
            }
            Err(error @ LoadError::Refused { .. }) => {
                invalid += 1;
                sayln!("error: {error}");
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

/// What `ecsim run` checks after reading the file and before its first step.
fn would_start(
    scenario: &ecsim_scenario::Scenario,
    libraries: &[ecsim_replay::plugins::CommandLineLibrary],
) -> Result<(), CliError> {
    let (plugins, _topics) = crate::commands::run::plugins_of(scenario, libraries)?;
    ecsim_replay::driver::preflight(scenario, plugins)?;
    Ok(())
}
