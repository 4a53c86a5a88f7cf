//! Micro benchmarks (criterion), each paired with the baseline its figure is a ratio against:
//!
//! - `core`: full environment lifecycles replayed with a publisher that keeps nothing, against
//!   encoding the very messages they publish (the least any simulator must do);
//! - `plugin-call`: one workflow call to the example plugin loaded from its library (C ABI,
//!   protobuf, a thread of its own), against the same plugin linked into the program; and the
//!   protobuf encoding and decoding the boundary adds, alone; and the same library isolated in
//!   a host process of its own (`plugin-call/isolated`: the request and reply through a pipe;
//!   the host is `ECSIM_HOST_BIN`, else the release `ecsim`); and the crossing alone
//!   (`plugin-call/crossing-only`: the request's bytes to an instance's thread that answers
//!   with them, through the same channels, no encoding, no work).
//!
//! `cargo xtask bench` runs these and turns criterion's estimates into `BENCHMARKS.md`.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up fails loudly

use std::{
    collections::BTreeMap,
    hint::black_box,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ecsim_core::{
    clock::{Clock, Timestamp},
    plugin::{CallContext, CallOutcome, CallTraits, IntegrationPlugin, PluginContext, async_trait},
};
use ecsim_e2e::bench::{NullPublisher, Typed, lifecycles, records, replay};
use ecsim_plugin_host::{HostCommand, Isolation, Library, call, locate};
use ecsim_plugin_sdk::{
    Call, Plugin, Setup,
    proto::{
        plugin::{CallReply, CallRequest},
        prost::Message as _,
    },
};

// As the `ecsim` binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn core(c: &mut Criterion) {
    // Ten environments, three tasks each, one run each: ten full lifecycles.
    let scenario = lifecycles(10, 3, 1);
    let messages = replay(&scenario, Arc::new(NullPublisher::default()));
    let typed: Vec<Typed> = records(&scenario).iter().map(Typed::of).collect();
    assert_eq!(typed.len() as u64, messages);

    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(messages));
    group.sample_size(30);
    group.bench_function("lifecycles", |b| {
        b.iter(|| replay(&scenario, Arc::new(NullPublisher::default())));
    });
    group.bench_function("encode-only", |b| {
        b.iter(|| {
            for message in &typed {
                black_box(message.encode());
            }
        });
    });
    group.finish();
}

/// An SDK plugin linked into this program, called directly: the same request, the same reply
/// handling as a loaded library, without the boundary (C ABI, encoding, the instance's thread).
struct Linked<P: Plugin> {
    plugin: Mutex<P>,
    context: PluginContext,
}

#[async_trait]
impl<P: Plugin> IntegrationPlugin for Linked<P> {
    fn name(&self) -> &str {
        P::NAME
    }
    fn pretty_name(&self) -> &str {
        P::PRETTY_NAME
    }
    fn functions(&self) -> Vec<String> {
        P::FUNCTIONS.iter().map(|f| (*f).to_owned()).collect()
    }
    async fn call(&self, context: CallContext) -> CallOutcome {
        let timeout = context.timeout_or(call::DEFAULT_CALL_TIMEOUT);
        let start = self.context.clock.now();
        let request = call::request(&context, start, timeout);
        let reply = {
            let mut plugin = self.plugin.lock().unwrap();
            let mut sdk_call = Call::new(request);
            let outcome = plugin.call(&mut sdk_call);
            sdk_call.into_reply(outcome)
        };
        call::complete(&self.context, &context, P::NAME, reply, start, timeout).await
    }
}

fn plugin_call(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let clock = Clock::virtual_time(Timestamp::from_unix_millis(1_750_000_000_000));
    let context = PluginContext::detached(clock.clone());
    let config = r#"{"latency": "0s"}"#;

    let path = locate::resolve("example-plugin", Path::new("."));
    let library = Library::open(&path).unwrap_or_else(|error| {
        panic!("{error}: build it first (cargo build --release -p ecsim-example-plugin)")
    });
    let loaded = library.plugin("example", config).unwrap();
    runtime.block_on(loaded.start(context.clone())).unwrap();
    let setup = Setup {
        plugin: "example".into(),
        instance_id: String::new(),
        config: serde_json::from_str(config).unwrap(),
        seed: 0,
        virtual_time: true,
    };
    let linked = Linked {
        plugin: Mutex::new(ecsim_example_plugin::Example::create(&setup).unwrap()),
        context,
    };

    let vars: BTreeMap<String, String> = [
        ("run_number", "7"),
        ("detectors", r#"["ITS","TPC","TOF"]"#),
        ("run_type", "PHYSICS"),
        ("kafka_enabled", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let call = CallContext {
        environment_id: "2oDvieFrVTi".into(),
        environment_name: "physics".into(),
        plugin: "example".into(),
        function: "StartOfRun".into(),
        func: "example.StartOfRun()".into(),
        role_path: "readout-dataflow.example.sor".into(),
        traits: CallTraits {
            trigger: "before_START_ACTIVITY+150".into(),
            r#await: "before_START_ACTIVITY+150".into(),
            timeout: "10s".into(),
            critical: true,
        },
        vars: vars.into(),
    };
    for plugin in [&loaded as &dyn IntegrationPlugin, &linked] {
        let outcome = runtime.block_on(plugin.call(call.clone()));
        assert!(outcome.error.is_none(), "{outcome:?}");
    }

    let mut group = c.benchmark_group("plugin-call");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("linked", |b| {
        b.iter(|| runtime.block_on(linked.call(call.clone())));
    });
    group.bench_function("loaded", |b| {
        b.iter(|| runtime.block_on(loaded.call(call.clone())));
    });
    // The ecsim that hosts the isolated library: ECSIM_HOST_BIN, else the release build beside
    // this benchmark's.
    let host = std::env::var_os("ECSIM_HOST_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("../target/release/ecsim"));
    assert!(
        host.is_file(),
        "{}: build it first (cargo build --release -p ecsim) or set ECSIM_HOST_BIN",
        host.display()
    );
    HostCommand::set(HostCommand {
        program: host,
        args: vec!["plugin".into(), "host".into()],
    });
    let isolated_library = Library::open_isolated(&path, Isolation::default()).unwrap();
    let isolated = isolated_library.plugin("example", config).unwrap();
    runtime
        .block_on(isolated.start(linked.context.clone()))
        .unwrap();
    let outcome = runtime.block_on(isolated.call(call.clone()));
    assert!(outcome.error.is_none(), "{outcome:?}");
    group.bench_function("isolated", |b| {
        b.iter(|| runtime.block_on(isolated.call(call.clone())));
    });
    // What the boundary costs besides the thread: the request and the reply encoded and
    // decoded once each, as they cross.
    let request = call::request(&call, clock.now(), Duration::from_secs(10));
    let reply = {
        let mut sdk_call = Call::new(request.clone());
        let outcome = linked.plugin.lock().unwrap().call(&mut sdk_call);
        sdk_call.into_reply(outcome)
    };
    group.bench_function("encoding-only", |b| {
        b.iter(|| {
            let bytes = request.encode_to_vec();
            black_box(CallRequest::decode(bytes.as_slice()).unwrap());
            let bytes = reply.encode_to_vec();
            black_box(CallReply::decode(bytes.as_slice()).unwrap());
        });
    });
    // What the boundary costs besides the encoding: the same request's bytes to an instance's
    // thread whose table answers with them, back through the same channels and copies.
    let echo = ecsim_plugin_host::testing::echo_worker().unwrap();
    let bytes = request.encode_to_vec();
    group.bench_function("crossing-only", |b| {
        b.iter(|| {
            let call = echo
                .call(|buffer| buffer.extend_from_slice(&bytes))
                .unwrap();
            black_box(runtime.block_on(echo.answer(call, Duration::from_secs(10), true)))
        });
    });
    group.finish();
}

criterion_group!(benches, core, plugin_call);
criterion_main!(benches);
