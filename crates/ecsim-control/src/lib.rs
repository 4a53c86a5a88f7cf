//! AliECS's control API — the gRPC service `o2control.Control` — over ecsim's simulated core.
//!
//! AliECS is driven through this API: its GUI, its `coconut` command line, run coordination
//! scripts and test harnesses create environments, start and stop runs and watch them with
//! it. This crate serves it (`ecsim serve`) on top of the core's public API — the server holds
//! a [`ecsim_core::Core`] and calls what a scenario's timeline calls — so an environment made
//! through the API publishes exactly what the same steps in a scenario publish.
//!
//! - [`service`]: the RPCs, with AliECS's checks, codes and replies;
//! - [`catalogue`]: the templates, detectors, and how a request becomes an environment;
//! - `auto`: automatic environments (`NewAutoEnvironment`) and their subscribers' feeds;
//! - `convert`: the core's views and events as the API's messages;
//! - `status`: AliECS's error statuses;
//! - `varspecs`: the template's public variables, with their UI panels, for creation forms.

mod auto;
pub mod catalogue;
mod convert;
pub mod service;
mod status;
mod varspecs;

use std::net::SocketAddr;

pub use catalogue::Catalogue;
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

    /// Serves `service` until `shutdown` resolves; requests in flight are answered first.
    pub async fn serve(
        self,
        service: ControlService,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(self.listener);
        tonic::transport::Server::builder()
            .add_service(service.into_server())
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }
}
