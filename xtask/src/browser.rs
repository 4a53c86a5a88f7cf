//! The browser of the report tests: Debian's Chromium, installed with apt when the machine
//! lacks it (a fresh CI machine does). The tests open ecsim's HTML reports in it, headless, and
//! ask it what a person would see.

use std::path::{Path, PathBuf};

use anyhow::bail;

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
    if run::checked_env("apt-get", &install, &quiet).is_err() {
        // A fresh machine may not have read the package lists yet.
        run::checked_env("apt-get", &["update", "-q"], &quiet)?;
        run::checked_env("apt-get", &install, &quiet)?;
    }
    if !Path::new(CHROMIUM).is_file() {
        bail!("apt-get installed chromium, but {CHROMIUM} is not there");
    }
    Ok(PathBuf::from(CHROMIUM))
}
