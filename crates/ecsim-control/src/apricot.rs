//! `apricot.Apricot`, AliECS's configuration service, as far as its clients can tell without
//! a configuration store: the detector and FLP inventory, the run-number counter, the runtime
//! key-value store, and the component configuration tree, empty.
//!
//! The Control GUI cannot create an environment without it: it takes its detectors, their
//! FLPs and its locks from `ListDetectors` and `GetHostInventory`, its saved creation forms and
//! mappings from the runtime store. Statuses and texts are Apricot's (`apricot/remote/server.go`,
//! `apricot/local/service.go` over Consul): a key that is not there is `UNKNOWN` "nil response
//! for key o2/runtime/…" (the GUI knows this quirk and reads it as not found), a host no
//! detector has "detector not found for host …".

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use ecsim_core::Core;
use ecsim_proto::apricot::{self as pb, apricot_server::Apricot};
use tonic::{Request, Response, Status};

use crate::{inventory::Inventory, status::clip};

/// Where Apricot keeps the runtime store in Consul: keys are named in its errors.
const RUNTIME_PREFIX: &str = "o2/runtime";

/// Bounds of the runtime store: entries, and bytes of keys and values in all.
pub const MAX_RUNTIME_ENTRIES: usize = 10_000;
/// See [`MAX_RUNTIME_ENTRIES`].
pub const MAX_RUNTIME_BYTES: usize = 64 * 1024 * 1024;

/// The runtime key-value store: `o2/runtime/<component>/<key>`, in memory for the server's life.
#[derive(Debug, Default)]
struct RuntimeStore {
    entries: BTreeMap<String, String>,
    bytes: usize,
}

/// A Consul key as Go's `filepath.Join` makes it: the parts joined by `/`, empty parts and
/// doubled or trailing slashes gone.
fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|part| part.split('/'))
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

impl RuntimeStore {
    fn get(&self, component: &str, key: &str) -> Result<String, Status> {
        let path = join(&[RUNTIME_PREFIX, component, key]);
        self.entries
            .get(&path)
            .cloned()
            .ok_or_else(|| Status::unknown(format!("nil response for key {}", clip(&path))))
    }

    fn set(&mut self, component: &str, key: &str, value: String) -> Result<(), Status> {
        let path = join(&[RUNTIME_PREFIX, component, key]);
        let old = self.entries.get(&path).map_or(0, |v| path.len() + v.len());
        let bytes = self.bytes - old + path.len() + value.len();
        if bytes > MAX_RUNTIME_BYTES || (old == 0 && self.entries.len() >= MAX_RUNTIME_ENTRIES) {
            return Err(Status::resource_exhausted(format!(
                "ecsim's runtime store holds at most {MAX_RUNTIME_ENTRIES} entries and {} MiB",
                MAX_RUNTIME_BYTES / (1024 * 1024)
            )));
        }
        self.entries.insert(path, value);
        self.bytes = bytes;
        Ok(())
    }

    /// The keys under a component, as Apricot lists them: the path below the component, leaves
    /// only.
    fn list(&self, component: &str) -> Vec<String> {
        let prefix = format!("{}/", join(&[RUNTIME_PREFIX, component]));
        self.entries
            .range(prefix.clone()..)
            .take_while(|(path, _)| path.starts_with(&prefix))
            .map(|(path, _)| path[prefix.len()..].to_owned())
            .collect()
    }
}

/// The configuration service beside the control API.
#[derive(Debug, Clone)]
pub struct ApricotService {
    core: Core,
    inventory: Arc<Inventory>,
    runtime: Arc<Mutex<RuntimeStore>>,
}

impl ApricotService {
    /// The service over `core`'s run numbers, answering from `inventory`.
    pub fn new(core: Core, inventory: Arc<Inventory>) -> Self {
        Self {
            core,
            inventory,
            runtime: Arc::default(),
        }
    }

    /// The tonic service, to add to a server.
    pub fn into_server(self) -> pb::apricot_server::ApricotServer<Self> {
        pb::apricot_server::ApricotServer::new(self)
    }

    fn runtime(&self) -> std::sync::MutexGuard<'_, RuntimeStore> {
        self.runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What Apricot answers for the readout cards, links and component configurations ecsim's
/// inventory does not have: the configuration store's error for the key it would read.
fn no_key(path: &str) -> Status {
    Status::unknown(format!("nil response for key {}", clip(path)))
}

#[tonic::async_trait]
impl Apricot for ApricotService {
    async fn new_run_number(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::RunNumberResponse>, Status> {
        match self.core.new_run_number() {
            Ok(number) => Ok(Response::new(pb::RunNumberResponse {
                run_number: number.get(),
            })),
            Err(error) => Err(Status::internal(error.to_string())),
        }
    }

    async fn get_defaults(&self, _: Request<pb::Empty>) -> Result<Response<pb::StringMap>, Status> {
        // Apricot's global constants over an empty defaults key: no configuration store, so no
        // Consul endpoint to name.
        let mut string_map = BTreeMap::new();
        string_map.insert("consul_base_uri".to_owned(), String::new());
        string_map.insert(
            "framework_id".to_owned(),
            self.core.framework_id().to_owned(),
        );
        string_map.insert("core_hostname".to_owned(), hostname());
        Ok(Response::new(pb::StringMap { string_map }))
    }

    async fn get_vars(&self, _: Request<pb::Empty>) -> Result<Response<pb::StringMap>, Status> {
        Ok(Response::new(pb::StringMap::default()))
    }

    async fn raw_get_recursive(
        &self,
        _: Request<pb::RawGetRecursiveRequest>,
    ) -> Result<Response<pb::ComponentResponse>, Status> {
        Ok(Response::new(pb::ComponentResponse {
            payload: "{}".to_owned(),
        }))
    }

    async fn list_detectors(
        &self,
        request: Request<pb::DetectorsRequest>,
    ) -> Result<Response<pb::DetectorsResponse>, Status> {
        Ok(Response::new(pb::DetectorsResponse {
            detectors: self.inventory.detectors(request.into_inner().get_all),
        }))
    }

    async fn get_host_inventory(
        &self,
        request: Request<pb::HostGetRequest>,
    ) -> Result<Response<pb::HostEntriesResponse>, Status> {
        Ok(Response::new(pb::HostEntriesResponse {
            hosts: self.inventory.hosts(&request.into_inner().detector),
        }))
    }

    async fn get_detectors_inventory(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::DetectorEntriesResponse>, Status> {
        let detector_entries = self
            .inventory
            .by_detector()
            .iter()
            .map(|(detector, flps)| {
                (
                    detector.clone(),
                    pb::DetectorInventoryResponse { flps: flps.clone() },
                )
            })
            .collect();
        Ok(Response::new(pb::DetectorEntriesResponse {
            detector_entries,
        }))
    }

    async fn get_detector_for_host(
        &self,
        request: Request<pb::HostRequest>,
    ) -> Result<Response<pb::DetectorResponse>, Status> {
        let host = request.into_inner().hostname;
        match self.inventory.detector_of(&host) {
            Ok(detector) => Ok(Response::new(pb::DetectorResponse {
                payload: detector.to_owned(),
            })),
            Err(_) => Err(unknown_host(&host)),
        }
    }

    async fn get_detectors_for_hosts(
        &self,
        request: Request<pb::HostsRequest>,
    ) -> Result<Response<pb::DetectorsResponse>, Status> {
        let hosts = request.into_inner().hosts;
        match self.inventory.detectors_for(&hosts) {
            Ok(detectors) => Ok(Response::new(pb::DetectorsResponse { detectors })),
            Err(crate::inventory::UnknownHost(host)) => Err(unknown_host(&host)),
        }
    }

    async fn get_cru_cards_for_host(
        &self,
        request: Request<pb::HostRequest>,
    ) -> Result<Response<pb::CruCardsResponse>, Status> {
        let host = request.into_inner().hostname;
        Err(no_key(&join(&["o2/hardware/flps", &host, "cards"])))
    }

    async fn get_endpoints_for_cru_card(
        &self,
        request: Request<pb::CardRequest>,
    ) -> Result<Response<pb::CruCardEndpointResponse>, Status> {
        let host = request.into_inner().hostname;
        Err(no_key(&join(&["o2/hardware/flps", &host, "cards"])))
    }

    async fn get_link_i_ds_for_cru_endpoint(
        &self,
        request: Request<pb::LinkIDsRequest>,
    ) -> Result<Response<pb::LinkIDsResponse>, Status> {
        let request = request.into_inner();
        Err(no_key(&format!(
            "o2/components/readoutcard/{}/cru/{}/{}",
            request.hostname, request.card_serial, request.endpoint
        )))
    }

    async fn get_aliased_link_i_ds_for_detector(
        &self,
        request: Request<pb::AliasedLinkIDsRequest>,
    ) -> Result<Response<pb::AliasedLinkIDsResponse>, Status> {
        let detector = request.into_inner().detector;
        match self.inventory.hosts(&detector).first() {
            // Apricot reads each FLP's aliases first: ecsim has none.
            Some(host) => Err(no_key(&format!(
                "o2/hardware/detectors/{detector}/flps/{host}/aliases"
            ))),
            None => Ok(Response::new(pb::AliasedLinkIDsResponse::default())),
        }
    }

    async fn get_runtime_entry(
        &self,
        request: Request<pb::GetRuntimeEntryRequest>,
    ) -> Result<Response<pb::ComponentResponse>, Status> {
        let request = request.into_inner();
        let payload = self.runtime().get(&request.component, &request.key)?;
        Ok(Response::new(pb::ComponentResponse { payload }))
    }

    async fn set_runtime_entry(
        &self,
        request: Request<pb::SetRuntimeEntryRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let request = request.into_inner();
        self.runtime()
            .set(&request.component, &request.key, request.value)?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn get_runtime_entries(
        &self,
        request: Request<pb::GetRuntimeEntriesRequest>,
    ) -> Result<Response<pb::StringMap>, Status> {
        let component = request.into_inner().component;
        let store = self.runtime();
        let string_map = store
            .list(&component)
            .into_iter()
            .filter_map(|key| {
                let value = store.get(&component, &key).ok()?;
                Some((key, value))
            })
            .collect();
        Ok(Response::new(pb::StringMap { string_map }))
    }

    async fn list_runtime_entries(
        &self,
        request: Request<pb::ListRuntimeEntriesRequest>,
    ) -> Result<Response<pb::ComponentEntriesResponse>, Status> {
        let component = request.into_inner().component;
        Ok(Response::new(pb::ComponentEntriesResponse {
            payload: self.runtime().list(&component),
        }))
    }

    async fn list_components(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::ComponentEntriesResponse>, Status> {
        Ok(Response::new(pb::ComponentEntriesResponse::default()))
    }

    async fn list_component_entries(
        &self,
        _: Request<pb::ListComponentEntriesRequest>,
    ) -> Result<Response<pb::ComponentEntriesResponse>, Status> {
        Ok(Response::new(pb::ComponentEntriesResponse::default()))
    }

    async fn get_component_configuration(
        &self,
        request: Request<pb::ComponentRequest>,
    ) -> Result<Response<pb::ComponentResponse>, Status> {
        Err(no_key(&component_path(&request.into_inner())))
    }

    async fn get_component_configuration_with_last_index(
        &self,
        request: Request<pb::ComponentRequest>,
    ) -> Result<Response<pb::ComponentResponseWithLastIndex>, Status> {
        Err(no_key(&component_path(&request.into_inner())))
    }

    async fn resolve_component_query(
        &self,
        request: Request<pb::ComponentQuery>,
    ) -> Result<Response<pb::ComponentQuery>, Status> {
        let query = request.into_inner();
        Err(no_key(&format!("o2/components/{}", query.component)))
    }

    async fn import_component_configuration(
        &self,
        _: Request<pb::ImportComponentConfigurationRequest>,
    ) -> Result<Response<pb::ImportComponentConfigurationResponse>, Status> {
        Err(Status::unimplemented(
            "ecsim does not implement apricot.Apricot/ImportComponentConfiguration: it keeps no component configurations",
        ))
    }

    async fn invalidate_component_template_cache(
        &self,
        _: Request<pb::Empty>,
    ) -> Result<Response<pb::Empty>, Status> {
        Ok(Response::new(pb::Empty {}))
    }
}

/// Apricot's answer for a host no detector has.
fn unknown_host(host: &str) -> Status {
    Status::unknown(format!("detector not found for host {}", clip(host)))
}

/// The key a component request reads.
fn component_path(request: &pb::ComponentRequest) -> String {
    use pb::component_request::QueryPath;
    match &request.query_path {
        Some(QueryPath::Path(path)) => format!("o2/components/{path}"),
        Some(QueryPath::Query(query)) => {
            format!("o2/components/{}/{}", query.component, query.entry)
        }
        None => "o2/components".to_owned(),
    }
}

/// This machine's name, as Apricot reports the core's.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_joined_as_go_joins_paths() {
        assert_eq!(
            join(&["o2/runtime", "", "flp_suite_version"]),
            "o2/runtime/flp_suite_version"
        );
        assert_eq!(
            join(&["o2/runtime", "COG-v1/", "/a//b/"]),
            "o2/runtime/COG-v1/a/b"
        );
    }

    #[test]
    fn the_runtime_store_answers_as_apricot_over_consul() {
        let mut store = RuntimeStore::default();
        let missing = store.get("COG-v1", "x").unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unknown);
        assert_eq!(
            missing.message(),
            "nil response for key o2/runtime/COG-v1/x"
        );
        store.set("COG-v1", "b", "2".into()).expect("set");
        store.set("COG-v1", "a/c", "1".into()).expect("set");
        store.set("COG-v10", "z", "3".into()).expect("set");
        assert_eq!(store.list("COG-v1"), ["a/c", "b"]);
        assert_eq!(store.get("COG-v1", "a/c").expect("there"), "1");
        assert!(store.list("nothing").is_empty());
    }

    #[test]
    fn the_runtime_store_is_bounded() {
        let mut store = RuntimeStore::default();
        let big = "x".repeat(MAX_RUNTIME_BYTES);
        let refused = store.set("c", "k", big).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        for n in 0..MAX_RUNTIME_ENTRIES {
            store.set("c", &n.to_string(), String::new()).expect("room");
        }
        assert!(store.set("c", "one-more", String::new()).is_err());
        // Replacing an entry takes no more room.
        store.set("c", "0", "v".into()).expect("a replacement");
    }
}
