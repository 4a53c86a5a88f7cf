//! A scenario file as written: serde structures that mirror the TOML, with the span of every
//! value kept so that validation can point at it.
//!
//! Unknown keys are found before these types are filled, all at once, against the field lists
//! serde derives here (`validate/keys.rs`); `deny_unknown_fields` stays as the backstop. Everything
//! else — durations, names, references between sections, times — is checked in
//! [`crate::validate`].
//!
//! The same types give the format's JSON Schema ([`crate::schema`]): each field's doc comment
//! is what an editor shows for its key, so they are written for scenario authors.

use std::{borrow::Cow, collections::BTreeMap, ops::Range};

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use toml::Value;

use crate::shapes as s;

/// A value, and where the file writes it. In the schema it is its value: spans are not written.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct Spanned<T>(toml::Spanned<T>);

impl<T> Spanned<T> {
    /// The value.
    pub(crate) fn get_ref(&self) -> &T {
        self.0.get_ref()
    }

    /// The value, owned.
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner()
    }

    /// Where it is: bytes of the file.
    pub(crate) fn span(&self) -> Range<usize> {
        self.0.span()
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// An ecsim scenario: environments, the requests made to them over time, the plugins and
/// faults of their integrated services, and what must reach Kafka.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ecsim scenario")]
pub(crate) struct RawScenario {
    /// The scenario as a whole: its name, seed, start, pace and defaults.
    pub(crate) scenario: Spanned<RawHeader>,
    /// The environments, each running AliECS's readout-dataflow workflow.
    #[serde(default, rename = "environment")]
    pub(crate) environments: Vec<Spanned<RawEnvironment>>,
    /// The steps, in time order: requests to environments, beam modes, waits.
    #[serde(default)]
    pub(crate) timeline: Vec<Spanned<RawStep>>,
    /// What must, or must not, reach the broker.
    #[serde(default, rename = "expect")]
    pub(crate) expectations: Vec<Spanned<RawExpectation>>,
    /// Plugin libraries to load beside ecsim's built-in plugins.
    #[serde(default, rename = "plugin")]
    pub(crate) plugins: Vec<Spanned<RawPlugin>>,
    /// What goes wrong in an integrated service, or in the environment's own tasks.
    #[serde(default, rename = "fault")]
    pub(crate) faults: Vec<Spanned<RawFault>>,
}

/// `[[plugin]]`: a plugin library to load, and its plugins' configuration.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlugin {
    /// A path (relative to this file), or the short name of a library shipped with ecsim:
    /// `mock-services` is DCS, ODC, TRG and DDSched.
    pub(crate) library: Spanned<String>,
    /// Which of its plugins to load; default: all.
    #[serde(default)]
    pub(crate) plugins: Option<Spanned<Vec<Spanned<String>>>>,
    /// Each plugin's configuration, by plugin name, as the plugin defines it
    /// (`[plugin.config.dcs]`).
    #[serde(default)]
    #[schemars(schema_with = "s::plugin_config")]
    pub(crate) config: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
    /// Each plugin instance in a process of its own: a crash fails its calls instead of ending
    /// ecsim. Default: false.
    #[serde(default)]
    pub(crate) isolate: Option<Spanned<bool>>,
    /// Isolated only: how often a dead plugin is started again at its next call (0 to 100,
    /// default 3); then it stays down.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub(crate) restarts: Option<Spanned<i64>>,
}

/// `[[fault]]`: what goes wrong in a service's operation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    /// The loaded plugin the fault configures (`dcs`, `odc`, `trg`, `ddsched`), or `tasks`: the
    /// environment's own tasks.
    pub(crate) service: Spanned<String>,
    /// The function it hits, as workflow calls name it (`StartOfRun`); for `tasks`, a
    /// transition (`DEPLOY`, `CONFIGURE`, `START_ACTIVITY`, `STOP_ACTIVITY`, `RESET`).
    pub(crate) operation: Spanned<String>,
    /// What happens to the calls it hits.
    #[schemars(schema_with = "s::fault_outcome")]
    pub(crate) outcome: Spanned<String>,
    /// Only this environment's calls (its name in the scenario).
    #[serde(default)]
    pub(crate) env: Option<Spanned<String>>,
    /// Only the calls of this run number.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub(crate) run: Option<Spanned<i64>>,
    /// DCS: the detectors concerned.
    #[serde(default)]
    pub(crate) detectors: Option<Spanned<Vec<Spanned<String>>>>,
    /// For `delay` (how much slower) and `partition-error` (how long into the run; default 1m),
    /// as Go writes durations: `30s`.
    #[serde(default)]
    #[schemars(schema_with = "s::duration")]
    pub(crate) delay: Option<Spanned<String>>,
    /// Only from this time on, from the start of the scenario (`2h`).
    #[serde(default)]
    #[schemars(schema_with = "s::duration")]
    pub(crate) when: Option<Spanned<String>>,
    /// Only this many calls; default: every matching call.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub(crate) times: Option<Spanned<i64>>,
    /// `error`: what the service answers (DCS with detectors: what it says of them); `panic`:
    /// the panic's text. Other outcomes have no message of their own.
    #[serde(default)]
    pub(crate) message: Option<Spanned<String>>,
}

/// Field paths and the values they must have: `{ "envInfo.runType" = "PHYSICS" }`.
pub(crate) type RawFields = BTreeMap<String, Spanned<Value>>;

/// `[[expect]]`: what must (or must not) reach a topic.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectation {
    /// A topic, or a pattern with `*` (`aliecs.env_state.*`).
    pub(crate) topic: Spanned<String>,
    /// Only this environment's messages (its name in the scenario).
    #[serde(default)]
    pub(crate) env: Option<Spanned<String>>,
    /// Field values, by dotted path into the message as `ecsim tail` prints it
    /// (`{ "envInfo.runType" = "PHYSICS" }`).
    #[serde(default, rename = "where")]
    #[schemars(schema_with = "s::fields")]
    pub(crate) fields: Option<Spanned<RawFields>>,
    /// Exactly this many matching messages.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub(crate) count: Option<Spanned<i64>>,
    /// At least this many matching messages.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub(crate) min: Option<Spanned<i64>>,
    /// At most this many matching messages.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub(crate) max: Option<Spanned<i64>>,
    /// No matching message at all.
    #[serde(default)]
    pub(crate) absent: Option<Spanned<bool>>,
    /// These field values, in this order, among the messages.
    #[serde(default)]
    #[schemars(schema_with = "s::fields_in_order")]
    pub(crate) in_order: Option<Spanned<Vec<Spanned<RawFields>>>>,
}

/// `[scenario]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    /// The scenario's name (`verify` and the summary name it).
    pub(crate) name: Spanned<String>,
    /// What it shows, in a sentence.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// Seeds every id (environments, tasks); `--seed` overrides it.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub(crate) seed: Option<Spanned<i64>>,
    /// When the simulation starts (UTC), or "now"; default 2026-01-01T00:00:00Z.
    #[serde(default)]
    #[schemars(schema_with = "s::epoch")]
    pub(crate) epoch: Option<Spanned<Value>>,
    /// 0: virtual time, as fast as possible (default); 1: real time; 10: ten times faster.
    #[serde(default)]
    #[schemars(schema_with = "s::speed")]
    pub(crate) speed: Option<Spanned<Value>>,
    /// Who makes the requests (lastRequestUser); default "ecsim".
    #[serde(default)]
    #[schemars(schema_with = "s::user")]
    pub(crate) user: Option<Spanned<Value>>,
    /// The first run number handed out; default 1.
    #[serde(default)]
    #[schemars(range(min = 1, max = 4_294_967_295_i64))]
    pub(crate) first_run_number: Option<Spanned<i64>>,
    /// What becomes of environments still alive when the timeline ends.
    #[serde(default)]
    #[schemars(schema_with = "s::at_end")]
    pub(crate) at_end: Option<Spanned<String>>,
    /// The Kafka plugin's message keys.
    #[serde(default)]
    #[schemars(schema_with = "s::kafka_keys")]
    pub(crate) kafka_keys: Option<Spanned<String>>,
    /// AliECS's integrationPlugins: the integration plugins loaded, by name; default: every
    /// plugin there is.
    #[serde(default)]
    pub(crate) integration_plugins: Option<Spanned<Vec<Spanned<String>>>>,
    /// AliECS's enableKafka; false: nothing is published at all. Default: true.
    #[serde(default)]
    pub(crate) enable_kafka: Option<bool>,
    /// true: detectors need not be ALICE's (D01 … D50 for load tests). Default: false.
    #[serde(default)]
    pub(crate) own_detectors: Option<bool>,
}

/// `[[environment]]`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvironment {
    /// How the timeline refers to it; with `count`, `{i}` (or `{i:03}`) becomes 1 … N.
    pub(crate) name: Spanned<String>,
    /// Makes this many environments from the definition.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100_000))]
    pub(crate) count: Option<Spanned<i64>>,
    /// The detectors: ALICE's codes (`ITS`, `TPC` …) unless `own_detectors = true`.
    pub(crate) detectors: Spanned<Vec<Spanned<String>>>,
    /// The FLPs; default one per detector, `flp-<detector>`.
    #[serde(default)]
    pub(crate) hosts: Option<Spanned<Vec<Spanned<String>>>>,
    /// Simulated tasks per host (aliecs.task, aliecs.role); default 3.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub(crate) tasks_per_host: Option<Spanned<i64>>,
    /// An AliECS run type (`PHYSICS`, `TECHNICAL`, `COSMICS` …).
    #[serde(default)]
    pub(crate) run_type: Option<Spanned<String>>,
    /// Any AliECS variable: `{ kafka_enabled = "true", dcs_enabled = "false" }`.
    #[serde(default)]
    #[schemars(schema_with = "s::vars")]
    pub(crate) vars: Option<Spanned<BTreeMap<String, Spanned<Value>>>>,
    /// How long each transition takes: `deploy`, `configure`, `start`, `stop`, `reset`,
    /// `go_error`, `release`.
    #[serde(default)]
    #[schemars(schema_with = "s::timing")]
    pub(crate) timing: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    /// Call roles of readout-dataflow to drop (`bookkeeping`).
    #[serde(default)]
    pub(crate) remove_calls: Vec<Spanned<String>>,
    /// Call roles added to the workflow, or replacing one of the same role.
    #[serde(default)]
    pub(crate) call: Vec<Spanned<RawCall>>,
}

/// `[[environment.call]]`: a call role added to the workflow, or replacing one of the same role.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCall {
    /// The call role (`qc.check`).
    pub(crate) role: Spanned<String>,
    /// The call as AliECS's workflows write it: `qc.Check()`.
    pub(crate) func: Spanned<String>,
    /// When it runs: a moment and its weight (`enter_RUNNING+10`, `before_START_ACTIVITY`).
    pub(crate) trigger: Spanned<String>,
    /// When the transition waits for it; default: the trigger.
    #[serde(default, rename = "await")]
    pub(crate) await_expr: Option<Spanned<String>>,
    /// Its timeout, as Go writes durations; default 30s.
    #[serde(default)]
    #[schemars(schema_with = "s::duration")]
    pub(crate) timeout: Option<Spanned<String>>,
    /// Whether its failure fails the transition; default true.
    #[serde(default)]
    pub(crate) critical: Option<bool>,
    /// When it is on: `var == 'v'`, `var != 'v'`, `'DET' in detectors`, joined with `&&`.
    #[serde(default)]
    pub(crate) enabled: Option<Spanned<String>>,
    /// The variable its return value is stored in.
    #[serde(default, rename = "return")]
    pub(crate) return_var: Option<String>,
}

/// `[[timeline]]`, or one entry of a block's `steps`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    /// Its time from the start of the scenario (`90s`, `1h30m`).
    #[serde(default)]
    #[schemars(schema_with = "s::duration")]
    pub(crate) at: Option<Spanned<String>>,
    /// Its time after the previous step (`10m`).
    #[serde(default)]
    #[schemars(schema_with = "s::duration")]
    pub(crate) after: Option<Spanned<String>>,
    /// The environment: a name, a list of names, or a prefix ending in `*` (`env-*`).
    #[serde(default)]
    #[schemars(schema_with = "s::environments")]
    pub(crate) env: Option<Spanned<Value>>,
    /// What happens.
    #[serde(default, rename = "do")]
    #[schemars(schema_with = "s::action")]
    pub(crate) action: Option<Spanned<String>>,
    /// With several environments: each one this long after the previous.
    #[serde(default)]
    #[schemars(schema_with = "s::duration")]
    pub(crate) stagger: Option<Spanned<String>>,
    /// Who asks, for this step (a name or a table, as the scenario's `user`).
    #[serde(default)]
    #[schemars(schema_with = "s::user")]
    pub(crate) user: Option<Spanned<Value>>,
    /// `destroy`: AliECS's force flag.
    #[serde(default)]
    pub(crate) force: Option<bool>,
    /// `destroy`: AliECS's allowInRunningState.
    #[serde(default)]
    pub(crate) allow_in_running_state: Option<bool>,
    /// `end_of_stream`: the reason the tasks give; default `END_OF_STREAM`.
    #[serde(default)]
    pub(crate) reason: Option<String>,
    /// `go_error`, `task_internal_error`: which task (`readout`); default the first.
    #[serde(default)]
    pub(crate) task: Option<String>,
    /// `go_error`, `task_internal_error`: on which host (`flp-tpc`); default the first.
    #[serde(default)]
    pub(crate) host: Option<String>,
    /// `beam_mode`: the LHC beam mode (`STABLE_BEAMS`, `BEAM_DUMP` …).
    #[serde(default)]
    #[schemars(schema_with = "s::beam_mode")]
    pub(crate) mode: Option<Spanned<String>>,
    /// `beam_mode`: the fill number.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub(crate) fill: Option<Spanned<i64>>,
    /// `beam_mode`: the beam type (`p-p`).
    #[serde(default)]
    pub(crate) beam_type: Option<String>,
    /// `beam_mode`: the filling scheme.
    #[serde(default)]
    pub(crate) filling_scheme: Option<String>,
    /// A block: how many times its `steps` are played.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub(crate) repeat: Option<Spanned<i64>>,
    /// A block's steps; times inside are `after` the previous step, across repetitions.
    #[serde(default)]
    pub(crate) steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}
