//! The Kafka clients of the end-to-end client tests (`tests/clients/`), installed from the
//! package registries at the versions pinned there: kafkajs with npm into
//! `tests/clients/node_modules`, confluent-kafka and kafka-python with pip into a virtual
//! environment under the tools directory, named after the requirements it holds (a change of
//! pins makes a new one).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::{run, tools};

/// Installs what is missing; returns the environment variables that tell the tests where the
/// clients are.
pub(crate) fn ensure() -> anyhow::Result<Vec<(&'static str, PathBuf)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask is in the workspace")?
        .join("tests/clients");
    Ok(vec![
        ("ECSIM_CLIENTS", dir.clone()),
        ("ECSIM_NODE", ensure_node(&dir)?),
        ("ECSIM_PYTHON", ensure_python(&dir)?),
    ])
}

fn ensure_node(dir: &Path) -> anyhow::Result<PathBuf> {
    if !run::available("node", &[]) || !run::available("npm", &[]) {
        bail!("the client tests need Node.js and npm (Debian: apt-get install nodejs npm)");
    }
    let installed = [
        "kafkajs",
        "playwright-core",
        "@grpc/grpc-js",
        "@grpc/proto-loader",
    ]
    .iter()
    .all(|package| {
        dir.join(format!("node_modules/{package}/package.json"))
            .is_file()
    });
    if !installed {
        println!(
            "installing kafkajs, playwright-core and the Control GUI's gRPC client for the client, live-page and serve tests (tests/clients/package-lock.json)"
        );
        let dir = dir.to_str().context("the repository path is not UTF-8")?;
        run::checked("npm", &["ci", "--prefix", dir, "--no-audit", "--no-fund"])?;
    }
    Ok(PathBuf::from("node"))
}

fn ensure_python(dir: &Path) -> anyhow::Result<PathBuf> {
    let requirements = std::fs::read_to_string(dir.join("requirements.txt"))
        .context("reading tests/clients/requirements.txt")?;
    let venv = tools::root().join(format!("python-clients-{:016x}", fnv1a(&requirements)));
    let python = venv.join("bin/python");
    if python.is_file() {
        return Ok(python);
    }
    if !run::available("python3", &[]) {
        bail!("the client tests need Python 3 with venv and pip");
    }
    println!("installing the Python clients for the client tests (tests/clients/requirements.txt)");
    let venv_arg = venv.to_str().context("the tools directory is not UTF-8")?;
    run::checked("python3", &["-m", "venv", venv_arg])?;
    let pip = venv.join("bin/pip");
    let pip = pip.to_str().context("the tools directory is not UTF-8")?;
    let requirements = dir.join("requirements.txt");
    let requirements = requirements
        .to_str()
        .context("the repository path is not UTF-8")?;
    let installed = run::checked(
        pip,
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            requirements,
        ],
    );
    if let Err(error) = installed {
        // A half-made environment would be taken for a good one next time.
        let _ = std::fs::remove_dir_all(&venv);
        return Err(error);
    }
    Ok(python)
}

/// A stable hash of the pins (FNV-1a): std's hasher may change between Rust releases.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
