//! Whatever bytes a plugin library answers a call with, the host turns them into an outcome
//! without panicking: a property test of the reply path, from the library's buffer through
//! decoding, checking and playing the reply on the clock, with
//!
//! - arbitrary bytes;
//! - well-formed replies with arbitrary values (huge offsets and durations, odd service names,
//!   requests without a kind, timestamps at the ends of the range);
//! - well-formed replies mutated: bytes flipped, cut short, spliced.
//!
//! The library is a table linked into this test whose `call` answers with the bytes of the case
//! at hand, so every case goes through the real worker thread and the real protobuf decoding.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use ecsim_core::{
    clock::{Clock, Timestamp},
    plugin::{CallContext, CallTraits, IntegrationPlugin, PluginContext},
};
use ecsim_plugin_abi::{ABI_VERSION, Bytes, OwnedBytes, PluginTable, StaticStr};
use ecsim_plugin_host::{DylibPlugin, Library};
use ecsim_proto::{
    events::{EvIntegratedServiceEvent, OpStatus},
    plugin::{
        CallError, CallReply, CoreRequest, CreateReply, Manifest, PluginInfo, TimedEvent,
        core_request, create_reply,
    },
    prost::Message as _,
};
use proptest::prelude::*;

/// The bytes the fuzzed library answers the next call with.
static REPLY: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Held from setting [`REPLY`] to the end of the call that answers with it: the tests of this
/// file run in parallel and share the one library.
static EXCHANGE: Mutex<()> = Mutex::new(());

fn exchange() -> std::sync::MutexGuard<'static, ()> {
    EXCHANGE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

extern "C" fn manifest() -> OwnedBytes {
    OwnedBytes::from_vec(
        Manifest {
            sdk_version: ecsim_plugin_host::HOST_SDK_VERSION.into(),
            plugins: vec![PluginInfo {
                name: "fuzz".into(),
                pretty_name: "Fuzz".into(),
                functions: vec!["Call".into()],
                endpoint: String::new(),
            }],
            error: String::new(),
        }
        .encode_to_vec(),
    )
}
extern "C" fn create(_: Bytes<'_>) -> OwnedBytes {
    OwnedBytes::from_vec(
        CreateReply {
            result: Some(create_reply::Result::Instance(1)),
        }
        .encode_to_vec(),
    )
}
extern "C" fn call(_: u64, _: Bytes<'_>) -> OwnedBytes {
    OwnedBytes::from_vec(REPLY.lock().unwrap().clone())
}
extern "C" fn destroy(_: u64) -> OwnedBytes {
    OwnedBytes::from_vec(Vec::new())
}
/// # Safety
///
/// `bytes` was returned by one of the functions above, and is given back once.
unsafe extern "C" fn free(bytes: OwnedBytes) {
    // SAFETY: every buffer above comes from OwnedBytes::from_vec in this binary.
    drop(unsafe { bytes.into_vec() });
}

static TABLE: PluginTable = PluginTable {
    abi_version: ABI_VERSION,
    table_size: PluginTable::SIZE,
    sdk_version: StaticStr::new(ecsim_plugin_host::HOST_SDK_VERSION),
    manifest,
    create,
    call,
    destroy,
    free,
};

struct Harness {
    runtime: tokio::runtime::Runtime,
    plugin: Arc<DylibPlugin>,
    call: CallContext,
}

fn harness() -> Harness {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let library = Library::from_table(Path::new("libfuzz.so"), &TABLE).unwrap();
    let plugin = Arc::new(library.plugin("fuzz", "").unwrap());
    let clock = Clock::virtual_time(Timestamp::from_unix_millis(1_750_000_000_000));
    runtime
        .block_on(plugin.start(PluginContext::detached(clock)))
        .unwrap();
    let call = CallContext {
        environment_id: "2oDvieFrVTi".into(),
        environment_name: "physics".into(),
        plugin: "fuzz".into(),
        function: "Call".into(),
        func: "fuzz.Call()".into(),
        role_path: "readout-dataflow.fuzz".into(),
        traits: CallTraits {
            trigger: "before_START_ACTIVITY".into(),
            r#await: "before_START_ACTIVITY".into(),
            timeout: "30s".into(),
            critical: true,
        },
        vars: [("run_number", "7")].into_iter().collect(),
    };
    Harness {
        runtime,
        plugin,
        call,
    }
}

impl Harness {
    /// Answers one call with `bytes`; the outcome must be an outcome, and a failure must say
    /// what failed.
    fn answer(&self, bytes: Vec<u8>) -> ecsim_core::plugin::CallOutcome {
        let _exchange = exchange();
        *REPLY.lock().unwrap() = bytes;
        let outcome = self.runtime.block_on(self.plugin.call(self.call.clone()));
        if let Some(error) = &outcome.error {
            assert!(!error.message.is_empty());
        }
        assert!(
            self.plugin.connection_state() == "READY",
            "a bad reply does not make the plugin stuck"
        );
        outcome
    }
}

/// Whether the host must accept `reply` as it is: every event names a topic-safe service and
/// has an event, every core request asks for something, and the call fits its 30 s timeout.
fn acceptable(reply: &CallReply) -> bool {
    let topic_safe = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    reply
        .events
        .iter()
        .all(|e| topic_safe(&e.service) && e.event.is_some())
        && reply.core_requests.iter().all(|r| r.request.is_some())
        && reply.duration_ms <= 30_000
}

fn service() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("dcs".to_owned()),
        Just(String::new()),
        "[a-z_.-]{1,12}",
        ".{0,8}",
    ]
}

fn timed_event() -> impl Strategy<Value = TimedEvent> {
    (
        any::<u64>(),
        service(),
        proptest::option::of((".{0,10}", ".{0,10}", 0..8_i32)),
        any::<i64>(),
    )
        .prop_map(|(after_ms, service, event, timestamp_ms)| TimedEvent {
            after_ms,
            service,
            event: event.map(|(name, payload, status)| EvIntegratedServiceEvent {
                name,
                payload,
                operation_status: status,
                operation_step_status: OpStatus::Ongoing.into(),
                ..Default::default()
            }),
            timestamp_ms,
        })
}

fn core_request_strategy() -> impl Strategy<Value = CoreRequest> {
    (any::<u64>(), ".{0,12}", 0..3_u8).prop_map(|(after_ms, reason, kind)| CoreRequest {
        after_ms,
        environment_id: "2oDvieFrVTi".into(),
        reason,
        request: match kind {
            0 => None,
            1 => Some(core_request::Request::GoError(true)),
            _ => Some(core_request::Request::StopThenGoError(true)),
        },
    })
}

fn reply() -> impl Strategy<Value = CallReply> {
    let text = || prop_oneof![Just(String::new()), ".{1,16}"];
    (
        ".{0,16}",
        proptest::option::of((text(), text())),
        proptest::collection::btree_map("[a-z_]{1,8}", ".{0,8}", 0..4),
        proptest::collection::vec(timed_event(), 0..6),
        prop_oneof![Just(0_u64), 0..60_000_u64, any::<u64>()],
        proptest::collection::vec(core_request_strategy(), 0..3),
        proptest::collection::vec(any::<u32>(), 0..4),
    )
        .prop_map(
            |(output, error, runtime_vars, events, duration_ms, core_requests, faults_fired)| {
                CallReply {
                    output,
                    error: error.map(|(message, reason)| CallError {
                        message,
                        reason,
                        panicked: false,
                    }),
                    runtime_vars,
                    events,
                    duration_ms,
                    core_requests,
                    faults_fired,
                }
            },
        )
}

/// A well-formed reply, then damaged: bytes flipped, the end cut off, a chunk repeated.
fn damaged() -> impl Strategy<Value = Vec<u8>> {
    (
        reply(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(reply, flips, cut, splice)| {
            let mut bytes = reply.encode_to_vec();
            if bytes.is_empty() {
                return bytes;
            }
            for (at, value) in flips {
                let at = at.index(bytes.len());
                bytes[at] ^= value;
            }
            let cut = cut.index(bytes.len() + 1);
            if splice {
                let tail = bytes[cut..].to_vec();
                bytes.extend_from_slice(&tail);
            } else {
                bytes.truncate(cut);
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_become_an_outcome(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        thread_local!(static HARNESS: Harness = harness());
        HARNESS.with(|h| {
            h.answer(bytes);
        });
    }

    #[test]
    fn well_formed_replies_with_any_values_become_the_outcome_they_say(reply in reply()) {
        thread_local!(static HARNESS: Harness = harness());
        let outcome = HARNESS.with(|h| h.answer(reply.encode_to_vec()));
        if acceptable(&reply) {
            // The plugin's own word: its output, or its error as AliECS reports it.
            match &reply.error {
                None => {
                    prop_assert!(outcome.error.is_none(), "{outcome:?}");
                    prop_assert_eq!(&outcome.output, &reply.output);
                    let vars: Vec<(String, String)> = reply.runtime_vars.clone().into_iter().collect();
                    prop_assert_eq!(&outcome.runtime_vars, &vars);
                }
                Some(error) => {
                    let failed = outcome.error.clone().unwrap();
                    if error.message.is_empty() {
                        prop_assert!(failed.message.contains("gave no message"), "{failed:?}");
                    } else {
                        prop_assert_eq!(&failed.message, &error.message);
                    }
                    prop_assert_eq!(failed.reason.unwrap_or_default(), error.reason.clone());
                }
            }
        } else {
            prop_assert!(outcome.error.is_some(), "a reply the host must refuse: {reply:?}");
        }
    }

    #[test]
    fn damaged_replies_become_an_outcome(bytes in damaged()) {
        thread_local!(static HARNESS: Harness = harness());
        HARNESS.with(|h| {
            h.answer(bytes);
        });
    }
}

#[test]
fn the_seed_cases_take_the_paths_the_fuzzer_aims_at() {
    // Each kind of bad reply named in the refusal list fails the call with its own message.
    let h = harness();
    let outcome = |bytes: Vec<u8>| {
        let _exchange = exchange();
        *REPLY.lock().unwrap() = bytes;
        h.runtime.block_on(h.plugin.call(h.call.clone()))
    };
    let garbage = outcome(vec![0xff; 5]);
    assert!(
        garbage.error.unwrap().message.contains("does not decode"),
        "undecodable bytes"
    );
    let bad_service = outcome(
        CallReply {
            events: vec![TimedEvent {
                service: "no spaces".into(),
                event: Some(EvIntegratedServiceEvent::default()),
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_to_vec(),
    );
    assert!(
        bad_service
            .error
            .unwrap()
            .message
            .contains("reply is invalid")
    );
    let forever = outcome(
        CallReply {
            duration_ms: u64::MAX,
            ..Default::default()
        }
        .encode_to_vec(),
    );
    assert!(
        forever
            .error
            .unwrap()
            .message
            .contains("timed out after 30s")
    );
    let fine = outcome(
        CallReply {
            output: "ok".into(),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    assert_eq!(fine.output, "ok");
    assert!(fine.error.is_none());
}
