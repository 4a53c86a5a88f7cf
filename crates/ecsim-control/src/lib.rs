//! AliECS's control API — the gRPC service `o2control.Control` — over ecsim's simulated core.
//!
//! AliECS is driven through this API: its GUI, its `coconut` command line, run coordination
//! scripts and test harnesses create environments, start and stop runs and watch them with
//! it. This crate serves it (`ecsim serve`) on top of the core's public API — the server holds
//! a [`ecsim_core::Core`] and calls what a scenario's timeline calls — so an environment made
//! through the API publishes exactly what the same steps in a scenario publish.
//!
//! Beside it, on the same port, AliECS's configuration service `apricot.Apricot`, which the
//! Control GUI cannot work without: ALICE's detectors and their FLPs, run numbers, and a
//! runtime key-value store.
//!
//! - [`service`]: the RPCs, with AliECS's checks, codes and replies; the work of those that
//!   change an environment runs detached from the handler, so a client that gives up changes
//!   nothing of the outcome;
//! - [`apricot`]: the configuration service;
//! - [`catalogue`]: the templates, and how a request becomes an environment;
//! - [`inventory`]: ALICE's detectors and the FLPs of each;
//! - [`templates`]: the utility templates automatic environments run;
//! - `subscribe`: `Subscribe`'s streams, which wait for their id as AliECS's do;
//! - `auto`: automatic environments (`NewAutoEnvironment`) and their subscribers' feeds;
//! - `convert`: the core's views and events as the API's messages;
//! - `limits`: what one request may carry;
//! - `status`: AliECS's error statuses;
//! - `varspecs`: the template's public variables, with their UI panels, for creation forms.

#![forbid(unsafe_code)]

pub mod apricot;
mod auto;
pub mod catalogue;
mod convert;
pub mod inventory;
pub mod limits;
pub mod service;
mod status;
mod subscribe;
mod tasks;
pub mod templates;
mod varspecs;

use std::net::SocketAddr;

pub use catalogue::Catalogue;
pub use inventory::Inventory;
pub use service::{ControlService, Identity};

/// AliECS's default control port.
pub const DEFAULT_PORT: u16 = 32102;

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The port could not be bound.
    #[error("cannot listen on {address} (another server on the port? --grpc-port chooses another)")]
    Bind {
        /// Where.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("the control server failed")]
    Transport(#[from] tonic::transport::Error),
}

/// A bound listener, so that the address (port 0 chosen by the system) is known before
/// serving.
#[derive(Debug)]
pub struct Listener {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
}

impl Listener {
    /// Binds `address`.
    pub async fn bind(address: SocketAddr) -> Result<Self, ServeError> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Bind { address, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { address, source })?;
        Ok(Self { listener, address })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves `service` and its configuration service until `shutdown` resolves. Then every
    /// `Subscribe` stream ends with `UNAVAILABLE`, every call waiting for a transition answers
    /// `UNAVAILABLE` (the transition stops where it is, with the server), and connections
    /// close; a client that keeps its connection open longer than [`STOP_GRACE`] is cut off.
    pub async fn serve(
        self,
        service: ControlService,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(self.listener);
        let stopping = tokio_util::sync::CancellationToken::new();
        let signal = {
            let (service, stopping) = (service.clone(), stopping.clone());
            async move {
                shutdown.await;
                service.stop();
                stopping.cancel();
            }
        };
        let apricot = service.apricot();
        let server = tonic::transport::Server::builder()
            .add_service(service.into_server())
            .add_service(apricot.into_server())
            .serve_with_incoming_shutdown(incoming, signal);
        tokio::pin!(server);
        tokio::select! {
            biased;
            served = &mut server => served?,
            () = async {
                stopping.cancelled().await;
                tokio::time::sleep(STOP_GRACE).await;
            } => {
                tracing::warn!("clients still connected {STOP_GRACE:?} after the stop: cut off");
            }
        }
        Ok(())
    }
}

/// How long connections may stay open once the server stops.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(3);
