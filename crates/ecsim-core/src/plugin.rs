//! The integration plugin interface: what the core calls, and what a plugin gets in return.
//!
//! It mirrors AliECS's `integration.Plugin` (reference §5, `core/integration/plugin.go`):
//!
//! | AliECS | here |
//! |---|---|
//! | `GetName`, `GetPrettyName`, `GetEndpoint`, `GetConnectionState`, `GetData` | [`IntegrationPlugin::name`] … [`IntegrationPlugin::data`] |
//! | `GetEnvironmentsData`, `GetEnvironmentsShortData` | [`IntegrationPlugin::environments_data`], [`IntegrationPlugin::environments_short_data`] |
//! | `Init(instanceId)` | [`IntegrationPlugin::init`], with a [`PluginContext`] |
//! | `CallStack(call)` + evaluating `{{dcs.StartOfRun()}}` | [`IntegrationPlugin::functions`] + [`IntegrationPlugin::call`] |
//! | writing `__call_error`, `__call_error_reason` into the var stack | [`CallOutcome::failed`] |
//! | `SetRuntimeVar` from a plugin | [`CallOutcome::with_runtime_var`] |
//! | `DeleteGlobalRuntimeVar` from a plugin | [`CallOutcome::without_runtime_var`] |
//! | `the.EventWriterWithTopic(...)` | [`PluginContext::publisher`], [`PluginContext::events`] |
//! | `Destroy()` | [`IntegrationPlugin::destroy`] |
//!
//! What AliECS does with a global — its core writing its own events — is not here: a plugin that
//! publishes core events also implements [`CoreObserver`](crate::event::CoreObserver).
//!
//! This module is below the control core: a plugin reaches the core only through
//! [`CoreRequests`], a handle on whatever implements `RequestTarget` (the core implements it; plugins only hold the handle).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

/// Re-exported so that a plugin implements [`IntegrationPlugin`] with `#[async_trait]` without
/// depending on the `async-trait` crate itself.
pub use async_trait::async_trait;

use ecsim_proto::call::CallEntries;

use crate::{
    clock::Clock, duration::parse_go_duration, event::EventEmitter, id::EnvironmentId,
    publish::Publisher, vars::Vars,
};

/// An integration plugin.
#[async_trait]
pub trait IntegrationPlugin: Send + Sync + 'static {
    /// Short name, also the object name in workflow calls (`kafka` in `kafka.PublishEnterStateUpdate()`).
    fn name(&self) -> &str;

    /// Display name.
    fn pretty_name(&self) -> &str;

    /// Whether AliECS would list it among its integrated services (`GetIntegratedServices`):
    /// true for AliECS's plugins and for libraries' plugins, false for what ecsim adds to
    /// stand in for AliECS's own core (the core event producer).
    fn is_integrated_service(&self) -> bool {
        true
    }

    /// The endpoint the plugin talks to.
    fn endpoint(&self) -> String {
        String::new()
    }

    /// Connection state, e.g. `READY`.
    fn connection_state(&self) -> String {
        "READY".to_owned()
    }

    /// Global status data (JSON or text).
    fn data(&self) -> String {
        String::new()
    }

    /// Per-environment status data.
    fn environments_data(&self, _environment_ids: &[String]) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// Per-environment short status data.
    fn environments_short_data(&self, _environment_ids: &[String]) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// Starts the plugin. Called once, concurrently with the other plugins' `init`; a failure is
    /// logged and the plugin stays loaded, as in AliECS.
    async fn init(&self, _context: PluginContext) -> Result<(), PluginError> {
        Ok(())
    }

    /// The Kafka topics the plugin may write, its integrated-service events' included
    /// (`aliecs.integrated_service.dcs`), so that a publisher creates them before the first
    /// message and a consumer that subscribed early sees it.
    fn topics(&self) -> Vec<String> {
        Vec::new()
    }

    /// The functions workflow calls may name (`PublishEnterStateUpdate`, …). Asked once, when
    /// the plugin is registered.
    fn functions(&self) -> Vec<String> {
        Vec::new()
    }

    /// Runs one workflow call of one of [`IntegrationPlugin::functions`].
    async fn call(&self, call: CallContext) -> CallOutcome {
        CallOutcome::failed(
            format!("{} offers no function {}", self.name(), call.function),
            None,
        )
    }

    /// Stops the plugin. Called once at shutdown, plugins in order.
    async fn destroy(&self) -> Result<(), PluginError> {
        Ok(())
    }
}

/// What the core gives a plugin at `init`.
#[derive(Debug, Clone)]
pub struct PluginContext {
    /// AliECS's instance id: the Mesos framework id, also in the `aliecs.core` start event.
    pub instance_id: String,
    /// Where the plugin's own messages go (topic, key, bytes).
    pub publisher: Arc<dyn Publisher>,
    /// How the plugin emits integrated-service events.
    pub events: EventEmitter,
    /// The simulation's clock, for timestamps and latencies.
    pub clock: Clock,
    /// The transitions a plugin may ask the core for (an ODC partition gone to ERROR).
    pub core: CoreRequests,
    /// The simulation's seed, for plugins that draw random numbers.
    pub seed: u64,
}

impl PluginContext {
    /// A context connected to no core: what the plugin publishes is kept in a
    /// [`MemoryPublisher`](crate::publish::MemoryPublisher), its events and requests go nowhere.
    /// For testing a plugin on its own.
    pub fn detached(clock: Clock) -> Self {
        Self {
            instance_id: String::new(),
            publisher: Arc::new(crate::publish::MemoryPublisher::new()),
            events: EventEmitter::detached(clock.clone()),
            clock,
            core: CoreRequests::detached(),
            seed: 0,
        }
    }
}

/// The transitions AliECS's integration plugins start themselves, as the control core receives
/// them (the core implements this; a plugin holds it through [`CoreRequests`]).
#[async_trait]
pub(crate) trait RequestTarget: Send + Sync + 'static {
    /// An ODC partition went to ERROR (reference §1.8).
    async fn partition_error(&self, environment_id: &str, reason: &str);
    /// A critical error in the environment.
    async fn critical_error(&self, environment_id: &str, reason: &str);
}

/// A plugin's handle on the core, for the transitions AliECS's integration plugins start
/// themselves. It does not keep the core alive: requests made after the core is gone are
/// ignored.
#[derive(Clone)]
pub struct CoreRequests(Option<Arc<dyn RequestTarget>>);

impl std::fmt::Debug for CoreRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreRequests")
            .field("connected", &self.0.is_some())
            .finish()
    }
}

impl CoreRequests {
    /// A handle on `target`.
    pub(crate) fn new(target: Arc<dyn RequestTarget>) -> Self {
        Self(Some(target))
    }

    /// A handle on no core (for testing a plugin on its own).
    pub fn detached() -> Self {
        Self(None)
    }

    /// An ODC partition went to ERROR (reference §1.8): if the environment is RUNNING,
    /// STOP_ACTIVITY, then GO_ERROR unless the stop already ended in ERROR.
    pub async fn partition_error(&self, environment_id: &str, reason: &str) {
        if let Some(target) = &self.0 {
            target.partition_error(environment_id, reason).await;
        }
    }

    /// A critical error in the environment: GO_ERROR after the core's half-second grace.
    pub async fn critical_error(&self, environment_id: &str, reason: &str) {
        if let Some(target) = &self.0 {
            target.critical_error(environment_id, reason).await;
        }
    }
}

/// A plugin that could not start or stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PluginError(pub String);

/// The traits of a call: AliECS's `events.Traits` (trigger with its weight, await, the timeout
/// as written and resolved, critical).
pub type CallTraits = ecsim_proto::events::Traits;

/// A failed call (AliECS's `__call_error` and `__call_error_reason`), shared with the plugin
/// SDK.
pub use ecsim_proto::call::{CallError, CallFailure};

/// Everything a plugin function sees of the call it serves: AliECS's call var stack, with
/// `environment_id` and the `__call_*` entries on top of the environment's consolidated
/// variables.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The environment the call belongs to.
    pub environment_id: EnvironmentId,
    /// The environment's name in the scenario (ecsim's; AliECS has none).
    pub environment_name: String,
    /// The plugin name (`dcs`).
    pub plugin: String,
    /// The function name (`StartOfRun`).
    pub function: String,
    /// The function expression as written (`dcs.StartOfRun()`), AliECS's `__call_func`.
    pub func: String,
    /// The call role's path (`readout-dataflow.dcs.sor`), AliECS's `__call_rolepath`.
    pub role_path: String,
    /// The call's traits.
    pub traits: CallTraits,
    /// The environment's consolidated variables when the call started.
    pub vars: Vars,
}

impl CallContext {
    /// A variable of the call's var stack, including `environment_id` and the `__call_*` entries
    /// AliECS adds (`__call_func`, `__call_timeout`, `__call_trigger`, `__call_await`,
    /// `__call_critical`, `__call_rolepath`).
    pub fn var(&self, key: &str) -> Option<&str> {
        let entries = CallEntries {
            environment_id: self.environment_id.as_str(),
            func: &self.func,
            role_path: &self.role_path,
            traits: Some(&self.traits),
        };
        entries.var(key, |key| self.vars.get(key))
    }

    /// The call's timeout: `__call_timeout` when it parses as a Go duration, else `default`
    /// (AliECS's `callable.AcquireTimeout`). AliECS never aborts a call on its timeout; a plugin
    /// is expected to give up by itself.
    pub fn timeout_or(&self, default: Duration) -> Duration {
        parse_go_duration(&self.traits.timeout).unwrap_or(default)
    }
}

/// How a call ended: its output, and an error when it failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallOutcome {
    /// The function's return value (stored in the call's `return:` variable, if any).
    pub output: String,
    /// Set when the call failed.
    pub error: Option<CallError>,
    /// Variables the plugin sets on the environment (AliECS's `SetRuntimeVar`).
    pub runtime_vars: Vec<(String, String)>,
    /// Variables the plugin deletes from the environment (AliECS's `DeleteGlobalRuntimeVar`),
    /// after the ones it sets.
    pub removed_vars: Vec<String>,
    /// The scenario faults that hit the call, by the line of their `[[fault]]`.
    pub faults_fired: Vec<u32>,
}

impl CallOutcome {
    /// A successful call returning `output`.
    pub fn ok(output: impl Into<String>) -> Self {
        Self {
            output: output.into(),
            error: None,
            runtime_vars: Vec::new(),
            removed_vars: Vec::new(),
            faults_fired: Vec::new(),
        }
    }

    /// A failed call.
    pub fn failed(message: impl Into<String>, reason: Option<String>) -> Self {
        Self::failed_by(CallFailure::Reported, message, reason)
    }

    /// A call that failed in the way `kind` says.
    pub fn failed_by(
        kind: CallFailure,
        message: impl Into<String>,
        reason: Option<String>,
    ) -> Self {
        Self {
            output: String::new(),
            error: Some(CallError {
                message: message.into(),
                reason,
                kind,
            }),
            runtime_vars: Vec::new(),
            removed_vars: Vec::new(),
            faults_fired: Vec::new(),
        }
    }

    /// Also sets `key` on the environment when the call ends.
    pub fn with_runtime_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.runtime_vars.push((key.into(), value.into()));
        self
    }

    /// Also deletes `key` from the environment when the call ends.
    pub fn without_runtime_var(mut self, key: impl Into<String>) -> Self {
        self.removed_vars.push(key.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> CallContext {
        CallContext {
            environment_id: "2oDvieFrVTi".into(),
            environment_name: "physics".into(),
            plugin: "dcs".into(),
            function: "StartOfRun".into(),
            func: "dcs.StartOfRun()".into(),
            role_path: "readout-dataflow.dcs.sor".into(),
            traits: CallTraits {
                trigger: "before_START_ACTIVITY+100".into(),
                r#await: "before_START_ACTIVITY+100".into(),
                timeout: "140s".into(),
                critical: true,
            },
            vars: [("run_number", "7")].into_iter().collect(),
        }
    }

    #[test]
    fn the_var_stack_has_aliecs_call_entries_on_top_of_the_environment_vars() {
        let call = context();
        assert_eq!(call.var("environment_id"), Some("2oDvieFrVTi"));
        assert_eq!(call.var("__call_func"), Some("dcs.StartOfRun()"));
        assert_eq!(
            call.var("__call_trigger"),
            Some("before_START_ACTIVITY+100")
        );
        assert_eq!(call.var("__call_critical"), Some("true"));
        assert_eq!(
            call.var("__call_rolepath"),
            Some("readout-dataflow.dcs.sor")
        );
        assert_eq!(call.var("run_number"), Some("7"));
        assert_eq!(call.var("nothing"), None);
    }

    #[test]
    fn the_timeout_falls_back_when_it_does_not_parse() {
        let mut call = context();
        assert_eq!(
            call.timeout_or(Duration::from_secs(45)),
            Duration::from_secs(140)
        );
        call.traits.timeout = "soon".into();
        assert_eq!(
            call.timeout_or(Duration::from_secs(45)),
            Duration::from_secs(45)
        );
    }

    #[test]
    fn an_error_reads_as_aliecs_writes_it() {
        let outcome = CallOutcome::failed("DCS SOR call failed", Some("TPC: SOR_FAILURE".into()));
        assert_eq!(
            outcome.error.unwrap().to_string(),
            "DCS SOR call failed. REASON: TPC: SOR_FAILURE"
        );
        assert_eq!(
            CallOutcome::failed("x", None).error.unwrap().to_string(),
            "x"
        );
    }
}
