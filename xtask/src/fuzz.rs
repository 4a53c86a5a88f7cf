//! `cargo xtask fuzz`: every cargo-fuzz target of `fuzz/`, for a number of inputs each.
//!
//! Coverage-guided fuzzing (libFuzzer) needs a nightly toolchain and cargo-fuzz, so it runs
//! outside CI, by hand, and BENCHMARKS.md records the runs; CI runs the bounded property-test
//! versions of the same checks (`ecsim-scenario`'s `fuzz.rs`, `ecsim-plugin-host`'s
//! `reply_fuzz.rs`). The scenario target starts from the example and broken scenarios; the
//! broker's, from every request the broker's own tests send (`ECSIM_FUZZ_SEEDS`).

use std::process::Command;

use anyhow::{Context as _, bail};

/// The targets, in the order they run.
const TARGETS: &[&str] = &["scenario", "plugin_reply", "cli_numbers", "broker_request"];

pub(crate) fn run(runs: u64) -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask is inside the workspace")?;
    let fuzz = root.join("fuzz");
    let has_cargo_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_cargo_fuzz {
        bail!(
            "cargo-fuzz on a nightly toolchain is needed: rustup toolchain install nightly; cargo install cargo-fuzz"
        );
    }
    let corpus = fuzz.join("corpus/scenario");
    std::fs::create_dir_all(&corpus).context("creating the scenario corpus")?;
    for dir in ["scenarios", "crates/ecsim-scenario/tests/it/broken"] {
        for entry in std::fs::read_dir(root.join(dir)).with_context(|| format!("reading {dir}"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml")
                && let Some(name) = path.file_name()
            {
                std::fs::copy(&path, corpus.join(name))
                    .with_context(|| format!("seeding the corpus with {}", path.display()))?;
            }
        }
    }
    let seeds = fuzz.join("corpus/broker_request");
    std::fs::create_dir_all(&seeds).context("creating the broker corpus")?;
    let seeded = Command::new("cargo")
        .current_dir(root)
        .args([
            "test",
            "-p",
            "ecsim-broker",
            "--test",
            "it",
            "--",
            "conformance",
            "hostile",
        ])
        .env("ECSIM_FUZZ_SEEDS", &seeds)
        .status()
        .context("running the broker's tests for the seeds")?;
    if !seeded.success() {
        bail!("the broker's tests failed while writing the fuzz seeds");
    }
    for target in TARGETS {
        println!("fuzz: {target}, {runs} inputs");
        let status = Command::new("cargo")
            .current_dir(&fuzz)
            .args(["+nightly", "fuzz", "run", "-O", target, "--"])
            .arg(format!("-runs={runs}"))
            // A broker request may be larger than a scenario; libFuzzer's limits hold it.
            .arg(if *target == "broker_request" {
                "-max_len=65536"
            } else {
                "-max_len=4096"
            })
            .args(["-rss_limit_mb=2048", "-malloc_limit_mb=1024"])
            .status()
            .with_context(|| format!("running cargo fuzz for {target}"))?;
        if !status.success() {
            bail!("fuzz target {target} found a failure: see fuzz/artifacts/{target}/");
        }
    }
    Ok(())
}
