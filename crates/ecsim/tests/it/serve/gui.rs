//! The clients that drive AliECS, as they drive it: ALICE's Control GUI (its requests, in its
//! order, with its gRPC library: `tests/clients/cog_sequence.js`), `coconut`'s automatic
//! environments (Subscribe first), and AliECS's own configuration service beside the API.

use ecsim_proto::apricot::{self as apricot_pb, apricot_client::ApricotClient};

use super::*;

/// The Control GUI (`@grpc/grpc-js` and `@grpc/proto-loader` at the GUI's versions and options)
/// with `ecsim serve` alone: its start (detectors and FLPs from Apricot), its status page, the
/// creation page (templates, a saved configuration), a creation from hosts only, the
/// environment's page (detectors, FLPs, tasks per detector with their sandbox), a detector in
/// use refused, START, STOP, SHUTDOWN, a KILL that keeps the tasks, "Clean tasks", and "Clean
/// resources" (Subscribe with a six-digit channel id, then NewAutoEnvironment).
#[test]
fn the_control_gui_s_requests_work_with_ecsim_alone() {
    let (Some(node), Some(clients)) = (
        std::env::var_os("ECSIM_NODE"),
        std::env::var_os("ECSIM_CLIENTS"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the GUI's gRPC library is not installed and CI must run this test: run `cargo xtask test`"
        );
        println!("skipped: @grpc/grpc-js is not installed (run `cargo xtask test`)");
        return;
    };
    let server = Server::start_timed("fast", &[]);
    let proto = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let output = Command::new(node)
        .arg(std::path::Path::new(&clients).join("cog_sequence.js"))
        .arg(server.grpc.trim_start_matches("http://"))
        .arg(&proto)
        .current_dir(&clients)
        .output()
        .expect("the GUI's requests run");
    let steps: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(
        output.status.success(),
        "the GUI's sequence failed after {:?}: {}",
        steps.last(),
        String::from_utf8_lossy(&output.stderr)
    );
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
            .clone()
    };
    assert_eq!(
        step("created")["detectors"],
        serde_json::json!(["ITS", "TPC"])
    );
    assert_eq!(step("created")["flps"], 3);
    assert_eq!(step("run")["run"], 1);
    assert_eq!(
        step("clean resources")["last"],
        "environment teardown complete"
    );
    let (status, stderr) = server.stop();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("stopped; no environment was alive"),
        "{stderr}"
    );
}

/// `coconut environment create --auto` subscribes with an xid (base32hex, zeros and all) before
/// asking for the environment; AliECS's Subscribe waits for the id. The stream carries the
/// environment from its creation to its teardown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coconut_s_auto_environment_subscribes_before_it_exists() {
    let server = Server::start(&[]);
    let mut client = server.client().await;
    let id = "d4jr2k0l8d0c73d0a1ug"; // xid.New().String()
    let mut stream = client
        .subscribe(pb::SubscribeRequest { id: id.to_owned() })
        .await
        .expect("Subscribe before NewAutoEnvironment")
        .into_inner();
    let mut vars = physics_vars();
    vars.insert("auto_stop_enabled".to_owned(), "true".to_owned());
    vars.insert("auto_stop_timeout".to_owned(), "1s".to_owned());
    client
        .new_auto_environment(pb::NewAutoEnvironmentRequest {
            workflow_template: "readout-dataflow".to_owned(),
            vars,
            id: id.to_owned(),
            request_user: Some(User {
                name: "jane@flp-dev".to_owned(),
                ..User::default()
            }),
        })
        .await
        .expect("NewAutoEnvironment");
    let mut messages = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("events keep coming")
        .expect("no error")
    {
        if let Some(ecsim_proto::events::event::Payload::EnvironmentEvent(e)) = event.payload {
            messages.push((e.transition, e.message));
        }
    }
    let first = messages.first().expect("events");
    assert_eq!(
        (first.0.as_str(), first.1.as_str()),
        ("CREATE", "transition starting")
    );
    let last = messages.last().expect("events");
    assert_eq!(last.1, "environment teardown complete", "{messages:#?}");
    assert!(
        messages
            .iter()
            .any(|(t, m)| t == "START_ACTIVITY" && m == "transition completed successfully"),
        "{messages:#?}"
    );
}

/// `NewEnvironment` with `autoTransition` starts the run once CONFIGURED and, once the run is
/// over, resets and tears the environment down, as AliECS's auto environments (M2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_transitioning_environment_starts_by_itself_and_goes_when_its_run_ends() {
    let server = Server::start(&[]);
    let mut client = server.client().await;
    let mut request = new_environment(physics_vars());
    request.auto_transition = true;
    let created = client
        .new_environment(request)
        .await
        .expect("created")
        .into_inner()
        .environment
        .expect("info");
    assert_eq!(created.state, "CONFIGURED", "the reply comes at CONFIGURED");
    let running = wait_for(&mut client, &created.id, |env| {
        env.is_some_and(|e| e.state == "RUNNING")
    })
    .await;
    assert!(running.current_run_number > 0);
    client
        .control_environment(control(&created.id, Optype::StopActivity))
        .await
        .expect("stopped");
    wait_for(&mut client, &created.id, |env| env.is_none()).await;
}

/// Polls GetEnvironments until `done` holds for the environment `id` (`None`: gone).
pub(crate) async fn wait_for(
    client: &mut ControlClient<Channel>,
    id: &str,
    done: impl Fn(Option<&pb::EnvironmentInfo>) -> bool,
) -> pb::EnvironmentInfo {
    for _ in 0..200 {
        let environments = client
            .get_environments(pb::GetEnvironmentsRequest {
                show_all: true,
                ..Default::default()
            })
            .await
            .expect("GetEnvironments")
            .into_inner()
            .environments;
        let found = environments.into_iter().find(|e| e.id == id);
        if done(found.as_ref()) {
            return found.unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("environment {id} never got there");
}

/// Apricot beside the control API: the inventory, the runtime store with Apricot's answer for a
/// missing key, run numbers from the core's counter, and an environment created from hosts
/// alone holding the detectors of its FLPs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apricot_answers_beside_the_control_api_and_creation_uses_its_inventory() {
    let server = Server::start(&[]);
    let mut apricot = ApricotClient::connect(server.grpc.clone())
        .await
        .expect("the same port");
    let detectors = apricot
        .list_detectors(apricot_pb::DetectorsRequest { get_all: true })
        .await
        .expect("ListDetectors")
        .into_inner()
        .detectors;
    assert!(detectors.contains(&"TRG".to_owned()) && detectors.contains(&"TPC".to_owned()));
    let its = apricot
        .get_host_inventory(apricot_pb::HostGetRequest {
            detector: "ITS".to_owned(),
        })
        .await
        .expect("GetHostInventory")
        .into_inner()
        .hosts;
    assert!(its.contains(&"alio2-cr1-flp187".to_owned()), "{its:?}");
    let unknown = apricot
        .get_detector_for_host(apricot_pb::HostRequest {
            hostname: "nowhere".to_owned(),
        })
        .await
        .expect_err("no such FLP");
    assert_eq!(
        (unknown.code(), unknown.message()),
        (Code::Unknown, "detector not found for host nowhere")
    );
    let missing = apricot
        .get_runtime_entry(apricot_pb::GetRuntimeEntryRequest {
            component: "COG".to_owned(),
            key: "calibration-mappings".to_owned(),
        })
        .await
        .expect_err("nothing stored");
    assert_eq!(
        (missing.code(), missing.message()),
        (
            Code::Unknown,
            "nil response for key o2/runtime/COG/calibration-mappings"
        )
    );
    let first = apricot
        .new_run_number(apricot_pb::Empty {})
        .await
        .expect("NewRunNumber")
        .into_inner()
        .run_number;
    assert_eq!(first, 1, "the core's counter");

    let mut client = server.client().await;
    // Every plugin AliECS registers, the unloaded ones with an empty info; none of ecsim's own.
    let services = client
        .get_integrated_services(pb::Empty {})
        .await
        .expect("GetIntegratedServices")
        .into_inner()
        .services;
    let names: Vec<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "bookkeeping",
            "ccdb",
            "dcs",
            "ddsched",
            "kafka",
            "lhc",
            "odc",
            "testplugin",
            "trg"
        ]
    );
    assert_eq!(services["ccdb"].name, "CCDB");
    assert!(
        services["bookkeeping"].enabled && services["bookkeeping"].data.contains("pendingRunStops")
    );
    assert_eq!(services["odc"], pb::IntegratedServiceInfo::default());
    let mut vars = BTreeMap::new();
    vars.insert(
        "hosts".to_owned(),
        serde_json::to_string(&its[..2]).expect("JSON"),
    );
    let created = client
        .new_environment(new_environment(vars.clone()))
        .await
        .expect("created from hosts")
        .into_inner()
        .environment
        .expect("info");
    assert_eq!(created.included_detectors, ["ITS"]);
    assert_eq!(created.number_of_flps, 2);
    assert_eq!(
        created
            .integrated_services_data
            .get("bookkeeping")
            .map(String::as_str),
        Some("{}")
    );
    let id = created.id.clone();
    client
        .control_environment(control(&id, Optype::StartActivity))
        .await
        .expect("started");
    let run = client
        .get_environment(pb::GetEnvironmentRequest {
            id,
            show_workflow_tree: false,
        })
        .await
        .expect("GetEnvironment")
        .into_inner()
        .environment
        .expect("info")
        .current_run_number;
    assert_eq!(run, 2, "after Apricot's 1: one counter");
    // An FLP no detector has fails the creation with AliECS's words.
    vars.insert("hosts".to_owned(), r#"["flp-nowhere"]"#.to_owned());
    let refused = client
        .new_environment(new_environment(vars))
        .await
        .expect_err("unknown host");
    assert_eq!(refused.code(), Code::Internal);
    assert_eq!(
        refused.message(),
        "cannot create new environment: cannot acquire detectors in loaded workflow template: detector not found for host flp-nowhere"
    );
}
