//! For tests and benchmarks (feature `test-support`): building the plugin libraries a test
//! loads, and an instance that does nothing, to measure the boundary alone.
//!
//! A test build does not build the workspace's `cdylib`s, and a test that loads one would fail
//! on a fresh clone under plain `cargo test`. [`ensure_built`] builds the library with the cargo
//! that runs the tests, into the directory the test looks in, the first time it is missing.
//!
//! [`echo_worker`] is an instance thread whose table answers every call with a copy of its
//! request: a call through it crosses exactly as a call to a library does (the job to the
//! instance's thread, the table's buffer copied and given back, the answer home) and does
//! nothing else, so that the benchmarks can tell the crossing from the encoding and the work.
//! A request `sleep MILLIS` is answered that much later, for tests of late answers.

use std::{path::PathBuf, process::Command, sync::Mutex};

use ecsim_plugin_abi::{ABI_VERSION, Bytes, OwnedBytes, PluginTable, StaticStr};
use ecsim_proto::{
    plugin::{CreateReply, create_reply},
    prost::Message as _,
};

use crate::{locate::bundled_dirs, worker::Worker};

/// Starts an instance thread on the echo table (its calls answered with their requests) and
/// waits for its instance to be created.
pub fn echo_worker() -> Result<Worker, String> {
    let (worker, created) =
        Worker::start(&ECHO, "echo", Vec::new()).map_err(|error| error.to_string())?;
    match created.recv() {
        Ok(Ok(_)) => Ok(worker),
        _ => Err("the echo instance was not created".to_owned()),
    }
}

/// A table in this program, as a library's would be: every call's answer is its request.
static ECHO: PluginTable = PluginTable {
    abi_version: ABI_VERSION,
    table_size: PluginTable::SIZE,
    sdk_version: StaticStr::new(env!("CARGO_PKG_VERSION")),
    manifest: echo_manifest,
    create: echo_create,
    call: echo_call,
    destroy: echo_destroy,
    free: echo_free,
};

unsafe extern "C" fn echo_manifest() -> OwnedBytes {
    OwnedBytes::from_vec(Vec::new())
}

unsafe extern "C" fn echo_create(_request: Bytes<'_>) -> OwnedBytes {
    let reply = CreateReply {
        result: Some(create_reply::Result::Instance(1)),
    };
    OwnedBytes::from_vec(reply.encode_to_vec())
}

unsafe extern "C" fn echo_call(_instance: u64, request: Bytes<'_>) -> OwnedBytes {
    let request = request.as_slice();
    // A test of late answers asks for one: `sleep MILLIS` answers that much later.
    if let Some(millis) = std::str::from_utf8(request)
        .ok()
        .and_then(|text| text.strip_prefix("sleep "))
        .and_then(|millis| millis.parse().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(millis));
    }
    OwnedBytes::from_vec(request.to_vec())
}

unsafe extern "C" fn echo_destroy(_instance: u64) -> OwnedBytes {
    OwnedBytes::from_vec(Vec::new())
}

unsafe extern "C" fn echo_free(bytes: OwnedBytes) {
    // SAFETY: every buffer this table hands out is made by `OwnedBytes::from_vec` in this
    // program, and the host gives each back once (`table::take`).
    drop(unsafe { bytes.into_vec() });
}

/// The path of `package`'s library beside the running test executable, built first (with
/// `cargo build -p package`, in the tests' profile) when it is missing. Fails with what cargo
/// said when the build fails.
pub fn ensure_built(package: &str) -> Result<PathBuf, String> {
    // One build at a time in this process; other test processes wait on cargo's own lock.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _building = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    // The profile directory (`target/debug`) is the last of the directories looked in: where
    // `ecsim` looks too. (Cargo may leave a copy in `deps`, which only tests would find.)
    let dirs = bundled_dirs();
    let profile_dir = dirs
        .last()
        .ok_or("cannot tell where the test executable is")?;
    let path = profile_dir.join(&file);
    if path.is_file() {
        return Ok(path);
    }
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build.args(["build", "--quiet", "-p", package]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let output = build
        .output()
        .map_err(|error| format!("cannot run cargo to build {package}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build -p {package}` failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "`cargo build -p {package}` succeeded but {} is not there (a different target directory?)",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn ask(
        echo: &Worker,
        request: &[u8],
        timeout: Duration,
        virtual_time: bool,
    ) -> crate::worker::Reply {
        let call = echo
            .call(|buffer| buffer.extend_from_slice(request))
            .unwrap();
        match echo.answer(call, timeout, virtual_time).await {
            Ok(reply) => reply,
            Err(_) => Err(crate::worker::Ended("timed out".to_owned())),
        }
    }

    #[tokio::test]
    async fn the_echo_instance_answers_each_call_with_its_request_on_either_clock() {
        let echo = echo_worker().unwrap();
        // Buffers used again call after call: a long request, then shorter ones.
        for request in [vec![7; 4096], b"first".to_vec(), Vec::new()] {
            for virtual_time in [true, false] {
                let reply = ask(&echo, &request, Duration::from_secs(10), virtual_time).await;
                assert_eq!(reply, Ok(request.clone()));
            }
        }
    }

    #[tokio::test]
    async fn a_late_answer_is_never_taken_for_a_later_calls() {
        let echo = echo_worker().unwrap();
        let late = ask(&echo, b"sleep 300", Duration::from_millis(20), true).await;
        assert_eq!(late, Err(crate::worker::Ended("timed out".to_owned())));
        // The instance answers the first call late, then this one: each on its own line.
        for virtual_time in [true, false] {
            let reply = ask(&echo, b"second", Duration::from_secs(10), virtual_time).await;
            assert_eq!(reply, Ok(b"second".to_vec()));
        }
    }
}
