//! The faults a scenario configures into an integrated-service plugin: the one contract between
//! the scenario (which writes them) and the plugins that play them (the mock services, or
//! yours), carried as the `faults` array of the plugin's JSON configuration.
//!
//! Written here once, so that an outcome or a field added on one side is known on the other.

use serde::{Deserialize, Serialize};

/// What a fault does to the operation it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultOutcome {
    /// The service reports a failure (for DCS with detectors: those detectors fail).
    Error,
    /// The service does not answer before the call's deadline.
    Timeout,
    /// The plugin function panics (isolation testing).
    Panic,
    /// The plugin function never returns (isolation testing).
    Hang,
    /// The operation is slow by `delay` (for DCS with detectors: they become available late).
    Delay,
    /// DCS only: the detectors are not available for the operation.
    Unavailable,
    /// ODC `Start` only: the partition goes to ERROR `delay` after the run started.
    PartitionError,
}

impl FaultOutcome {
    /// Every outcome, by the name scenarios (and the JSON) use.
    pub const ALL: &[(&'static str, FaultOutcome)] = &[
        ("error", FaultOutcome::Error),
        ("timeout", FaultOutcome::Timeout),
        ("panic", FaultOutcome::Panic),
        ("hang", FaultOutcome::Hang),
        ("delay", FaultOutcome::Delay),
        ("unavailable", FaultOutcome::Unavailable),
        ("partition-error", FaultOutcome::PartitionError),
    ];

    /// The name scenarios use.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("error", |(name, _)| name)
    }
}

/// One fault, as a plugin's configuration carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// The function it hits (`StartOfRun`).
    pub operation: String,
    /// What happens.
    pub outcome: FaultOutcome,
    /// Only calls of this environment (its name in the scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Only calls of this run number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
    /// The detectors concerned (DCS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detectors: Vec<String>,
    /// How long, in milliseconds (`delay`, `partition-error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Armed from this instant (ms since the Unix epoch) on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ms: Option<i64>,
    /// How many calls it hits (all, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// The service's error message, instead of its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where the scenario declares it (1-based line), for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl FaultSpec {
    /// A fault of `operation` with `outcome`, nothing else said.
    pub fn new(operation: impl Into<String>, outcome: FaultOutcome) -> Self {
        Self {
            operation: operation.into(),
            outcome,
            environment: None,
            run: None,
            detectors: Vec::new(),
            delay_ms: None,
            from_ms: None,
            times: None,
            message: None,
            line: None,
        }
    }

    /// `delay_ms` as a duration (zero when absent).
    pub fn delay(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.delay_ms.unwrap_or(0))
    }

    /// Where it comes from, for messages: "the scenario's fault at line 42".
    pub fn origin(&self) -> String {
        match self.line {
            Some(line) => format!("the scenario's fault at line {line}"),
            None => "a scenario fault".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_reads_back_as_written_and_unset_fields_are_left_out() {
        let mut spec = FaultSpec::new("StartOfRun", FaultOutcome::PartitionError);
        assert_eq!(
            serde_json::to_string(&spec).unwrap(),
            r#"{"operation":"StartOfRun","outcome":"partition-error"}"#
        );
        spec.detectors = vec!["TPC".into()];
        spec.delay_ms = Some(1500);
        spec.line = Some(42);
        let text = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            text,
            r#"{"operation":"StartOfRun","outcome":"partition-error","detectors":["TPC"],"delay_ms":1500,"line":42}"#
        );
        assert_eq!(serde_json::from_str::<FaultSpec>(&text).unwrap(), spec);
        assert_eq!(spec.origin(), "the scenario's fault at line 42");
    }

    #[test]
    fn every_outcome_is_named_as_the_json_names_it() {
        for (name, outcome) in FaultOutcome::ALL {
            assert_eq!(outcome.as_str(), *name);
            assert_eq!(
                serde_json::to_string(outcome).unwrap(),
                format!("\"{name}\"")
            );
        }
        let unknown = serde_json::from_str::<FaultSpec>(
            r#"{"operation":"x","outcome":"error","colour":"red"}"#,
        );
        assert!(unknown.is_err(), "unknown fields are refused");
    }
}
