//! A scenario linter that links the format crate alone: no simulator, no plugin library, no
//! loader. It is what an editor integration or a pre-commit hook needs, and it shows the
//! crate's whole reading API in one page.
//!
//! ```text
//! cargo run -p ecsim-scenario --example check -- scenarios/*.toml
//! cargo run -p ecsim-scenario --example check -- --schema > scenario.schema.json
//! ```
//!
//! Exit status: 0 when every file is valid, 1 when one is not (or cannot be read), 2 for a
//! usage error — `ecsim validate`'s codes, without its plugin checks (which load libraries).

use std::{io::Write as _, path::Path, process::ExitCode};

use ecsim_scenario::{LoadError, load, schema::json_schema_text};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        let _ = writeln!(err, "usage: check SCENARIO.toml… | check --schema");
        return ExitCode::from(2);
    }
    if args == ["--schema"] {
        return match write!(out, "{}", json_schema_text()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    // An option among paths is a usage error, not a file that cannot be read.
    if let Some(option) = args.iter().find(|a| a.starts_with('-')) {
        let _ = writeln!(
            err,
            "check: {option} is not a scenario file: `--schema` comes alone, and a file \
             whose name starts with `-` is written `./{option}`\n\
             usage: check SCENARIO.toml… | check --schema"
        );
        return ExitCode::from(2);
    }
    let mut valid = true;
    for path in &args {
        match load(Path::new(path)) {
            Ok(scenario) => {
                let _ = writeln!(
                    out,
                    "{path}: valid ({} environments, {} steps, {} expectations, {} faults)",
                    scenario.environments.len(),
                    scenario.schedule.len(),
                    scenario.expectations.len(),
                    scenario.faults.len()
                );
            }
            Err(LoadError::Invalid(invalid)) => {
                valid = false;
                let _ = write!(err, "{}", invalid.render(false, 100));
            }
            Err(other) => {
                valid = false;
                let _ = writeln!(err, "{other}");
            }
        }
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
