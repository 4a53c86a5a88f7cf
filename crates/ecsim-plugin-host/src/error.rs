//! Why a plugin library was refused: one variant per check, each message naming the file, what
//! was found, and what to do about it.

use std::path::PathBuf;

/// A library ecsim will not load, or a plugin it cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// Nothing at the path.
    #[error("there is no plugin library at {path}")]
    NotFound {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        message: String,
    },
    /// Not a shared library at all.
    #[error(
        "{path} is not a shared library (it starts with {start}); give the .so, .dylib or .dll \
         that building a plugin crate with crate-type = [\"cdylib\"] produces"
    )]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// How it starts, for the user to recognize it.
        start: String,
    },
    /// The dynamic loader refused it (wrong architecture, missing dependency …).
    #[error("the dynamic loader cannot load {path}: {message}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// A library, but not an ecsim plugin.
    #[error(
        "{path} is a library but not an ecsim plugin: it does not export the symbol {symbol} \
         (a plugin crate declares its plugins with ecsim_plugin_sdk::declare_plugins!)"
    )]
    NoEntrySymbol {
        /// The file.
        path: PathBuf,
        /// The symbol looked for.
        symbol: String,
    },
    /// The entry function returned no table.
    #[error("{path}: its entry function returned no plugin table")]
    NullTable {
        /// The file.
        path: PathBuf,
    },
    /// Built for another version of the ABI.
    #[error(
        "{path} uses plugin ABI version {found}, and this ecsim speaks version {expected}: \
         rebuild the plugin against the ecsim-plugin-sdk of this ecsim"
    )]
    AbiVersion {
        /// The file.
        path: PathBuf,
        /// The library's ABI version.
        found: u32,
        /// This host's.
        expected: u32,
    },
    /// The table is smaller than the one this host knows.
    #[error(
        "{path} declares a plugin table of {found} bytes, smaller than the {expected} bytes of \
         ABI version {abi}: the library is damaged or was built by a broken toolchain"
    )]
    TableSize {
        /// The file.
        path: PathBuf,
        /// The library's table size.
        found: u32,
        /// The size this host knows.
        expected: u32,
        /// The ABI version.
        abi: u32,
    },
    /// Built with an SDK this host cannot speak to.
    #[error(
        "{path} was built with ecsim-plugin-sdk {found}, which this ecsim (SDK {host}) cannot \
         load: {why}; rebuild the plugin against ecsim-plugin-sdk {host}"
    )]
    SdkVersion {
        /// The file.
        path: PathBuf,
        /// The library's SDK version, as it gives it.
        found: String,
        /// This host's SDK version.
        host: String,
        /// Which rule it breaks.
        why: String,
    },
    /// The manifest is missing, undecodable or inconsistent.
    #[error("{path}: its manifest is invalid: {problem}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The library does not offer the plugin asked for.
    #[error("{path} has no plugin {name:?}; it offers: {offered}")]
    UnknownPlugin {
        /// The file.
        path: PathBuf,
        /// The plugin asked for.
        name: String,
        /// What it has.
        offered: String,
    },
    /// The plugin refused to start (its configuration, usually).
    #[error("plugin {plugin} of {path} did not start: {message}")]
    Create {
        /// The file.
        path: PathBuf,
        /// The plugin.
        plugin: String,
        /// Its message.
        message: String,
    },
    /// An isolated library's host process refused it: the refusal, which names the library.
    #[error("{message}")]
    Isolated {
        /// The host process's refusal.
        message: String,
    },
    /// An isolated library's host process did not start or died while loading it.
    #[error("the plugin host process for {path} failed: {message}")]
    Host {
        /// The library.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// The library did not answer in time.
    #[error("{path}: {what} did not return within {seconds} s; the library is stuck")]
    Unresponsive {
        /// The file.
        path: PathBuf,
        /// Which function.
        what: String,
        /// How long ecsim waited.
        seconds: u64,
    },
}
