//! What a library turned out to be, check by check, as far as the checks got: the report of
//! `ecsim plugin inspect`.

use std::path::{Path, PathBuf};

use ecsim_plugin_abi::{ABI_VERSION, PluginTable};
use ecsim_proto::plugin::PluginInfo;
use serde::Serialize;

use crate::HOST_SDK_VERSION;

/// What a library turned out to be, as far as the checks got (`ecsim plugin inspect`).
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The file.
    pub path: PathBuf,
    /// The plugin ABI version its table declares.
    pub abi_version: Option<u32>,
    /// The size its table declares, in bytes.
    pub table_size: Option<u32>,
    /// The `ecsim-plugin-sdk` version it was built with.
    pub sdk_version: Option<String>,
    /// The plugins its manifest lists.
    pub plugins: Vec<PluginSummary>,
    /// Whether this ecsim would load it.
    pub loads: bool,
    /// Why not, when it would not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

/// One plugin of a library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginSummary {
    /// Its name (`dcs`).
    pub name: String,
    /// Its display name.
    pub pretty_name: String,
    /// The functions it offers.
    pub functions: Vec<String>,
    /// Its endpoint, if it declares one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
}

impl From<&PluginInfo> for PluginSummary {
    fn from(info: &PluginInfo) -> Self {
        Self {
            name: info.name.clone(),
            pretty_name: info.pretty_name.clone(),
            functions: info.functions.clone(),
            endpoint: info.endpoint.clone(),
        }
    }
}

impl Inspection {
    /// Nothing learned yet about the library at `path`.
    pub(crate) fn blank(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            abi_version: None,
            table_size: None,
            sdk_version: None,
            plugins: Vec::new(),
            loads: false,
            refusal: None,
        }
    }
}

impl std::fmt::Display for Inspection {
    /// The report `ecsim plugin inspect` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unknown = || "-".to_owned();
        writeln!(f, "library:     {}", self.path.display())?;
        writeln!(
            f,
            "ABI version: {} (this ecsim: {ABI_VERSION})",
            self.abi_version.map_or_else(unknown, |v| v.to_string())
        )?;
        writeln!(
            f,
            "table size:  {} bytes (this ecsim: {})",
            self.table_size.map_or_else(unknown, |v| v.to_string()),
            PluginTable::SIZE
        )?;
        writeln!(
            f,
            "SDK version: {} (this ecsim: {HOST_SDK_VERSION})",
            self.sdk_version.clone().unwrap_or_else(unknown)
        )?;
        for plugin in &self.plugins {
            writeln!(f, "plugin:      {} ({})", plugin.name, plugin.pretty_name)?;
            writeln!(f, "  functions: {}", plugin.functions.join(", "))?;
            if !plugin.endpoint.is_empty() {
                writeln!(f, "  endpoint:  {}", plugin.endpoint)?;
            }
        }
        match &self.refusal {
            None => writeln!(f, "loads:       yes"),
            Some(reason) => writeln!(f, "loads:       no: {reason}"),
        }
    }
}
