//! `cargo xtask fdset [DIR]`: the wire schema for `pq` and other descriptor-driven tools.
//!
//! AliECS documents `make fdset` so that its topics can be read with `pq`; this is ecsim's
//! equivalent. `pq` reads every file in the directory named by `FDSET_PATH`, so one file holding
//! every package (imports included, so `events.Event` can resolve `common.User`) is enough. It
//! holds the control API and the configuration service too (`o2control.Control`,
//! `apricot.Apricot`), for descriptor-driven gRPC tools such as `grpcurl -protoset` against
//! `ecsim serve`.

use std::{fs, path::Path};

use anyhow::Context as _;

/// The file written into the target directory.
pub(crate) const FILE_NAME: &str = "aliecs.fdset";

pub(crate) fn write(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(FILE_NAME);
    fs::write(&path, ecsim_proto::FILE_DESCRIPTOR_SET)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    println!(
        "decode a record value with: FDSET_PATH={} pq --msgtype events.Event < value.bin",
        dir.display()
    );
    Ok(())
}
