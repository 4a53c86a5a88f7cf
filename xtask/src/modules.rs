//! The module graph of a crate, and its cycles (a `cargo xtask tidy` rule).
//!
//! ARCHITECTURE.md promises that every crate's modules form layers — the top-level ones, and
//! the submodules of each module among themselves: a module uses only the
//! modules below it, so each can be read, tested and changed knowing only what it imports. A
//! compiler accepts modules that import each other, so this rule holds the promise: it parses
//! every file of the crate (with `syn`, not by matching text), resolves every path that starts
//! at `crate::` or climbs with `super::` to the top-level module it names, and reports each
//! group of modules that reach each other, with one place where each edge of the group is made.
//!
//! Test code (`#[cfg(test)]` items and modules) is left out: a test may use whatever it needs.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use syn::visit::Visit;

/// Where one module uses another: the first place found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Site {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
}

/// Each top-level module, the top-level modules it uses, and where.
pub(crate) type Graph = BTreeMap<String, BTreeMap<String, Site>>;

/// The graph of the crate whose root file is `lib` (its `src/lib.rs` or `src/main.rs`).
pub(crate) fn graph(lib: &Path) -> anyhow::Result<Graph> {
    let src = lib.parent().context("a crate root file has a directory")?;
    let text =
        std::fs::read_to_string(lib).with_context(|| format!("reading {}", lib.display()))?;
    let root = syn::parse_file(&text).with_context(|| format!("parsing {}", lib.display()))?;
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for item in &root.items {
        match item {
            syn::Item::Mod(module) if !is_test(&module.attrs) => {
                modules.insert(module.ident.to_string());
            }
            syn::Item::Use(use_) => reexported(&use_.tree, None, &mut reexports),
            _ => {}
        }
    }
    reexports.retain(|_, module: &mut String| modules.contains(module));
    let mut graph = Graph::new();
    for module in &modules {
        graph.entry(module.clone()).or_default();
        for file in module_files(src, module)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let parsed =
                syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
            let mut visitor = Uses {
                at: module_path(src, &file),
                modules: &modules,
                reexports: &reexports,
                found: Vec::new(),
                paths: None,
            };
            visitor.visit_file(&parsed);
            for (target, line) in visitor.found {
                if target != *module {
                    graph
                        .entry(module.clone())
                        .or_default()
                        .entry(target)
                        .or_insert_with(|| Site {
                            file: file.clone(),
                            line,
                        });
                }
            }
        }
    }
    Ok(graph)
}

/// The groups of two or more modules that use each other, directly or not (Tarjan's strongly
/// connected components, which visits each edge once).
pub(crate) fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        groups: Vec<Vec<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        let targets = state
            .graph
            .get(node)
            .into_iter()
            .flat_map(|edges| edges.keys());
        for target in targets {
            let target = target.as_str();
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[node].min(state.low[target]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.low[node].min(state.index[target]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut group = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                group.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                state.groups.push(group);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.groups.sort();
    state.groups
}

/// The report of a cycle: each edge inside the group, with where it is made.
pub(crate) fn describe(graph: &Graph, group: &[String], root: &Path) -> String {
    let mut lines = vec![format!("modules {} use each other:", group.join(", "))];
    for from in group {
        for (to, site) in graph.get(from).into_iter().flatten() {
            if group.contains(to) {
                let file = site.file.strip_prefix(root).unwrap_or(&site.file);
                lines.push(format!(
                    "  {from} -> {to} ({}:{})",
                    file.display(),
                    site.line
                ));
            }
        }
    }
    lines.join("\n")
}

/// The files of top-level module `module`: `module.rs` or `module/mod.rs`, and everything under
/// `module/`.
fn module_files(src: &Path, module: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let dir = src.join(module);
    if dir.is_dir() {
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
            {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The module path of a file: `control/hooks.rs` is `control::hooks`, `control/mod.rs` is
/// `control`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut path: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

/// Items that exist only for tests.
pub(crate) fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

/// The crate root's `pub use module::Item` re-exports: `Item` → `module`.
pub(crate) fn reexported(
    tree: &syn::UseTree,
    first: Option<&str>,
    out: &mut BTreeMap<String, String>,
) {
    match tree {
        syn::UseTree::Path(path) => {
            let ident = path.ident.to_string();
            reexported(&path.tree, Some(first.unwrap_or(&ident)), out);
        }
        syn::UseTree::Name(name) => {
            if let Some(first) = first {
                out.insert(name.ident.to_string(), first.to_owned());
            }
        }
        syn::UseTree::Rename(rename) => {
            if let Some(first) = first {
                out.insert(rename.rename.to_string(), first.to_owned());
            }
        }
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                reexported(tree, first, out);
            }
        }
        syn::UseTree::Glob(_) => {}
    }
}

/// Collects the top-level modules a file's paths reach.
pub(crate) struct Uses<'a> {
    /// The module the visitor is in: the file's module path, then inline modules.
    pub(crate) at: Vec<String>,
    pub(crate) modules: &'a BTreeSet<String>,
    pub(crate) reexports: &'a BTreeMap<String, String>,
    pub(crate) found: Vec<(String, usize)>,
    /// Every absolute path reached, when asked for (the submodules' graphs).
    pub(crate) paths: Option<Vec<(Vec<String>, usize)>>,
}

impl Uses<'_> {
    /// Records the top-level module that `segments` (a path's leading identifiers) reaches.
    fn reach(&mut self, segments: &[String], line: usize) {
        let absolute: Vec<String> = match segments.first().map(String::as_str) {
            Some("crate") => segments[1..].to_vec(),
            Some("super") => {
                let mut base = self.at.clone();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                base
            }
            Some("self") => {
                let mut base = self.at.clone();
                base.extend(segments[1..].iter().cloned());
                base
            }
            _ => return,
        };
        if let Some(paths) = &mut self.paths {
            paths.push((absolute.clone(), line));
        }
        let Some(first) = absolute.first() else {
            return;
        };
        let target = if self.modules.contains(first) {
            first.clone()
        } else if let Some(module) = self.reexports.get(first) {
            module.clone()
        } else {
            return;
        };
        self.found.push((target, line));
    }

    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(&path.tree, prefix);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                prefix.push(name.ident.to_string());
                self.reach(prefix, name.ident.span().start().line);
                prefix.pop();
            }
            syn::UseTree::Rename(rename) => {
                prefix.push(rename.ident.to_string());
                self.reach(prefix, rename.ident.span().start().line);
                prefix.pop();
            }
            syn::UseTree::Glob(glob) => {
                let line = glob.star_token.spans[0].start().line;
                self.reach(prefix, line);
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree, prefix);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Uses<'_> {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if is_test(&module.attrs) {
            return;
        }
        self.at.push(module.ident.to_string());
        syn::visit::visit_item_mod(self, module);
        self.at.pop();
    }

    fn visit_item_use(&mut self, use_: &'ast syn::ItemUse) {
        if is_test(&use_.attrs) {
            return;
        }
        self.use_tree(&use_.tree, &mut Vec::new());
    }

    fn visit_item_fn(&mut self, function: &'ast syn::ItemFn) {
        if !is_test(&function.attrs) {
            syn::visit::visit_item_fn(self, function);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        if !is_test(&item.attrs) {
            syn::visit::visit_item_impl(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(first) = path.segments.first() {
            self.reach(&segments, first.ident.span().start().line);
        }
        syn::visit::visit_path(self, path);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes `text` to `file` under `dir`, making its directories (a crate planted in a test).
    pub(crate) fn write(dir: &Path, file: &str, text: &str) -> anyhow::Result<()> {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
        Ok(())
    }

    /// A crate with layers `a` → `b` → `c`, through each way Rust names a module.
    fn layered() -> anyhow::Result<tempfile::TempDir> {
        let dir = tempfile::tempdir()?;
        write(
            dir.path(),
            "lib.rs",
            "pub mod a;\npub mod b;\nmod c;\npub use b::Thing;\n",
        )?;
        write(dir.path(), "a/mod.rs", "mod inner;\nuse crate::Thing;\n")?;
        write(
            dir.path(),
            "a/inner.rs",
            "fn f() { super::super::b::g(); }\n",
        )?;
        write(
            dir.path(),
            "b.rs",
            "use crate::{c::{self, Deep}};\npub struct Thing;\n",
        )?;
        write(
            dir.path(),
            "c.rs",
            "pub struct Deep;\n#[cfg(test)]\nmod tests { use crate::a; }\n",
        )?;
        Ok(dir)
    }

    #[test]
    fn paths_of_every_form_are_edges_and_tests_are_not() -> anyhow::Result<()> {
        let dir = layered()?;
        let graph = graph(&dir.path().join("lib.rs"))?;
        let edges: Vec<(String, String)> = graph
            .iter()
            .flat_map(|(from, to)| to.keys().map(move |to| (from.clone(), to.clone())))
            .collect();
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(edges, vec![pair("a", "b"), pair("b", "c")]);
        assert!(cycles(&graph).is_empty());
        Ok(())
    }

    #[test]
    fn a_planted_cycle_is_reported_with_where_each_edge_is_made() -> anyhow::Result<()> {
        let dir = layered()?;
        write(
            dir.path(),
            "c.rs",
            "pub struct Deep;\npub fn h() { let _ = super::a::X; }\n",
        )?;
        let graph = graph(&dir.path().join("lib.rs"))?;
        let found = cycles(&graph);
        assert_eq!(
            found,
            vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
        );
        let report = describe(&graph, &found[0], dir.path());
        assert!(report.contains("c -> a (c.rs:2)"), "{report}");
        assert!(report.contains("a -> b (a/inner.rs:1)"), "{report}");
        Ok(())
    }
}
