//! `cargo xtask tidy`: checks of the repository that no compiler makes.
//!
//! - Citations of the reference: code and documents cite `docs/aliecs.md`, ecsim's account of
//!   AliECS, as "§N" or "§N.M" (and ranges, "§1.1–1.2"). Every citation must name a section that
//!   exists there — a `## N.` or `### N.M` heading — so that a reader can follow it, and a
//!   section renumbered or removed breaks the check rather than the reader.
//! - Long files: a Rust file over 600 lines is named, with the reason, in ARCHITECTURE.md's
//!   "Long files".
//! - The core has no Kafka: `ecsim-core`'s dependency closure holds neither rdkafka nor
//!   libloading (ARCHITECTURE.md's first invariant).
//! - Each cause said once: a `thiserror` variant whose message interpolates its cause does not
//!   also expose it as `source()` (`#[source]`, `#[from]`, a field named `source`), or a report
//!   printing the chain — the command line's does — says it twice.
//! - Layers: no cycle between the top-level modules of any crate ([`crate::modules`]); crates
//!   in ARCHITECTURE.md's layers, one integration-test binary each, unsafe code only in the FFI
//!   crates ([`crate::workspace`]); every invariant names what holds it ([`crate::invariants`]).
//! - Generated code: `crates/ecsim-proto/src/generated/` is what `cargo xtask codegen` makes of
//!   `proto/` ([`crate::codegen`]).
//! - Vendored code: `vendor/kafka-protocol` is upstream's release but for the lines marked
//!   `// ecsim:` that its `ECSIM.md` lists, and the workspace patches crates.io with it.
//! - The C header: `crates/ecsim-plugin-abi/include/ecsim_plugin.h` is what `cargo xtask
//!   codegen` makes of the ABI crate ([`crate::header`]).
//! - Exit codes: every status of `enum Exit` is in `Exit::ALL` and in the README's table
//!   ([`crate::exit_codes`]).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use anyhow::Context as _;

/// The file the citations point into.
const REFERENCE: &str = "docs/aliecs.md";
/// Files whose text is checked.
const EXTENSIONS: &[&str] = &["rs", "md", "toml", "proto"];
/// Directories never read: build output, dependencies (vendored ones too: upstream's code,
/// checked by [`vendored`]), version control, generated code (whose source, `proto/`, is read).
const SKIPPED: &[&str] = &["target", ".git", "node_modules", "generated", "vendor"];

/// A citation of a section that does not exist.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Dangling {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) section: String,
}

/// The most lines a Rust file has without a reason in ARCHITECTURE.md.
const LONG_FILE: usize = 600;
/// Crates the core must not depend on, even indirectly.
const NOT_IN_THE_CORE: &[&str] = &["rdkafka", "rdkafka-sys", "libloading"];

pub(crate) fn run() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask is not inside the workspace")?;
    citations(root)?;
    long_files(root)?;
    causes_said_once(root)?;
    core_dependencies(root)?;
    crate::workspace::modules_layered(root)?;
    crate::workspace::check(root)?;
    let mut files = Vec::new();
    collect(root, &mut files)?;
    crate::invariants::check(root, &files)?;
    vendored(root)?;
    let stale = crate::codegen::stale(root)?;
    anyhow::ensure!(
        stale.is_empty(),
        "{} are stale: proto/ changed since they were generated; run `cargo xtask codegen`",
        stale
            .iter()
            .map(|name| format!("{}/{name}", crate::codegen::GENERATED))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("tidy: the generated types are proto/'s");
    anyhow::ensure!(
        crate::header::fresh(root)?,
        "{} is stale: crates/ecsim-plugin-abi changed since it was generated; run `cargo xtask codegen`",
        crate::header::HEADER
    );
    println!("tidy: {} is the ABI crate's", crate::header::HEADER);
    let codes = crate::exit_codes::check(root)?;
    println!("tidy: the {codes} exit codes are in Exit::ALL and in the README's table");
    Ok(())
}

/// How many lines of `vendor/kafka-protocol` are ecsim's (its `ECSIM.md` says which).
const VENDORED_CHANGES: usize = 5;

/// The vendored crate differs from its release in the marked lines only — as far as a check
/// without the release at hand can tell: the count of markers, and the patch in use.
fn vendored(root: &Path) -> anyhow::Result<()> {
    let vendor = root.join("vendor/kafka-protocol");
    let mut files = Vec::new();
    collect(&vendor.join("src"), &mut files)?;
    let mut marked = 0;
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        marked += text.matches("// ecsim:").count();
    }
    anyhow::ensure!(
        marked == VENDORED_CHANGES,
        "vendor/kafka-protocol has {marked} lines marked `// ecsim:`, ECSIM.md lists {VENDORED_CHANGES}: \
         keep the patch to what ECSIM.md says, or update both"
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    anyhow::ensure!(
        manifest.contains("kafka-protocol = { path = \"vendor/kafka-protocol\" }"),
        "the workspace no longer patches kafka-protocol with vendor/kafka-protocol: delete the \
         directory, or restore the `[patch.crates-io]` entry"
    );
    println!("tidy: vendor/kafka-protocol is upstream's but for its {marked} marked lines");
    Ok(())
}

/// No error variant both prints its cause and returns it as `source()`.
fn causes_said_once(root: &Path) -> anyhow::Result<()> {
    let mut files = Vec::new();
    collect(root, &mut files)?;
    let mut twice = 0;
    let mut variants = 0;
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let relative = file.strip_prefix(root).unwrap_or(file).display();
        for (line, field) in causes_said_twice(&text, &mut variants) {
            eprintln!(
                "{relative}:{line}: the message prints `{field}`, which is also the error's \
                 source(): drop it from the message, or make it a plain field"
            );
            twice += 1;
        }
    }
    anyhow::ensure!(twice == 0, "{twice} error variants say their cause twice");
    println!("tidy: {variants} error variants each say their cause once");
    Ok(())
}

/// The `#[error(...)]` attributes of `text` (1-based line) that interpolate a field the variant
/// also returns as its source; `variants` counts the attributes seen.
pub(crate) fn causes_said_twice(text: &str, variants: &mut usize) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("#[error(") {
            i += 1;
            continue;
        }
        *variants += 1;
        let start = i;
        let mut message = String::new();
        while i < lines.len() {
            message.push_str(lines[i]);
            i += 1;
            if message.trim_end().ends_with(")]") {
                break;
            }
        }
        // The variant: up to the next attribute of a variant, or the end of the enum.
        let mut sources = Vec::new();
        let mut pending = false;
        let mut j = i;
        while j < lines.len() {
            let line = lines[j].trim();
            if line.starts_with("#[error(") || line == "}" {
                break;
            }
            let marked = line.contains("#[source]") || line.contains("#[from]");
            if marked && line.contains('(') && line.contains(')') && !line.starts_with("#[") {
                sources.push("0".to_owned()); // a tuple variant: `Io(#[from] io::Error)`
            } else if let Some((name, _)) = line.split_once(':')
                && !line.starts_with("//")
                && !line.starts_with("#[")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                if pending || name == "source" {
                    sources.push(name.to_owned());
                }
                pending = false;
            } else if marked {
                pending = true;
            }
            j += 1;
        }
        for field in sources {
            if message.contains(&format!("{{{field}}}")) || message.contains(&format!("{{{field}:"))
            {
                found.push((start + 1, field));
            }
        }
    }
    found
}

/// Every Rust file over [`LONG_FILE`] lines is named in ARCHITECTURE.md's "Long files".
fn long_files(root: &Path) -> anyhow::Result<()> {
    let architecture =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).context("reading ARCHITECTURE.md")?;
    let explained = long_files_section(&architecture);
    let mut files = Vec::new();
    collect(root, &mut files)?;
    let mut unexplained = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let lines = std::fs::read_to_string(file).map_or(0, |t| t.lines().count());
        let relative = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        if lines > LONG_FILE && !explained.contains(&relative) {
            eprintln!(
                "{relative}: {lines} lines, and no reason in ARCHITECTURE.md's \"Long files\""
            );
            unexplained.push(relative);
        }
    }
    anyhow::ensure!(
        unexplained.is_empty(),
        "{} files over {LONG_FILE} lines without a reason: split them, or say why in ARCHITECTURE.md's \"Long files\"",
        unexplained.len()
    );
    println!("tidy: every file over {LONG_FILE} lines has its reason");
    Ok(())
}

/// The paths ARCHITECTURE.md's "Long files" section names: `- `path`: why`.
pub(crate) fn long_files_section(architecture: &str) -> BTreeSet<String> {
    architecture
        .split("\n## ")
        .find(|section| section.starts_with("Long files"))
        .map(|section| {
            section
                .lines()
                .filter_map(|line| line.strip_prefix("- `"))
                .filter_map(|line| line.split_once('`').map(|(path, _)| path.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// `ecsim-core` links neither Kafka nor dynamic loading, directly or not (`cargo metadata`).
fn core_dependencies(root: &Path) -> anyhow::Result<()> {
    let output = std::process::Command::new(crate::run::cargo())
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let closure = normal_closure(&metadata, "ecsim-core")?;
    let forbidden: Vec<&&str> = NOT_IN_THE_CORE
        .iter()
        .filter(|name| closure.contains(**name))
        .collect();
    anyhow::ensure!(
        forbidden.is_empty(),
        "ecsim-core depends on {forbidden:?}: the core has no Kafka and loads no library (ARCHITECTURE.md, Invariants)"
    );
    // The scenario format carries neither either: a linter links it alone.
    let format = normal_closure(&metadata, crate::workspace::FORMAT)?;
    let forbidden: Vec<&str> = format
        .iter()
        .map(String::as_str)
        .filter(|name| NOT_IN_THE_CORE.contains(name))
        .collect();
    anyhow::ensure!(
        forbidden.is_empty(),
        "{} depends on {forbidden:?}: the scenario format has no Kafka and loads no library (ARCHITECTURE.md, Invariants)",
        crate::workspace::FORMAT
    );
    println!(
        "tidy: ecsim-core's {} dependencies and the scenario format's {} hold no Kafka and no \
         dynamic loading",
        closure.len(),
        format.len()
    );
    Ok(())
}

/// The names of the packages `package` depends on, transitively, for building (not dev or
/// build dependencies), from `cargo metadata`'s resolve graph.
pub(crate) fn normal_closure(
    metadata: &serde_json::Value,
    package: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .context("cargo metadata without a resolve graph")?;
    let name_of = |id: &str| {
        metadata["packages"]
            .as_array()
            .and_then(|packages| packages.iter().find(|p| p["id"] == id))
            .and_then(|p| p["name"].as_str())
            .map(str::to_owned)
    };
    let start = metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == package))
        .and_then(|p| p["id"].as_str())
        .with_context(|| format!("no package {package}"))?
        .to_owned();
    let mut seen = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        let Some(node) = nodes.iter().find(|n| n["id"] == id.as_str()) else {
            continue;
        };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|kind| kind["kind"].is_null());
            let Some(dep_id) = dep["pkg"].as_str() else {
                continue;
            };
            if normal && seen.insert(dep_id.to_owned()) {
                if let Some(name) = name_of(dep_id) {
                    names.insert(name);
                }
                stack.push(dep_id.to_owned());
            }
        }
    }
    Ok(names)
}

/// Every citation names a section of the reference.
fn citations(root: &Path) -> anyhow::Result<()> {
    let reference = std::fs::read_to_string(root.join(REFERENCE))
        .with_context(|| format!("reading {REFERENCE}"))?;
    let sections = sections(&reference);
    let mut files = Vec::new();
    collect(root, &mut files)?;
    let mut dangling = Vec::new();
    let mut citations = 0;
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue; // not UTF-8: no citations
        };
        let relative = file.strip_prefix(root).unwrap_or(file);
        for (line, section) in citations_in(&text) {
            citations += 1;
            if !sections.contains(&section) {
                dangling.push(Dangling {
                    file: relative.to_owned(),
                    line,
                    section,
                });
            }
        }
    }
    for d in &dangling {
        eprintln!(
            "{}:{}: §{} is not a section of {REFERENCE}",
            d.file.display(),
            d.line,
            d.section
        );
    }
    anyhow::ensure!(
        dangling.is_empty(),
        "{} of {citations} citations name no section of {REFERENCE}: add the section or correct the citation",
        dangling.len()
    );
    println!(
        "tidy: {citations} citations in {} files, each names a section of {REFERENCE}",
        files.len()
    );
    Ok(())
}

/// Every file under `dir` with a checked extension, in a stable order.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if entry.file_type()?.is_dir() {
            if !SKIPPED.iter().any(|s| name == *s) {
                collect(&path, files)?;
            }
        } else if path
            .extension()
            .is_some_and(|e| EXTENSIONS.iter().any(|x| e == *x))
        {
            files.push(path);
        }
    }
    Ok(())
}

/// The sections a reference has: "1" for `## 1. Title`, "1.2" for `### 1.2 Title`.
pub(crate) fn sections(reference: &str) -> BTreeSet<String> {
    reference
        .lines()
        .filter_map(|line| {
            let heading = line
                .strip_prefix("## ")
                .or_else(|| line.strip_prefix("### "))?;
            let number: String = heading
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.');
            (!number.is_empty()).then(|| number.to_owned())
        })
        .collect()
}

/// Reads a section number at the start of `text`: `1`, `1.2` (a trailing dot is punctuation).
fn number(text: &str) -> Option<(String, usize)> {
    let taken: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let trimmed = taken.trim_end_matches('.');
    (!trimmed.is_empty() && trimmed.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| (trimmed.to_owned(), trimmed.len()))
}

/// Every citation in `text`, with its 1-based line: `§N`, `§N.M`, `§ N`, and both ends of a
/// range `§N.M–N.K` (en dash or hyphen).
pub(crate) fn citations_in(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find('§') {
            rest = &rest[at + '§'.len_utf8()..];
            let Some((first, len)) = number(rest.trim_start()) else {
                continue;
            };
            let skipped = rest.len() - rest.trim_start().len();
            rest = &rest[skipped + len..];
            found.push((index + 1, first));
            for dash in ['–', '-'] {
                if let Some(after) = rest.strip_prefix(dash)
                    && let Some((second, len)) = number(after)
                {
                    found.push((index + 1, second));
                    rest = &after[len..];
                    break;
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str =
        "# Title\n\n## 1. Environments\n\n### 1.1 States\n\n### 1.2 Events\n\n## 2. Kafka\n";

    #[test]
    fn a_cause_printed_and_returned_as_source_is_said_twice() {
        let text = [
            "pub enum E {",
            "    #[error(\"cannot read {path}: {source}\")]",
            "    Read {",
            "        path: String,",
            "        source: std::io::Error,",
            "    },",
            "    #[error(\"cannot start: {0}\")]",
            "    Start(#[from] std::io::Error),",
            "    #[error(\"bad {name}: {why}\")]",
            "    Bad {",
            "        name: String,",
            "        /// Why.",
            "        #[source]",
            "        why: std::fmt::Error,",
            "    },",
            "    #[error(\"cannot parse {path}\")]",
            "    Parse {",
            "        path: String,",
            "        #[source]",
            "        cause: std::num::ParseIntError,",
            "    },",
            "    #[error(\"cannot open {path}: {cause}\")]",
            "    Open { path: String, cause: std::io::Error },",
            "    #[error(transparent)]",
            "    Other(#[from] std::fmt::Error),",
            "}",
        ]
        .join("\n");
        let mut variants = 0;
        assert_eq!(
            causes_said_twice(&text, &mut variants),
            [
                (2, "source".to_owned()),
                (7, "0".to_owned()),
                (9, "why".to_owned())
            ]
        );
        assert_eq!(variants, 6);
    }

    #[test]
    fn sections_are_the_numbered_headings() {
        let found: Vec<String> = sections(REFERENCE).into_iter().collect();
        assert_eq!(found, ["1", "1.1", "1.2", "2"]);
    }

    #[test]
    fn citations_are_found_with_their_lines_ranges_included() {
        let text = "a §1.1 and §2.\n(reference §1.1–1.2, § 2)\nno citation §x\n";
        assert_eq!(
            citations_in(text),
            [
                (1, "1.1".to_owned()),
                (1, "2".to_owned()),
                (2, "1.1".to_owned()),
                (2, "1.2".to_owned()),
                (2, "2".to_owned()),
            ]
        );
    }

    #[test]
    fn a_citation_of_a_missing_section_is_dangling() {
        let sections = sections(REFERENCE);
        let dangling: Vec<String> = citations_in("see §1.3, §3 and §1.2")
            .into_iter()
            .map(|(_, s)| s)
            .filter(|s| !sections.contains(s))
            .collect();
        assert_eq!(dangling, ["1.3", "3"]);
    }

    #[test]
    fn long_files_are_named_in_their_section() {
        let architecture = "# A\n\n## Code map\n- `not/this.rs`: no\n\n## Long files\n\n- `a/b.rs`: data\n- `c.rs`: tests\n\n## After\n- `d.rs`: no\n";
        let named: Vec<String> = long_files_section(architecture).into_iter().collect();
        assert_eq!(named, ["a/b.rs", "c.rs"]);
    }

    #[test]
    fn the_dependency_closure_follows_normal_dependencies_only() -> anyhow::Result<()> {
        let metadata = serde_json::json!({
            "packages": [
                {"id": "core", "name": "ecsim-core"},
                {"id": "a", "name": "tokio"},
                {"id": "b", "name": "mio"},
                {"id": "k", "name": "rdkafka"},
            ],
            "resolve": {"nodes": [
                {"id": "core", "deps": [
                    {"pkg": "a", "dep_kinds": [{"kind": null}]},
                    {"pkg": "k", "dep_kinds": [{"kind": "dev"}]},
                ]},
                {"id": "a", "deps": [{"pkg": "b", "dep_kinds": [{"kind": null}]}]},
                {"id": "b", "deps": []},
                {"id": "k", "deps": []},
            ]},
        });
        let closure: Vec<String> = normal_closure(&metadata, "ecsim-core")?
            .into_iter()
            .collect();
        assert_eq!(closure, ["mio", "tokio"], "a dev-dependency is not linked");
        Ok(())
    }

    /// The repository itself passes: what CI checks with `cargo xtask tidy`.
    #[test]
    fn every_citation_in_the_repository_resolves() -> anyhow::Result<()> {
        run()
    }
}
