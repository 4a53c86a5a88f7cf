//! `ecsim proto --out DIR`: AliECS's schema, from the binary itself, for consumers in any
//! language — the `.proto` files of the messages AliECS writes to Kafka and the compiled
//! descriptor set, so that a Python, JavaScript, Go or Java consumer decodes them with its
//! protobuf library and no ecsim source tree (docs/consumers.md shows decoders).

use std::path::Path;

use anyhow::Context as _;

use crate::exit::CliError;

/// The files, as `protos/NAME.proto` (the import paths AliECS's files use among themselves).
const PROTOS: &[(&str, &str)] = &[
    (
        "protos/common.proto",
        include_str!("../../../../proto/protos/common.proto"),
    ),
    (
        "protos/events.proto",
        include_str!("../../../../proto/protos/events.proto"),
    ),
    (
        "protos/kafka.proto",
        include_str!("../../../../proto/protos/kafka.proto"),
    ),
];

/// The descriptor set's file name: every message of the schema, compiled (with AliECS's
/// control API and ecsim's plugin protocol too).
pub(crate) const DESCRIPTOR_SET: &str = "aliecs.binpb";

pub(crate) fn run(out: &Path) -> Result<(), CliError> {
    let mut written = Vec::new();
    for (name, text) in PROTOS {
        let path = out.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    let set = out.join(DESCRIPTOR_SET);
    std::fs::write(&set, ecsim_proto::FILE_DESCRIPTOR_SET)
        .with_context(|| format!("writing {}", set.display()))?;
    written.push(set);
    let list: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    crate::say::stdout(&format!("{}\n", list.join("\n"))).map_err(anyhow::Error::from)?;
    Ok(())
}
