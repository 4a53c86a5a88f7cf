//! Tools the tests use that a fresh machine lacks, installed once with `cargo install` into a
//! versioned directory of their own (`~/.cache/ecsim/tools/<tool>-<version>`, or under
//! `ECSIM_TOOLS`), so that every clone on the machine shares them and nothing of the user's
//! `~/.cargo/bin` is touched.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::run;

/// A tool ecsim's tests need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool {
    /// The binary's name.
    pub(crate) name: &'static str,
    /// The crate that provides it.
    pub(crate) krate: &'static str,
    /// The version, pinned.
    pub(crate) version: &'static str,
    /// Cargo features to build it with.
    pub(crate) features: &'static str,
    /// Why the tests need it, for the log.
    pub(crate) why: &'static str,
}

/// pq decodes ecsim's bytes with the descriptor set of `cargo xtask fdset`.
pub(crate) const PQ: Tool = Tool {
    name: "pq",
    krate: "pq",
    version: "1.4.4",
    features: "",
    why: "decoding ecsim's messages with a third-party tool (takes about 2 minutes, once)",
};

/// tansu is the real Kafka-API broker of the end-to-end tests. Without `dynostore` and
/// `libsql` it has no storage engine.
pub(crate) const TANSU: Tool = Tool {
    name: "tansu",
    krate: "tansu",
    version: "0.6.0",
    features: "dynostore,libsql",
    why: "the real Kafka-API broker of the end-to-end tests (takes about 11 minutes on 2 cores, once)",
};

/// Where tools live.
pub(crate) fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("ECSIM_TOOLS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/ecsim/tools")
}

impl Tool {
    /// The directory `cargo install --root` puts this version in.
    pub(crate) fn install_root(&self) -> PathBuf {
        root().join(format!("{}-{}", self.name, self.version))
    }

    /// The binary.
    pub(crate) fn path(&self) -> PathBuf {
        self.install_root().join("bin").join(self.name)
    }

    /// Installs the tool unless it is there already; returns its path.
    pub(crate) fn ensure(&self) -> anyhow::Result<PathBuf> {
        let path = self.path();
        if path.is_file() {
            return Ok(path);
        }
        println!("installing {} {}: {}", self.name, self.version, self.why);
        let root = self.install_root();
        let root_arg = root.to_str().context("the tools directory is not UTF-8")?;
        let mut args = vec![
            "install",
            self.krate,
            "--version",
            self.version,
            "--locked",
            "--root",
            root_arg,
        ];
        if !self.features.is_empty() {
            args.extend(["--features", self.features]);
        }
        run::checked(&run::cargo(), &args)?;
        anyhow::ensure!(
            path.is_file(),
            "cargo install finished but {} is not there",
            path.display()
        );
        Ok(path)
    }
}
