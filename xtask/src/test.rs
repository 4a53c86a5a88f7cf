//! `cargo xtask test` and `cargo xtask lint`: what CI runs.
//!
//! `lint` is rustfmt, clippy (warnings denied) and rustdoc (warnings denied: a broken link in the
//! documentation is a bug).
//!
//! `cargo xtask test` is the README's test command. It must work on a fresh machine, so it
//! installs what the tests need and a new machine lacks (pq, and the tansu broker; see
//! [`crate::tools`]; the Kafka clients of the client tests, see [`crate::clients`]; the Python
//! wheel in a fresh virtual environment, see [`crate::wheel`]), builds the plugin libraries the
//! tests load, then runs every test: the
//! workspace's
//! unit and integration tests under cargo-nextest (faster, one process per test, clearer
//! output) and the doc tests, which nextest cannot run, under `cargo test --doc`.

use crate::{run, tools};

pub(crate) fn run(runner_args: &[String]) -> anyhow::Result<()> {
    let envs = install_missing_tools()?;
    let cargo = run::cargo();
    let (mut args, runner) = if run::available(&cargo, &["nextest"]) {
        (
            vec!["nextest", "run", "--workspace", "--no-fail-fast"],
            "nextest",
        )
    } else {
        println!("cargo-nextest is not installed; running the tests with `cargo test`");
        (vec!["test", "--workspace", "--no-fail-fast"], "cargo test")
    };
    if !runner_args.is_empty() {
        args.push("--");
        args.extend(runner_args.iter().map(String::as_str));
    }
    // The plugin libraries (cdylibs) that tests load from target/debug, as `ecsim run` loads
    // them from beside the executable: test builds do not produce them.
    println!("building the workspace, plugin libraries included");
    run::checked(&cargo, &["build", "--workspace"])?;
    println!("running the tests with {runner}");
    run::checked_env(&cargo, &args, &envs)?;
    run::checked_env(&cargo, &["test", "--workspace", "--doc"], &envs)
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
    )?;
    // Broken intra-doc links are broken documentation.
    run::checked_env(
        &cargo,
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings".into())],
    )
}

/// Installs what the tests use and a fresh machine lacks; returns the environment variables
/// that tell the tests where it is.
fn install_missing_tools() -> anyhow::Result<Vec<(&'static str, std::path::PathBuf)>> {
    let mut envs = vec![
        ("ECSIM_PQ", tools::PQ.ensure()?),
        ("ECSIM_TANSU", tools::TANSU.ensure()?),
    ];
    envs.extend(crate::clients::ensure()?);
    envs.push(("ECSIM_CHROMIUM", crate::browser::ensure()?));
    envs.push(("ECSIM_WHEEL_PYTHON", crate::wheel::ensure()?));
    Ok(envs)
}
