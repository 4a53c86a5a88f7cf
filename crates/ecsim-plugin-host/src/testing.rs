//! For tests (feature `test-support`): building the plugin libraries a test loads.
//!
//! A test build does not build the workspace's `cdylib`s, and a test that loads one would fail
//! on a fresh clone under plain `cargo test`. [`ensure_built`] builds the library with the cargo
//! that runs the tests, into the directory the test looks in, the first time it is missing.

use std::{path::PathBuf, process::Command, sync::Mutex};

use crate::locate::bundled_dirs;

/// The path of `package`'s library beside the running test executable, built first (with
/// `cargo build -p package`, in the tests' profile) when it is missing. Fails with what cargo
/// said when the build fails.
pub fn ensure_built(package: &str) -> Result<PathBuf, String> {
    // One build at a time in this process; other test processes wait on cargo's own lock.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _building = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    // The profile directory (`target/debug`) is the last of the directories looked in: where
    // `ecsim` looks too. (Cargo may leave a copy in `deps`, which only tests would find.)
    let dirs = bundled_dirs();
    let profile_dir = dirs
        .last()
        .ok_or("cannot tell where the test executable is")?;
    let path = profile_dir.join(&file);
    if path.is_file() {
        return Ok(path);
    }
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build.args(["build", "--quiet", "-p", package]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let output = build
        .output()
        .map_err(|error| format!("cannot run cargo to build {package}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build -p {package}` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "`cargo build -p {package}` succeeded but {} is not there (a different target directory?)",
            path.display()
        ))
    }
}
