//! Hook handling: starting integration calls at their trigger, awaiting them at their await
//! moment, and turning failures into the moment's error.
//!
//! This is AliECS's `handleHooks` (reference §1.3, `core/environment/environment.go`), phase by
//! phase, for every weight of a moment in ascending order:
//!
//! 1. start every call whose trigger is this moment and weight, each on its own task, and
//!    register it under its await moment and weight;
//! 2. await every pending call registered under this moment and weight — including calls
//!    started at earlier moments, or earlier transitions;
//! 3. (task hooks: not simulated);
//! 4. if a critical call failed, stop before the next weight.
//!
//! and the call itself is AliECS's `Call.Call` (reference §1.4): an `Ev_CallEvent` STARTED,
//! the plugin function, then DONE_OK or DONE_ERROR with output and error.

use std::{collections::BTreeSet, panic::AssertUnwindSafe, sync::Arc};

use ecsim_proto::events::{EvCallEvent, OpStatus};
use futures::FutureExt as _;

use crate::{
    event::CorePayload,
    plugin::{CallContext, CallError, CallFailure, CallOutcome, CallTraits},
    trigger::Moment,
    vars::Layer,
};

use super::{
    Core,
    environment::{Env, PendingCall},
    step_error::StepError,
};

/// Which weights of a moment to handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weights {
    /// `< 0`: before the moment's built-in work.
    Negative,
    /// `>= 0`: after it.
    NonNegative,
    /// All of them (teardown's `leave_` moment).
    All,
}

impl Weights {
    fn admits(self, weight: i32) -> bool {
        match self {
            Weights::Negative => weight < 0,
            Weights::NonNegative => weight >= 0,
            Weights::All => true,
        }
    }
}

/// A call whose task ended without its outcome (the runtime shutting down under it): the call
/// failed, as its process dying would have failed it.
fn task_lost(error: &tokio::task::JoinError) -> CallError {
    CallError::new(format!("the call's task failed: {error}")).kind(CallFailure::Crash)
}

/// Why a call whose function is not `plugin.Function()` fails.
fn unparsable(func: &str) -> String {
    format!("cannot evaluate `{func}`: ecsim calls plugin functions written as plugin.Function()")
}

impl Core {
    /// Handles the hooks of `moment` for the selected weights; returns the moment's error when a
    /// critical call failed.
    pub(crate) async fn handle_hooks(
        &self,
        env: &Arc<Env>,
        moment: Moment,
        selected: Weights,
    ) -> Result<(), StepError> {
        let trigger = moment;
        // Hooks name their moment in text (a trigger naming none never fires).
        let moment = moment.as_str();
        // The first lookup of the workflow's hooks touches every call role (their state).
        let looked_up = env.data().tasks.look_up_hooks();
        self.emit_task_changes(looked_up);
        let weights: BTreeSet<i32> = {
            let data = env.data();
            let mut weights: BTreeSet<i32> = env
                .loaded
                .hooks
                .get(moment)
                .map(|by_weight| by_weight.keys().copied().collect())
                .unwrap_or_default();
            weights.extend(
                data.pending
                    .keys()
                    .filter(|(m, _)| m == moment)
                    .map(|&(_, w)| w),
            );
            weights
                .into_iter()
                .filter(|&w| selected.admits(w))
                .collect()
        };

        let mut critical_failures = Vec::new();
        for weight in weights {
            if let Some(indexes) = env
                .loaded
                .hooks
                .get(moment)
                .and_then(|by_weight| by_weight.get(&weight))
            {
                for &index in indexes {
                    let pending = self.start_call(env, index);
                    let await_at = &env.loaded.calls[index].await_at;
                    env.data()
                        .pending
                        .entry((await_at.moment.clone(), await_at.weight))
                        .or_default()
                        .push(pending);
                }
            }

            let due = env
                .data()
                .pending
                .remove(&(moment.to_owned(), weight))
                .unwrap_or_default();
            let results = futures::future::join_all(due.into_iter().map(|pending| async move {
                let outcome = pending
                    .handle
                    .await
                    .unwrap_or_else(|error| Err(task_lost(&error)));
                (pending.index, pending.critical, outcome)
            }))
            .await;

            let mut critical_here = false;
            for (index, critical, outcome) in results {
                if let Err(error) = outcome {
                    let call = &env.loaded.calls[index];
                    if critical {
                        tracing::info!(environment = %env.id, call = %call.role_path, %error, "critical hook failed");
                        critical_failures.push(error);
                        critical_here = true;
                    } else {
                        tracing::debug!(environment = %env.id, call = %call.role_path, %error, "non-critical hook failed");
                    }
                }
            }
            if critical_here {
                break;
            }
        }
        StepError::hooks(trigger, critical_failures).map_or(Ok(()), Err)
    }

    /// Counts a call to `plugin.function` that ended with `outcome`.
    fn count_call(&self, plugin: &str, function: &str, outcome: &CallOutcome) {
        super::lock(&self.0.calls).count(
            plugin,
            function,
            outcome.error.as_ref().map(|error| error.kind),
        );
        super::lock(&self.0.faults_fired).note(outcome.faults_fired.iter().copied());
    }

    /// Runs one call to its end, now (teardown's sequential `CallAll`).
    pub(crate) async fn call_now(&self, env: &Arc<Env>, index: usize) -> Result<(), CallError> {
        let pending = self.start_call(env, index);
        pending
            .handle
            .await
            .unwrap_or_else(|error| Err(task_lost(&error)))
    }

    /// Starts call `index` of the environment's workflow on its own task: STARTED event now,
    /// the plugin function, then the DONE event when it ends.
    pub(crate) fn start_call(&self, env: &Arc<Env>, index: usize) -> PendingCall {
        let call = &env.loaded.calls[index];
        let traits = CallTraits {
            trigger: call.trigger_expr.clone(),
            r#await: call.await_expr.clone(),
            timeout: call.timeout.clone(),
            critical: call.critical,
        };
        let event = EvCallEvent {
            func: call.func.clone(),
            call_status: OpStatus::Started.into(),
            r#return: call.return_var.clone().unwrap_or_default(),
            traits: Some(traits.clone()),
            output: String::new(),
            error: String::new(),
            environment_id: env.id.as_str().to_owned(),
            path: call.role_path.clone(),
        };
        self.emit(CorePayload::Call(event.clone()));

        let vars = env
            .data()
            .vars
            .consolidated()
            .with_role_defaults(Arc::clone(&call.role_defaults));
        let target = match &call.target {
            Some((plugin, function)) => Ok((plugin.as_str(), function.as_str())),
            None => Err(unparsable(&call.func)),
        };
        let target = target.and_then(|(plugin, function)| {
            let Some(found) = self.plugin(plugin) else {
                // expr-lang's compile error for a name that is not in the environment.
                return Err(format!(
                    "unknown name {plugin} (1:1)\n | {}\n | ^",
                    call.func
                ));
            };
            let functions = self.0.plugins.functions(plugin).unwrap_or_default();
            if !functions.iter().any(|f| f == function) {
                return Err(format!(
                    "plugin {plugin} has no function {function} (it offers: {})",
                    functions.join(", ")
                ));
            }
            Ok((Arc::clone(found), plugin.to_owned(), function.to_owned()))
        });

        let core = self.clone();
        let env = Arc::clone(env);
        let role_path = call.role_path.clone();
        let func = call.func.clone();
        let return_var = call.return_var.clone();
        let handle = tokio::spawn(async move {
            let outcome = match target {
                Ok((plugin, plugin_name, function)) => {
                    let counted = (plugin_name.clone(), function.clone());
                    let context = CallContext {
                        environment_id: env.id.clone(),
                        environment_name: env.name.clone(),
                        plugin: plugin_name,
                        function,
                        func,
                        role_path,
                        traits,
                        vars,
                    };
                    // A panicking plugin function fails its call, as expr's VM recovers a Go panic.
                    let outcome = AssertUnwindSafe(plugin.call(context))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|panic| {
                            let message = crate::panics::message(panic.as_ref());
                            CallOutcome::failed_by(
                                CallFailure::Panic,
                                format!("panic: {message}"),
                                None,
                            )
                        });
                    core.count_call(&counted.0, &counted.1, &outcome);
                    outcome
                }
                Err(error) => CallOutcome::failed(error, None),
            };
            {
                let mut data = env.data();
                for (key, value) in &outcome.runtime_vars {
                    data.vars.set(Layer::User, key.clone(), value.clone());
                }
                for key in &outcome.removed_vars {
                    data.vars.remove(Layer::User, key);
                }
                if let Some(return_var) = return_var.filter(|r| !r.is_empty()) {
                    data.vars
                        .set(Layer::User, return_var, outcome.output.clone());
                }
            }
            core.emit(CorePayload::Call(EvCallEvent {
                call_status: if outcome.error.is_some() {
                    OpStatus::DoneError
                } else {
                    OpStatus::DoneOk
                }
                .into(),
                output: outcome.output,
                error: outcome
                    .error
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                ..event
            }));
            outcome.error.map_or(Ok(()), Err)
        });
        PendingCall {
            index,
            critical: call.critical,
            handle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_plugin_dot_name_with_empty_arguments() {
        let parse_func = crate::workflow::split_func;
        assert_eq!(parse_func("dcs.StartOfRun()"), Some(("dcs", "StartOfRun")));
        for bad in [
            "dcs.StartOfRun",
            "StartOfRun()",
            ".X()",
            "a.b.c()",
            "dcs.()",
        ] {
            assert!(parse_func(bad).is_none(), "{bad}");
        }
        assert_eq!(
            unparsable("a.b.c()"),
            "cannot evaluate `a.b.c()`: ecsim calls plugin functions written as plugin.Function()"
        );
    }
}
