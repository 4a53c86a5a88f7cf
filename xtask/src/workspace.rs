//! The workspace's shape, checked by `cargo xtask tidy` from `cargo metadata`:
//!
//! - **Crate layers.** ARCHITECTURE.md's "Crate layers" table puts every crate of the workspace
//!   in a layer; a crate depends (to build, not to test) only on crates of lower layers, so each
//!   layer can be read, built and tested knowing only what is below it.
//! - **One integration-test binary per crate.** Each crate's integration tests link once
//!   (`tests/it/main.rs`, a module per subject); a second binary needs a reason here
//!   ([`MORE_TEST_BINARIES`]).
//! - **No unsafe code outside the FFI crates.** Every crate root says `#![forbid(unsafe_code)]`
//!   but those of [`UNSAFE_ALLOWED`], each with its reason.
//! - **The format apart.** The scenario format's crate ([`FORMAT`]) builds on the domain alone
//!   ([`FORMAT_MAY_USE`]), so that a tool reading scenarios never links the simulator, a plugin,
//!   or the plugin host ([`format_violations`]).
//! - **Modules in layers, in every crate** ([`modules_layered`]): no cycle among the top-level
//!   modules ([`crate::modules`]), nor among the submodules of any module
//!   ([`crate::submodules`]).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use anyhow::Context as _;

/// Crates with more than one integration-test binary, and why.
pub(crate) const MORE_TEST_BINARIES: &[(&str, &str)] = &[(
    "ecsim-e2e",
    "the soak reads its own process's resident memory, which other tests beside it would disturb",
)];

/// Crates that may hold unsafe code, and why.
pub(crate) const UNSAFE_ALLOWED: &[(&str, &str)] = &[
    (
        "ecsim-plugin-abi",
        "the C ABI's types: raw pointers and buffers across the boundary",
    ),
    (
        "ecsim-plugin-sdk",
        "exports a plugin library's C entry points",
    ),
    (
        "ecsim-plugin-host",
        "loads libraries and calls their C entry points",
    ),
    (
        "ecsim-example-plugin",
        "declare_plugins! expands to the library's C entry points",
    ),
    (
        "ecsim-mock-services",
        "declare_plugins! expands to the library's C entry points",
    ),
    (
        "ecsim-test-not-a-plugin",
        "a shared library without the entry symbol: a C export",
    ),
    (
        "ecsim-broker",
        "stored records live in memory from the system allocator, outside the counted heap",
    ),
];

/// The crate of the scenario format, and what it may build on: the domain's types (workflows,
/// conditions, specs; topics and messages), nothing that simulates, loads or publishes.
pub(crate) const FORMAT: &str = "ecsim-scenario";
pub(crate) const FORMAT_MAY_USE: &[&str] = &["ecsim-core", "ecsim-proto"];

/// A workspace crate, as `cargo metadata` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Crate {
    pub(crate) name: String,
    /// The workspace crates it depends on to build (normal and build dependencies).
    pub(crate) depends_on: BTreeSet<String>,
    /// Its integration-test binaries.
    pub(crate) test_binaries: Vec<String>,
    /// Its library's or binary's root files (`src/lib.rs`, `src/main.rs`).
    pub(crate) roots: Vec<PathBuf>,
}

/// The workspace's crates, from `cargo metadata --no-deps` run in `root`.
pub(crate) fn crates(root: &Path) -> anyhow::Result<Vec<Crate>> {
    let output = std::process::Command::new(crate::run::cargo())
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata without packages")?;
    let names: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut crates = Vec::new();
    for package in packages {
        let name = package["name"]
            .as_str()
            .context("a package without a name")?;
        let depends_on = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dep| dep["kind"].is_null() || dep["kind"] == "build")
            .filter_map(|dep| dep["name"].as_str())
            .filter(|dep| names.contains(dep) && *dep != name)
            .map(str::to_owned)
            .collect();
        let targets = package["targets"].as_array().into_iter().flatten();
        let mut test_binaries = Vec::new();
        let mut roots = Vec::new();
        for target in targets {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str())
                .collect();
            let path = target["src_path"].as_str().map(PathBuf::from);
            if kinds.contains(&"test") {
                test_binaries.push(target["name"].as_str().unwrap_or_default().to_owned());
            } else if kinds
                .iter()
                .any(|k| matches!(*k, "lib" | "rlib" | "cdylib" | "dylib" | "bin"))
                && let Some(path) = path
                && path.parent().is_some_and(|dir| dir.ends_with("src"))
            {
                roots.push(path);
            }
        }
        crates.push(Crate {
            name: name.to_owned(),
            depends_on,
            test_binaries,
            roots,
        });
    }
    crates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(crates)
}

/// The layers of ARCHITECTURE.md's "Crate layers" table: `| N | crate, crate |` rows.
pub(crate) fn layers_table(architecture: &str) -> BTreeMap<String, usize> {
    let mut layers = BTreeMap::new();
    let Some(start) = architecture.find("### Crate layers") else {
        return layers;
    };
    let section = &architecture[start..];
    let end = section[3..].find("\n#").map_or(section.len(), |i| i + 3);
    for line in section[..end].lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        let [layer, crates, ..] = cells.as_slice() else {
            continue;
        };
        let Ok(layer) = layer.trim().parse::<usize>() else {
            continue;
        };
        for name in crates.split(',') {
            let name = name.trim().trim_matches('`');
            if !name.is_empty() {
                layers.insert(name.to_owned(), layer);
            }
        }
    }
    layers
}

/// What breaks the layering: a crate the table leaves out (or names but does not exist), a
/// crate depending on one of its own layer or above.
pub(crate) fn layer_violations(crates: &[Crate], layers: &BTreeMap<String, usize>) -> Vec<String> {
    let mut problems = Vec::new();
    for krate in crates {
        let Some(&layer) = layers.get(&krate.name) else {
            problems.push(format!(
                "{} is in no layer of ARCHITECTURE.md's \"Crate layers\": add it to the table",
                krate.name
            ));
            continue;
        };
        for dep in &krate.depends_on {
            match layers.get(dep) {
                Some(&below) if below < layer => {}
                Some(&other) => problems.push(format!(
                    "{} (layer {layer}) depends on {dep} (layer {other}): a crate uses only the \
                     layers below it; move what both need down, or the crate up",
                    krate.name
                )),
                None => {}
            }
        }
    }
    let known: BTreeSet<&str> = crates.iter().map(|c| c.name.as_str()).collect();
    for name in layers.keys() {
        if !known.contains(name.as_str()) {
            problems.push(format!(
                "ARCHITECTURE.md's \"Crate layers\" names {name}, which is not a crate of the workspace"
            ));
        }
    }
    problems
}

/// What takes the format crate off the domain: a workspace crate in its closure beyond
/// [`FORMAT_MAY_USE`] and their own closures. (That no loader or Kafka client comes in from
/// outside the workspace is `tidy.rs`'s check on the resolved graph.)
pub(crate) fn format_violations(crates: &[Crate]) -> Vec<String> {
    let by_name: BTreeMap<&str, &Crate> = crates.iter().map(|c| (c.name.as_str(), c)).collect();
    if !by_name.contains_key(FORMAT) {
        return vec![format!("the format crate {FORMAT} is not in the workspace")];
    }
    let closure = closure(&by_name, &[FORMAT]);
    // What the domain crates use is the domain too: they are checked by their own layers.
    let mut allowed = self::closure(&by_name, FORMAT_MAY_USE);
    allowed.insert(FORMAT);
    let mut problems = Vec::new();
    for name in &closure {
        if !allowed.contains(name) {
            problems.push(format!(
                "{FORMAT} (the scenario format) builds on {name}: the format links the domain \
                 only ({}); move what it needs down, or the code that needs {name} up into \
                 ecsim-replay",
                FORMAT_MAY_USE.join(", ")
            ));
        }
    }
    problems
}

/// The workspace crates `from` build on, themselves included.
fn closure<'a>(by_name: &BTreeMap<&'a str, &'a Crate>, from: &[&'a str]) -> BTreeSet<&'a str> {
    let mut seen: BTreeSet<&str> = from.iter().copied().collect();
    let mut todo: Vec<&str> = from.to_vec();
    while let Some(name) = todo.pop() {
        for dep in by_name.get(name).into_iter().flat_map(|c| &c.depends_on) {
            if let Some((&known, _)) = by_name.get_key_value(dep.as_str())
                && seen.insert(known)
            {
                todo.push(known);
            }
        }
    }
    seen
}

/// Crates with a second integration-test binary that [`MORE_TEST_BINARIES`] does not explain.
pub(crate) fn test_binary_violations(crates: &[Crate], allowed: &[(&str, &str)]) -> Vec<String> {
    crates
        .iter()
        .filter(|c| c.test_binaries.len() > 1 && !allowed.iter().any(|(name, _)| *name == c.name))
        .map(|c| {
            format!(
                "{} has {} integration-test binaries ({}): make them modules of tests/it/main.rs, \
                 one binary that links once",
                c.name,
                c.test_binaries.len(),
                c.test_binaries.join(", ")
            )
        })
        .collect()
}

/// Crate roots without `#![forbid(unsafe_code)]`, outside [`UNSAFE_ALLOWED`].
pub(crate) fn unsafe_violations(
    crates: &[Crate],
    allowed: &[(&str, &str)],
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for krate in crates {
        if allowed.iter().any(|(name, _)| *name == krate.name) {
            continue;
        }
        for root in &krate.roots {
            let text = std::fs::read_to_string(root)
                .with_context(|| format!("reading {}", root.display()))?;
            if !text.contains("#![forbid(unsafe_code)]") {
                problems.push(format!(
                    "{} has no #![forbid(unsafe_code)]: only the FFI crates may hold unsafe code \
                     (xtask/src/workspace.rs lists them, with their reasons)",
                    root.display()
                ));
            }
        }
    }
    Ok(problems)
}

/// No module cycle in any crate of the workspace: none imports a module that imports it back.
pub(crate) fn modules_layered(root: &Path) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    let mut modules = 0;
    let crates = crates(root)?;
    for krate in &crates {
        for file in &krate.roots {
            let graph = crate::modules::graph(file)?;
            modules += graph.len();
            for group in crate::modules::cycles(&graph) {
                reports.push(format!(
                    "{}: {}",
                    krate.name,
                    crate::modules::describe(&graph, &group, root)
                ));
            }
            for (parent, graph) in crate::submodules::nested_graphs(file)? {
                for group in crate::modules::cycles(&graph) {
                    reports.push(format!(
                        "{}::{}: {}",
                        krate.name,
                        parent.join("::"),
                        crate::modules::describe(&graph, &group, root)
                    ));
                }
            }
        }
    }
    anyhow::ensure!(
        reports.is_empty(),
        "{}\nA module uses only the modules below it (ARCHITECTURE.md, Invariants): move what both need into a lower module, or pass it in.",
        reports.join("\n")
    );
    println!(
        "tidy: the {modules} top-level modules of the workspace's {} crates form layers, and so \
         do the submodules of each module",
        crates.len()
    );
    Ok(())
}

/// Runs the three checks on the workspace at `root`.
pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let crates = crates(root)?;
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    let layers = layers_table(&architecture);
    let mut problems = layer_violations(&crates, &layers);
    problems.extend(format_violations(&crates));
    problems.extend(test_binary_violations(&crates, MORE_TEST_BINARIES));
    problems.extend(unsafe_violations(&crates, UNSAFE_ALLOWED)?);
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
    println!(
        "tidy: the workspace's {} crates are layered, keep the scenario format apart from the \
         simulation, link their integration tests once, and forbid unsafe code outside the {} \
         FFI crates",
        crates.len(),
        UNSAFE_ALLOWED.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(name: &str, depends_on: &[&str], tests: &[&str]) -> Crate {
        Crate {
            name: name.to_owned(),
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
            test_binaries: tests.iter().map(|t| (*t).to_owned()).collect(),
            roots: Vec::new(),
        }
    }

    const TABLE: &str = "## Code map\n\n### Crate layers\n\n| layer | crates |\n|---|---|\n\
        | 0 | `proto` |\n| 1 | `core`, `sdk` |\n| 2 | `cli` |\n\n### Next\n| 9 | `not-read` |\n";

    #[test]
    fn the_layers_table_is_read_from_its_section_only() {
        let layers = layers_table(TABLE);
        assert_eq!(
            layers.into_iter().collect::<Vec<_>>(),
            [
                ("cli".to_owned(), 2),
                ("core".to_owned(), 1),
                ("proto".to_owned(), 0),
                ("sdk".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn a_crate_depending_on_its_own_layer_or_above_fails_and_so_does_one_left_out() {
        let layers = layers_table(TABLE);
        let fine = [
            krate("proto", &[], &["it"]),
            krate("core", &["proto"], &["it"]),
            krate("sdk", &["proto"], &[]),
            krate("cli", &["core", "sdk"], &["it"]),
        ];
        assert_eq!(layer_violations(&fine, &layers), Vec::<String>::new());
        let planted = [
            krate("proto", &["core"], &[]),
            krate("core", &["sdk"], &[]),
            krate("sdk", &[], &[]),
            krate("cli", &[], &[]),
            krate("new", &[], &[]),
        ];
        let problems = layer_violations(&planted, &layers);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("proto (layer 0) depends on core (layer 1)"));
        assert!(problems[1].starts_with("core (layer 1) depends on sdk (layer 1)"));
        assert!(problems[2].starts_with("new is in no layer"));
    }

    #[test]
    fn the_format_crate_fails_on_the_simulation_even_through_another_crate() {
        let domain = [
            krate("ecsim-proto", &[], &[]),
            krate("ecsim-core", &["ecsim-proto"], &[]),
        ];
        let fine: Vec<Crate> = domain
            .iter()
            .cloned()
            .chain([krate(FORMAT, &["ecsim-core"], &[])])
            .collect();
        assert_eq!(format_violations(&fine), Vec::<String>::new());

        let through_a_crate: Vec<Crate> = domain
            .iter()
            .cloned()
            .chain([
                krate("ecsim-report", &["ecsim-plugin-host"], &[]),
                krate("ecsim-plugin-host", &["ecsim-core"], &[]),
                krate(FORMAT, &["ecsim-core", "ecsim-report"], &[]),
            ])
            .collect();
        let problems = format_violations(&through_a_crate);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with(
            "ecsim-scenario (the scenario format) builds on ecsim-plugin-host: the format links \
             the domain only (ecsim-core, ecsim-proto)"
        ));
        assert!(
            problems[1].starts_with("ecsim-scenario (the scenario format) builds on ecsim-report")
        );

        // The domain growing a dependency on the simulation is not the domain any more.
        let core_upward = [
            krate("ecsim-proto", &[], &[]),
            krate("ecsim-core", &["ecsim-proto", "ecsim-plugin-host"], &[]),
            krate("ecsim-plugin-host", &[], &[]),
            krate(FORMAT, &["ecsim-core"], &[]),
        ];
        // Allowed here (the core's closure is the domain's) — but the layers forbid it, and
        // tidy.rs's resolved-graph check forbids the loader the host would bring.
        assert_eq!(format_violations(&core_upward), Vec::<String>::new());
    }

    #[test]
    fn a_second_test_binary_fails_unless_its_reason_is_given() {
        let crates = [
            krate("core", &[], &["it", "extra"]),
            krate("e2e", &[], &["it", "soak"]),
        ];
        let problems = test_binary_violations(&crates, &[("e2e", "the soak")]);
        assert_eq!(
            problems,
            [
                "core has 2 integration-test binaries (it, extra): make them modules of \
              tests/it/main.rs, one binary that links once"
            ]
        );
    }

    #[test]
    fn a_crate_root_without_forbid_unsafe_code_fails_unless_it_is_an_ffi_crate() {
        let dir = tempfile::tempdir().unwrap();
        let safe = dir.path().join("safe.rs");
        let open = dir.path().join("open.rs");
        std::fs::write(&safe, "//! Safe.\n#![forbid(unsafe_code)]\n").unwrap();
        std::fs::write(&open, "//! Not said.\n").unwrap();
        let mut a = krate("a", &[], &[]);
        a.roots = vec![safe];
        let mut b = krate("b", &[], &[]);
        b.roots = vec![open.clone()];
        let mut ffi = krate("ffi", &[], &[]);
        ffi.roots = vec![open];
        let problems = unsafe_violations(&[a, b, ffi], &[("ffi", "the C ABI")]).unwrap();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains("open.rs has no #![forbid(unsafe_code)]"));
    }
}
