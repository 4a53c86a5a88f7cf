//! The browser of the report tests: Debian's Chromium, installed with apt when the machine
//! lacks it (a fresh CI machine does). The tests open ecsim's HTML reports in it, headless, and
//! ask it what a person would see.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::run;

/// Where Debian's package puts it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs Chromium if missing; its path.
pub(crate) fn ensure() -> anyhow::Result<PathBuf> {
    if Path::new(CHROMIUM).is_file() {
        return Ok(PathBuf::from(CHROMIUM));
    }
    if !run::available("apt-get", &[]) {
        bail!("the report tests need Chromium at {CHROMIUM}: install Debian's package `chromium`");
    }
    println!("installing Chromium for the report tests (Debian package chromium)");
    let install = ["install", "-y", "-q", "chromium"];
    let quiet = [("DEBIAN_FRONTEND", PathBuf::from("noninteractive"))];
    let advice = || {
        format!(
            "installing Chromium for the report tests failed; as root: apt-get update && apt-get install chromium (then {CHROMIUM} is there)"
        )
    };
    if run::checked_env("apt-get", &install, &quiet).is_err() {
        // A fresh machine may not have read the package lists yet.
        run::checked_env("apt-get", &["update", "-q"], &quiet).with_context(advice)?;
        run::checked_env("apt-get", &install, &quiet).with_context(advice)?;
    }
    if !Path::new(CHROMIUM).is_file() {
        bail!("apt-get installed chromium, but {CHROMIUM} is not there");
    }
    Ok(PathBuf::from(CHROMIUM))
}

/// The scenario the README's picture shows, and where the picture goes.
const PICTURE_SCENARIO: &str = "scenarios/task-failures.toml";
const PICTURE: &str = "docs/report.png";

/// `cargo xtask picture`: the README's picture of a report, made as the tests make theirs —
/// `ecsim run SCENARIO --report`, opened in Chromium, its top (the lanes) captured.
pub(crate) fn picture() -> anyhow::Result<()> {
    let chromium = ensure()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| anyhow::anyhow!("xtask is not inside the workspace"))?;
    let cargo = run::cargo();
    run::checked(&cargo, &["build", "-q", "-p", "ecsim"])?;
    let scratch = tempfile::tempdir()?;
    let report = scratch.path().join("report.html");
    let ecsim = root.join("target/debug/ecsim");
    let report_arg = report
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("a non-UTF-8 path"))?;
    let scenario = root.join(PICTURE_SCENARIO);
    let scenario_arg = scenario
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("a non-UTF-8 path"))?;
    let ecsim_arg = ecsim
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("a non-UTF-8 path"))?;
    run::checked(
        ecsim_arg,
        &["run", scenario_arg, "--quiet", "--report", report_arg],
    )?;
    let picture = root.join(PICTURE);
    let chromium_arg = chromium
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("a non-UTF-8 path"))?;
    run::checked(
        chromium_arg,
        &[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1240,300",
            &format!("--screenshot={}", picture.display()),
            &format!("file://{report_arg}"),
        ],
    )?;
    println!("wrote {}", picture.display());
    Ok(())
}

/// `cargo xtask report-sizes`: the reports of the largest example scenarios, their size and the
/// time Chromium takes to load each (five loads, headless, `performance.now()` at the load
/// event), as BENCHMARKS.md gives them.
pub(crate) fn report_sizes() -> anyhow::Result<()> {
    let chromium = ensure()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| anyhow::anyhow!("xtask is not inside the workspace"))?;
    run::checked(&run::cargo(), &["build", "-q", "-p", "ecsim"])?;
    let scratch = tempfile::tempdir()?;
    println!("| scenario | environments | report | load (5 loads, ms) |\n|---|---|---|---|");
    for scenario in ["many-environments", "soak"] {
        let report = scratch.path().join(format!("{scenario}.html"));
        let status = std::process::Command::new(root.join("target/debug/ecsim"))
            .arg("run")
            .arg(root.join(format!("scenarios/{scenario}.toml")))
            .arg("--quiet")
            .arg("--report")
            .arg(&report)
            .output()?;
        if !status.status.success() {
            bail!("ecsim run scenarios/{scenario}.toml failed");
        }
        let page = std::fs::read_to_string(&report)?;
        let probed = scratch.path().join(format!("{scenario}-probed.html"));
        std::fs::write(
            &probed,
            page.replace(
                "</body>",
                "<script>addEventListener('load',()=>{document.body.dataset.load=Math.round(performance.now())})</script></body>",
            ),
        )?;
        let mut loads = Vec::new();
        for _ in 0..5 {
            let dom = std::process::Command::new(&chromium)
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
                .arg(format!("file://{}", probed.display()))
                .output()?;
            let dom = String::from_utf8_lossy(&dom.stdout);
            let load = dom
                .split("data-load=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|ms| ms.parse::<u64>().ok());
            loads.push(load.map_or_else(|| "?".to_owned(), |ms| ms.to_string()));
        }
        println!(
            "| {scenario} | {} | {} KB | {} |",
            page.matches("class=\"lane\"").count(),
            page.len() / 1000,
            loads.join(", ")
        );
    }
    Ok(())
}
