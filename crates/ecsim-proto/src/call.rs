//! AliECS's call contract, as both sides of ecsim's plugin boundary need it: what a workflow
//! call sees on top of the environment's variables (the `__call_*` entries), and how a call
//! fails (`__call_error`, `__call_error_reason`).
//!
//! The core hands calls to built-in plugins, the SDK hands them to plugin libraries; both
//! answer `var("__call_timeout")` and both word a failure as AliECS does, from this one module
//! (reference §1.4, `core/workflow/callable/call.go`).

use crate::events::Traits;

/// A failed call: AliECS's `__call_error`, and `__call_error_reason` when there is one. AliECS
/// reports it as `<message>. REASON: <reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// `__call_error`, e.g. `DCS StartOfRun call failed`.
    pub message: String,
    /// `__call_error_reason`, the detail.
    pub reason: Option<String>,
    /// How the call came to fail (ecsim's summary counts each kind; AliECS's texts do not
    /// change with it).
    pub kind: CallFailure,
}

/// How a call came to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub enum CallFailure {
    /// The plugin answered that it failed.
    #[default]
    Reported,
    /// The plugin's function panicked, and the panic was caught.
    Panic,
    /// The plugin did not answer within the call's timeout.
    Timeout,
    /// The plugin's isolated process died during the call, or had died before it.
    Crash,
}

impl CallError {
    /// A failure with this message and no reason.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            reason: None,
            kind: CallFailure::Reported,
        }
    }

    /// Says how the call failed.
    #[must_use]
    pub fn kind(mut self, kind: CallFailure) -> Self {
        self.kind = kind;
        self
    }

    /// Adds the reason.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

impl std::fmt::Display for CallError {
    /// The error text AliECS reports: the message, then `. REASON: ` and the reason if any.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "{}. REASON: {reason}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for CallError {}

/// What AliECS puts on top of the environment's variables for one call.
#[derive(Debug, Clone, Copy)]
pub struct CallEntries<'a> {
    /// `environment_id`.
    pub environment_id: &'a str,
    /// `__call_func`: the call as the workflow writes it (`dcs.StartOfRun()`).
    pub func: &'a str,
    /// `__call_rolepath`: the call role's path (`readout-dataflow.dcs.sor`).
    pub role_path: &'a str,
    /// `__call_timeout`, `__call_trigger`, `__call_await`, `__call_critical`.
    pub traits: Option<&'a Traits>,
}

impl<'a> CallEntries<'a> {
    /// The variable `key` of the call's var stack: one of the entries above, else what
    /// `environment` (the environment's consolidated variables) holds.
    pub fn var(
        &self,
        key: &str,
        environment: impl FnOnce(&str) -> Option<&'a str>,
    ) -> Option<&'a str> {
        let traits = self.traits;
        match key {
            "environment_id" => Some(self.environment_id),
            "__call_func" => Some(self.func),
            "__call_rolepath" => Some(self.role_path),
            "__call_timeout" => traits.map(|t| t.timeout.as_str()),
            "__call_trigger" => traits.map(|t| t.trigger.as_str()),
            "__call_await" => traits.map(|t| t.r#await.as_str()),
            "__call_critical" => traits.map(|t| if t.critical { "true" } else { "false" }),
            _ => environment(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_as_aliecs_writes_it() {
        let error = CallError::new("DCS SOR call failed").reason("TPC: SOR_FAILURE");
        assert_eq!(
            error.to_string(),
            "DCS SOR call failed. REASON: TPC: SOR_FAILURE"
        );
        assert_eq!(CallError::new("x").to_string(), "x");
    }

    #[test]
    fn the_call_entries_sit_on_top_of_the_environment() {
        let traits = Traits {
            trigger: "before_START_ACTIVITY+100".into(),
            r#await: "before_START_ACTIVITY+100".into(),
            timeout: "140s".into(),
            critical: true,
        };
        let entries = CallEntries {
            environment_id: "2oDvieFrVTi",
            func: "dcs.StartOfRun()",
            role_path: "readout-dataflow.dcs.sor",
            traits: Some(&traits),
        };
        let environment = |key: &str| match key {
            "run_number" | "__call_func" => Some("7"),
            _ => None,
        };
        assert_eq!(
            entries.var("__call_func", environment),
            Some("dcs.StartOfRun()")
        );
        assert_eq!(entries.var("__call_critical", environment), Some("true"));
        assert_eq!(
            entries.var("__call_await", environment),
            Some("before_START_ACTIVITY+100")
        );
        assert_eq!(entries.var("run_number", environment), Some("7"));
        assert_eq!(entries.var("nothing", environment), None);
        let bare = CallEntries {
            traits: None,
            ..entries
        };
        assert_eq!(bare.var("__call_timeout", environment), None);
    }
}
