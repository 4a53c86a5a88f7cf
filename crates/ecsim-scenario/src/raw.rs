//! A scenario file as written: serde structures that mirror the TOML, with the span of every
//! value kept so that validation can point at it.
//!
//! Unknown keys are found before these types are filled, all at once, against the field lists
//! serde derives here (`validate/keys.rs`); `deny_unknown_fields` stays as the backstop. Everything
//! else — durations, names, references between sections, times — is checked in
//! [`crate::validate`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::{Spanned, Value};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub(crate) scenario: Spanned<RawHeader>,
    #[serde(default, rename = "environment")]
    pub(crate) environments: Vec<Spanned<RawEnvironment>>,
    #[serde(default)]
    pub(crate) timeline: Vec<Spanned<RawStep>>,
    #[serde(default, rename = "expect")]
    pub(crate) expectations: Vec<Spanned<RawExpectation>>,
    #[serde(default, rename = "plugin")]
    pub(crate) plugins: Vec<Spanned<RawPlugin>>,
    #[serde(default, rename = "fault")]
    pub(crate) faults: Vec<Spanned<RawFault>>,
}

/// `[[plugin]]`: a plugin library to load, and its plugins' configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlugin {
    pub(crate) library: Spanned<String>,
    #[serde(default)]
    pub(crate) plugins: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(crate) config: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
    #[serde(default)]
    pub(crate) isolate: Option<Spanned<bool>>,
    #[serde(default)]
    pub(crate) restarts: Option<Spanned<i64>>,
}

/// `[[fault]]`: what goes wrong in a service's operation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub(crate) service: Spanned<String>,
    pub(crate) operation: Spanned<String>,
    pub(crate) outcome: Spanned<String>,
    #[serde(default)]
    pub(crate) env: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) run: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) detectors: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(crate) delay: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) when: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) times: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) message: Option<Spanned<String>>,
}

/// Field paths and the values they must have: `{ "envInfo.runType" = "PHYSICS" }`.
pub(crate) type RawFields = BTreeMap<String, Spanned<Value>>;

/// `[[expect]]`: what must (or must not) reach a topic.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectation {
    pub(crate) topic: Spanned<String>,
    #[serde(default)]
    pub(crate) env: Option<Spanned<String>>,
    #[serde(default, rename = "where")]
    pub(crate) fields: Option<Spanned<RawFields>>,
    #[serde(default)]
    pub(crate) count: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) min: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) max: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) absent: Option<Spanned<bool>>,
    #[serde(default)]
    pub(crate) in_order: Option<Spanned<Vec<Spanned<RawFields>>>>,
}

/// `[scenario]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) seed: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) epoch: Option<Spanned<Value>>,
    #[serde(default)]
    pub(crate) speed: Option<Spanned<Value>>,
    #[serde(default)]
    pub(crate) user: Option<Spanned<Value>>,
    #[serde(default)]
    pub(crate) first_run_number: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) at_end: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) kafka_keys: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) integration_plugins: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(crate) enable_kafka: Option<bool>,
    #[serde(default)]
    pub(crate) own_detectors: Option<bool>,
}

/// `[[environment]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvironment {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) count: Option<Spanned<i64>>,
    pub(crate) detectors: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(crate) hosts: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(crate) tasks_per_host: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) run_type: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) vars: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
    #[serde(default)]
    pub(crate) timing: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    #[serde(default)]
    pub(crate) remove_calls: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) call: Vec<Spanned<RawCall>>,
}

/// `[[environment.call]]`: a call role added to the workflow, or replacing one of the same role.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCall {
    pub(crate) role: Spanned<String>,
    pub(crate) func: Spanned<String>,
    pub(crate) trigger: Spanned<String>,
    #[serde(default, rename = "await")]
    pub(crate) await_expr: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) critical: Option<bool>,
    #[serde(default)]
    pub(crate) enabled: Option<Spanned<String>>,
    #[serde(default, rename = "return")]
    pub(crate) return_var: Option<String>,
}

/// `[[timeline]]`, or one entry of a block's `steps`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    #[serde(default)]
    pub(crate) at: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) after: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) env: Option<Spanned<Value>>,
    #[serde(default, rename = "do")]
    pub(crate) action: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) stagger: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) user: Option<Spanned<Value>>,
    #[serde(default)]
    pub(crate) force: Option<bool>,
    #[serde(default)]
    pub(crate) allow_in_running_state: Option<bool>,
    #[serde(default)]
    pub(crate) reason: Option<String>,
    #[serde(default)]
    pub(crate) task: Option<String>,
    #[serde(default)]
    pub(crate) host: Option<String>,
    #[serde(default)]
    pub(crate) mode: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) fill: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) beam_type: Option<String>,
    #[serde(default)]
    pub(crate) filling_scheme: Option<String>,
    #[serde(default)]
    pub(crate) repeat: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}
