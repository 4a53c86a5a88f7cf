//! Decoding AliECS's messages in other languages, as docs/consumers.md shows it: the decoders
//! of the docs, run on a whole scenario's messages, against ecsim's own rendering.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

use std::{path::PathBuf, process::Command};

use serde_json::Value;

/// The Python and JavaScript decoders of docs/consumers.md (`tests/clients/decode.py`,
/// `decode.js`), given only what `ecsim proto --out` writes, decode every message of a run as
/// ecsim renders it — topic and value, each of the physics run's 403 messages — and the docs
/// show those very files.
#[test]
#[allow(clippy::print_stdout)] // a skipped test says why, in the test's output
fn the_python_and_javascript_decoders_of_the_docs_decode_every_message_as_ecsim_renders_it() {
    let (Some(python), Some(node), Some(clients)) = (
        std::env::var_os("ECSIM_PYTHON"),
        std::env::var_os("ECSIM_NODE"),
        std::env::var_os("ECSIM_CLIENTS"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_PYTHON, ECSIM_NODE and ECSIM_CLIENTS are set by `cargo xtask test`"
        );
        println!("skipped: the clients are not installed (run `cargo xtask test`)");
        return;
    };
    let clients = PathBuf::from(clients);
    let run = PhysicsRun::record();

    let decoder = shown_in_the_docs(&clients.join("decode.py"));
    let mut python = Command::new(python);
    python.arg(&decoder).arg(run.schema.join("aliecs.binpb"));
    run.decodes_as_ecsim("Python", &mut python);

    // protobufjs, from the .proto files.
    let decoder = shown_in_the_docs(&clients.join("decode.js"));
    let mut node = Command::new(node);
    node.arg(&decoder).arg(&run.schema).current_dir(&clients);
    run.decodes_as_ecsim("JavaScript", &mut node);
}

/// The file at `path`, after checking that docs/consumers.md shows it as it is.
fn shown_in_the_docs(path: &std::path::Path) -> PathBuf {
    let docs = std::fs::read_to_string("../../docs/consumers.md").unwrap();
    let code = std::fs::read_to_string(path).unwrap();
    assert!(
        docs.contains(&code),
        "docs/consumers.md shows {} as it is",
        path.display()
    );
    path.to_owned()
}

/// Runs `program args` (in `dir` when given) and fails the test with its stderr unless it
/// succeeds; its stdout.
fn checked(
    program: &std::ffi::OsStr,
    args: &[&str],
    dir: Option<&std::path::Path>,
    envs: &[(&str, &str)],
) -> Vec<u8> {
    let mut command = Command::new(program);
    command.args(args).envs(envs.iter().copied());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{program:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The physics run recorded, and the schema `ecsim proto --out` writes, in a directory of
/// their own.
struct PhysicsRun {
    dir: tempfile::TempDir,
    recording: PathBuf,
    schema: PathBuf,
    /// Each record's topic and value, as ecsim renders them.
    rendered: Vec<(Value, Value)>,
}

impl PhysicsRun {
    fn record() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ecsim = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_ecsim"));
        let schema = dir.path().join("schema");
        checked(
            ecsim,
            &["proto", "--out", schema.to_str().unwrap()],
            None,
            &[],
        );
        let recording = dir.path().join("physics.jsonl");
        let run = [
            "run",
            "../../scenarios/physics-run.toml",
            "--record",
            recording.to_str().unwrap(),
        ];
        checked(ecsim, &run, None, &[]);
        let rendered = topics_and_values(&std::fs::read(&recording).unwrap());
        assert_eq!(rendered.len(), 403);
        Self {
            dir,
            recording,
            schema,
            rendered,
        }
    }

    /// `decoder`, given the recording on its standard input, prints every record's topic and
    /// value as ecsim renders them.
    fn decodes_as_ecsim(&self, language: &str, decoder: &mut Command) {
        let out = decoder
            .stdin(std::fs::File::open(&self.recording).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{language}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let decoded = topics_and_values(&out.stdout);
        assert_eq!(decoded.len(), self.rendered.len(), "{language}");
        for (ours, theirs) in self.rendered.iter().zip(&decoded) {
            assert_eq!(ours, theirs, "{language}");
        }
    }
}

/// Each JSON line's `topic` and `value`, in order.
fn topics_and_values(lines: &[u8]) -> Vec<(Value, Value)> {
    String::from_utf8_lossy(lines)
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            (record["topic"].clone(), record["value"].clone())
        })
        .collect()
}

/// The Go and Java decoders of docs/consumers.md (`tests/clients/decode_go/main.go`,
/// `decode_java/Decode.java`), built as the docs say with protoc's generated types from what
/// `ecsim proto --out` writes (Debian's Go, protoc-gen-go and protobuf-java), decode every
/// message of the physics run as ecsim renders it; the docs show those very files.
#[test]
#[allow(clippy::print_stdout)] // a skipped test says why, in the test's output
fn the_go_and_java_decoders_of_the_docs_decode_every_message_as_ecsim_renders_it() {
    let (Some(go), Some(javac), Some(java_libs), Some(clients)) = (
        std::env::var_os("ECSIM_GO"),
        std::env::var_os("ECSIM_JAVAC"),
        std::env::var_os("ECSIM_JAVA_LIBS"),
        std::env::var_os("ECSIM_CLIENTS"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_GO, ECSIM_JAVAC and ECSIM_JAVA_LIBS are set by `cargo xtask test`"
        );
        println!("skipped: Go and Java are not installed (run `cargo xtask test`)");
        return;
    };
    let clients = PathBuf::from(clients);
    let run = PhysicsRun::record();
    let dir = &run.dir;
    let protoc = std::ffi::OsStr::new("protoc");
    let protos = [
        "protos/common.proto",
        "protos/events.proto",
        "protos/kafka.proto",
    ];
    let schema_arg = format!("-I{}", run.schema.display());

    // Go, in GOPATH mode beside Debian's Go packages (offline): the generated packages under the
    // import paths the decoder names.
    let main = shown_in_the_docs(&clients.join("decode_go/main.go"));
    let gopath = dir.path().join("gopath");
    let package = gopath.join("src/example.org/decode");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::copy(&main, package.join("main.go")).unwrap();
    let go_out = format!("--go_out={}", gopath.join("src").display());
    let mut args = vec![schema_arg.as_str(), go_out.as_str()];
    let mappings = [
        "--go_opt=Mprotos/common.proto=example.org/decode/pb",
        "--go_opt=Mprotos/events.proto=example.org/decode/pb",
        "--go_opt=Mprotos/kafka.proto=example.org/decode/kafka",
    ];
    args.extend(mappings);
    args.extend(protos);
    checked(protoc, &args, None, &[]);
    let gopaths = format!("{}:/usr/share/gocode", gopath.display());
    let cache = dir.path().join("gocache");
    let binary = dir.path().join("decode-go");
    checked(
        &go,
        &[
            "build",
            "-o",
            binary.to_str().unwrap(),
            "example.org/decode",
        ],
        None,
        &[
            ("GO111MODULE", "off"),
            ("GOPATH", &gopaths),
            ("GOCACHE", cache.to_str().unwrap()),
        ],
    );
    run.decodes_as_ecsim("Go", &mut Command::new(&binary));

    // Java: protoc's classes, javac, JsonFormat.
    let decode = shown_in_the_docs(&clients.join("decode_java/Decode.java"));
    let generated = dir.path().join("java-gen");
    std::fs::create_dir_all(&generated).unwrap();
    let java_out = format!("--java_out={}", generated.display());
    let mut args = vec![schema_arg.as_str(), java_out.as_str()];
    args.extend(protos);
    checked(protoc, &args, None, &[]);
    let libs = PathBuf::from(java_libs);
    let jar = |name: &str| libs.join(name).display().to_string();
    let compile_path = [
        jar("protobuf.jar"),
        jar("protobuf-util.jar"),
        jar("gson.jar"),
    ]
    .join(":");
    let classes = dir.path().join("classes");
    let mut sources: Vec<String> = walk(&generated);
    sources.push(decode.display().to_string());
    let mut args = vec![
        "-cp",
        compile_path.as_str(),
        "-d",
        classes.to_str().unwrap(),
    ];
    args.extend(sources.iter().map(String::as_str));
    checked(&javac, &args, None, &[]);
    let run_path = [
        classes.display().to_string(),
        compile_path.clone(),
        jar("guava.jar"),
    ]
    .join(":");
    let java = PathBuf::from(&javac).with_file_name("java");
    let mut java = Command::new(java);
    java.args(["-cp", &run_path, "Decode"]);
    run.decodes_as_ecsim("Java", &mut java);
}

/// Every `.java` file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "java") {
            files.push(path.display().to_string());
        }
    }
    files
}
