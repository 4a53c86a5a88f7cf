//! The `ecsim` Python wheel (`python/`): built with maturin (`bindings = "bin"`: the ecsim binary
//! as the wheel's `ecsim` command, beside the pytest plugin of `python/src/ecsim`), then
//! installed into a virtual environment made fresh for every test run, with what
//! `python/requirements-test.txt` pins — as a Python developer installs it. The tests run the
//! wheel's own pytest suite (`python/tests`) with that environment's Python.
//!
//! maturin itself comes from PyPI, pinned, into a virtual environment of the tools directory.
//! The wheel is built with the `dev` profile into the workspace's target directory, so it reuses
//! the test build; run before `cargo build --workspace`, which re-links `ecsim` after it.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::{run, tools};

/// maturin's version, from PyPI.
const MATURIN: &str = "1.16.0";

/// Builds the wheel and installs it into a fresh virtual environment; returns that
/// environment's Python, for the tests (`ECSIM_WHEEL_PYTHON`).
pub(crate) fn ensure() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask is in the workspace")?
        .to_owned();
    let maturin = ensure_maturin()?;
    let target = root.join("target");
    let wheels = target.join("wheels");
    // Only this build's wheel is installed.
    let _ = std::fs::remove_dir_all(&wheels);
    println!("building the ecsim wheel (maturin {MATURIN}, python/)");
    let utf8 = |path: &Path| -> anyhow::Result<String> {
        Ok(path.to_str().context("a path is not UTF-8")?.to_owned())
    };
    // maturin reads python/pyproject.toml from the directory it runs in.
    run::checked_in(
        Some(&root.join("python")),
        &utf8(&maturin)?,
        &[
            "build",
            "--profile",
            "dev",
            // A wheel for this machine: manylinux (auditwheel) is a release's concern.
            "--compatibility",
            "linux",
            "--target-dir",
            &utf8(&target)?,
            "--out",
            &utf8(&wheels)?,
        ],
        &[],
    )?;
    let wheel = std::fs::read_dir(&wheels)
        .with_context(|| format!("reading {}", wheels.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("maturin wrote no wheel into {}", wheels.display()))?;

    let venv = target.join("python-wheel-venv");
    let _ = std::fs::remove_dir_all(&venv);
    println!(
        "installing {} into a fresh virtual environment ({})",
        wheel.display(),
        venv.display()
    );
    run::checked("python3", &["-m", "venv", &utf8(&venv)?])?;
    let pip = utf8(&venv.join("bin/pip"))?;
    let requirements = utf8(&root.join("python/requirements-test.txt"))?;
    run::checked(
        &pip,
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &utf8(&wheel)?,
            "-r",
            &requirements,
        ],
    )?;
    Ok(venv.join("bin/python"))
}

/// maturin, installed from PyPI when missing.
fn ensure_maturin() -> anyhow::Result<PathBuf> {
    let venv = tools::root().join(format!("maturin-{MATURIN}"));
    let maturin = venv.join("bin/maturin");
    if maturin.is_file() {
        return Ok(maturin);
    }
    if !run::available("python3", &[]) {
        bail!("the wheel's tests need Python 3 with venv and pip");
    }
    println!("installing maturin {MATURIN} (PyPI) to build the ecsim wheel");
    let venv_arg = venv.to_str().context("the tools directory is not UTF-8")?;
    run::checked("python3", &["-m", "venv", venv_arg])?;
    let pip = venv.join("bin/pip");
    let pip = pip.to_str().context("the tools directory is not UTF-8")?;
    let pinned = format!("maturin=={MATURIN}");
    if let Err(error) = run::checked(
        pip,
        &["install", "--quiet", "--disable-pip-version-check", &pinned],
    ) {
        // A half-made environment would be taken for a good one next time.
        let _ = std::fs::remove_dir_all(&venv);
        return Err(error);
    }
    Ok(maturin)
}
