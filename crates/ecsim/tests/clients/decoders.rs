//! Decoding AliECS's messages in other languages, as docs/consumers.md shows it: the decoders
//! of the docs, run on a whole scenario's messages, against ecsim's own rendering.

use std::{path::PathBuf, process::Command};

use serde_json::Value;

/// The Python and JavaScript decoders of docs/consumers.md (`tests/clients/decode.py`,
/// `decode.js`), given only what `ecsim proto --out` writes, decode every message of a run as
/// ecsim renders it — field for field, each of the physics run's 403 messages — and the docs
/// show those very files.
#[test]
#[allow(clippy::print_stdout)] // a skipped test says why, in the test's output
fn the_python_and_javascript_decoders_of_the_docs_decode_every_message_as_ecsim_renders_it() {
    let (Some(python), Some(clients)) = (
        std::env::var_os("ECSIM_PYTHON"),
        std::env::var_os("ECSIM_CLIENTS"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_PYTHON and ECSIM_CLIENTS are set by `cargo xtask test`"
        );
        println!("skipped: the Python clients are not installed (run `cargo xtask test`)");
        return;
    };
    let decoder = PathBuf::from(clients).join("decode.py");
    let docs = std::fs::read_to_string("../../docs/consumers.md").unwrap();
    let code = std::fs::read_to_string(&decoder).unwrap();
    assert!(
        docs.contains(&code),
        "docs/consumers.md shows tests/clients/decode.py as it is"
    );

    let dir = tempfile::tempdir().unwrap();
    let ecsim = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ecsim"))
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let schema = dir.path().join("schema");
    ecsim(&["proto", "--out", schema.to_str().unwrap()]);
    let recording = dir.path().join("physics.jsonl");
    ecsim(&[
        "run",
        "../../scenarios/physics-run.toml",
        "--record",
        recording.to_str().unwrap(),
    ]);
    let decoded = Command::new(python)
        .arg(&decoder)
        .arg(schema.join("aliecs.binpb"))
        .stdin(std::fs::File::open(&recording).unwrap())
        .output()
        .unwrap();
    assert!(
        decoded.status.success(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    let recorded: Vec<Value> = std::fs::read_to_string(&recording)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let decoded: Vec<Value> = String::from_utf8_lossy(&decoded.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!((decoded.len(), recorded.len()), (403, 403));
    for (ours, theirs) in recorded.iter().zip(&decoded) {
        assert_eq!(
            (&ours["topic"], &ours["value"]),
            (&theirs["topic"], &theirs["value"])
        );
    }

    // The same with the JavaScript decoder (protobufjs, from the .proto files).
    let Some(node) = std::env::var_os("ECSIM_NODE") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_NODE is set by `cargo xtask test`"
        );
        return;
    };
    let js = decoder.with_file_name("decode.js");
    assert!(
        docs.contains(&std::fs::read_to_string(&js).unwrap()),
        "docs/consumers.md shows tests/clients/decode.js as it is"
    );
    let decoded = Command::new(node)
        .arg(&js)
        .arg(&schema)
        .current_dir(js.parent().unwrap())
        .stdin(std::fs::File::open(&recording).unwrap())
        .output()
        .unwrap();
    assert!(
        decoded.status.success(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    let decoded: Vec<Value> = String::from_utf8_lossy(&decoded.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(decoded.len(), recorded.len());
    for (ours, theirs) in recorded.iter().zip(&decoded) {
        assert_eq!(ours["value"], theirs["value"], "{}", ours["topic"]);
    }
}
