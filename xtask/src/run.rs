//! Running commands and saying what is being run, so a CI log reads like a shell transcript.

use std::process::Command;

use anyhow::{Context as _, bail};

/// Runs `program args…`, echoing it first, and fails unless it exits successfully.
pub(crate) fn checked(program: &str, args: &[&str]) -> anyhow::Result<()> {
    checked_env(program, args, &[])
}

/// [`checked`], with extra environment variables for the program.
pub(crate) fn checked_env(
    program: &str,
    args: &[&str],
    envs: &[(&str, std::path::PathBuf)],
) -> anyhow::Result<()> {
    checked_in(None, program, args, envs)
}

/// [`checked_env`], in the directory `dir` when given.
pub(crate) fn checked_in(
    dir: Option<&std::path::Path>,
    program: &str,
    args: &[&str],
    envs: &[(&str, std::path::PathBuf)],
) -> anyhow::Result<()> {
    match dir {
        Some(dir) => println!("$ (cd {} && {program} {})", dir.display(), args.join(" ")),
        None => println!("$ {program} {}", args.join(" ")),
    }
    let mut command = Command::new(program);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let status = command
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .status()
        .with_context(|| format!("starting `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Whether `program --version` runs, i.e. the tool is installed and on PATH.
pub(crate) fn available(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The cargo that runs this xtask, so nested runs use the same toolchain.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}
