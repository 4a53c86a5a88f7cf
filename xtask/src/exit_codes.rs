//! The exit-code table is complete (a `cargo xtask tidy` rule).
//!
//! `crates/ecsim/src/exit.rs` declares the exit statuses as `enum Exit` and lists them in
//! `Exit::ALL`, from which `--help` and the README's table are rendered. The compiler sees that
//! every status has its words (exhaustive `match`es), but not that `ALL` names every status, nor
//! that the README was regenerated: a status added to the enum alone would be documented
//! nowhere. This rule parses the enum and `ALL` (with `syn`) and reads the README's table between
//! its markers; each must hold every code, and nothing else.

use std::{collections::BTreeMap, path::Path};

use anyhow::Context as _;

/// Where the statuses are declared.
pub(crate) const SOURCE: &str = "crates/ecsim/src/exit.rs";
/// The markers around the README's table.
const START: &str = "<!-- exit-codes: start";
const END: &str = "<!-- exit-codes: end -->";

/// What is wrong with the table, one sentence each; empty when it is complete.
pub(crate) fn problems(source: &str, readme: &str) -> anyhow::Result<Vec<String>> {
    let file = syn::parse_file(source).context("parsing the exit codes' source")?;
    let mut variants = BTreeMap::new();
    let mut all = Vec::new();
    for item in &file.items {
        match item {
            syn::Item::Enum(e) if e.ident == "Exit" => {
                for variant in &e.variants {
                    let code = match &variant.discriminant {
                        Some((
                            _,
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Int(int),
                                ..
                            }),
                        )) => int.base10_parse::<u8>()?,
                        _ => anyhow::bail!("Exit::{} has no literal code", variant.ident),
                    };
                    variants.insert(variant.ident.to_string(), code);
                }
            }
            syn::Item::Impl(block) if type_is(&block.self_ty, "Exit") => {
                for item in &block.items {
                    if let syn::ImplItem::Const(c) = item
                        && c.ident == "ALL"
                        && let syn::Expr::Array(array) = &c.expr
                    {
                        for element in &array.elems {
                            if let syn::Expr::Path(path) = element
                                && let Some(last) = path.path.segments.last()
                            {
                                all.push(last.ident.to_string());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    anyhow::ensure!(!variants.is_empty(), "no `enum Exit` in {SOURCE}");
    let mut problems = Vec::new();
    for (name, code) in &variants {
        if !all.contains(name) {
            problems.push(format!(
                "Exit::{name} (code {code}) is missing from Exit::ALL, so neither --help nor the README lists it"
            ));
        }
    }
    let documented = readme_codes(readme)?;
    for (name, code) in &variants {
        if !documented.contains(code) {
            problems.push(format!(
                "exit code {code} (Exit::{name}) is missing from the README's table: run `cargo test -p ecsim exit` and copy the table it prints"
            ));
        }
    }
    for code in &documented {
        if !variants.values().any(|c| c == code) {
            problems.push(format!(
                "the README's table lists exit code {code}, which {SOURCE} does not declare"
            ));
        }
    }
    Ok(problems)
}

fn type_is(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Path(path) if path.path.is_ident(name))
}

/// The codes of the README's table rows.
fn readme_codes(readme: &str) -> anyhow::Result<Vec<u8>> {
    let from = readme
        .find(START)
        .context("the README has no exit-codes table (its start marker)")?;
    let to = readme[from..]
        .find(END)
        .context("the README's exit-codes table has no end marker")?
        + from;
    Ok(readme[from..to]
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|row| row.split(" |").next())
        .filter_map(|code| code.trim().parse().ok())
        .collect())
}

/// The rule over the repository at `root`.
pub(crate) fn check(root: &Path) -> anyhow::Result<usize> {
    let source = std::fs::read_to_string(root.join(SOURCE)).context(SOURCE)?;
    let readme = std::fs::read_to_string(root.join("README.md")).context("README.md")?;
    let problems = problems(&source, &readme)?;
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(readme_codes(&readme)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "
        pub(crate) enum Exit { Ok = 0, Runtime = 1, Plugin = 6 }
        impl Exit { pub(crate) const ALL: [Exit; 3] = [Exit::Ok, Exit::Runtime, Exit::Plugin]; }
    ";
    const README: &str = "## Exit codes\n\n<!-- exit-codes: start (x) -->\n| code | meaning |\n|---|---|\n| 0 | success |\n| 1 | runtime |\n| 6 | plugin |\n<!-- exit-codes: end -->\n";

    #[test]
    fn a_complete_table_passes() -> anyhow::Result<()> {
        assert_eq!(problems(SOURCE, README)?, Vec::<String>::new());
        Ok(())
    }

    #[test]
    fn a_code_missing_from_the_readme_or_from_all_is_named() -> anyhow::Result<()> {
        let readme = README.replace("| 6 | plugin |\n", "");
        let found = problems(SOURCE, &readme)?;
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("exit code 6 (Exit::Plugin) is missing from the README"));

        let source = SOURCE.replace(", Exit::Plugin]", "]");
        let found = problems(&source, README)?;
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("Exit::Plugin (code 6) is missing from Exit::ALL"));
        Ok(())
    }

    #[test]
    fn a_code_the_source_does_not_declare_is_named() -> anyhow::Result<()> {
        let readme = README.replace("| 6 | plugin |", "| 6 | plugin |\n| 9 | gone |");
        assert_eq!(
            problems(SOURCE, &readme)?,
            [
                "the README's table lists exit code 9, which crates/ecsim/src/exit.rs does not declare"
            ]
        );
        Ok(())
    }

    #[test]
    fn the_repository_table_is_complete() -> anyhow::Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("the workspace")?;
        assert_eq!(check(root)?, 10);
        Ok(())
    }
}
