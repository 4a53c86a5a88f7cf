//! `ecsim plugin new NAME --lang rust|go|c`: a plugin to start from, that builds outside the
//! repository and passes `ecsim plugin check`.
//!
//! The templates are the example plugins themselves (`plugins/example`, `sdk/go/example`,
//! `plugins/c-example`), which the tests build, run and check: a template cannot drift from a
//! plugin that works. Only the plugin's name changes (every string that starts with `example`),
//! and the build files are written for a directory of its own: the Rust crate depends on the SDK
//! by path, the Go plugin builds in GOPATH mode against the SDK and Debian's protobuf package (or
//! in module mode, with a `replace`), the C plugin carries its copy of `ecsim_plugin.h`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::{cli::Lang, exit::CliError};

const RUST_TEMPLATE: &str = include_str!("../../../../plugins/example/src/lib.rs");
const GO_TEMPLATE: &str = include_str!("../../../../sdk/go/example/main.go");
const C_TEMPLATE: &str = include_str!("../../../../plugins/c-example/example.c");
const HEADER: &str = include_str!("../../../ecsim-plugin-abi/include/ecsim_plugin.h");

/// The ecsim source tree this binary was built from, when it is still there.
fn built_from() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("crates/ecsim-plugin-sdk/Cargo.toml")
        .is_file()
        .then(|| std::fs::canonicalize(&root).ok())
        .flatten()
}

/// Whether `name` can name a plugin (workflow calls write `NAME.Function()`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The example's source with its plugin name replaced: every string literal that starts with
/// `example` (the name, its messages, its variables, its calls) starts with `name` instead.
fn renamed(template: &str, name: &str) -> String {
    template.replace("\"example", &format!("\"{name}"))
}

pub(crate) fn new(
    name: &str,
    lang: Lang,
    dir: Option<&Path>,
    source: Option<&Path>,
) -> Result<(), CliError> {
    if !valid_name(name) {
        return Err(CliError::InvalidInput(format!(
            "{name:?} cannot name a plugin: use a lowercase letter, then lowercase letters, digits \
             or _ (workflow calls write {name}.Function())"
        )));
    }
    let source = match source {
        Some(source) => std::fs::canonicalize(source)
            .ok()
            .filter(|s| s.join("crates/ecsim-plugin-sdk/Cargo.toml").is_file())
            .ok_or_else(|| {
                CliError::InvalidInput(format!(
                    "--source {}: not an ecsim source tree (no crates/ecsim-plugin-sdk/Cargo.toml)",
                    source.display()
                ))
            })?,
        None => built_from().ok_or_else(|| {
            CliError::InvalidInput(
                "the ecsim source tree this ecsim was built from is gone: give one with --source \
                 DIR (a clone of ecsim's repository, whose SDKs the plugin builds on)"
                    .to_owned(),
            )
        })?,
    };
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_owned);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true)
    {
        return Err(CliError::InvalidInput(format!(
            "{} already exists and is not empty: give another NAME or --dir",
            dir.display()
        )));
    }
    let files = match lang {
        Lang::Rust => rust(name, &source),
        Lang::Go => go(name, &source),
        Lang::C => c(name),
    };
    for (file, content) in &files {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    let build = match lang {
        Lang::Rust => format!(
            "cd {} && cargo build && ecsim plugin check target/debug/lib{name}.so",
            dir.display()
        ),
        Lang::Go | Lang::C => format!(
            "make -C {} && ecsim plugin check {}/lib{name}.so",
            dir.display(),
            dir.display()
        ),
    };
    crate::say::stdout(&format!(
        "wrote a {lang:?} plugin `{name}` in {} ({} files); build and check it:\n  {build}\n",
        dir.display(),
        files.len()
    ))
    .map_err(anyhow::Error::from)?;
    Ok(())
}

fn readme(name: &str, build: &str, more: &str) -> String {
    format!(
        "# Plugin `{name}` for ecsim\n\n\
         Made by `ecsim plugin new` from ecsim's example plugin (a run logbook): rename, reshape,\n\
         keep what you need. Workflow calls reach it as `{name}.StartOfRun()`; a scenario loads\n\
         it with\n\n\
         ```toml\n[[plugin]]\nlibrary = \"path/to/lib{name}.so\"\nisolate = true  # a crash fails calls instead of ending ecsim\n\n\
         [plugin.config.{name}]\nlatency = \"1s\"\n```\n\n\
         Build and check:\n\n```sh\n{build}\necsim plugin check lib{name}.so\n```\n\n{more}\n\
         What crosses the boundary, and how calls, events and failures work: ecsim's\n\
         `docs/plugins.md`.\n"
    )
}

fn rust(name: &str, source: &Path) -> Vec<(PathBuf, String)> {
    let sdk = source.join("crates/ecsim-plugin-sdk");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         # A plugin is a C-compatible dynamic library: ecsim loads it at run time.\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n\
         [dependencies]\n\
         # The SDK of the ecsim that loads the plugin (same minor version), by path: it is not on\n\
         # crates.io. A git dependency on your clone of ecsim works the same way.\n\
         ecsim-plugin-sdk = {{ path = {:?} }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n\n\
         # A workspace of its own, wherever the directory is.\n[workspace]\n",
        sdk.display().to_string()
    );
    vec![
        (PathBuf::from("Cargo.toml"), manifest),
        (PathBuf::from("src/lib.rs"), renamed(RUST_TEMPLATE, name)),
        (
            PathBuf::from("README.md"),
            readme(
                name,
                &format!("cargo build\ncargo test\ncp target/debug/lib{name}.so ."),
                "",
            ),
        ),
        (PathBuf::from(".gitignore"), "/target\n".to_owned()),
    ]
}

fn go(name: &str, source: &Path) -> Vec<(PathBuf, String)> {
    let sdk = source.join("sdk/go");
    let makefile = format!(
        "# Builds lib{name}.so with cgo, in GOPATH mode: ecsim's Go SDK from {sdk}, protobuf from\n\
         # GOPATH or Debian's golang-google-protobuf-dev (/usr/share/gocode) — no network needed.\n\
         # With network, module mode works too: go build -buildmode=c-shared -o lib{name}.so .\n\
         SDK := {sdk}\nGOPATH_DIR := $(CURDIR)/.gopath\n\n\
         lib{name}.so: main.go\n\
         \tmkdir -p $(GOPATH_DIR)/src/ecsim.dev/sdk $(GOPATH_DIR)/src/{name}\n\
         \tln -sfn $(SDK) $(GOPATH_DIR)/src/ecsim.dev/sdk/go\n\
         \tln -sfn $(CURDIR)/main.go $(GOPATH_DIR)/src/{name}/main.go\n\
         \tcd $(GOPATH_DIR)/src/{name} && GO111MODULE=off GOPATH=$(GOPATH_DIR):$(GOPATH):/usr/share/gocode \\\n\
         \t\tGOCACHE=$(GOPATH_DIR)/cache CGO_ENABLED=1 go build -buildmode=c-shared -o $(CURDIR)/$@ .\n\n\
         clean:\n\trm -rf $(GOPATH_DIR) lib{name}.so lib{name}.h\n\n.PHONY: clean\n",
        sdk = sdk.display()
    );
    let module = format!(
        "module {name}\n\ngo 1.19\n\nrequire ecsim.dev/sdk/go v0.0.0\n\n\
         replace ecsim.dev/sdk/go => {}\n",
        sdk.display()
    );
    vec![
        (PathBuf::from("main.go"), renamed(GO_TEMPLATE, name)),
        (PathBuf::from("Makefile"), makefile),
        (PathBuf::from("go.mod"), module),
        (
            PathBuf::from("README.md"),
            readme(
                name,
                "make",
                "`make` needs Go with cgo and the protobuf package (Debian: golang-go,\n\
                 golang-google-protobuf-dev); `go.mod` is there for module mode, with network.\n",
            ),
        ),
        (
            PathBuf::from(".gitignore"),
            format!("/.gopath\n/lib{name}.so\n/lib{name}.h\n"),
        ),
    ]
}

fn c(name: &str) -> Vec<(PathBuf, String)> {
    let makefile = format!(
        "CC ?= cc\nCFLAGS ?= -O2 -Wall -Wextra\n\n\
         lib{name}.so: {name}.c ecsim_plugin.h\n\
         \t$(CC) -shared -fPIC -std=c11 $(CFLAGS) -I . {name}.c -o $@\n\n\
         clean:\n\trm -f lib{name}.so\n\n.PHONY: clean\n"
    );
    vec![
        (
            PathBuf::from(format!("{name}.c")),
            renamed(C_TEMPLATE, name),
        ),
        (PathBuf::from("ecsim_plugin.h"), HEADER.to_owned()),
        (PathBuf::from("Makefile"), makefile),
        (
            PathBuf::from("README.md"),
            readme(
                name,
                "make",
                "`ecsim_plugin.h` is a copy of the header of the ecsim that made this directory:\n\
                 take the new one when you move to another ecsim.\n",
            ),
        ),
        (PathBuf::from(".gitignore"), format!("/lib{name}.so\n")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_what_workflow_calls_can_write() {
        for good in ["logbook", "ccdb2", "my_plugin"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "Logbook", "2x", "my-plugin", "a.b", "../x"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn renaming_changes_the_plugin_name_and_its_strings_only() {
        let rust = renamed(RUST_TEMPLATE, "logbook");
        assert!(rust.contains("const NAME: &'static str = \"logbook\";"));
        assert!(rust.contains("\"logbook {} call failed\""));
        assert!(!rust.contains("\"example"));
        let c = renamed(C_TEMPLATE, "logbook");
        assert!(c.contains("put_string(&info, 1, \"logbook\");"));
        let go = renamed(GO_TEMPLATE, "logbook");
        assert!(go.contains("GetName() string       { return \"logbook\" }"));
    }
}
