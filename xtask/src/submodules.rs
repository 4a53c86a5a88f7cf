//! The module graphs one level down and below (a `cargo xtask tidy` rule, with
//! [`crate::modules`]): among the submodules of each module, the same rule as among a crate's
//! top-level modules — `ecsim-core`'s `control/environment.rs` and `control/hooks.rs` use one
//! another only one way.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use syn::visit::Visit as _;

use crate::modules::{Graph, Site, Uses, is_test, reexported};

/// The graphs among the submodules of each module below the top level (`control`'s
/// `environment`, `hooks`, …), by the module's path: the same rule one level down, and the next.
/// Only modules declared in their own files are followed (`mod x;`, as `x.rs` or `x/mod.rs`);
/// inline modules count as part of their file's.
pub(crate) fn nested_graphs(lib: &Path) -> anyhow::Result<BTreeMap<Vec<String>, Graph>> {
    let src = lib.parent().context("a crate root file has a directory")?;
    // Every module declared from the root down: its path, its file, its child modules.
    let mut files: Vec<(Vec<String>, PathBuf)> = Vec::new();
    let mut children: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![(Vec::<String>::new(), lib.to_path_buf())];
    while let Some((path, file)) = stack.pop() {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let parsed =
            syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
        let dir = if path.is_empty() || file.file_name().is_some_and(|n| n == "mod.rs") {
            file.parent().unwrap_or(src).to_path_buf()
        } else {
            file.with_extension("")
        };
        for item in &parsed.items {
            let syn::Item::Mod(module) = item else {
                continue;
            };
            if is_test(&module.attrs) || module.content.is_some() {
                continue;
            }
            let name = module.ident.to_string();
            let single = dir.join(format!("{name}.rs"));
            let nested = dir.join(&name).join("mod.rs");
            let Some(child) = [single, nested].into_iter().find(|f| f.is_file()) else {
                continue;
            };
            children
                .entry(path.clone())
                .or_default()
                .insert(name.clone());
            let mut child_path = path.clone();
            child_path.push(name);
            stack.push((child_path, child));
        }
        files.push((path, file));
    }
    // What each module re-exports from its children: (module, item) → child.
    let mut reexports: BTreeMap<(Vec<String>, String), String> = BTreeMap::new();
    for (path, file) in &files {
        let Some(own) = children.get(path) else {
            continue;
        };
        let text = std::fs::read_to_string(file)?;
        let parsed = syn::parse_file(&text)?;
        for item in &parsed.items {
            if let syn::Item::Use(use_) = item {
                let mut found = BTreeMap::new();
                reexported(&use_.tree, None, &mut found);
                for (name, first) in found {
                    let first = if first == "self" {
                        String::new()
                    } else {
                        first
                    };
                    if own.contains(&first) {
                        reexports.insert((path.clone(), name), first);
                    }
                }
            }
        }
    }
    let all: BTreeSet<String> = children.values().flatten().cloned().collect();
    let none = BTreeMap::new();
    let mut graphs: BTreeMap<Vec<String>, Graph> = BTreeMap::new();
    for (path, file) in &files {
        if path.len() < 2 {
            continue; // the root and the top-level modules: `graph`'s
        }
        let text = std::fs::read_to_string(file)?;
        let parsed = syn::parse_file(&text)?;
        let mut visitor = Uses {
            at: path.clone(),
            modules: &all,
            reexports: &none,
            found: Vec::new(),
            paths: Some(Vec::new()),
        };
        visitor.visit_file(&parsed);
        for (target, line) in visitor.paths.take().unwrap_or_default() {
            let common = path.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common == 0 || common >= path.len() || common >= target.len() {
                continue;
            }
            let parent = path[..common].to_vec();
            let from = path[common].clone();
            let candidate = &target[common];
            let to = if children.get(&parent).is_some_and(|c| c.contains(candidate)) {
                candidate.clone()
            } else if let Some(child) = reexports.get(&(parent.clone(), candidate.clone())) {
                child.clone()
            } else {
                continue;
            };
            if to == from {
                continue;
            }
            graphs
                .entry(parent)
                .or_default()
                .entry(from)
                .or_default()
                .entry(to)
                .or_insert_with(|| Site {
                    file: file.clone(),
                    line,
                });
        }
    }
    Ok(graphs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{cycles, describe, tests::write};

    #[test]
    fn a_cycle_between_submodules_is_found_in_their_parent_through_reexports_too()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        write(dir.path(), "lib.rs", "mod p;\n")?;
        write(
            dir.path(),
            "p/mod.rs",
            "mod x;\nmod y;\nmod z;\npub use x::X;\n#[cfg(test)]\nmod tests;\n",
        )?;
        write(
            dir.path(),
            "p/x.rs",
            "pub struct X;\nfn f() { let _ = super::z::Z; }\n",
        )?;
        write(
            dir.path(),
            "p/y.rs",
            "pub struct Y;\nfn g() { let _ = super::X; }\n",
        )?;
        write(dir.path(), "p/z.rs", "pub struct Z;\n")?;
        write(dir.path(), "p/tests.rs", "use super::y::Y;\n")?;
        let lib = dir.path().join("lib.rs");
        let graphs = nested_graphs(&lib)?;
        let p = &graphs[&vec!["p".to_owned()]];
        assert!(cycles(p).is_empty(), "y -> x (a re-export) -> z: layers");
        assert!(p["y"].contains_key("x"), "{p:?}");
        // Planted: z uses y, which uses x, which uses z.
        write(
            dir.path(),
            "p/z.rs",
            "pub struct Z;\nfn h() { let _ = crate::p::y::Y; }\n",
        )?;
        let graphs = nested_graphs(&lib)?;
        let p = &graphs[&vec!["p".to_owned()]];
        let found = cycles(p);
        assert_eq!(
            found,
            vec![vec!["x".to_owned(), "y".to_owned(), "z".to_owned()]]
        );
        let report = describe(p, &found[0], dir.path());
        assert!(report.contains("z -> y (p/z.rs:2)"), "{report}");
        Ok(())
    }
}
