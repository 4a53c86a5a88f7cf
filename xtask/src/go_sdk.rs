//! The Go SDK (`sdk/go`): its protobuf types, generated with Debian's protoc and protoc-gen-go
//! and checked in (checked fresh here), its tests (`go test`), and its example plugin, built
//! with Debian's Go — offline, in GOPATH mode, against Debian's packaged protobuf library — for
//! the tests (`ECSIM_GO_EXAMPLE`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::{
    clients::{GO, ensure_debian, fnv1a},
    run, tools,
};

const PROTOC: &str = "/usr/bin/protoc";
const PROTOC_GEN_GO: &str = "/usr/bin/protoc-gen-go";
const GO_PROTOBUF: &str = "/usr/share/gocode/src/google.golang.org/protobuf";

/// The Go module's import path, as `plugin.proto`'s `go_package` names it.
const MODULE: &str = "ecsim.dev/sdk/go";

fn root() -> anyhow::Result<PathBuf> {
    Ok(Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask is not inside the workspace")?
        .to_owned())
}

/// Generates the Go types of the plugin protocol (and of AliECS's events it carries) into
/// `out` (the module's root: files land in `pb/`).
fn generate(root: &Path, out: &Path) -> anyhow::Result<()> {
    ensure_debian("protobuf-compiler", PROTOC)?;
    ensure_debian("protoc-gen-go", PROTOC_GEN_GO)?;
    let out_arg = format!("--go_out={}", out.display());
    let module = format!("--go_opt=module={MODULE}");
    // AliECS's files name AliECS's Go package; here they are the SDK's.
    let common = format!("--go_opt=Mprotos/common.proto={MODULE}/pb/aliecs;aliecs");
    let events = format!("--go_opt=Mprotos/events.proto={MODULE}/pb/aliecs;aliecs");
    let include = format!("-I{}", root.join("proto").display());
    run::checked(
        PROTOC,
        &[
            &include,
            &out_arg,
            &module,
            &common,
            &events,
            "protos/common.proto",
            "protos/events.proto",
            "ecsim/plugin/v1/plugin.proto",
        ],
    )
}

/// The generated files, by their path under `pb/`.
const GENERATED: &[&str] = &[
    "pb/aliecs/common.pb.go",
    "pb/aliecs/events.pb.go",
    "pb/plugin/plugin.pb.go",
];

/// Regenerates `sdk/go/pb` (`cargo xtask codegen`, when protoc is installed).
pub(crate) fn write() -> anyhow::Result<()> {
    let root = root()?;
    generate(&root, &root.join("sdk/go"))?;
    println!("codegen: wrote sdk/go/pb");
    Ok(())
}

/// Fails when `sdk/go/pb` is not what `proto/` generates.
fn check_fresh(root: &Path) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir().context("a temporary directory")?;
    generate(root, scratch.path())?;
    for file in GENERATED {
        let fresh = std::fs::read(scratch.path().join(file))
            .with_context(|| format!("protoc did not write {file}"))?;
        let checked_in = std::fs::read(root.join("sdk/go").join(file)).unwrap_or_default();
        if fresh != checked_in {
            bail!(
                "sdk/go/{file} is stale: proto/ changed since it was generated; run `cargo xtask codegen`"
            );
        }
    }
    Ok(())
}

/// The Go example plugin, built into the tools directory under the hash of the SDK's sources.
pub(crate) fn ensure_example() -> anyhow::Result<PathBuf> {
    ensure_built("example", "libexample_go.so", true)
}

/// The Go plugin that crashes on request (`sdk/go/testdata/crasher`), for the isolation tests.
pub(crate) fn ensure_crasher() -> anyhow::Result<PathBuf> {
    ensure_built("testdata/crasher", "libcrasher_go.so", false)
}

/// Builds the Go plugin of package `sdk/go/<package>` into `<library>`, once per version of the
/// SDK's sources; `test` runs the SDK's own tests first.
fn ensure_built(package: &str, library: &str, test: bool) -> anyhow::Result<PathBuf> {
    let root = root()?;
    check_fresh(&root)?;
    ensure_debian("golang-go", GO)?;
    ensure_debian("golang-google-protobuf-dev", GO_PROTOBUF)?;
    let sdk = root.join("sdk/go");
    let main = format!("{package}/main.go");
    let mut sources = String::new();
    for file in ["plugin.go", "plugin_test.go", "export.go", "table.c", &main] {
        sources += &std::fs::read_to_string(sdk.join(file))
            .with_context(|| format!("reading sdk/go/{file}"))?;
    }
    sources += &std::fs::read_to_string(root.join(crate::header::HEADER))?;
    let stem = library.trim_end_matches(".so");
    let built = tools::root().join(format!("go-{stem}-{:016x}", fnv1a(&sources)));
    let library = built.join(library);
    if library.is_file() {
        return Ok(library);
    }
    println!("building the Go plugin sdk/go/{package} (Debian's Go and protobuf)");
    // GOPATH mode: the SDK under its import path, beside Debian's Go packages.
    let gopath = tempfile::tempdir().context("a temporary GOPATH")?;
    let parent = gopath.path().join("src/ecsim.dev/sdk");
    std::fs::create_dir_all(&parent)?;
    std::os::unix::fs::symlink(&sdk, parent.join("go")).context("linking the SDK into GOPATH")?;
    let paths = std::env::join_paths([gopath.path(), Path::new("/usr/share/gocode")])?;
    let envs = [
        ("GO111MODULE", PathBuf::from("off")),
        ("GOPATH", PathBuf::from(paths)),
        ("GOCACHE", gopath.path().join("cache")),
        ("CGO_ENABLED", PathBuf::from("1")),
    ];
    if test {
        run::checked_env(GO, &["test", "ecsim.dev/sdk/go"], &envs)
            .context("the Go SDK's tests (go test ecsim.dev/sdk/go)")?;
    }
    let output = library
        .to_str()
        .context("the tools directory is not UTF-8")?;
    std::fs::create_dir_all(&built)?;
    let import = format!("ecsim.dev/sdk/go/{package}");
    run::checked_env(
        GO,
        &["build", "-buildmode=c-shared", "-o", output, &import],
        &envs,
    )
    .with_context(|| format!("building sdk/go/{package} with Debian's Go"))?;
    Ok(library)
}
