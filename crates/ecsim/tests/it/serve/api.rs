//! The API's RPCs one by one: replies, statuses, streams, many clients, the comparison with a
//! scenario, and the clients that ship with ecsim (grpcio, `ecsim env`).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_through_the_api_publishes_what_the_same_scenario_publishes() {
    let server = Server::start(&[]);
    let mut client = server.client().await;

    let created = client
        .new_environment(new_environment(physics_vars()))
        .await
        .expect("NewEnvironment")
        .into_inner();
    let env = created.environment.expect("the environment's info");
    assert_eq!(env.state, "CONFIGURED");
    assert_eq!(env.root_role, "readout-dataflow");
    assert_eq!(env.included_detectors, ["ITS", "TPC"]);
    assert_eq!((env.number_of_flps, env.number_of_hosts), (2, 2));
    assert_eq!(env.current_run_number, 0);
    assert!(env.number_of_tasks >= 6 && env.tasks.len() == env.number_of_tasks as usize);
    assert_eq!(
        env.user_vars.get("run_type").map(String::as_str),
        Some("PHYSICS")
    );
    let last_user: Value = serde_json::from_str(&env.user_vars["last_request_user"]).expect("JSON");
    assert_eq!(last_user["name"], "Jane Shifter");
    assert!(created.public && created.timestamp > 0);
    let id = env.id;

    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = client
        .control_environment(control(&id, Optype::StartActivity))
        .await
        .expect("START_ACTIVITY")
        .into_inner();
    assert_eq!(
        (started.id.as_str(), started.state.as_str()),
        (id.as_str(), "RUNNING")
    );
    assert_eq!(started.current_run_number, 1);
    assert_eq!(
        started.transition_duration,
        started.end_of_transition - started.start_of_transition
    );
    assert!(
        started.transition_duration >= 100,
        "START takes its 100 ms: {started:?}"
    );

    let listed = client
        .get_environments(pb::GetEnvironmentsRequest::default())
        .await
        .expect("GetEnvironments")
        .into_inner();
    assert_eq!(listed.environments.len(), 1);
    assert_eq!(listed.environments[0].state, "RUNNING");
    assert_eq!(listed.environments[0].current_run_number, 1);
    assert!(
        listed.environments[0].tasks.is_empty(),
        "tasks only when asked"
    );
    let active = client
        .get_active_detectors(pb::Empty {})
        .await
        .expect("GetActiveDetectors")
        .into_inner();
    assert_eq!(active.detectors, ["ITS", "TPC"]);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = client
        .control_environment(control(&id, Optype::StopActivity))
        .await
        .expect("STOP_ACTIVITY")
        .into_inner();
    assert_eq!(
        (stopped.state.as_str(), stopped.current_run_number),
        ("CONFIGURED", 0)
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let destroyed = client
        .destroy_environment(destroy(&id))
        .await
        .expect("DestroyEnvironment")
        .into_inner();
    let killed = destroyed
        .cleanup_tasks_reply
        .expect("the tasks cleaned up")
        .killed_tasks;
    assert_eq!(killed.len(), env.tasks.len());
    let gone = client
        .get_environment(pb::GetEnvironmentRequest {
            id: id.clone(),
            show_workflow_tree: false,
        })
        .await
        .expect_err("destroyed");
    assert_eq!(gone.code(), Code::NotFound);

    let broker = server.broker.clone();
    let through_api = tokio::task::spawn_blocking(move || recorded(&broker))
        .await
        .expect("recorded");
    let (status, stderr) = server.stop();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("no environment was alive"), "{stderr}");

    assert_same_messages_as_the_scenario(&through_api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_aliecs_statuses_and_the_server_keeps_serving() {
    let server = Server::start(&[]);
    let mut client = server.client().await;

    // Ids: missing, undecodable, unknown.
    let status = |result: Result<tonic::Response<pb::GetEnvironmentReply>, tonic::Status>| {
        let status = result.expect_err("an error status");
        (status.code(), status.message().to_owned())
    };
    let get = |id: &str| pb::GetEnvironmentRequest {
        id: id.to_owned(),
        show_workflow_tree: false,
    };
    assert_eq!(
        status(client.get_environment(get("")).await),
        (Code::InvalidArgument, "received nil request".to_owned())
    );
    assert_eq!(
        status(client.get_environment(get("not an id!")).await),
        (
            Code::InvalidArgument,
            "received bad environment id".to_owned()
        )
    );
    assert_eq!(
        status(client.get_environment(get("2oDvieFrVTi")).await),
        (
            Code::NotFound,
            "environment not found: no environment with id 2oDvieFrVTi".to_owned()
        )
    );
    let destroyed = client.destroy_environment(destroy("2oDvieFrVTi")).await;
    assert_eq!(destroyed.expect_err("unknown").code(), Code::NotFound);

    // An unknown template, malformed detectors: INTERNAL, "cannot create new environment: …",
    // the environment's info attached as AliECS attaches it.
    let mut request = new_environment(physics_vars());
    request.workflow_template = "no-such-template".to_owned();
    let refused = client.new_environment(request).await.expect_err("refused");
    assert_eq!(refused.code(), Code::Internal);
    assert!(
        refused
            .message()
            .starts_with("cannot create new environment: workflow public info parsing failed"),
        "{}",
        refused.message()
    );
    assert!(!refused.details().is_empty(), "the EnvironmentInfo detail");
    let mut vars = physics_vars();
    vars.insert("detectors".to_owned(), "ITS,TPC".to_owned());
    let refused = client
        .new_environment(new_environment(vars))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::Internal);
    assert!(
        refused
            .message()
            .contains("variable detectors is not a JSON list"),
        "{}",
        refused.message()
    );

    // A transition not allowed in the state: AliECS's reply, no error status, the environment
    // in ERROR (its GO_ERROR went through).
    let id = create_physics(&mut client).await;
    let reply = client
        .control_environment(control(&id, Optype::StopActivity))
        .await
        .expect("AliECS answers with the reply")
        .into_inner();
    assert_eq!(reply.state, "ERROR");
    // In ERROR, a transition fails and so does the GO_ERROR after it: AliECS answers ABORTED
    // with GO_ERROR's error (M1).
    let aborted = client
        .control_environment(control(&id, Optype::StartActivity))
        .await
        .expect_err("aborted");
    assert_eq!(
        (aborted.code(), aborted.message()),
        (
            Code::Aborted,
            "event GO_ERROR inappropriate in current state ERROR"
        )
    );
    // An operation type the API does not know is named by its number, as Go prints it (L5).
    let mut unknown = control(&id, Optype::StartActivity);
    unknown.r#type = 99;
    let unknown = client
        .control_environment(unknown)
        .await
        .expect_err("invalid");
    assert_eq!(
        (unknown.code(), unknown.message()),
        (
            Code::InvalidArgument,
            "cannot prepare invalid transition 99"
        )
    );
    // GO_ERROR and NOOP cannot be requested.
    let invalid = client
        .control_environment(control(&id, Optype::GoError))
        .await
        .expect_err("invalid");
    assert_eq!(
        (invalid.code(), invalid.message()),
        (
            Code::InvalidArgument,
            "cannot prepare invalid transition GO_ERROR"
        )
    );
    // A detector held by another environment.
    let taken = client
        .new_environment(new_environment(physics_vars()))
        .await
        .expect_err("ITS and TPC are taken");
    assert_eq!(taken.code(), Code::Internal);
    assert!(
        taken.message().ends_with("detector ITS is already in use"),
        "{}",
        taken.message()
    );
    // What ecsim does not implement says so, by name.
    let unimplemented = client
        .add_repo(pb::AddRepoRequest::default())
        .await
        .expect_err("not implemented");
    assert_eq!(unimplemented.code(), Code::Unimplemented);
    assert!(
        unimplemented.message().contains("AddRepo"),
        "{}",
        unimplemented.message()
    );

    // Still serving: the environment in ERROR is destroyed, its detectors free again.
    client
        .destroy_environment(destroy(&id))
        .await
        .expect("destroyed");
    let free = client
        .get_active_detectors(pb::Empty {})
        .await
        .expect("GetActiveDetectors")
        .into_inner();
    assert!(free.detectors.is_empty(), "{:?}", free.detectors);
    let (status, stderr) = server.stop();
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_during_a_transition_waits_for_it_as_in_aliecs() {
    let server = Server::start_timed("deploy=100ms,configure=100ms,start=1s,stop=100ms", &[]);
    let mut client = server.client().await;
    let id = create_physics(&mut client).await;
    let mut second = client.clone();
    let start = tokio::spawn({
        let id = id.clone();
        async move {
            client
                .control_environment(control(&id, Optype::StartActivity))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stop = second
        .control_environment(control(&id, Optype::StopActivity))
        .await
        .expect("STOP, once START is over")
        .into_inner();
    let start = start.await.expect("joined").expect("START").into_inner();
    assert_eq!(start.state, "RUNNING");
    assert_eq!(stop.state, "CONFIGURED");
    assert!(stop.end_of_transition >= start.end_of_transition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_environments_cycled_by_parallel_clients_lose_no_request() {
    const DETECTORS: [&str; 16] = [
        "CPV", "EMC", "FDD", "FT0", "FV0", "HMP", "ITS", "MCH", "MFT", "MID", "PHS", "TOF", "TPC",
        "TRD", "TST", "ZDC",
    ];
    let server = Server::start_timed(
        "deploy=50ms,configure=50ms,start=20ms,stop=20ms,reset=20ms,release=20ms",
        &["--tasks-per-host", "1"],
    );
    let client = server.client().await;
    let mut workers = Vec::new();
    for n in 0..50 {
        let mut client = client.clone();
        workers.push(tokio::spawn(async move {
            // Three environments want each detector: the first to claim it wins; the others
            // are refused as AliECS refuses them, and retry until it is free.
            let detector = DETECTORS[n % DETECTORS.len()];
            let mut vars = BTreeMap::new();
            vars.insert("detectors".to_owned(), format!(r#"["{detector}"]"#));
            let mut refusals = 0;
            let id = loop {
                match client.new_environment(new_environment(vars.clone())).await {
                    Ok(reply) => break reply.into_inner().environment.expect("info").id,
                    Err(status) => {
                        assert_eq!(status.code(), Code::Internal);
                        assert!(
                            status
                                .message()
                                .ends_with(&format!("detector {detector} is already in use")),
                            "{}",
                            status.message()
                        );
                        refusals += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            };
            let started = client
                .control_environment(control(&id, Optype::StartActivity))
                .await
                .expect("START")
                .into_inner();
            assert_eq!(started.state, "RUNNING");
            let run = started.current_run_number;
            let stopped = client
                .control_environment(control(&id, Optype::StopActivity))
                .await
                .expect("STOP")
                .into_inner();
            assert_eq!(stopped.state, "CONFIGURED");
            client
                .destroy_environment(destroy(&id))
                .await
                .expect("destroyed");
            (id, run, refusals)
        }));
    }
    let mut ids = Vec::new();
    let mut runs = Vec::new();
    let mut refusals = 0;
    for worker in workers {
        let (id, run, refused) = worker.await.expect("a client finished");
        ids.push(id);
        runs.push(run);
        refusals += refused;
    }
    ids.sort();
    ids.dedup();
    runs.sort_unstable();
    assert_eq!(ids.len(), 50, "fifty environments, each its own id");
    assert_eq!(runs, (1..=50).collect::<Vec<u32>>(), "each run number once");
    assert!(refusals > 0, "detectors were contended");
    let mut client = client;
    let left = client
        .get_environments(pb::GetEnvironmentsRequest {
            show_all: true,
            ..Default::default()
        })
        .await
        .expect("GetEnvironments")
        .into_inner();
    assert!(left.environments.is_empty());
    let (status, stderr) = server.stop();
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_streams_the_environments_events_in_order_until_its_teardown() {
    let server = Server::start(&[]);
    let mut client = server.client().await;
    let id = create_physics(&mut client).await;
    let mut stream = client
        .subscribe(pb::SubscribeRequest { id: id.clone() })
        .await
        .expect("Subscribe")
        .into_inner();
    let mut driver = client.clone();
    let id2 = id.clone();
    let steps = tokio::spawn(async move {
        driver
            .control_environment(control(&id2, Optype::StartActivity))
            .await
            .expect("START");
        driver
            .control_environment(control(&id2, Optype::StopActivity))
            .await
            .expect("STOP");
        driver
            .destroy_environment(destroy(&id2))
            .await
            .expect("destroyed");
    });
    let mut environment_events = Vec::new();
    let mut last_time = 0;
    let mut count = 0;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("events keep coming")
        .expect("no error")
    {
        count += 1;
        assert!(event.timestamp_nano >= last_time, "in order");
        last_time = event.timestamp_nano;
        if let Some(ecsim_proto::events::event::Payload::EnvironmentEvent(e)) = event.payload {
            assert_eq!(e.environment_id, id);
            if e.transition_status == ecsim_proto::events::OpStatus::DoneOk as i32
                && e.transition_step.is_empty()
            {
                environment_events.push(format!("{} {}", e.transition, e.state));
            }
        }
    }
    steps.await.expect("the steps");
    assert!(count > 50, "tasks, roles and calls too: {count}");
    assert_eq!(
        environment_events,
        [
            "START_ACTIVITY RUNNING",
            "STOP_ACTIVITY CONFIGURED",
            "RESET DEPLOYED",
        ],
        "the transitions, in order; the stream ends with the teardown"
    );
}

#[test]
fn ctrl_c_lists_the_environments_alive_and_flushes_every_message() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let server = Server::start(&[]);
    let broker_before = server.broker.clone();
    let id = runtime.block_on(async {
        let mut client = server.client().await;
        let id = client
            .new_environment(new_environment(physics_vars()))
            .await
            .expect("created")
            .into_inner()
            .environment
            .expect("info")
            .id;
        client
            .control_environment(control(&id, Optype::StartActivity))
            .await
            .expect("START");
        id
    });
    let (status, stderr) = server.stop();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("stopped with 1 environment(s) alive, left as they were (not destroyed)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{id} RUNNING run 1 [ITS,TPC]")),
        "{stderr}"
    );
    assert!(
        stderr.contains(" 0 failed, 0 pending"),
        "every message delivered: {stderr}"
    );
    drop(broker_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenarios_timeline_plays_in_the_background_on_the_served_core() {
    let server = Server::start(&["--scenario", "../../scenarios/consumer-test.toml"]);
    let mut client = server.client().await;
    let mut seen = None;
    for _ in 0..100 {
        let listed = client
            .get_environments(pb::GetEnvironmentsRequest::default())
            .await
            .expect("GetEnvironments")
            .into_inner();
        if let Some(env) = listed.environments.iter().find(|e| e.state == "RUNNING") {
            seen = Some(env.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let env = seen.expect("the scenario's environment reaches RUNNING within 10 s");
    assert_eq!(env.included_detectors, ["ITS", "TPC"]);
    assert_eq!(env.number_of_flps, 2, "its hosts, from the scenario");
    // The API's clients see its detectors as taken.
    let taken = client
        .new_environment(new_environment(physics_vars()))
        .await
        .expect_err("the scenario's environment holds ITS and TPC");
    assert!(
        taken.message().ends_with("detector ITS is already in use"),
        "{}",
        taken.message()
    );
}

#[test]
#[allow(clippy::print_stdout)] // a skipped test says why
fn grpcio_drives_the_server_as_a_python_harness_would() {
    let (Some(python), Some(clients)) = (
        std::env::var_os("ECSIM_PYTHON"),
        std::env::var_os("ECSIM_CLIENTS"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "grpcio is not installed and CI must run this test: run `cargo xtask test`"
        );
        println!("skipped: grpcio is not installed (run `cargo xtask test`)");
        return;
    };
    let server = Server::start(&[]);
    let proto = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let output = Command::new(python)
        .arg(std::path::Path::new(&clients).join("grpc_control.py"))
        .arg(server.grpc.trim_start_matches("http://"))
        .arg(&proto)
        .output()
        .expect("the Python client runs");
    assert!(
        output.status.success(),
        "the grpcio client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("its JSON line");
    assert_eq!(seen["run"], 1);
    assert_eq!(
        seen["transitions"],
        serde_json::json!([
            "START_ACTIVITY RUNNING",
            "STOP_ACTIVITY CONFIGURED",
            "RESET DEPLOYED"
        ])
    );
    assert!(seen["events"].as_u64().is_some_and(|n| n > 50), "{seen}");
    assert_eq!(
        seen["statuses"]["missing"],
        serde_json::json!(["INVALID_ARGUMENT", "received nil request"])
    );
    assert_eq!(
        seen["statuses"]["bad"],
        serde_json::json!(["INVALID_ARGUMENT", "received bad environment id"])
    );
    assert_eq!(seen["statuses"]["unknown"][0], "NOT_FOUND");
    let through_api = recorded(&server.broker);
    let (status, stderr) = server.stop();
    assert!(status.success(), "{stderr}");
    assert_same_messages_as_the_scenario(&through_api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_environment_runs_until_its_run_ends_then_tears_itself_down() {
    let server = Server::start(&[]);
    let mut client = server.client().await;
    let mut vars = physics_vars();
    // AliECS's own timer ends the run: ecsim's tasks never end by themselves.
    vars.insert("auto_stop_enabled".to_owned(), "true".to_owned());
    vars.insert("auto_stop_timeout".to_owned(), "1s".to_owned());
    client
        .new_auto_environment(pb::NewAutoEnvironmentRequest {
            workflow_template: "readout-dataflow".to_owned(),
            vars,
            id: "calibration-1".to_owned(),
            request_user: jane(),
        })
        .await
        .expect("NewAutoEnvironment");
    let mut stream = client
        .subscribe(pb::SubscribeRequest {
            id: "calibration-1".to_owned(),
        })
        .await
        .expect("Subscribe with the request's id")
        .into_inner();
    let mut transitions = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("events keep coming")
        .expect("no error")
    {
        if let Some(ecsim_proto::events::event::Payload::EnvironmentEvent(e)) = event.payload
            && e.transition_status == ecsim_proto::events::OpStatus::DoneOk as i32
            && e.transition_step.is_empty()
        {
            transitions.push(format!("{} {}", e.transition, e.state));
        }
    }
    assert_eq!(
        transitions,
        [
            "CREATE STANDBY",
            "DEPLOY DEPLOYED",
            "CONFIGURE CONFIGURED",
            "START_ACTIVITY RUNNING",
            "STOP_ACTIVITY CONFIGURED",
            "RESET DEPLOYED",
        ],
        "created, started, stopped by its timer, reset and torn down; then the stream ends"
    );
    let left = client
        .get_environments(pb::GetEnvironmentsRequest::default())
        .await
        .expect("GetEnvironments")
        .into_inner();
    assert!(left.environments.is_empty(), "it tore itself down");
    // The stream was its one subscriber's: a second subscription to the id waits, as AliECS's
    // does, for an environment to register it again — here, until the client gives up.
    let again = tokio::time::timeout(Duration::from_millis(500), async {
        let mut stream = client
            .subscribe(pb::SubscribeRequest {
                id: "calibration-1".to_owned(),
            })
            .await
            .expect("Subscribe answers")
            .into_inner();
        stream.message().await
    })
    .await;
    assert!(again.is_err(), "nothing comes: {again:?}");
}

/// What AliECS's Control GUI asks, in its order: the repositories, the templates with their
/// creation form, the detectors, then the environments and each one's details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gui_finds_the_template_its_form_and_each_environments_details() {
    let server = Server::start(&[]);
    let mut client = server.client().await;
    let repos = client
        .list_repos(pb::ListReposRequest {
            get_revisions: true,
        })
        .await
        .expect("ListRepos")
        .into_inner();
    assert_eq!(repos.repos.len(), 1);
    let repo = &repos.repos[0];
    assert_eq!(
        (
            repo.name.as_str(),
            repo.default,
            repo.default_revision.as_str()
        ),
        ("github.com/AliceO2Group/ControlWorkflows/", true, "master")
    );
    let templates = client
        .get_workflow_templates(pb::GetWorkflowTemplatesRequest {
            repo_pattern: repo.name.clone(),
            revision_pattern: "master".to_owned(),
            ..Default::default()
        })
        .await
        .expect("GetWorkflowTemplates")
        .into_inner();
    let template = &templates.workflow_templates[0];
    assert_eq!(template.template, "readout-dataflow");
    let form = &template.var_spec_map;
    assert!(
        form.len() > 100,
        "the template's public variables: {}",
        form.len()
    );
    assert_eq!(form["dcs_enabled"].panel, "General_Configuration");
    assert_eq!(
        form["dcs_enabled"].widget,
        pb::var_spec_message::UiWidget::CheckBox as i32
    );

    let id = create_physics(&mut client).await;
    let listed = client
        .get_environments(pb::GetEnvironmentsRequest::default())
        .await
        .expect("GetEnvironments")
        .into_inner();
    assert_eq!(listed.environments[0].id, id);
    let detail = client
        .get_environment(pb::GetEnvironmentRequest {
            id: id.clone(),
            show_workflow_tree: true,
        })
        .await
        .expect("GetEnvironment")
        .into_inner();
    let tree = detail.workflow.expect("the workflow tree");
    assert_eq!(tree.full_path, "readout-dataflow");
    let env = detail.environment.expect("info");
    assert_eq!(
        tree.task_ids.len(),
        env.tasks.len(),
        "the root holds every task"
    );
    let hosts: Vec<&str> = tree
        .roles
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| n.starts_with("host-"))
        .collect();
    assert_eq!(hosts, ["host-alio2-cr1-flp001", "host-alio2-cr1-flp145"]);
    let roles = client
        .get_roles(pb::GetRolesRequest {
            env_id: id.clone(),
            path_spec: "readout-dataflow.*".to_owned(),
        })
        .await
        .expect("GetRoles")
        .into_inner();
    assert_eq!(roles.roles.len(), tree.roles.len(), "the root's children");
    let task = &env.tasks[0];
    let one = client
        .get_task(pb::GetTaskRequest {
            task_id: task.task_id.clone(),
        })
        .await
        .expect("GetTask")
        .into_inner()
        .task
        .expect("the task");
    assert_eq!(one.env_id, id);
    assert_eq!(
        one.short_info.expect("its short info").class_name,
        task.class_name
    );
    let services = client
        .get_integrated_services(pb::Empty {})
        .await
        .expect("GetIntegratedServices")
        .into_inner();
    assert!(
        services.services.contains_key("kafka"),
        "{:?}",
        services.services.keys()
    );
    let info = client
        .get_framework_info(pb::GetFrameworkInfoRequest {})
        .await
        .expect("GetFrameworkInfo")
        .into_inner();
    assert_eq!(info.environments_count, 1);
    assert_eq!(info.active_detectors, ["ITS", "TPC"]);
    assert!(!info.available_detectors.contains(&"TPC".to_owned()));
}

/// `ecsim env` and `ecsim info` as a shell test uses them: their output, and their exit codes
/// (7 for an error status, 1 for no server).
#[test]
fn the_coconut_shaped_client_drives_the_server_from_a_shell() {
    let server = Server::start(&[]);
    let endpoint = server.grpc.trim_start_matches("http://").to_owned();
    let ecsim = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
            .args(args)
            .args(["--endpoint", &endpoint])
            .env_remove("RUST_LOG")
            .output()
            .expect("ecsim runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, out, _) = ecsim(&[
        "env",
        "create",
        "-d",
        "TPC,ITS",
        "-e",
        "run_type=TECHNICAL",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    let created: Value = serde_json::from_str(&out).expect("the reply as JSON");
    let id = created["environment"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(created["environment"]["state"], "CONFIGURED");
    assert_eq!(created["environment"]["userVars"]["run_type"], "TECHNICAL");

    let (code, out, _) = ecsim(&["env", "control", &id, "-e", "start"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("state:              RUNNING") && out.contains("run number:         1"),
        "{out}"
    );
    let (code, out, _) = ecsim(&["env", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&id) && l.contains("RUNNING")),
        "{out}"
    );
    let (_, out, _) = ecsim(&["info"]);
    assert!(
        out.contains("environments:       1") && out.contains("active detectors:   ITS TPC"),
        "{out}"
    );

    // An error status: exit 7 with the code and message.
    let (code, _, err) = ecsim(&["env", "create", "-d", "TPC"]);
    assert_eq!(code, Some(7));
    assert!(err.contains("NewEnvironment: Internal: cannot create new environment: detector TPC is already in use"), "{err}");
    // A transition that fails: AliECS answers with the reply; the client exits 7 all the same.
    let (code, out, err) = ecsim(&["env", "control", &id, "-e", "configure"]);
    assert_eq!(code, Some(7), "{out}{err}");
    assert!(
        out.contains("transition failed") && err.contains("is in ERROR"),
        "{out}{err}"
    );
    let (code, out, _) = ecsim(&["env", "destroy", &id]);
    assert_eq!(code, Some(0));
    assert!(out.contains("task(s) killed"), "{out}");
    let (code, _, err) = ecsim(&["env", "show", &id]);
    assert_eq!(code, Some(7));
    assert!(err.contains("NotFound"), "{err}");
    drop(server);

    // Nobody there: exit 1, and what to do.
    let (code, _, err) = ecsim(&["env", "list"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cannot reach a control server at") && err.contains("--endpoint"),
        "{err}"
    );
}

/// GET `path` from `base` (http://host:port/), plain HTTP/1.1: the status line and the body.
fn http_get(base: &str, path: &str) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let host = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&host).expect("the live page listens");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("a request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_of_a_server_links_each_environment_to_its_get_environment() {
    let server = Server::start(&["--http-port", "0"]);
    let base = server
        .http
        .clone()
        .expect("the announcement names the live page");
    let mut client = server.client().await;
    let id = create_physics(&mut client).await;
    let (status, page) = tokio::task::spawn_blocking({
        let base = base.clone();
        move || http_get(&base, "/")
    })
    .await
    .expect("joined");
    assert!(status.ends_with("200 OK"), "{status}");
    assert!(
        page.contains("const details = true;"),
        "rows link to the API's data"
    );
    let (_, snapshot) = tokio::task::spawn_blocking({
        let base = base.clone();
        move || http_get(&base, "/snapshot")
    })
    .await
    .expect("joined");
    let snapshot: Value = serde_json::from_str(&snapshot).expect("JSON");
    assert_eq!(snapshot["environments"][0]["id"], id.as_str());
    assert_eq!(snapshot["environments"][0]["state"], "CONFIGURED");
    assert_eq!(
        snapshot["environments"][0]["detectors"],
        serde_json::json!(["ITS", "TPC"])
    );
    let (status, details) = tokio::task::spawn_blocking({
        let (base, id) = (base.clone(), id.clone());
        move || http_get(&base, &format!("/api/environments/{id}"))
    })
    .await
    .expect("joined");
    assert!(status.ends_with("200 OK"), "{status}");
    let details: Value = serde_json::from_str(&details).expect("JSON");
    assert_eq!(
        details["environment"]["id"],
        id.as_str(),
        "GetEnvironment's reply"
    );
    assert_eq!(details["environment"]["state"], "CONFIGURED");
    let (status, _) =
        tokio::task::spawn_blocking(move || http_get(&base, "/api/environments/2oDvieFrVTi"))
            .await
            .expect("joined");
    assert!(status.contains("404"), "{status}");
    let (status, stderr) = server.stop();
    assert!(
        status.success(),
        "stops although the page's streams were open: {stderr}"
    );
}

/// The asynchronous RPC tells the outcome as an event, as AliECS's GUI expects; the synchronous
/// one only in its reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_asynchronous_creation_announces_its_outcome_as_an_event() {
    let server = Server::start(&[]);
    let mut client = server.client().await;
    let mut request = new_environment(physics_vars());
    request.workflow_template = "no-such-template".to_owned();
    client
        .new_environment(request.clone())
        .await
        .expect_err("refused");
    let reply = client
        .new_environment_async(request)
        .await
        .expect("the asynchronous RPC answers at once")
        .into_inner();
    let pending = reply.environment.expect("its info");
    assert_eq!(pending.state, "PENDING");
    let async_id = create_physics_async(&mut client).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let broker = server.broker.clone();
    let records = tokio::task::spawn_blocking(move || recorded(&broker))
        .await
        .expect("recorded");
    let words: Vec<(String, String, String)> = records
        .iter()
        .filter(|(topic, _)| topic == "aliecs.environment")
        .map(|(_, v)| &v["environmentEvent"])
        .filter(|e| {
            e["message"] == "cannot create new environment"
                || e["message"] == "created new environment"
        })
        .map(|e| {
            (
                e["environmentId"].as_str().unwrap_or_default().to_owned(),
                e["message"].as_str().unwrap_or_default().to_owned(),
                e["workflowTemplateInfo"]["path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        words,
        [
            (
                pending.id.clone(),
                "cannot create new environment".to_owned(),
                "no-such-template".to_owned()
            ),
            (
                async_id,
                "created new environment".to_owned(),
                "github.com/AliceO2Group/ControlWorkflows/workflows/readout-dataflow@master"
                    .to_owned()
            ),
        ],
        "the asynchronous creations' words, and none for the synchronous refusal"
    );
}

/// Creates the physics environment with NewEnvironmentAsync; its id, once it is CONFIGURED.
async fn create_physics_async(client: &mut ControlClient<Channel>) -> String {
    let id = client
        .new_environment_async(new_environment(physics_vars()))
        .await
        .expect("NewEnvironmentAsync")
        .into_inner()
        .environment
        .expect("info")
        .id;
    for _ in 0..100 {
        let state = client
            .get_environment(pb::GetEnvironmentRequest {
                id: id.clone(),
                show_workflow_tree: false,
            })
            .await
            .ok()
            .and_then(|r| r.into_inner().environment)
            .map(|e| e.state);
        if state.as_deref() == Some("CONFIGURED") {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} never reached CONFIGURED");
}
