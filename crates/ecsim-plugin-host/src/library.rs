//! Opening a plugin library and checking it, step by step, before anything of it runs.
//!
//! The order matters: each check relies on the ones before it. Only after the ABI version and
//! table size are known good does ecsim read the rest of the table, and only a library built
//! with a compatible SDK is asked for its manifest.

use std::{
    io::Read as _,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use ecsim_plugin_abi::{ABI_VERSION, ENTRY_SYMBOL, EntryFn, PluginTable};
use ecsim_proto::{
    plugin::{Manifest, PluginInfo},
    prost::Message as _,
};

use crate::{
    HOST_SDK_VERSION, LoadError,
    inspection::Inspection,
    isolation::{
        Isolation,
        process::{Death, Hello, HostProcess},
    },
    table::take,
    threads,
};

/// How long a library may take to describe itself.
const MANIFEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A loaded, checked plugin library. Never unloaded.
#[derive(Debug)]
pub struct Library {
    path: PathBuf,
    backend: Backend,
    sdk_version: String,
    manifest: Manifest,
}

/// Where a library's code runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    /// Loaded into ecsim: its table.
    InProcess(&'static PluginTable),
    /// Loaded by a host process per instance ([`crate::isolation`]).
    Isolated(Isolation),
}

impl Library {
    /// Opens and checks the library at `path`.
    pub fn open(path: &Path) -> Result<Arc<Self>, LoadError> {
        let mut scratch = Inspection::blank(path);
        open(path, &mut scratch).map(Arc::new)
    }

    /// Checks the library at `path` in a host process of its own, and keeps it there: each of
    /// its plugins' instances will run in a process of its own ([`crate::isolation`]). The
    /// checks are the in-process ones, made by the host process.
    pub fn open_isolated(path: &Path, policy: Isolation) -> Result<Arc<Self>, LoadError> {
        sniff(path)?;
        let path = &std::fs::canonicalize(path).map_err(|error| LoadError::Unreadable {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
        let host_failed = |message: String| LoadError::Host {
            path: path.to_owned(),
            message,
        };
        let label = path.file_stem().map_or_else(
            || "library".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let mut process =
            HostProcess::spawn(path, &label).map_err(|Death(why)| host_failed(why))?;
        let hello = threads::run_with_timeout(
            move || {
                let hello = process.hello();
                (process, hello)
            },
            MANIFEST_TIMEOUT,
        )
        .map_err(|_| LoadError::Unresponsive {
            path: path.to_owned(),
            what: "its host process".to_owned(),
            seconds: MANIFEST_TIMEOUT.as_secs(),
        })?;
        let (process, hello) = hello;
        let (sdk_version, manifest) = match hello {
            Ok(Hello::Loaded(version, manifest)) => {
                process.close(Duration::from_secs(1));
                (version, manifest)
            }
            Ok(Hello::Refused(why)) => {
                process.close(Duration::from_secs(1));
                return Err(LoadError::Isolated { message: why });
            }
            Err(failure) => {
                let Death(why) = process.reap(&failure, Duration::from_millis(500));
                return Err(host_failed(format!("it {why}")));
            }
        };
        let manifest = check_manifest(path, &manifest)?;
        Ok(Arc::new(Library {
            path: path.to_owned(),
            backend: Backend::Isolated(policy),
            sdk_version,
            manifest,
        }))
    }

    /// Checks a table that is already in memory (a plugin linked into the same program, as
    /// tests do): every check after the symbol lookup. `label` stands for the path in messages.
    pub fn from_table(label: &Path, table: &'static PluginTable) -> Result<Arc<Self>, LoadError> {
        let mut scratch = Inspection::blank(label);
        check_table(label, table, &mut scratch).map(Arc::new)
    }

    /// Where it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SDK version it was built with.
    pub fn sdk_version(&self) -> &str {
        &self.sdk_version
    }

    /// The plugins it offers.
    pub fn plugins(&self) -> &[PluginInfo] {
        &self.manifest.plugins
    }

    /// Where its code runs.
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether its plugins run in processes of their own.
    pub fn is_isolated(&self) -> bool {
        matches!(self.backend, Backend::Isolated(_))
    }

    /// Its table, when it is loaded into this process.
    pub(crate) fn in_process_table(&self) -> Option<&'static PluginTable> {
        match self.backend {
            Backend::InProcess(table) => Some(table),
            Backend::Isolated(_) => None,
        }
    }

    /// Its manifest.
    pub(crate) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The names of its plugins, for messages.
    pub fn offered(&self) -> String {
        self.manifest
            .plugins
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The checks, in order, recording what they find in `inspection`.
pub(crate) fn open(path: &Path, inspection: &mut Inspection) -> Result<Library, LoadError> {
    sniff(path)?;
    // The file checked is the file loaded: dlopen searches LD_LIBRARY_PATH and the system's
    // directories for a name without a slash (`libname.so`), so it gets the absolute path.
    let path = &std::fs::canonicalize(path).map_err(|error| LoadError::Unreadable {
        path: path.to_owned(),
        message: error.to_string(),
    })?;
    // SAFETY: loading a library runs its initializers. ecsim loads only libraries a user named
    // explicitly, by absolute path, which is the trust a user gives any plugin; the file has
    // been checked to be a shared library above.
    let library = unsafe { libloading::Library::new(path) }.map_err(|error| LoadError::Open {
        path: path.to_owned(),
        message: error.to_string(),
    })?;
    // SAFETY: the symbol's type is the ABI's entry function type; a library exporting this
    // name with another type breaks the ABI's contract, which the checks below catch as far as
    // anything can (ABI version, table size).
    let entry: EntryFn = match unsafe { library.get::<EntryFn>(ENTRY_SYMBOL) } {
        Ok(symbol) => *symbol,
        Err(_) => {
            return Err(LoadError::NoEntrySymbol {
                path: path.to_owned(),
                symbol: String::from_utf8_lossy(
                    ENTRY_SYMBOL.strip_suffix(b"\0").unwrap_or(ENTRY_SYMBOL),
                )
                .into_owned(),
            });
        }
    };
    // Never unloaded (see the crate's documentation): the table and functions stay valid.
    std::mem::forget(library);
    // SAFETY: an entry function of the ABI takes nothing and returns a pointer to a static table.
    let table = unsafe { entry() };
    // SAFETY: the ABI's entry function returns null or a pointer to a static table, which
    // lives as long as the library, that is, for ever.
    let Some(table) = (unsafe { table.as_ref() }) else {
        return Err(LoadError::NullTable {
            path: path.to_owned(),
        });
    };
    check_table(path, table, inspection)
}

/// Refuses files that are not shared libraries, before handing them to the dynamic loader
/// (whose messages for a text file are cryptic).
fn sniff(path: &Path) -> Result<(), LoadError> {
    // Looked at before it is opened: opening a FIFO blocks until something writes to it.
    if let Ok(metadata) = std::fs::metadata(path)
        && !metadata.is_file()
        && !metadata.is_dir()
    {
        return Err(LoadError::NotALibrary {
            path: path.to_owned(),
            start: "nothing: it is a FIFO, a socket or a device".to_owned(),
        });
    }
    let mut file = std::fs::File::open(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound {
            path: path.to_owned(),
        },
        _ => LoadError::Unreadable {
            path: path.to_owned(),
            message: error.to_string(),
        },
    })?;
    if path.is_dir() {
        return Err(LoadError::NotALibrary {
            path: path.to_owned(),
            start: "nothing: it is a directory".to_owned(),
        });
    }
    let mut start = [0_u8; 4];
    let read = file
        .read(&mut start)
        .map_err(|error| LoadError::Unreadable {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
    let start = &start[..read];
    const MAGICS: &[&[u8]] = &[
        b"\x7fELF",          // Linux, BSD
        b"\xfe\xed\xfa\xce", // Mach-O 32
        b"\xfe\xed\xfa\xcf", // Mach-O 64
        b"\xce\xfa\xed\xfe", // Mach-O 32, little-endian
        b"\xcf\xfa\xed\xfe", // Mach-O 64, little-endian
        b"\xca\xfe\xba\xbe", // Mach-O universal
        b"MZ",               // Windows PE
    ];
    if MAGICS.iter().any(|magic| start.starts_with(magic)) {
        return Ok(());
    }
    let described = if start.is_empty() {
        "nothing: it is empty".to_owned()
    } else if start
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        format!("the text {:?}", String::from_utf8_lossy(start))
    } else {
        format!(
            "the bytes {}",
            start
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    Err(LoadError::NotALibrary {
        path: path.to_owned(),
        start: described,
    })
}

/// Whether a plugin built with SDK `found` can be loaded by a host of SDK `host`: same major
/// version (same minor, while the major is 0, as Cargo reads 0.x versions), and not newer than
/// the host (a newer SDK may rely on what this host does not do).
fn sdk_compatible(found: &semver::Version, host: &semver::Version) -> Result<(), String> {
    if found.major != host.major {
        return Err(format!(
            "major version {} is not {}",
            found.major, host.major
        ));
    }
    if host.major == 0 && found.minor != host.minor {
        return Err(format!(
            "0.{} and 0.{} are different major versions",
            found.minor, host.minor
        ));
    }
    if (found.major, found.minor) > (host.major, host.minor) {
        return Err("it is newer than this ecsim".to_owned());
    }
    Ok(())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The checks after the entry symbol.
fn check_table(
    path: &Path,
    table: &'static PluginTable,
    inspection: &mut Inspection,
) -> Result<Library, LoadError> {
    inspection.abi_version = Some(table.abi_version);
    if table.abi_version != ABI_VERSION {
        return Err(LoadError::AbiVersion {
            path: path.to_owned(),
            found: table.abi_version,
            expected: ABI_VERSION,
        });
    }
    inspection.table_size = Some(table.table_size);
    if table.table_size < PluginTable::SIZE {
        return Err(LoadError::TableSize {
            path: path.to_owned(),
            found: table.table_size,
            expected: PluginTable::SIZE,
            abi: ABI_VERSION,
        });
    }
    let found = table
        .sdk_version
        .to_str()
        .unwrap_or("(not UTF-8)")
        .to_owned();
    inspection.sdk_version = Some(found.clone());
    let refuse = |why: String| LoadError::SdkVersion {
        path: path.to_owned(),
        found: found.clone(),
        host: HOST_SDK_VERSION.to_owned(),
        why,
    };
    let host = semver::Version::parse(HOST_SDK_VERSION).map_err(|e| refuse(e.to_string()))?;
    let version = semver::Version::parse(&found)
        .map_err(|error| refuse(format!("{found:?} is not a semantic version ({error})")))?;
    sdk_compatible(&version, &host).map_err(refuse)?;

    let manifest_fn = table.manifest;
    // SAFETY: the table's ABI version and size are this host's (checked above), and the manifest
    // buffer goes back to the table that made it.
    let list = move || unsafe { take(table, manifest_fn()) };
    let bytes =
        threads::run_with_timeout(list, MANIFEST_TIMEOUT).map_err(|_| LoadError::Unresponsive {
            path: path.to_owned(),
            what: "its manifest function".to_owned(),
            seconds: MANIFEST_TIMEOUT.as_secs(),
        })?;
    let manifest = check_manifest(path, &bytes)?;
    Ok(Library {
        path: path.to_owned(),
        backend: Backend::InProcess(table),
        sdk_version: found,
        manifest,
    })
}

/// Decodes a library's manifest and checks its names.
pub(crate) fn check_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest, LoadError> {
    let invalid = |problem: String| LoadError::Manifest {
        path: path.to_owned(),
        problem,
    };
    let manifest =
        Manifest::decode(bytes).map_err(|error| invalid(format!("it does not decode: {error}")))?;
    if !manifest.error.is_empty() {
        return Err(invalid(manifest.error.clone()));
    }
    if manifest.plugins.is_empty() {
        return Err(invalid("it lists no plugins".to_owned()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for plugin in &manifest.plugins {
        if !is_identifier(&plugin.name) {
            return Err(invalid(format!(
                "plugin name {:?} is not a name workflow calls can use (a letter, then letters, \
                 digits or _)",
                plugin.name
            )));
        }
        if !seen.insert(plugin.name.as_str()) {
            return Err(invalid(format!("plugin {} is listed twice", plugin.name)));
        }
        if plugin.functions.is_empty() {
            return Err(invalid(format!(
                "plugin {} offers no functions",
                plugin.name
            )));
        }
        if let Some(bad) = plugin.functions.iter().find(|f| !is_identifier(f)) {
            return Err(invalid(format!(
                "plugin {}: function name {bad:?} is not a name workflow calls can use",
                plugin.name
            )));
        }
    }
    Ok(manifest)
}

impl Inspection {
    /// Walks every check on the library at `path`, recording what each one learned.
    pub fn of(path: &Path) -> Self {
        let mut inspection = Self::blank(path);
        match open(path, &mut inspection) {
            Ok(library) => {
                inspection.plugins = library.manifest().plugins.iter().map(Into::into).collect();
                inspection.loads = true;
            }
            Err(error) => inspection.refusal = Some(error.to_string()),
        }
        inspection
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    #[test]
    fn sdk_versions_are_compatible_within_a_major_and_not_newer() {
        assert!(sdk_compatible(&v("0.1.0"), &v("0.1.3")).is_ok());
        assert!(
            sdk_compatible(&v("0.1.7"), &v("0.1.3")).is_ok(),
            "patches do not matter"
        );
        assert!(sdk_compatible(&v("0.2.0"), &v("0.1.3")).is_err());
        assert!(sdk_compatible(&v("0.0.9"), &v("0.1.3")).is_err());
        assert!(sdk_compatible(&v("1.2.0"), &v("1.4.0")).is_ok());
        assert!(
            sdk_compatible(&v("1.5.0"), &v("1.4.0")).is_err(),
            "newer than the host"
        );
        assert!(sdk_compatible(&v("2.0.0"), &v("1.4.0")).is_err());
    }

    #[test]
    fn names_are_identifiers() {
        for good in ["dcs", "ddsched", "my_plugin2", "StartOfRun"] {
            assert!(is_identifier(good), "{good}");
        }
        for bad in ["", "2dcs", "dcs.x", "my-plugin", "a b"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn files_that_are_not_libraries_are_named_for_what_they_are() {
        let dir = std::env::temp_dir().join(format!("ecsim-sniff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("scenario.toml");
        std::fs::write(&text, "[scenario]\n").unwrap();
        let error = sniff(&text).unwrap_err().to_string();
        assert!(
            error.contains("is not a shared library (it starts with the text \"[sce\")"),
            "{error}"
        );
        let empty = dir.join("empty.so");
        std::fs::write(&empty, "").unwrap();
        assert!(
            sniff(&empty)
                .unwrap_err()
                .to_string()
                .contains("it is empty")
        );
        assert!(
            sniff(&dir)
                .unwrap_err()
                .to_string()
                .contains("it is a directory")
        );
        assert!(matches!(
            sniff(&dir.join("nothing.so")),
            Err(LoadError::NotFound { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
