//! One plugin of a library, as an integration plugin of the core.
//!
//! The core sees a [`DylibPlugin`] as it sees any plugin: a name, functions, a `call` that
//! returns an outcome. Behind it, each call becomes a `CallRequest` for the instance's thread,
//! and its `CallReply` becomes events on the clock and the call's outcome. Whatever the library
//! does — panic, hang, answer garbage — the call fails with a message saying so, and the
//! simulator goes on; a critical call's failure sends its environment to ERROR, as AliECS does.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use ecsim_core::{
    clock::Timestamp,
    plugin::{
        CallContext, CallFailure, CallOutcome, IntegrationPlugin, PluginContext, PluginError,
        async_trait,
    },
};
use ecsim_proto::{
    plugin::{CallReply, CreateReply, CreateRequest, DestroyReply, PluginInfo, create_reply},
    prost::Message as _,
};

use crate::{
    Library,
    library::Backend,
    worker::{self, Ended, Worker},
};

/// How long an instance may take to start (wall clock).
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an instance may take to stop (wall clock).
const DESTROY_TIMEOUT: Duration = Duration::from_secs(10);

/// A plugin of a dynamically loaded library.
#[derive(Debug)]
pub struct DylibPlugin {
    library: Arc<Library>,
    info: PluginInfo,
    config_json: String,
    started: OnceLock<Started>,
}

#[derive(Debug)]
struct Started {
    worker: Worker,
    context: PluginContext,
}

impl DylibPlugin {
    pub(crate) fn new(library: Arc<Library>, info: PluginInfo, config_json: String) -> Self {
        Self {
            library,
            info,
            config_json,
            started: OnceLock::new(),
        }
    }

    /// The library it comes from.
    pub fn library(&self) -> &Library {
        &self.library
    }

    fn error(&self, message: String) -> crate::LoadError {
        crate::LoadError::Create {
            path: self.library.path().to_owned(),
            plugin: self.info.name.clone(),
            message,
        }
    }

    /// Starts the instance: its thread, then the library's `create`. An error says why the
    /// plugin did not start (usually its configuration).
    pub async fn start(&self, context: PluginContext) -> Result<(), crate::LoadError> {
        if self.started.get().is_some() {
            return Ok(());
        }
        let request = CreateRequest {
            plugin: self.info.name.clone(),
            instance_id: context.instance_id.clone(),
            config_json: self.config_json.clone(),
            seed: context.seed,
            virtual_time: context.clock.is_virtual(),
        };
        let started = match self.library.backend() {
            Backend::InProcess(table) => {
                Worker::start(table, &self.info.name, request.encode_to_vec())
            }
            Backend::Isolated(policy) => Worker::isolated(
                self.library.path(),
                &self.info.name,
                policy,
                request.encode_to_vec(),
            ),
        };
        let (worker, created) =
            started.map_err(|error| self.error(format!("cannot start its thread: {error}")))?;
        let reply = worker::wait(created, CREATE_TIMEOUT, context.clock.is_virtual())
            .await
            .map_err(|_| crate::LoadError::Unresponsive {
                path: self.library.path().to_owned(),
                what: format!("creating plugin {}", self.info.name),
                seconds: CREATE_TIMEOUT.as_secs(),
            })?
            .map_err(|Ended(why)| self.error(why))?;
        match CreateReply::decode(reply.as_slice()).map(|r| r.result) {
            Ok(Some(create_reply::Result::Instance(_))) => {}
            Ok(Some(create_reply::Result::Error(message))) => return Err(self.error(message)),
            Ok(None) => return Err(self.error("its create reply says nothing".to_owned())),
            Err(error) => {
                return Err(self.error(format!("its create reply does not decode: {error}")));
            }
        }
        let _ = self.started.set(Started { worker, context });
        Ok(())
    }

    /// Runs one call: the request to the instance's thread, the reply played on the clock.
    async fn run(&self, call: CallContext) -> CallOutcome {
        let Some(started) = self.started.get() else {
            return CallOutcome::failed(
                format!(
                    "plugin {} did not start, so {} cannot run",
                    self.info.name, call.func
                ),
                None,
            );
        };
        if let Some(stuck) = started.worker.stuck() {
            return CallOutcome::failed(
                format!("plugin {} is not answering", self.info.name),
                Some(format!(
                    "{stuck} never returned; every later call to the plugin fails"
                )),
            );
        }
        let context = &started.context;
        let clock = &context.clock;
        let timeout = call.timeout_or(crate::call::DEFAULT_CALL_TIMEOUT);
        let start = clock.now();
        let request = crate::call::request(&call, start, timeout);
        let Some(in_flight) = started.worker.call(|buffer| {
            // Cannot fail: a Vec grows as it needs.
            let _ = request.encode(buffer);
        }) else {
            return CallOutcome::failed(
                format!("plugin {} is not running", self.info.name),
                Some("its thread has ended".to_owned()),
            );
        };
        // The wall-clock bound is the call's timeout, on the runtime's scale in real time.
        let wall = if clock.is_virtual() {
            timeout
        } else {
            clock.runtime_duration(timeout)
        };
        let bytes = match started
            .worker
            .answer(in_flight, wall, clock.is_virtual())
            .await
        {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(Ended(why))) => {
                return CallOutcome::failed_by(
                    CallFailure::Crash,
                    format!("{} failed: plugin {} crashed", call.func, self.info.name),
                    Some(why),
                );
            }
            Err(worker::TimedOut) => {
                let what = format!("{} (environment {})", call.func, call.environment_id);
                tracing::error!(plugin = %self.info.name, call = %what, timeout = %crate::call::human(timeout),
                    "a plugin call did not return in time; the plugin is given up on");
                started.worker.abandon(what);
                // In virtual time the wait took no simulated time; the caller waited `timeout`.
                clock.sleep_until(at(start, timeout)).await;
                return CallOutcome::failed_by(
                    CallFailure::Timeout,
                    format!(
                        "{} timed out after {}",
                        call.func,
                        crate::call::human(timeout)
                    ),
                    Some(format!("plugin {} did not return", self.info.name)),
                );
            }
        };
        let reply = match CallReply::decode(bytes.as_slice()) {
            Ok(reply) => reply,
            Err(error) => {
                return CallOutcome::failed(
                    format!("{} failed: the plugin's reply does not decode", call.func),
                    Some(error.to_string()),
                );
            }
        };
        crate::call::complete(context, &call, &self.info.name, reply, start, timeout).await
    }
}

fn at(start: Timestamp, offset: Duration) -> Timestamp {
    Timestamp::from_unix_nanos(
        start
            .unix_nanos()
            .saturating_add(i64::try_from(offset.as_nanos()).unwrap_or(i64::MAX)),
    )
}

#[async_trait]
impl IntegrationPlugin for DylibPlugin {
    fn name(&self) -> &str {
        &self.info.name
    }

    /// Its integrated-service events' topic: a library's plugin writes nothing else.
    fn topics(&self) -> Vec<String> {
        vec![ecsim_proto::topics::integrated_service(&self.info.name).into_owned()]
    }

    fn pretty_name(&self) -> &str {
        &self.info.pretty_name
    }

    fn endpoint(&self) -> String {
        self.info.endpoint.clone()
    }

    fn connection_state(&self) -> String {
        match self.started.get() {
            Some(started) if started.worker.stuck().is_none() => "READY",
            Some(_) => "TRANSIENT_FAILURE",
            None => "UNKNOWN",
        }
        .to_owned()
    }

    async fn init(&self, context: PluginContext) -> Result<(), PluginError> {
        self.start(context).await.map_err(|error| match error {
            // The caller says which plugin did not start; this says why, and from where.
            crate::LoadError::Create { path, message, .. } => {
                PluginError(format!("{message} (library {})", path.display()))
            }
            other => PluginError(other.to_string()),
        })
    }

    fn functions(&self) -> Vec<String> {
        self.info.functions.clone()
    }

    async fn call(&self, call: CallContext) -> CallOutcome {
        self.run(call).await
    }

    async fn destroy(&self) -> Result<(), PluginError> {
        let Some(started) = self.started.get() else {
            return Ok(());
        };
        if let Some(stuck) = started.worker.stuck() {
            return Err(PluginError(format!(
                "plugin {} cannot be stopped: it is stuck in {stuck}",
                self.info.name
            )));
        }
        let Some(receiver) = started.worker.destroy() else {
            return Ok(());
        };
        let reply = worker::wait(
            receiver,
            DESTROY_TIMEOUT,
            started.context.clock.is_virtual(),
        )
        .await
        .map_err(|_| {
            PluginError(format!(
                "plugin {} did not stop within {} s",
                self.info.name,
                DESTROY_TIMEOUT.as_secs()
            ))
        })?;
        let reply = reply.map_err(|Ended(why)| {
            PluginError(format!(
                "plugin {} did not stop cleanly: {why}",
                self.info.name
            ))
        })?;
        match DestroyReply::decode(reply.as_slice()) {
            Ok(reply) if reply.error.is_empty() => Ok(()),
            Ok(reply) => Err(PluginError(reply.error)),
            Err(error) => Err(PluginError(format!(
                "its destroy reply does not decode: {error}"
            ))),
        }
    }
}

impl Library {
    /// Plugin `name` of this library, to be configured with `config_json` (JSON text; empty
    /// for none) when the core starts it.
    pub fn plugin(
        self: &Arc<Self>,
        name: &str,
        config_json: &str,
    ) -> Result<DylibPlugin, crate::LoadError> {
        let info = self
            .manifest()
            .plugins
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| crate::LoadError::UnknownPlugin {
                path: self.path().to_owned(),
                name: name.to_owned(),
                offered: self.offered(),
            })?;
        Ok(DylibPlugin::new(
            Arc::clone(self),
            info,
            config_json.to_owned(),
        ))
    }
}
