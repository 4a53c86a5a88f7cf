//! Compiles `proto/` into prost types at build time.
//!
//! protox parses the .proto files in pure Rust, so building ecsim needs no `protoc`. The
//! compiled FileDescriptorSet is also written to `$OUT_DIR/file_descriptor_set.bin`: the crate
//! embeds it for reflection (JSON rendering, decoding by message name) and `cargo xtask fdset`
//! hands it to tools such as `pq`.

use std::{env, fs, path::PathBuf};

/// The .proto files, by their path under the include root. `events.proto` imports
/// `protos/common.proto` by exactly this path, as AliECS's does. The first three are AliECS's;
/// the last is ecsim's own plugin protocol, which carries AliECS events and so imports them.
const PROTOS: &[&str] = &[
    "protos/common.proto",
    "protos/events.proto",
    "protos/kafka.proto",
    "ecsim/plugin/v1/plugin.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let include_root = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    for proto in PROTOS {
        println!(
            "cargo:rerun-if-changed={}",
            include_root.join(proto).display()
        );
    }

    // Source info is kept: prost-build turns the .proto comments into rustdoc on the types.
    let mut compiler = protox::Compiler::new([&include_root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;
    fs::write(
        out_dir.join("file_descriptor_set.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let fds = compiler.file_descriptor_set();

    // Every message also derives prost-reflect's `ReflectMessage`, so a typed message can be
    // turned into a dynamic one (for JSON) without a round trip through bytes.
    let pool = compiler.descriptor_pool();
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    // Map fields as BTreeMap: prost encodes map entries in iteration order, and a HashMap would
    // make the bytes of `Ev_EnvironmentEvent.vars` differ from run to run. Determinism (same
    // scenario, same seed, same bytes) depends on this.
    config.btree_map(["."]);
    for message in pool.all_messages() {
        let name = message.full_name();
        config.type_attribute(
            name,
            format!(
                "#[derive(::prost_reflect::ReflectMessage)] \
                 #[prost_reflect(descriptor_pool = \"crate::DESCRIPTOR_POOL\", message_name = \"{name}\")]"
            ),
        );
    }
    config.compile_fds(fds)?;
    Ok(())
}
