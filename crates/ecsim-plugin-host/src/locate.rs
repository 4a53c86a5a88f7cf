//! Where a plugin library named by a user is.
//!
//! ecsim never searches for libraries (no `LD_LIBRARY_PATH`, no plugin directory): a library is
//! either a path — relative to the scenario file that names it, or to the working directory on
//! the command line — or the short name of one of the libraries that ship with ecsim, which sit
//! next to the `ecsim` executable (`mock-services` is `libecsim_mock_services.so` on Linux).

use std::path::{Path, PathBuf};

/// How a user wrote a library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibrarySpec {
    /// A path (it has a directory separator, or a library file extension).
    Path(PathBuf),
    /// A library that ships with ecsim, by short name.
    Bundled(String),
}

impl LibrarySpec {
    /// Reads what the user wrote.
    pub fn parse(text: &str) -> Self {
        let looks_like_path = text.contains('/')
            || text.contains('\\')
            || [".so", ".dylib", ".dll"]
                .iter()
                .any(|ext| text.ends_with(ext));
        if looks_like_path {
            Self::Path(PathBuf::from(text))
        } else {
            Self::Bundled(text.to_owned())
        }
    }
}

/// The file name of bundled library `name`: `mock-services` → `libecsim_mock_services.so`.
pub fn bundled_file_name(name: &str) -> String {
    format!(
        "{}ecsim_{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// The directories bundled libraries are looked for in: the executable's, and its parent when
/// the executable is a test in Cargo's `deps` directory (the libraries are one level up).
pub fn bundled_dirs() -> Vec<PathBuf> {
    let Ok(exe) = std::env::current_exe() else {
        return Vec::new();
    };
    let Some(dir) = exe.parent() else {
        return Vec::new();
    };
    let mut dirs = vec![dir.to_owned()];
    if dir.file_name().is_some_and(|name| name == "deps")
        && let Some(parent) = dir.parent()
    {
        dirs.push(parent.to_owned());
    }
    dirs
}

/// Resolves `text` to a path: relative paths against `base`, bundled names next to the
/// executable. A bundled library that is not there resolves to where it was expected, so the
/// load fails with that path (and [`build_hint`] says how to build it).
pub fn resolve(text: &str, base: &Path) -> PathBuf {
    match LibrarySpec::parse(text) {
        LibrarySpec::Path(path) if path.is_absolute() => path,
        LibrarySpec::Path(path) => base.join(path),
        LibrarySpec::Bundled(name) => {
            let file = bundled_file_name(&name);
            let dirs = bundled_dirs();
            dirs.iter()
                .map(|dir| dir.join(&file))
                .find(|candidate| candidate.is_file())
                .or_else(|| dirs.first().map(|dir| dir.join(&file)))
                .unwrap_or_else(|| PathBuf::from(file))
        }
    }
}

/// The libraries that ship with ecsim: short name, and the package that builds it.
pub const BUNDLED: &[(&str, &str)] = &[("mock-services", "ecsim-mock-services")];

/// What to tell a user whose library is missing, when there is more to say than its path.
pub fn build_hint(text: &str) -> Option<String> {
    let LibrarySpec::Bundled(name) = LibrarySpec::parse(text) else {
        return None;
    };
    Some(match BUNDLED.iter().find(|(short, _)| *short == name) {
        Some((_, package)) => format!(
            "{name} ships with ecsim as a library built beside the ecsim executable: build it \
             with `cargo build -p {package}` (in the same profile as ecsim), or give its path"
        ),
        None => format!(
            "`{name}` is not a path, nor a library that ships with ecsim ({}): give a path, \
             such as ./lib{}.so",
            BUNDLED
                .iter()
                .map(|(short, _)| *short)
                .collect::<Vec<_>>()
                .join(", "),
            name.replace('-', "_")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_short_names_are_told_apart() {
        assert_eq!(
            LibrarySpec::parse("mock-services"),
            LibrarySpec::Bundled("mock-services".into())
        );
        assert_eq!(
            LibrarySpec::parse("./libx.so"),
            LibrarySpec::Path("./libx.so".into())
        );
        assert_eq!(
            LibrarySpec::parse("libx.so"),
            LibrarySpec::Path("libx.so".into())
        );
        assert_eq!(
            LibrarySpec::parse("target/debug/x"),
            LibrarySpec::Path("target/debug/x".into())
        );
    }

    #[test]
    fn relative_paths_are_relative_to_the_base_and_bundled_names_sit_by_the_executable() {
        assert_eq!(
            resolve("plugins/libx.so", Path::new("/scenarios")),
            Path::new("/scenarios/plugins/libx.so")
        );
        assert_eq!(
            resolve("/opt/libx.so", Path::new("/scenarios")),
            Path::new("/opt/libx.so")
        );
        let bundled = resolve("mock-services", Path::new("/scenarios"));
        assert_eq!(
            bundled.file_name().unwrap().to_string_lossy(),
            bundled_file_name("mock-services")
        );
        assert!(bundled_file_name("mock-services").contains("ecsim_mock_services"));
    }
}
