//! `cargo xtask broker install|start|stop`: a real Kafka-API broker (tansu) on loopback.
//!
//! For the end-to-end tests (which start their own brokers through the same binary) and for
//! people who want a persistent broker to point consumers at. `start` runs tansu in the
//! background on 127.0.0.1 and records its pid and address under `target/tansu/`.

use std::{
    fs,
    net::TcpStream,
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use crate::tools::TANSU;

fn state_dir() -> PathBuf {
    PathBuf::from("target/tansu")
}

pub(crate) fn install() -> anyhow::Result<()> {
    let path = TANSU.ensure()?;
    println!("tansu is at {}", path.display());
    Ok(())
}

pub(crate) fn start(port: u16, persistent: bool) -> anyhow::Result<()> {
    let tansu = TANSU.ensure()?;
    let dir = state_dir();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Ok(pid) = fs::read_to_string(dir.join("pid"))
        && PathBuf::from(format!("/proc/{}", pid.trim())).exists()
    {
        bail!(
            "a broker started by xtask is already running (pid {}); `cargo xtask broker stop` first",
            pid.trim()
        );
    }
    let url = format!("tcp://127.0.0.1:{port}");
    // tansu reads a SQLite path relative to its working directory, which is `dir`.
    let storage = if persistent {
        "sqlite://tansu.db"
    } else {
        "memory://tansu/"
    };
    let log = fs::File::create(dir.join("tansu.log"))?;
    let child = Command::new(&tansu)
        .current_dir(&dir)
        .args([
            "broker",
            "--kafka-listener-url",
            &url,
            "--kafka-advertised-listener-url",
            &url,
            "--storage-engine",
            storage,
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", tansu.display()))?;
    fs::write(dir.join("pid"), child.id().to_string())?;
    fs::write(dir.join("address"), format!("127.0.0.1:{port}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "tansu did not listen on 127.0.0.1:{port} within 20 s; see target/tansu/tansu.log"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("tansu listens on 127.0.0.1:{port} ({storage}); `cargo xtask broker stop` stops it");
    Ok(())
}

pub(crate) fn stop() -> anyhow::Result<()> {
    let file = state_dir().join("pid");
    let Ok(pid) = fs::read_to_string(&file) else {
        println!("no broker started by xtask is running");
        return Ok(());
    };
    let status = Command::new("kill")
        .arg(pid.trim())
        .status()
        .context("running kill")?;
    let _ = fs::remove_file(&file);
    if status.success() {
        println!("stopped tansu (pid {})", pid.trim());
    } else {
        println!("tansu (pid {}) was not running", pid.trim());
    }
    Ok(())
}
