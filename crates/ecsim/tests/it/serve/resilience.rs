//! What clients do that a server must survive: giving up mid-call, holding streams open while it
//! stops, sending too much; and what reaches a consumer whoever drives: the user of `ecsim env`,
//! a beam dump published on the broker by someone else.

use std::{
    io::{Read as _, Write as _},
    time::Instant,
};

use super::{gui::wait_for, *};

/// Task steps long enough to cancel a call in the middle of one.
const SLOW: &str =
    "deploy=1s,configure=1s,start=1s,stop=200ms,reset=200ms,go_error=100ms,release=100ms";

/// A client that gives up mid-`NewEnvironment` or mid-`START_ACTIVITY` changes nothing: the
/// transition finishes, as AliECS's does, the environment holds its detectors, and its run has
/// both its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_leaves_no_half_transition() {
    let server = Server::start_timed(SLOW, &[]);
    let mut client = server.client().await;
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        client.new_environment(new_environment(physics_vars())),
    )
    .await;
    assert!(gave_up.is_err(), "the creation takes 2 s");
    // The environment goes on to CONFIGURED all the same.
    let mut environments = Vec::new();
    for _ in 0..100 {
        environments = client
            .get_environments(pb::GetEnvironmentsRequest::default())
            .await
            .expect("GetEnvironments")
            .into_inner()
            .environments;
        if environments
            .first()
            .is_some_and(|e| e.state == "CONFIGURED")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let env = environments.first().expect("the environment exists");
    assert_eq!(env.state, "CONFIGURED");
    assert_eq!(env.current_transition, "");
    assert_eq!(env.included_detectors, ["ITS", "TPC"]);
    let active = client
        .get_active_detectors(pb::Empty {})
        .await
        .expect("GetActiveDetectors")
        .into_inner()
        .detectors;
    assert_eq!(active, ["ITS", "TPC"]);

    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        client.control_environment(control(&env.id, Optype::StartActivity)),
    )
    .await;
    assert!(gave_up.is_err(), "the start takes 1 s");
    let running = wait_for(&mut client, &env.id, |e| {
        e.is_some_and(|e| e.state == "RUNNING" && e.current_transition.is_empty())
    })
    .await;
    assert_eq!(running.current_run_number, 1);
    let records = recorded(&server.broker);
    let run_events: Vec<(String, String)> = records
        .iter()
        .filter(|(topic, _)| topic == "aliecs.run")
        .map(|(_, value)| {
            let event = &value["runEvent"];
            let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
            (text("transitionStatus"), text("state"))
        })
        .collect();
    let expected = [
        ("STARTED".to_owned(), "CONFIGURED".to_owned()),
        ("DONE_OK".to_owned(), "RUNNING".to_owned()),
    ];
    assert_eq!(run_events, expected, "the run's start, whole");
}

/// SIGTERM with ten `Subscribe` streams open (live environments' and waiting ones) and a
/// half-sent HTTP request on the live page: the server ends within seconds, each stream with
/// `UNAVAILABLE`, and still lists the environments, flushes and reports delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_server_with_streams_and_a_half_sent_request_open() {
    let server = Server::start(&["--http-port", "0"]);
    let mut client = server.client().await;
    let id = create_physics(&mut client).await;
    let mut streams = Vec::new();
    for n in 0..10 {
        let subscription = if n % 2 == 0 {
            id.clone()
        } else {
            format!("waiting-{n}")
        };
        let stream = client
            .subscribe(pb::SubscribeRequest { id: subscription })
            .await
            .expect("Subscribe")
            .into_inner();
        streams.push(stream);
    }
    let http = server.http.clone().expect("the live page");
    let address = http
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut half_sent = std::net::TcpStream::connect(&address).expect("the live page accepts");
    half_sent
        .write_all(b"GET /snapshot HTTP/1.1\r\nHost: x\r\n")
        .expect("half a request");

    let pid = server.child.as_ref().expect("running").id();
    let asked = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid")),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let mut ended = 0;
    for mut stream in streams {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.message()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(Err(status)) => {
                    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                    ended += 1;
                    break;
                }
                Ok(Ok(None)) => break,
                Err(_) => panic!("a stream stayed open after SIGTERM"),
            }
        }
    }
    assert_eq!(ended, 10, "every stream ended with UNAVAILABLE");
    let mut server = server;
    let child = server.child.take().expect("running");
    let output = child.wait_with_output().expect("the server ends");
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stopped with 1 environment(s) alive") && stderr.contains(&id),
        "{stderr}"
    );
    assert!(stderr.contains("delivery: "), "{stderr}");
    let mut rest = Vec::new();
    let _ = half_sent.read_to_end(&mut rest);
}

/// What one request may carry is bounded: a hundred thousand hosts are refused at once with
/// AliECS's creation error, and a large creation does not keep other clients waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_requests_are_refused_at_once_and_a_large_creation_starves_nobody() {
    let inventory = tempfile::NamedTempFile::new().expect("a file");
    let hosts: Vec<String> = (0..10_000).map(|n| format!("flp{n:05}")).collect();
    std::fs::write(
        inventory.path(),
        format!(
            "[detectors]\nTST = {}\n",
            serde_json::to_string(&hosts).expect("JSON")
        ),
    )
    .expect("the inventory");
    let path = inventory.path().to_str().expect("UTF-8").to_owned();
    let server = Server::start_timed(
        "deploy=0s,configure=0s",
        &["--inventory", &path, "--tasks-per-host", "1"],
    );
    let mut client = server.client().await;

    // A hundred thousand hosts are more bytes of variables than a request may carry.
    let many: Vec<String> = (0..100_000)
        .map(|n| format!("flp{:05}", n % 10_000))
        .collect();
    let mut vars = BTreeMap::new();
    vars.insert(
        "hosts".to_owned(),
        serde_json::to_string(&many).expect("JSON"),
    );
    let asked = Instant::now();
    let refused = client
        .new_environment(new_environment(vars))
        .await
        .expect_err("too large");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("received bad request: ")
            && refused
                .message()
                .ends_with("bytes of variables; ecsim takes at most 524288"),
        "{}",
        refused.message()
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    // Short names fit: past 10,000 entries the list itself is refused, as AliECS fails a
    // creation, before anything is deployed.
    let many: Vec<String> = (0..10_001).map(|n| format!("h{n}")).collect();
    let mut vars = BTreeMap::new();
    vars.insert(
        "hosts".to_owned(),
        serde_json::to_string(&many).expect("JSON"),
    );
    let refused = client
        .new_environment(new_environment(vars))
        .await
        .expect_err("too many");
    assert_eq!(refused.code(), Code::Internal);
    assert_eq!(
        refused.message(),
        "cannot create new environment: cannot load workflow template: variable hosts lists 10001 entries; ecsim takes at most 10000"
    );
    let huge_id = "2".repeat(1 << 20);
    let bad = client
        .get_environment(pb::GetEnvironmentRequest {
            id: huge_id,
            show_workflow_tree: false,
        })
        .await
        .expect_err("a megabyte id");
    assert_eq!(
        (bad.code(), bad.message()),
        (Code::InvalidArgument, "received bad environment id")
    );

    // Every FLP of the inventory, while another client reads.
    let mut vars = BTreeMap::new();
    vars.insert(
        "hosts".to_owned(),
        serde_json::to_string(&hosts).expect("JSON"),
    );
    // An environment of ten thousand FLPs is a large reply: the GUI takes up to 50 MiB.
    let mut creator = server.client().await.max_decoding_message_size(64 << 20);
    let started = Instant::now();
    let creation =
        tokio::spawn(async move { creator.new_environment(new_environment(vars)).await });
    let (mut slowest, mut answers) = (Duration::ZERO, 0);
    while !creation.is_finished() {
        let asked = Instant::now();
        client
            .get_framework_info(pb::GetFrameworkInfoRequest {})
            .await
            .expect("GetFrameworkInfo");
        slowest = slowest.max(asked.elapsed());
        answers += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let created = creation
        .await
        .expect("the creation's task")
        .expect("created")
        .into_inner()
        .environment
        .expect("info");
    assert_eq!(created.number_of_flps, 10_000);
    // Starved, the server would answer once the creation is over: its slowest answer would
    // take about as long as the creation. Relative, so that a loaded machine does not fail it
    // (speed is measured, never asserted).
    assert!(
        answers >= 1 && slowest * 2 < took,
        "{answers} answers during a creation of {took:?}, the slowest in {slowest:?}"
    );
}

/// `ecsim env … --external-id 812`: every run event carries the person, as Bookkeeping needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_driven_by_ecsim_env_carries_its_user_s_external_id() {
    let server = Server::start(&[]);
    let env = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
            .arg("env")
            .args(args)
            .args(["--endpoint", &server.grpc, "--json"])
            .env("ECSIM_USER", "jshifter")
            .env("ECSIM_EXTERNAL_ID", "812")
            .output()
            .expect("ecsim env runs");
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice::<Value>(&output.stdout).expect("JSON")
    };
    let created = env(&["create", "-d", "ZDC", "-e", "kafka_enabled=true"]);
    let id = created["environment"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    env(&["control", &id, "-e", "start"]);
    env(&["control", &id, "-e", "stop"]);
    let records = recorded(&server.broker);
    let users: Vec<&Value> = records
        .iter()
        .filter(|(topic, _)| topic == "aliecs.run")
        .map(|(_, value)| &value["runEvent"]["lastRequestUser"])
        .collect();
    assert!(!users.is_empty());
    for user in users {
        assert_eq!(user["externalId"], 812, "{user}");
        assert_eq!(user["name"], "jshifter", "{user}");
    }
}

/// AliECS's lhc plugin reads `dip.lhc.beam_mode` from the broker: a beam dump that another
/// publisher writes there (here, another ecsim replaying a fill) stops the runs that asked for
/// it (M3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beam_dump_published_on_the_broker_stops_the_runs_that_asked() {
    let server = Server::start(&[]);
    let mut client = server.client().await;
    let mut vars = physics_vars();
    vars.insert("stop_at_beam_dump".to_owned(), "true".to_owned());
    let id = create(&mut client, vars).await;
    client
        .control_environment(control(&id, Optype::StartActivity))
        .await
        .expect("started");
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/beam-dump.toml");
    let dip = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .arg("run")
        .arg(&scenario)
        .args(["--brokers", &server.broker, "--epoch", "now"])
        .output()
        .expect("ecsim run");
    assert!(dip.status.success(), "{dip:?}");
    let stopped = wait_for(&mut client, &id, |e| {
        e.is_some_and(|e| e.state == "CONFIGURED")
    })
    .await;
    assert_eq!(stopped.current_run_number, 0);
    let records = recorded(&server.broker);
    let stop_user = records
        .iter()
        .filter(|(topic, value)| {
            topic == "aliecs.run" && value["runEvent"]["environmentId"] == id.as_str()
        })
        .filter_map(|(_, value)| value["runEvent"]["lastRequestUser"]["name"].as_str())
        .next_back();
    assert_eq!(stop_user, Some("LHC"), "the LHC special user stopped it");
}

/// With `--print`, the announcement is still stdout's first line: the core's start (its
/// `aliecs.core` message, printed) comes after it (the harness parses the first line as the
/// announcement, and fails otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_announcement_comes_first_on_stdout_even_with_print() {
    let server = Server::start(&["--print"]);
    let mut client = server.client().await;
    let info = client
        .get_framework_info(pb::GetFrameworkInfoRequest {})
        .await
        .expect("serving")
        .into_inner();
    assert_eq!(
        info.configuration_endpoint,
        format!("apricot://{}", server.grpc.trim_start_matches("http://"))
    );
}

/// A bad inventory file is invalid input (exit 3), named with what is wrong, before anything is
/// served.
#[test]
fn a_bad_inventory_is_refused_before_serving() {
    let inventory = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(
        inventory.path(),
        "[detectors]\nTPC = [\"flp-a\"]\nITS = [\"flp-a\"]\n",
    )
    .expect("the inventory");
    let output = Command::new(env!("CARGO_BIN_EXE_ecsim"))
        .args(["serve", "--grpc-port", "0", "--inventory"])
        .arg(inventory.path())
        .output()
        .expect("ecsim serve runs");
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(output.stdout.is_empty(), "nothing announced");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("gives host flp-a to both ITS and TPC"),
        "{stderr}"
    );
}
