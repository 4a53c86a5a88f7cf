//! `cargo xtask fdset DIR` writes a descriptor set that a third-party tool, `pq`, uses to
//! decode bytes that ecsim encoded: the README's recipe, run for real.

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

use std::{
    io::Write as _,
    process::{Command, Stdio},
};

use ecsim_proto::{
    events::{EvEnvironmentEvent, Event, OpStatus, event::Payload},
    prost::Message as _,
    prost_reflect::DescriptorPool,
};

fn write_fdset(dir: &std::path::Path) -> std::path::PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("fdset")
        .arg(dir)
        .output()
        .expect("xtask runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("pq --msgtype events.Event"),
        "says how to use it: {stdout}"
    );
    dir.join("aliecs.fdset")
}

#[test]
fn the_descriptor_set_holds_the_aliecs_files_the_control_api_apricot_and_the_plugin_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_fdset(&dir.path().join("nested/fdset"));
    let pool = DescriptorPool::decode(std::fs::read(path).unwrap().as_slice()).unwrap();
    let files: Vec<String> = pool.files().map(|f| f.name().to_owned()).collect();
    assert_eq!(
        files,
        [
            "protos/common.proto",
            "protos/events.proto",
            "protos/kafka.proto",
            "protos/o2control.proto",
            "protos/apricot.proto",
            "ecsim/plugin/v1/plugin.proto"
        ]
    );
    // The configuration service too: the GUI's other half.
    let apricot = pool
        .get_service_by_name("apricot.Apricot")
        .expect("the Apricot service");
    assert!(
        apricot
            .methods()
            .any(|m| m.name() == "GetDetectorsForHosts")
    );
    // The control API's service, for grpcurl-style tools given the descriptor set.
    let control = pool
        .get_service_by_name("o2control.Control")
        .expect("the Control service");
    let subscribe = control
        .methods()
        .find(|m| m.name() == "Subscribe")
        .expect("Subscribe");
    assert!(subscribe.is_server_streaming());
    assert_eq!(subscribe.output().full_name(), "events.Event");
    for name in [
        "events.Event",
        "kafka.NewStateNotification",
        "kafka.ActiveRunsList",
        "common.User",
    ] {
        assert!(pool.get_message_by_name(name).is_some(), "{name}");
    }
}

#[test]
fn pq_decodes_an_event_that_ecsim_encoded() {
    // `cargo xtask test` installs pq and says where; otherwise look on PATH.
    let pq = std::env::var_os("ECSIM_PQ").unwrap_or_else(|| "pq".into());
    if Command::new(&pq).arg("--version").output().is_err() {
        println!(
            "SKIPPED: pq is not installed (`cargo install pq --locked`; `cargo xtask test` does it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_fdset(&dir.path().join("fdset"));
    // An empty HOME, so that descriptor sets in the user's ~/.pq cannot stand in for ours.
    let home = tempfile::tempdir().unwrap();

    let event = Event {
        timestamp: 1_700_000_000_123,
        timestamp_nano: 1_700_000_000_123_000_000,
        payload: Some(Payload::EnvironmentEvent(EvEnvironmentEvent {
            environment_id: "2oDvieFrVTi".into(),
            state: "RUNNING".into(),
            run_number: 567_890,
            transition: "START_ACTIVITY".into(),
            transition_status: OpStatus::DoneOk.into(),
            message: "transition completed successfully".into(),
            ..Default::default()
        })),
    };
    let mut pq = Command::new(&pq)
        .args(["--msgtype", "events.Event"])
        .env("FDSET_PATH", dir.path().join("fdset"))
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    pq.stdin
        .take()
        .unwrap()
        .write_all(&event.encode_to_vec())
        .unwrap();
    let out = pq.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pq failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "pq printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(json["timestamp"], 1_700_000_000_123_i64, "{json}");
    let env = &json["environmentEvent"];
    assert_eq!(env["environmentId"], "2oDvieFrVTi", "{json}");
    assert_eq!(env["state"], "RUNNING", "{json}");
    assert_eq!(env["runNumber"], 567_890, "{json}");
    assert_eq!(env["transition"], "START_ACTIVITY", "{json}");
    assert_eq!(env["transitionStatus"], "DONE_OK", "{json}");
}
