//! `cargo xtask tidy`: checks of the repository's text that no compiler makes.
//!
//! Citations of the reference: code and documents cite `docs/aliecs.md`, ecsim's account of
//! AliECS, as "§N" or "§N.M" (and ranges, "§1.1–1.2"). Every citation must name a section that
//! exists there — a `## N.` or `### N.M` heading — so that a reader can follow it, and a section
//! renumbered or removed breaks the check rather than the reader.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use anyhow::Context as _;

/// The file the citations point into.
const REFERENCE: &str = "docs/aliecs.md";
/// Files whose text is checked.
const EXTENSIONS: &[&str] = &["rs", "md", "toml", "proto"];
/// Directories never read: build output, dependencies, version control.
const SKIPPED: &[&str] = &["target", ".git", "node_modules"];

/// A citation of a section that does not exist.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Dangling {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) section: String,
}

pub(crate) fn run() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask is not inside the workspace")?;
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

    /// The repository itself passes: what CI checks with `cargo xtask tidy`.
    #[test]
    fn every_citation_in_the_repository_resolves() -> anyhow::Result<()> {
        run()
    }
}
