//! `cargo xtask codegen`: the Rust types of `proto/`, generated and checked in.
//!
//! The wire schema changes rarely, and every plugin library is built against it. Generating
//! the types in a build script made each of those builds compile a protobuf compiler (protox,
//! prost-build and their dependencies) first; checked in, they cost a plugin library nothing
//! but `prost`. This task regenerates them — with protox, so no `protoc` — into
//! `crates/ecsim-proto/src/generated/`, with the compiled descriptor set beside them.
//! `cargo xtask tidy` regenerates into a temporary directory and fails if the checked-in files
//! differ: an edit to `proto/` without `cargo xtask codegen` cannot go unnoticed.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::Context as _;

/// The .proto files, by their path under the include root `proto/`. `events.proto` imports
/// `protos/common.proto` by exactly this path, as AliECS's does. The first five are AliECS's
/// (the Kafka wire schema, the control API, the configuration service); the last is ecsim's own plugin protocol,
/// which carries AliECS events and so imports them.
const PROTOS: &[&str] = &[
    "protos/common.proto",
    "protos/events.proto",
    "protos/kafka.proto",
    "protos/o2control.proto",
    "protos/apricot.proto",
    "ecsim/plugin/v1/plugin.proto",
];

/// Where the generated files live, under the workspace root.
pub(crate) const GENERATED: &str = "crates/ecsim-proto/src/generated";
/// The descriptor set's file name there.
const DESCRIPTOR_SET: &str = "file_descriptor_set.bin";

fn root() -> anyhow::Result<PathBuf> {
    Ok(Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask is not inside the workspace")?
        .to_owned())
}

/// Regenerates the checked-in files.
pub(crate) fn write() -> anyhow::Result<()> {
    let root = root()?;
    let out = root.join(GENERATED);
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    generate(&root.join("proto"), &out)?;
    println!("codegen: wrote {}", out.display());
    Ok(())
}

/// The names of the checked-in files that differ from what `proto/` generates (empty when
/// they are up to date).
pub(crate) fn stale(root: &Path) -> anyhow::Result<Vec<String>> {
    let scratch = tempfile::tempdir().context("a temporary directory")?;
    let files = generate(&root.join("proto"), scratch.path())?;
    let mut stale = Vec::new();
    for name in files {
        let fresh = fs::read(scratch.path().join(&name))?;
        let checked_in = fs::read(root.join(GENERATED).join(&name)).unwrap_or_default();
        if fresh != checked_in {
            stale.push(name);
        }
    }
    Ok(stale)
}

/// Compiles `PROTOS` under `include_root` into `out`: one `.rs` per package and the descriptor
/// set. Returns the names of the files written.
fn generate(include_root: &Path, out: &Path) -> anyhow::Result<Vec<String>> {
    // Source info is kept: prost-build turns the .proto comments into rustdoc on the types.
    let mut compiler = protox::Compiler::new([include_root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(PROTOS)
        .with_context(|| format!("compiling {PROTOS:?} under {}", include_root.display()))?;
    fs::write(
        out.join(DESCRIPTOR_SET),
        compiler.encode_file_descriptor_set(),
    )?;
    let pool = compiler.descriptor_pool();

    let mut config = prost_build::Config::new();
    config.out_dir(out);
    config.enable_type_names();
    // Map fields as BTreeMap: prost encodes map entries in iteration order, and a HashMap would
    // make the bytes of `Ev_EnvironmentEvent.vars` differ from run to run. Determinism (same
    // scenario, same seed, same bytes) depends on this.
    config.btree_map(["."]);
    // With the crate's `reflect` feature, every message also derives prost-reflect's
    // `ReflectMessage`, so a typed message can be turned into a dynamic one (for JSON) without
    // a round trip through bytes; without it, the types need nothing but prost.
    for message in pool.all_messages() {
        let name = message.full_name();
        config.type_attribute(
            name,
            format!(
                "#[cfg_attr(feature = \"reflect\", derive(::prost_reflect::ReflectMessage))] \
                 #[cfg_attr(feature = \"reflect\", prost_reflect(descriptor_pool = \"crate::DESCRIPTOR_POOL\", message_name = \"{name}\"))]"
            ),
        );
    }
    // The control API's gRPC client and server (tonic), in the same file as its messages but
    // behind the crate's `grpc` feature: a plugin library built on the types needs no tonic.
    config.service_generator(
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            .build_transport(true)
            // Map entries written whole, as protobuf-go writes them (`go_codec.rs`).
            .codec_path("crate::go_codec::GoCodec")
            .client_mod_attribute(".", "#[cfg(feature = \"grpc\")]")
            .server_mod_attribute(".", "#[cfg(feature = \"grpc\")]")
            .service_generator(),
    );
    config.compile_fds(compiler.file_descriptor_set())?;

    let mut files = vec![DESCRIPTOR_SET.to_owned()];
    for entry in fs::read_dir(out)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rs") {
            files.push(name);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let path = entry?.path();
            let target = to.join(path.file_name().context("a file name")?);
            if path.is_dir() {
                copy_dir(&path, &target)?;
            } else {
                fs::copy(&path, &target)?;
            }
        }
        Ok(())
    }

    #[test]
    fn the_checked_in_types_are_fresh_and_an_edit_of_either_side_is_stale() -> anyhow::Result<()> {
        let root = root()?;
        let copy = tempfile::tempdir()?;
        copy_dir(&root.join("proto"), &copy.path().join("proto"))?;
        copy_dir(&root.join(GENERATED), &copy.path().join(GENERATED))?;
        assert_eq!(stale(copy.path())?, Vec::<String>::new());

        // A hand edit of a generated file.
        let kafka = copy.path().join(GENERATED).join("kafka.rs");
        fs::write(&kafka, fs::read_to_string(&kafka)? + "// edited\n")?;
        assert_eq!(stale(copy.path())?, ["kafka.rs"]);

        // A .proto edited without regenerating: its types and the descriptor set are stale.
        copy_dir(&root.join(GENERATED), &copy.path().join(GENERATED))?;
        let proto = copy.path().join("proto/protos/kafka.proto");
        let text = fs::read_to_string(&proto)?;
        let edited = text.replacen("message ", "// A comment.\nmessage ", 1);
        assert_ne!(text, edited);
        fs::write(&proto, edited)?;
        assert_eq!(stale(copy.path())?, ["file_descriptor_set.bin", "kafka.rs"]);
        Ok(())
    }
}
