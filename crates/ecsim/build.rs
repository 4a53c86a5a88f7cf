//! Records the git commit the binary was built from, for `ecsim --version`.
//!
//! A bug report that says which commit it came from saves a round trip. Outside a git checkout
//! (a source tarball, a vendored copy) the commit is simply "unknown".

use std::{path::Path, process::Command};

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=ECSIM_GIT_COMMIT={commit}");

    // Rebuild when HEAD moves: HEAD itself changes on checkout, the refs on commit.
    let git_dir = Path::new("../../.git");
    for watched in ["HEAD", "refs/heads", "packed-refs"] {
        let path = git_dir.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
