//! ARCHITECTURE.md's invariants, each held by something that runs (a `cargo xtask tidy` rule).
//!
//! An invariant is a promise; what keeps it is a test, a lint or a tidy rule, and the invariant
//! names it. This rule reads every bullet of "## Invariants" and its `code` spans, and resolves
//! what they name: a file (`crates/ecsim/tests/it/serve.rs`, or the end of a path,
//! `control/transition.rs`), a function (`a_cancelled_call_leaves_no_half_transition`, or its
//! start, `no_timestamp_is_zero_…`), a lint (`clippy::await_holding_lock`, denied in the
//! workspace's `Cargo.toml`), or `cargo xtask tidy` itself. An invariant that names none fails,
//! and so does a name that no longer resolves: a test renamed or deleted breaks the check, not
//! the promise.

use std::path::Path;

/// One invariant: its title, and the text of its bullet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Invariant {
    pub(crate) title: String,
    pub(crate) text: String,
}

/// The bullets of the "## Invariants" section.
pub(crate) fn invariants(architecture: &str) -> Vec<Invariant> {
    let Some(start) = architecture.find("\n## Invariants") else {
        return Vec::new();
    };
    let section = &architecture[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let mut found: Vec<Invariant> = Vec::new();
    for line in section[..end].lines() {
        if let Some(rest) = line.strip_prefix("- **") {
            let title = rest.split("**").next().unwrap_or_default().to_owned();
            found.push(Invariant {
                title,
                text: rest.to_owned(),
            });
        } else if let Some(last) = found.last_mut()
            && line.starts_with("  ")
        {
            last.text.push(' ');
            last.text.push_str(line.trim());
        }
    }
    found
}

/// What an invariant's code span names, by its shape.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reference<'a> {
    Tidy,
    Lint(&'a str),
    File(&'a str),
    Function(&'a str),
}

/// The references among an invariant's code spans; spans of other shapes (a type, a value)
/// are prose.
pub(crate) fn references(text: &str) -> Vec<Reference<'_>> {
    let mut found = Vec::new();
    for (i, span) in text.split('`').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let span = span.trim();
        if span.starts_with("cargo xtask tidy") {
            found.push(Reference::Tidy);
        } else if let Some(lint) = span.strip_prefix("clippy::") {
            found.push(Reference::Lint(lint));
        } else if !span.contains(' ')
            && [".rs", ".toml", ".py", ".js", ".json"]
                .iter()
                .any(|ext| span.ends_with(ext))
        {
            found.push(Reference::File(span));
        } else if span.matches('_').count() >= 3
            && span
                .trim_end_matches('…')
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            found.push(Reference::Function(span.trim_end_matches('…')));
        }
    }
    found
}

/// The repository as the rule sees it: its Rust and other text files (paths from the root, and
/// the Rust files' texts), the workspace's lint table, and whether a path exists.
pub(crate) struct Repository<'a> {
    pub(crate) files: &'a [(String, String)],
    pub(crate) lints: &'a str,
    pub(crate) exists: &'a dyn Fn(&str) -> bool,
}

/// Whether `reference` resolves in `repository`.
pub(crate) fn resolves(reference: &Reference<'_>, repository: &Repository<'_>) -> bool {
    let files = repository.files;
    match reference {
        Reference::Tidy => true,
        Reference::Lint(lint) => repository.lints.contains(lint),
        Reference::File(path) => {
            (repository.exists)(path)
                || files
                    .iter()
                    .any(|(file, _)| file == path || file.ends_with(&format!("/{path}")))
        }
        Reference::Function(name) => {
            // A rustc lint of the workspace's table reads like a function name.
            repository.lints.contains(&format!("\n{name} = "))
                || files.iter().any(|(file, text)| {
                    file.ends_with(".rs") && text.contains(&format!("fn {name}"))
                })
        }
    }
}

/// What is wrong with the invariants of `architecture`.
pub(crate) fn problems(architecture: &str, repository: &Repository<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    for invariant in invariants(architecture) {
        let references = references(&invariant.text);
        if references.is_empty() {
            problems.push(format!(
                "the invariant \"{}\" names no test, lint or tidy rule that holds it: name one \
                 in `code`",
                invariant.title
            ));
        }
        for reference in &references {
            if !resolves(reference, repository) {
                problems.push(format!(
                    "the invariant \"{}\" names {reference:?}, which is nowhere in the \
                     repository: a test renamed or removed? name what holds it now",
                    invariant.title
                ));
            }
        }
    }
    problems
}

/// The shortest upper bound a test may put on how long something takes: enough to tell a hang
/// from an answer on a loaded machine, never a measure of speed ("Speed is measured, never
/// asserted").
const SHORTEST_TIME_BOUND_MS: u64 = 2_000;

/// Assertions that something took less than a bound shorter than [`SHORTEST_TIME_BOUND_MS`]:
/// `(line, bound in ms)`.
pub(crate) fn tight_time_bounds(text: &str) -> Vec<(usize, u64)> {
    let mut found = Vec::new();
    // An assertion may span lines: its bound is looked for until the statement ends.
    let mut in_assertion = false;
    for (index, line) in text.lines().enumerate() {
        if line.contains("assert") {
            in_assertion = true;
        }
        if !in_assertion {
            continue;
        }
        if line.trim_end().ends_with(';') {
            in_assertion = false;
        }
        for (unit, scale) in [("secs", 1000), ("millis", 1)] {
            for path in ["Duration", "std::time::Duration"] {
                let marker = format!("< {path}::from_{unit}(");
                let Some(at) = line.find(&marker) else {
                    continue;
                };
                let digits: String = line[at + marker.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '_')
                    .filter(|c| *c != '_')
                    .collect();
                if let Ok(value) = digits.parse::<u64>()
                    && value * scale < SHORTEST_TIME_BOUND_MS
                {
                    found.push((index + 1, value * scale));
                }
            }
        }
    }
    found
}

/// Runs the rule on the repository at `root`, whose Rust, TOML and script files are `files`.
pub(crate) fn check(root: &Path, files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    let lints = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut texts = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned();
        let text = if relative.ends_with(".rs") {
            std::fs::read_to_string(file).unwrap_or_default()
        } else {
            String::new()
        };
        texts.push((relative, text));
    }
    let exists = |path: &str| root.join(path).exists();
    let mut problems = problems(
        &architecture,
        &Repository {
            files: &texts,
            lints: &lints,
            exists: &exists,
        },
    );
    // xtask's own tests write such bounds as data.
    for (file, text) in texts.iter().filter(|(file, _)| !file.starts_with("xtask/")) {
        for (line, bound) in tight_time_bounds(text) {
            problems.push(format!(
                "{file}:{line}: a test bounds a duration at {bound} ms: a bound is for telling a \
                 hang from an answer ({SHORTEST_TIME_BOUND_MS} ms at least), speed is for the \
                 benchmarks (\"Speed is measured, never asserted\")"
            ));
        }
    }
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
    println!(
        "tidy: each of ARCHITECTURE.md's {} invariants names what holds it",
        invariants(&architecture).len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCHITECTURE: &str = "# A\n\n## Invariants\n\n\
        - **Held by a test.** Said (`crates/x/tests/it/a.rs`,\n  `a_test_that_holds_it`).\n\
        - **Held by tidy.** `cargo xtask tidy` checks it.\n\
        - **Held by a lint.** (`clippy::await_holding_lock`, denied.)\n\
        - **Held by nothing.** Just said, with `Some(code)`.\n\
        - **Held by a renamed test.** (`a_test_that_was_renamed`, `control/gone.rs`).\n\
        \n## Long files\n\n- **Not an invariant.** `nothing_here_at_all`.\n";

    fn files() -> Vec<(String, String)> {
        vec![(
            "crates/x/tests/it/a.rs".to_owned(),
            "#[test]\nfn a_test_that_holds_it() {}\n".to_owned(),
        )]
    }

    #[test]
    fn every_invariant_is_read_with_its_continuation_lines_and_nothing_after_the_section() {
        let found = invariants(ARCHITECTURE);
        let titles: Vec<&str> = found.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Held by a test.",
                "Held by tidy.",
                "Held by a lint.",
                "Held by nothing.",
                "Held by a renamed test."
            ]
        );
        assert_eq!(
            references(&found[0].text),
            [
                Reference::File("crates/x/tests/it/a.rs"),
                Reference::Function("a_test_that_holds_it")
            ]
        );
    }

    #[test]
    fn an_invariant_that_names_nothing_or_a_name_that_is_gone_fails() {
        let files = files();
        let problems = problems(
            ARCHITECTURE,
            &Repository {
                files: &files,
                lints: "[workspace.lints.clippy]\nawait_holding_lock = \"deny\"\n",
                exists: &|_| false,
            },
        );
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("the invariant \"Held by nothing.\" names no test"));
        assert!(problems[1].contains("Function(\"a_test_that_was_renamed\")"));
        assert!(problems[2].contains("File(\"control/gone.rs\")"));
    }

    #[test]
    fn a_test_that_bounds_a_duration_tightly_is_found() {
        let text = "assert!(took < Duration::from_secs(5));\n\
                    assert!(t < Duration::from_millis(300), \"fast\");\n\
                    assert!(started.elapsed() < std::time::Duration::from_secs(1));\n\
                    let d = Duration::from_millis(10);\n\
                    assert!(x >= Duration::from_millis(50));\n\
                    assert!(\n\
                        slowest < Duration::from_millis(100),\n\
                        \"took {slowest:?}\"\n\
                    );\n\
                    let later = x < Duration::from_millis(1);\n";
        assert_eq!(
            tight_time_bounds(text),
            [(2, 300), (3, 1000), (7, 100)],
            "an assertion over several lines too; a comparison after one is not an assertion"
        );
    }

    #[test]
    fn a_lint_must_be_in_the_workspace_table() {
        let files = files();
        let problems = problems(
            ARCHITECTURE,
            &Repository {
                files: &files,
                lints: "",
                exists: &|_| false,
            },
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("Lint(\"await_holding_lock\")")),
            "{problems:#?}"
        );
    }
}
