//! The scenario format's JSON Schema against the parser: the shipped file is what the types
//! generate, every example scenario is valid by it, and the broken fixtures whose fault is one
//! a schema can express (an unknown key, action, outcome, beam mode or detector; a missing
//! name; a number out of range; a value of the wrong shape) are invalid by it too — an editor
//! flags them as `ecsim validate` does — while it accepts the rest, whose faults only the
//! validator sees.

use std::path::Path;

use serde_json::Value;

/// The repository's copy, which editors are pointed at.
const SHIPPED: &str = "../../scenarios/scenario.schema.json";

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SHIPPED).unwrap()).unwrap();
    jsonschema::draft7::new(&schema).unwrap()
}

/// A TOML document as the JSON an editor's schema check sees: date-times become strings.
fn as_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(as_json).collect()),
        toml::Value::Table(table) => {
            Value::Object(table.into_iter().map(|(k, v)| (k, as_json(v))).collect())
        }
    }
}

/// The schema's complaints about the TOML file at `path` (none when it is valid).
fn complaints(validator: &jsonschema::Validator, path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let document: toml::Value = toml::from_str(&text).unwrap();
    let instance = as_json(document);
    validator
        .iter_errors(&instance)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[test]
fn the_shipped_schema_is_what_the_scenario_types_generate() {
    let generated = ecsim_scenario::schema::json_schema_text();
    let shipped = std::fs::read_to_string(SHIPPED).unwrap_or_default();
    assert!(
        shipped == generated,
        "scenarios/scenario.schema.json is stale: run `cargo run -p ecsim -- schema > \
         scenarios/scenario.schema.json` and commit it"
    );
}

#[test]
fn every_example_scenario_is_valid_by_the_schema() {
    let validator = validator();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir("../../scenarios")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.extend([
        "../../plugins/example/scenario.toml".into(),
        "../../tests/plugins/crashes.toml".into(),
    ]);
    assert!(files.len() > 10, "{files:?}");
    for path in files {
        let found = complaints(&validator, &path);
        assert!(found.is_empty(), "{}: {found:#?}", path.display());
    }
}

#[test]
fn broken_fixtures_a_schema_can_express_are_invalid_by_it() {
    let validator = validator();
    let cases = [
        ("02-unknown-key.toml", "Additional properties"),
        (
            "06-negative-repeat.toml",
            "-3 is less than the minimum of 1",
        ),
        ("07-missing-name.toml", "\"name\" is a required property"),
        ("08-unknown-action.toml", "is not one of"),
        ("12-bad-speed.toml", "-2 is less than the minimum of 0"),
        (
            "13-bad-epoch.toml",
            "\"last tuesday\" is not valid under any of the schemas",
        ),
        ("15-count-without-index.toml", "\"MCH{i}\" is not one of"),
        ("18-unknown-beam-mode.toml", "\"DUMP\" is not one of"),
        (
            "19-list-variable.toml",
            "is not of types \"boolean\", \"number\", \"string\"",
        ),
        (
            "21-several-problems.toml",
            "-1 is less than the minimum of 0",
        ),
        ("22-unknown-fault-outcome.toml", "is not one of"),
        ("23-fault-problems.toml", "0 is less than the minimum of 1"),
        ("25-bad-users.toml", "is not valid under any of the schemas"),
        ("29-unknown-keys-everywhere.toml", "Additional properties"),
        ("32-detectors.toml", "is not one of"),
    ];
    for (file, expected) in cases {
        let path = Path::new("tests/it/broken").join(file);
        let found = complaints(&validator, &path);
        assert!(
            found.iter().any(|c| c.contains(expected)),
            "{file}: {expected:?} among {found:#?}"
        );
    }
    // The others' faults are ones only `ecsim validate` can see (a duration, a reference, a
    // time): the schema accepts them, so the list above is exactly what it judges. A fixture
    // the schema starts refusing belongs in the list.
    let mut judged_by_validate_only = 0;
    for entry in std::fs::read_dir("tests/it/broken").unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if cases.iter().any(|(file, _)| *file == name) {
            continue;
        }
        if toml::from_str::<toml::Value>(&std::fs::read_to_string(&path).unwrap()).is_err() {
            continue; // not TOML at all: neither can judge more than that
        }
        let found = complaints(&validator, &path);
        assert!(
            found.is_empty(),
            "{name}: the schema refuses it too: {found:#?}"
        );
        judged_by_validate_only += 1;
    }
    assert!(judged_by_validate_only > 10, "{judged_by_validate_only}");
}

/// taplo (the engine of the TOML editors' schema support), installed by `cargo xtask test`:
/// with the repository's `.taplo.toml`, the examples check clean; a file of one's own that
/// names the schema on its first line (`#:schema`) gets a typo flagged at its line and column.
#[test]
#[allow(clippy::print_stdout)] // a skipped test says why, in the test's output
fn taplo_checks_scenarios_against_the_schema_as_an_editor_does() {
    let (Some(node), Some(clients)) = (
        std::env::var_os("ECSIM_NODE"),
        std::env::var_os("ECSIM_CLIENTS"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ECSIM_NODE and ECSIM_CLIENTS are set by `cargo xtask test`"
        );
        println!("skipped: taplo is not installed (run `cargo xtask test`)");
        return;
    };
    let taplo = Path::new(&clients).join("node_modules/@taplo/cli/dist/cli.js");
    let check = |files: &[&str]| {
        std::process::Command::new(&node)
            .arg(&taplo)
            .arg("check")
            .args(files)
            .current_dir("../..")
            .output()
            .unwrap()
    };
    let mut examples: Vec<String> = std::fs::read_dir("../../scenarios")
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| format!("scenarios/{}", path.file_name().unwrap().to_string_lossy()))
        .collect();
    examples.sort();
    let names: Vec<&str> = examples.iter().map(String::as_str).collect();
    let out = check(&names);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("found files total={}", names.len())),
        "taplo read every example: {stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let schema = std::fs::canonicalize(SHIPPED).unwrap();
    let broken = std::fs::read_to_string("tests/it/broken/22-unknown-fault-outcome.toml").unwrap();
    let mine = dir.path().join("mine.toml");
    std::fs::write(&mine, format!("#:schema {}\n{broken}", schema.display())).unwrap();
    let line = broken
        .lines()
        .position(|l| l.starts_with("outcome"))
        .unwrap()
        + 2;
    let out = check(&[mine.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("\"timout\" is not one of"), "{stderr}");
    assert!(
        stderr.contains(&format!("mine.toml:{line}:11")),
        "the typo's line and column: {stderr}"
    );
}
