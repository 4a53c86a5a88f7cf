//! The host against plugin tables linked into this test: every check of a library, and every
//! way a call can go — well, failed, panicking, hung, too slow, garbled — through a real core.
//!
//! Tables made by the SDK come from `declare_plugins!` below; broken tables are written by hand,
//! as a library built without the SDK (or with another version of it) would have them. Loading
//! real library files is tested end to end in `tests/` of the workspace.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use ecsim_core::{
    Core, CoreConfig, EnvironmentSpec, Timing,
    clock::{Clock, Timestamp},
    event::{CoreEvent, CoreObserver, CorePayload},
    fsm::{State, Transition},
    plugin::{IntegrationPlugin, async_trait},
    publish::MemoryPublisher,
    registry::PluginRegistry,
    user,
    workflow::{CallSpec, Workflow},
};
use ecsim_plugin_abi::{ABI_VERSION, Bytes, OwnedBytes, PluginTable, StaticStr};
use ecsim_plugin_host::{DylibPlugin, Library, LoadError};
use ecsim_plugin_sdk::{Call, CallError, OpStatus, Plugin, Setup};
use ecsim_proto::{
    events::EvCallEvent,
    plugin::{Manifest, PluginInfo},
    prost::Message as _,
};

const EPOCH: Timestamp = Timestamp::from_unix_millis(1_749_988_800_000);

// ---- A well-behaved plugin, and its misbehaving functions -------------------------------------

/// Functions for every outcome a call can have.
struct Probe {
    greeting: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeConfig {
    #[serde(default = "hello")]
    greeting: String,
}

fn hello() -> String {
    "hello".to_owned()
}

impl Plugin for Probe {
    const NAME: &'static str = "probe";
    const PRETTY_NAME: &'static str = "Probe";
    const FUNCTIONS: &'static [&'static str] = &[
        "Greet",
        "Fail",
        "Panic",
        "Hang",
        "Overrun",
        "Later",
        "PartitionError",
    ];

    fn create(setup: &Setup) -> Result<Self, String> {
        let config: ProbeConfig = setup.config()?;
        Ok(Self {
            greeting: config.greeting,
        })
    }

    fn call(&mut self, call: &mut Call) -> Result<String, CallError> {
        let step = |call: &Call, status: OpStatus| call.service_event(status, "probe step", status);
        match call.function() {
            "Greet" => {
                call.publish("probe", step(call, OpStatus::Started));
                call.elapse(Duration::from_secs(2));
                call.publish("probe", step(call, OpStatus::DoneOk));
                call.set_runtime_var("greeted", call.environment_name().to_owned());
                Ok(format!(
                    "{} {}",
                    self.greeting,
                    call.var("run_number").unwrap_or("-")
                ))
            }
            "Fail" => {
                call.publish("probe", step(call, OpStatus::DoneError));
                Err(CallError::new("probe Fail call failed").reason("asked to"))
            }
            "Panic" => {
                call.publish("probe", step(call, OpStatus::Started));
                panic!("the probe was told to panic")
            }
            "Hang" => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            "Overrun" => {
                call.elapse(Duration::from_secs(10));
                call.publish("probe", step(call, OpStatus::DoneOk));
                Ok(String::new())
            }
            "Later" => {
                call.publish_after(
                    Duration::from_secs(60),
                    "probe",
                    step(call, OpStatus::Ongoing),
                );
                Ok(String::new())
            }
            "PartitionError" => {
                call.request_stop_then_go_error(Duration::from_secs(30), "partition ERROR");
                Ok(String::new())
            }
            other => Err(CallError::new(format!("no function {other}"))),
        }
    }
}

ecsim_plugin_sdk::declare_plugins!(Probe);

fn sdk_table() -> &'static PluginTable {
    // SAFETY: the entry function of `declare_plugins!` returns a pointer to a static table.
    unsafe { &*ecsim_plugin_entry_v1() }
}

fn probe_library() -> Arc<Library> {
    Library::from_table(Path::new("probe.so"), sdk_table()).unwrap()
}

// ---- A core around it ---------------------------------------------------------------------

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<CoreEvent>>);

#[async_trait]
impl IntegrationPlugin for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn pretty_name(&self) -> &str {
        "recorder"
    }
}

impl CoreObserver for Recorder {
    fn observe(&self, event: &CoreEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    fn calls(&self) -> Vec<EvCallEvent> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter_map(|e| match &e.payload {
                CorePayload::Call(call) if call.call_status() != OpStatus::Started => {
                    Some(call.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// (ms since the epoch, service, step status) of every integrated-service event.
    fn services(&self) -> Vec<(i64, String, String)> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter_map(|e| match &e.payload {
                CorePayload::IntegratedService { service, event } => Some((
                    e.timestamp.unix_millis() - EPOCH.unix_millis(),
                    service.clone(),
                    event.operation_step_status().as_str_name().to_owned(),
                )),
                _ => None,
            })
            .collect()
    }
}

/// A core with the probe plugin and a workflow calling `functions` at START_ACTIVITY (weights
/// 0, 1, 2 …), each with `timeout`, critical or not.
async fn core_calling(
    plugin: DylibPlugin,
    functions: &[&str],
    timeout: &str,
    critical: bool,
) -> (Core, Arc<Recorder>, ecsim_core::EnvironmentId) {
    let recorder = Arc::new(Recorder::default());
    let mut plugins = PluginRegistry::new();
    plugins
        .register(Arc::new(plugin))
        .register_observing(recorder.clone());
    let core = Core::start(
        CoreConfig {
            seed: 7,
            first_run_number: 100,
        },
        Clock::virtual_time(EPOCH),
        plugins,
        Arc::new(MemoryPublisher::new()),
    )
    .await;
    let calls = functions
        .iter()
        .enumerate()
        .map(|(weight, function)| {
            CallSpec::new(
                format!("call{weight}"),
                format!("probe.{function}()"),
                format!("before_START_ACTIVITY+{}", 100 + weight),
            )
            .timeout(timeout)
            .critical(critical)
        })
        .collect();
    let workflow = Arc::new(Workflow {
        name: "wf".into(),
        description: "probe calls".into(),
        path: "tests/wf".into(),
        public: false,
        defaults: Default::default(),
        calls,
        task_classes: Vec::new(),
        role_defaults: Default::default(),
        hook_tasks: Vec::new(),
    });
    let mut spec = EnvironmentSpec::new("physics", workflow, &["TPC"]);
    spec.timing = Timing::ZERO;
    let id = core.create_environment(spec).await.unwrap();
    recorder.0.lock().unwrap().clear();
    (core, recorder, id)
}

fn start(
    core: &Core,
    id: &ecsim_core::EnvironmentId,
) -> impl Future<Output = Result<State, ecsim_core::CoreError>> {
    let (core, id) = (core.clone(), id.clone());
    async move {
        core.control(&id, Transition::StartActivity, user::person("alice"))
            .await
    }
}

// ---- Calls --------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_call_publishes_its_events_on_time_and_returns_its_output_and_variables() {
    let plugin = probe_library()
        .plugin("probe", r#"{"greeting": "bonjour"}"#)
        .unwrap();
    let (core, recorder, id) = core_calling(plugin, &["Greet"], "30s", true).await;
    assert_eq!(start(&core, &id).await, Ok(State::Running));
    assert_eq!(
        recorder.services(),
        [
            (0, "probe".to_owned(), "STARTED".to_owned()),
            (2000, "probe".to_owned(), "DONE_OK".to_owned())
        ],
        "the second event is due 2 s into the call"
    );
    let calls = recorder.calls();
    assert_eq!(calls[0].call_status(), OpStatus::DoneOk);
    assert_eq!(
        calls[0].output, "bonjour 100",
        "configuration and run number reached the plugin"
    );
    assert_eq!(core.var(&id, "greeted").as_deref(), Some("physics"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_critical_call_sends_the_environment_to_error_with_aliecs_error_text() {
    let plugin = probe_library().plugin("probe", "").unwrap();
    let (core, recorder, id) = core_calling(plugin, &["Fail"], "30s", true).await;
    assert!(start(&core, &id).await.is_err());
    assert_eq!(core.state(&id), Some(State::Error));
    let call = &recorder.calls()[0];
    assert_eq!(call.error, "probe Fail call failed. REASON: asked to");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_call_fails_with_the_panic_and_the_plugin_keeps_working() {
    let plugin = probe_library().plugin("probe", "").unwrap();
    let (core, recorder, id) = core_calling(plugin, &["Panic", "Greet"], "30s", false).await;
    assert_eq!(start(&core, &id).await, Ok(State::Running), "not critical");
    let calls = recorder.calls();
    assert_eq!(calls[0].call_status(), OpStatus::DoneError);
    assert!(
        calls[0]
            .error
            .starts_with("probe.Panic() panicked. REASON: the probe was told to panic at "),
        "{}",
        calls[0].error
    );
    assert!(
        calls[0].error.contains("in_process.rs"),
        "the panic's place: {}",
        calls[0].error
    );
    assert_eq!(
        calls[1].call_status(),
        OpStatus::DoneOk,
        "the next call works"
    );
    assert_eq!(
        recorder.services()[0].2,
        "STARTED",
        "what the call published before panicking stays published"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_that_hangs_fails_at_its_timeout_and_later_calls_fail_at_once() {
    let plugin = probe_library().plugin("probe", "").unwrap();
    let (core, recorder, id) = core_calling(plugin, &["Hang", "Greet"], "1s", false).await;
    let wall = std::time::Instant::now();
    assert_eq!(start(&core, &id).await, Ok(State::Running));
    assert!(
        wall.elapsed() >= Duration::from_secs(1),
        "waited the timeout in wall time"
    );
    let calls = recorder.calls();
    assert_eq!(
        calls[0].error,
        "probe.Hang() timed out after 1s. REASON: plugin probe did not return"
    );
    assert!(
        calls[1]
            .error
            .starts_with("plugin probe is not answering. REASON: probe.Hang() (environment "),
        "{}",
        calls[1].error
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_declaring_more_time_than_its_timeout_fails_at_the_timeout() {
    let plugin = probe_library().plugin("probe", "").unwrap();
    let (core, recorder, id) = core_calling(plugin, &["Overrun"], "4s", true).await;
    assert!(start(&core, &id).await.is_err());
    assert_eq!(
        recorder.calls()[0].error,
        "probe.Overrun() timed out after 4s. REASON: plugin probe said the call takes 10s"
    );
    // The event the plugin scheduled past the timeout is still published when due.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        recorder.services(),
        [(10_000, "probe".to_owned(), "DONE_OK".to_owned())]
    );
}

#[tokio::test(start_paused = true)]
async fn events_due_after_the_call_are_published_later_without_holding_the_call() {
    let plugin = probe_library().plugin("probe", "").unwrap();
    let (core, recorder, id) = core_calling(plugin, &["Later"], "30s", true).await;
    assert_eq!(start(&core, &id).await, Ok(State::Running));
    assert!(recorder.services().is_empty(), "not yet");
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(
        recorder.services(),
        [(60_000, "probe".to_owned(), "ONGOING".to_owned())]
    );
}

#[tokio::test(start_paused = true)]
async fn a_plugin_can_report_a_partition_error_that_stops_the_run_and_goes_to_error() {
    let plugin = probe_library().plugin("probe", "").unwrap();
    let (core, _recorder, id) = core_calling(plugin, &["PartitionError"], "30s", true).await;
    assert_eq!(start(&core, &id).await, Ok(State::Running));
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert_eq!(core.state(&id), Some(State::Running));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(core.state(&id), Some(State::Error));
}

#[tokio::test(start_paused = true)]
async fn a_bad_configuration_is_refused_when_the_plugin_starts() {
    let plugin = probe_library()
        .plugin("probe", r#"{"greting": "typo"}"#)
        .unwrap();
    let context = ecsim_core::plugin::PluginContext::detached(Clock::virtual_time(EPOCH));
    let error = plugin.start(context).await.unwrap_err().to_string();
    assert!(
        error.starts_with("plugin probe of probe.so did not start: invalid configuration for plugin probe: unknown field `greting`"),
        "{error}"
    );
}

#[test]
fn asking_for_a_plugin_the_library_lacks_names_what_it_has() {
    let error = probe_library().plugin("dcs", "").unwrap_err();
    assert_eq!(
        error.to_string(),
        "probe.so has no plugin \"dcs\"; it offers: probe"
    );
}

// ---- Tables that must be refused ----------------------------------------------------------

extern "C" fn manifest_of_probe() -> OwnedBytes {
    OwnedBytes::from_vec(
        Manifest {
            sdk_version: "0.1.0".into(),
            plugins: vec![PluginInfo {
                name: "probe".into(),
                pretty_name: "Probe".into(),
                functions: vec!["Greet".into()],
                endpoint: String::new(),
            }],
            error: String::new(),
        }
        .encode_to_vec(),
    )
}
extern "C" fn garbage_manifest() -> OwnedBytes {
    OwnedBytes::from_vec(vec![0xff, 0xff, 0xff])
}
extern "C" fn empty_manifest() -> OwnedBytes {
    OwnedBytes::from_vec(Manifest::default().encode_to_vec())
}
extern "C" fn failed_manifest() -> OwnedBytes {
    OwnedBytes::from_vec(
        Manifest {
            sdk_version: "0.1.0".into(),
            plugins: Vec::new(),
            error: "panicked while listing its plugins: boom at src/lib.rs:3:5".into(),
        }
        .encode_to_vec(),
    )
}
extern "C" fn create_instance(_: Bytes<'_>) -> OwnedBytes {
    OwnedBytes::from_vec(
        ecsim_proto::plugin::CreateReply {
            result: Some(ecsim_proto::plugin::create_reply::Result::Instance(1)),
        }
        .encode_to_vec(),
    )
}
extern "C" fn garbage_call(_: u64, _: Bytes<'_>) -> OwnedBytes {
    OwnedBytes::from_vec(b"\x0a\xff\xff\xff\xff not protobuf".to_vec())
}
extern "C" fn destroy_ok(_: u64) -> OwnedBytes {
    OwnedBytes::from_vec(Vec::new())
}
/// # Safety
///
/// `bytes` was returned by one of the functions above, and is given back once.
unsafe extern "C" fn free(bytes: OwnedBytes) {
    // SAFETY: every buffer above comes from OwnedBytes::from_vec in this binary.
    drop(unsafe { bytes.into_vec() });
}

const fn table(abi_version: u32, table_size: u32, sdk: &'static str) -> PluginTable {
    PluginTable {
        abi_version,
        table_size,
        sdk_version: StaticStr::new(sdk),
        manifest: manifest_of_probe,
        create: create_instance,
        call: garbage_call,
        destroy: destroy_ok,
        free,
    }
}

fn refusal(table: &'static PluginTable) -> LoadError {
    Library::from_table(Path::new("lib/libbad.so"), table).unwrap_err()
}

#[test]
fn a_library_of_another_abi_version_is_refused() {
    static TABLE: PluginTable = table(ABI_VERSION + 1, PluginTable::SIZE, "0.1.0");
    assert_eq!(
        refusal(&TABLE).to_string(),
        format!(
            "lib/libbad.so uses plugin ABI version {}, and this ecsim speaks version {ABI_VERSION}: \
             rebuild the plugin against the ecsim-plugin-sdk of this ecsim",
            ABI_VERSION + 1
        )
    );
}

#[test]
fn a_table_smaller_than_the_abi_says_is_refused() {
    static TABLE: PluginTable = table(ABI_VERSION, 16, "0.1.0");
    let error = refusal(&TABLE).to_string();
    assert!(
        error.starts_with("lib/libbad.so declares a plugin table of 16 bytes, smaller than"),
        "{error}"
    );
}

#[test]
fn a_library_built_with_an_incompatible_sdk_is_refused_with_the_versions() {
    static NEWER_MAJOR: PluginTable = table(ABI_VERSION, PluginTable::SIZE, "2.0.0");
    let error = refusal(&NEWER_MAJOR).to_string();
    let host = ecsim_plugin_host::HOST_SDK_VERSION;
    assert!(
        error.starts_with(&format!(
            "lib/libbad.so was built with ecsim-plugin-sdk 2.0.0, which this ecsim (SDK {host}) cannot load: "
        )),
        "{error}"
    );
    assert!(
        error.ends_with(&format!(
            "rebuild the plugin against ecsim-plugin-sdk {host}"
        )),
        "{error}"
    );
    static NOT_SEMVER: PluginTable = table(ABI_VERSION, PluginTable::SIZE, "one point two");
    let error = refusal(&NOT_SEMVER).to_string();
    assert!(
        error.contains("\"one point two\" is not a semantic version"),
        "{error}"
    );
}

#[test]
fn undecodable_or_empty_manifests_are_refused() {
    static GARBAGE: PluginTable = PluginTable {
        manifest: garbage_manifest,
        ..table(
            ABI_VERSION,
            PluginTable::SIZE,
            ecsim_plugin_sdk::SDK_VERSION,
        )
    };
    let error = refusal(&GARBAGE).to_string();
    assert!(
        error.starts_with("lib/libbad.so: its manifest is invalid: it does not decode: "),
        "{error}"
    );
    static EMPTY: PluginTable = PluginTable {
        manifest: empty_manifest,
        ..table(
            ABI_VERSION,
            PluginTable::SIZE,
            ecsim_plugin_sdk::SDK_VERSION,
        )
    };
    assert_eq!(
        refusal(&EMPTY).to_string(),
        "lib/libbad.so: its manifest is invalid: it lists no plugins"
    );
    static FAILED: PluginTable = PluginTable {
        manifest: failed_manifest,
        ..table(
            ABI_VERSION,
            PluginTable::SIZE,
            ecsim_plugin_sdk::SDK_VERSION,
        )
    };
    assert_eq!(
        refusal(&FAILED).to_string(),
        "lib/libbad.so: its manifest is invalid: panicked while listing its plugins: boom at \
         src/lib.rs:3:5"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reply_that_does_not_decode_fails_the_call_and_the_simulator_goes_on() {
    static GARBLED: PluginTable = table(
        ABI_VERSION,
        PluginTable::SIZE,
        ecsim_plugin_sdk::SDK_VERSION,
    );
    let library = Library::from_table(Path::new("libgarbled.so"), &GARBLED).unwrap();
    let plugin = library.plugin("probe", "").unwrap();
    let (core, recorder, id) = core_calling(plugin, &["Greet"], "30s", true).await;
    assert!(start(&core, &id).await.is_err());
    assert_eq!(core.state(&id), Some(State::Error));
    let error = &recorder.calls()[0].error;
    assert!(
        error.starts_with("probe.Greet() failed: the plugin's reply does not decode. REASON: "),
        "{error}"
    );
    // The environment can still be torn down: the core is fine.
    let force = ecsim_core::DestroyOptions {
        force: true,
        ..Default::default()
    };
    core.destroy(&id, force, user::person("alice"))
        .await
        .unwrap();
}

#[test]
fn the_sdk_table_passes_every_check() {
    let library = probe_library();
    assert_eq!(library.sdk_version(), ecsim_plugin_sdk::SDK_VERSION);
    assert_eq!(library.plugins()[0].functions, Probe::FUNCTIONS);
}
