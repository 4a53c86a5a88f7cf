//! `cargo xtask test` and `cargo xtask lint`: what CI runs.
//!
//! `cargo xtask test` is the README's test command. It must work on a fresh machine, so it
//! installs what the tests need and a new machine lacks, then runs every test: the workspace's
//! unit and integration tests under cargo-nextest (faster, one process per test, clearer
//! output) and the doc tests, which nextest cannot run, under `cargo test --doc`.

use crate::run;

/// Tools the tests use that a fresh machine lacks, with the `cargo install` arguments that
/// provide them.
const TOOLS: &[(&str, &[&str])] = &[
    // pq decodes ecsim's bytes with the descriptor set of `cargo xtask fdset`: the test that
    // proves a third-party decoder reads them.
    ("pq", &["install", "pq", "--version", "1.4.4", "--locked"]),
];

pub(crate) fn run(runner_args: &[String]) -> anyhow::Result<()> {
    install_missing_tools()?;
    let cargo = run::cargo();
    let extra: Vec<&str> = runner_args.iter().map(String::as_str).collect();
    if run::available(&cargo, &["nextest"]) {
        let mut args = vec!["nextest", "run", "--workspace", "--no-fail-fast"];
        if !extra.is_empty() {
            args.push("--");
            args.extend(&extra);
        }
        run::checked(&cargo, &args)?;
    } else {
        println!("cargo-nextest is not installed; running the tests with `cargo test`");
        let mut args = vec!["test", "--workspace", "--no-fail-fast"];
        if !extra.is_empty() {
            args.push("--");
            args.extend(&extra);
        }
        run::checked(&cargo, &args)?;
    }
    run::checked(&cargo, &["test", "--workspace", "--doc"])
}

pub(crate) fn lint() -> anyhow::Result<()> {
    let cargo = run::cargo();
    run::checked(&cargo, &["fmt", "--all", "--", "--check"])?;
    run::checked(
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )
}

fn install_missing_tools() -> anyhow::Result<()> {
    let cargo = run::cargo();
    for (tool, install_args) in TOOLS {
        if run::available(tool, &[]) {
            continue;
        }
        println!("{tool} is not installed; installing it (once) for the tests that use it");
        run::checked(&cargo, install_args)?;
    }
    Ok(())
}
