//! Same scenario, same seed, virtual time: the same records, byte for byte — topics, keys,
//! values, timestamps, order. A different seed gives different ids.

use ecsim_e2e::{Simulator, two_environments};

async fn run(
    seed: u64,
) -> (
    Vec<ecsim_core::publish::Record>,
    (ecsim_core::EnvironmentId, ecsim_core::EnvironmentId),
) {
    let sim = Simulator::start(seed, Vec::new()).await;
    let ids = two_environments(&sim).await;
    (sim.records(), ids)
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_other_ids() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    };
    let (first, first_ids) = runtime().block_on(run(7));
    let (second, second_ids) = runtime().block_on(run(7));
    assert!(first.len() > 300, "a real stream: {} records", first.len());
    assert_eq!(first_ids, second_ids);
    assert_eq!(first, second);

    let (_, other_ids) = runtime().block_on(run(8));
    assert_ne!(other_ids.0, first_ids.0);
    assert_ne!(other_ids.1, first_ids.1);
}

/// The scenarios with dynamically loaded plugins: the plugins compute on threads of their own,
/// and still the bytes do not change from one replay to the next.
#[test]
fn replays_with_the_mock_services_are_byte_for_byte_the_same() {
    use std::sync::Arc;

    use ecsim_core::{plugin::IntegrationPlugin, publish::MemoryPublisher};
    use ecsim_replay::driver;

    for name in [
        "integrated-services",
        "dcs-sor-failure",
        "odc-partition-error",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(format!("{name}.toml"));
        let scenario = ecsim_scenario::load(&path).unwrap();
        let replay = || {
            let plugins: Vec<Arc<dyn IntegrationPlugin>> = ecsim_e2e::load_plugins(&scenario)
                .unwrap()
                .into_iter()
                .map(|p| p as Arc<dyn IntegrationPlugin>)
                .collect();
            let memory = Arc::new(MemoryPublisher::new());
            driver::run_blocking(&scenario, memory.clone(), plugins, Arc::new(driver::Silent))
                .unwrap();
            memory.records()
        };
        let first = replay();
        assert!(
            first
                .iter()
                .any(|r| r.topic.starts_with("aliecs.integrated_service.")),
            "{name}: the services published"
        );
        assert_eq!(first, replay(), "{name}");
    }
}
