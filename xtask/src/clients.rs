//! The Kafka clients of the end-to-end client tests (`tests/clients/`), installed from the
//! package registries at the versions pinned there: kafkajs with npm into
//! `tests/clients/node_modules`, confluent-kafka, kafka-python and aiokafka with pip into a
//! virtual environment under the tools directory, named after the requirements it holds (a
//! change of pins makes a new one); kcat, Go and sarama from Debian's packages, the sarama probe
//! (`tests/clients/sarama/`) built with them offline; a JDK and protobuf-java from Debian for the
//! Java decoder of docs/consumers.md.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::{run, tools};

/// Installs what is missing; returns the environment variables that tell the tests where the
/// clients are.
pub(crate) fn ensure() -> anyhow::Result<Vec<(&'static str, PathBuf)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask is in the workspace")?
        .join("tests/clients");
    Ok(vec![
        ("ECSIM_CLIENTS", dir.clone()),
        ("ECSIM_NODE", ensure_node(&dir)?),
        ("ECSIM_PYTHON", ensure_python(&dir)?),
        ("ECSIM_KCAT", ensure_debian("kcat", KCAT)?),
        ("ECSIM_SARAMA", ensure_sarama(&dir)?),
        ("ECSIM_GO_EXAMPLE", crate::go_sdk::ensure_example()?),
        ("ECSIM_GO_CRASHER", crate::go_sdk::ensure_crasher()?),
        // The Go decoder of docs/consumers.md: Debian's Go, protobuf and protoc-gen-go, which
        // the Go plugins above already ensured.
        ("ECSIM_GO", PathBuf::from(GO)),
        // Its Java decoder: a JDK, and Debian's protobuf-java with what JsonFormat needs.
        ("ECSIM_JAVAC", ensure_debian("default-jdk-headless", JAVAC)?),
        ("ECSIM_JAVA_LIBS", ensure_java_libs()?),
    ])
}

/// A JDK's compiler, and where Debian puts Java libraries.
const JAVAC: &str = "/usr/bin/javac";
const JAVA_LIBS: &str = "/usr/share/java";

/// protobuf-java, protobuf-java-util, and gson and guava, which JsonFormat uses.
fn ensure_java_libs() -> anyhow::Result<PathBuf> {
    for (package, jar) in [
        ("libprotobuf-java", "protobuf-util.jar"),
        ("libgoogle-gson-java", "gson.jar"),
        ("libguava-java", "guava.jar"),
    ] {
        ensure_debian(package, &format!("{JAVA_LIBS}/{jar}"))?;
    }
    Ok(PathBuf::from(JAVA_LIBS))
}

/// Where Debian's packages put kcat, Go, and sarama's source.
const KCAT: &str = "/usr/bin/kcat";
pub(crate) const GO: &str = "/usr/bin/go";
const SARAMA: &str = "/usr/share/gocode/src/github.com/Shopify/sarama";

/// Installs Debian `packages` with apt when `path` is missing; `path`.
pub(crate) fn ensure_debian(packages: &str, path: &str) -> anyhow::Result<PathBuf> {
    if Path::new(path).exists() {
        return Ok(PathBuf::from(path));
    }
    if !run::available("apt-get", &[]) {
        bail!("the client tests need {path}: install Debian's {packages}");
    }
    println!("installing {packages} for the client tests (Debian)");
    let mut install = vec!["install", "-y", "-q"];
    install.extend(packages.split(' '));
    let quiet = [("DEBIAN_FRONTEND", PathBuf::from("noninteractive"))];
    let advice = || {
        format!(
            "installing {packages} failed; as root: apt-get update && apt-get install {packages}"
        )
    };
    if run::checked_env("apt-get", &install, &quiet).is_err() {
        // A fresh machine may not have read the package lists yet.
        run::checked_env("apt-get", &["update", "-q"], &quiet).with_context(advice)?;
        run::checked_env("apt-get", &install, &quiet).with_context(advice)?;
    }
    if !Path::new(path).exists() {
        bail!("apt-get installed {packages}, but {path} is not there");
    }
    Ok(PathBuf::from(path))
}

/// The sarama probe, built with Debian's Go and Debian's sarama 1.22 (GOPATH mode: no module
/// download), into the tools directory under the hash of its source.
fn ensure_sarama(dir: &Path) -> anyhow::Result<PathBuf> {
    ensure_debian("golang-go", GO)?;
    ensure_debian("golang-github-shopify-sarama-dev", SARAMA)?;
    let source = dir.join("sarama/features.go");
    let text =
        std::fs::read_to_string(&source).context("reading tests/clients/sarama/features.go")?;
    let built = tools::root().join(format!("sarama-features-{:016x}", fnv1a(&text)));
    let binary = built.join("features");
    if binary.is_file() {
        return Ok(binary);
    }
    println!("building the sarama probe (tests/clients/sarama, Debian's Go and sarama)");
    let output = binary
        .to_str()
        .context("the tools directory is not UTF-8")?;
    let cache = built.join("go-cache");
    let envs = [
        ("GO111MODULE", PathBuf::from("off")),
        ("GOPATH", PathBuf::from("/usr/share/gocode")),
        ("GOCACHE", cache.clone()),
    ];
    let source = source
        .to_str()
        .context("the repository path is not UTF-8")?;
    let made = run::checked_env(GO, &["build", "-o", output, source], &envs);
    let _ = std::fs::remove_dir_all(&cache);
    made.context("building the sarama probe with Debian's Go")?;
    Ok(binary)
}

fn ensure_node(dir: &Path) -> anyhow::Result<PathBuf> {
    if !run::available("node", &[]) || !run::available("npm", &[]) {
        bail!("the client tests need Node.js and npm (Debian: apt-get install nodejs npm)");
    }
    let installed = [
        "kafkajs",
        "playwright-core",
        "@grpc/grpc-js",
        "@grpc/proto-loader",
        "protobufjs",
        "@taplo/cli",
    ]
    .iter()
    .all(|package| {
        dir.join(format!("node_modules/{package}/package.json"))
            .is_file()
    });
    if !installed {
        println!(
            "installing kafkajs, playwright-core, protobufjs, taplo and the Control GUI's gRPC client for the client, live-page, decoder, schema and serve tests (tests/clients/package-lock.json)"
        );
        let dir = dir.to_str().context("the repository path is not UTF-8")?;
        run::checked("npm", &["ci", "--prefix", dir, "--no-audit", "--no-fund"])?;
    }
    Ok(PathBuf::from("node"))
}

fn ensure_python(dir: &Path) -> anyhow::Result<PathBuf> {
    let requirements = std::fs::read_to_string(dir.join("requirements.txt"))
        .context("reading tests/clients/requirements.txt")?;
    let venv = tools::root().join(format!("python-clients-{:016x}", fnv1a(&requirements)));
    let python = venv.join("bin/python");
    if python.is_file() {
        return Ok(python);
    }
    if !run::available("python3", &[]) {
        bail!("the client tests need Python 3 with venv and pip");
    }
    println!("installing the Python clients for the client tests (tests/clients/requirements.txt)");
    let venv_arg = venv.to_str().context("the tools directory is not UTF-8")?;
    run::checked("python3", &["-m", "venv", venv_arg])?;
    let pip = venv.join("bin/pip");
    let pip = pip.to_str().context("the tools directory is not UTF-8")?;
    let requirements = dir.join("requirements.txt");
    let requirements = requirements
        .to_str()
        .context("the repository path is not UTF-8")?;
    let installed = run::checked(
        pip,
        &[
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            requirements,
        ],
    );
    if let Err(error) = installed {
        // A half-made environment would be taken for a good one next time.
        let _ = std::fs::remove_dir_all(&venv);
        return Err(error);
    }
    Ok(python)
}

/// A stable hash of the pins (FNV-1a): std's hasher may change between Rust releases.
pub(crate) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
