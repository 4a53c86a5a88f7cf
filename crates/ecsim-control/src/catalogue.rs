//! What the server offers to create environments from: one repository of workflow templates,
//! ALICE's detectors, and how a `NewEnvironment` request becomes an [`EnvironmentSpec`].
//!
//! AliECS resolves a template expression (`readout-dataflow`,
//! `github.com/AliceO2Group/ControlWorkflows/workflows/readout-dataflow@master`) against the
//! repositories it has cloned, and computes an environment's detectors from its FLPs through
//! its configuration service. ecsim has one repository with the one template it simulates,
//! and takes the detectors from the `detectors` variable (a JSON list, as AliECS's own
//! `detectors` variable is) — the FLPs from `hosts` when given, else one per detector.

use std::{collections::BTreeMap, sync::Arc};

use ecsim_core::{EnvironmentSpec, Timing, readout_dataflow, workflow::Workflow};

/// The repository ecsim lists, as AliECS lists ControlWorkflows.
pub const REPOSITORY: &str = "github.com/AliceO2Group/ControlWorkflows/";
/// Its default (and only) revision.
pub const REVISION: &str = "master";

/// ALICE's detectors, by ECS name, as AliECS's configuration lists them.
pub const DETECTORS: &[&str] = &[
    "CPV", "EMC", "FDD", "FT0", "FV0", "HMP", "ITS", "MCH", "MFT", "MID", "PHS", "TOF", "TPC",
    "TRD", "TST", "ZDC",
];

/// Why a request cannot become an environment: the text is what AliECS's creation error says
/// after its prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The template expression names no template ecsim has: AliECS fails reading it, before
    /// the workflow is loaded.
    #[error(
        "workflow public info parsing failed: no workflow template {expression} in {REPOSITORY} \
         (ecsim simulates {})",
        readout_dataflow::NAME
    )]
    UnknownTemplate {
        /// What the request said.
        expression: String,
    },
    /// A variable the workflow reads as JSON is not: AliECS fails loading the workflow.
    #[error(
        "cannot load workflow template: variable {name} is not a JSON list of strings: {reason}"
    )]
    MalformedVariable {
        /// `detectors` or `hosts`.
        name: &'static str,
        /// The parser's words.
        reason: String,
    },
}

/// What the server builds environments of, and how.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// The workflow environments are made of.
    pub workflow: Arc<Workflow>,
    /// Task step durations of environments created through the API.
    pub timing: Timing,
    /// Simulated tasks per FLP.
    pub tasks_per_host: usize,
}

impl Default for Catalogue {
    fn default() -> Self {
        Self {
            workflow: Arc::new(readout_dataflow::workflow()),
            timing: Timing::default(),
            tasks_per_host: 3,
        }
    }
}

impl Catalogue {
    /// The template a workflow expression names: `readout-dataflow`, with or without the
    /// repository (`…/ControlWorkflows/workflows/readout-dataflow`, with or without the
    /// trailing slash of the repository name) and a revision (`@master`, any revision: ecsim has
    /// one).
    pub fn resolve(&self, expression: &str) -> Result<Arc<Workflow>, RequestError> {
        let unknown = || RequestError::UnknownTemplate {
            expression: expression.to_owned(),
        };
        let without_revision = expression.split('@').next().unwrap_or_default().trim();
        let name = match without_revision.strip_prefix(REPOSITORY.trim_end_matches('/')) {
            Some(rest) => rest
                .trim_start_matches('/')
                .strip_prefix("workflows/")
                .ok_or_else(unknown)?,
            None => without_revision
                .strip_prefix("workflows/")
                .unwrap_or(without_revision),
        };
        let name = name.strip_suffix(".yaml").unwrap_or(name);
        if name == self.workflow.name {
            Ok(Arc::clone(&self.workflow))
        } else {
            Err(unknown())
        }
    }

    /// The environment a request asks for: its variables as user variables, the detectors
    /// from `detectors`, the FLPs from `hosts`.
    pub fn spec(
        &self,
        workflow: Arc<Workflow>,
        vars: &BTreeMap<String, String>,
        user: ecsim_proto::common::User,
    ) -> Result<EnvironmentSpec, RequestError> {
        let list = |name: &'static str| -> Result<Vec<String>, RequestError> {
            match vars.get(name) {
                None => Ok(Vec::new()),
                Some(text) if text.trim().is_empty() => Ok(Vec::new()),
                Some(text) => serde_json::from_str::<Vec<String>>(text).map_err(|error| {
                    RequestError::MalformedVariable {
                        name,
                        reason: error.to_string(),
                    }
                }),
            }
        };
        let detectors = list("detectors")?;
        let hosts = list("hosts")?;
        let mut user_vars = vars.clone();
        // The core computes both from the lists, as AliECS computes them: the request's text is
        // not kept as a user variable over them.
        user_vars.remove("detectors");
        user_vars.remove("hosts");
        Ok(EnvironmentSpec {
            name: String::new(),
            workflow,
            detectors,
            hosts,
            tasks_per_host: self.tasks_per_host,
            vars: user_vars,
            user,
            timing: self.timing,
            task_faults: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_expressions_resolve_as_aliecs_resolves_them() {
        let catalogue = Catalogue::default();
        for expression in [
            "readout-dataflow",
            "readout-dataflow@master",
            "workflows/readout-dataflow",
            "github.com/AliceO2Group/ControlWorkflows/workflows/readout-dataflow@master",
            "github.com/AliceO2Group/ControlWorkflows//workflows/readout-dataflow",
        ] {
            assert!(catalogue.resolve(expression).is_ok(), "{expression}");
        }
        for expression in ["", "minimal", "github.com/other/workflows/readout-dataflow"] {
            let error = catalogue.resolve(expression).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("workflow public info parsing failed: "),
                "{error}"
            );
        }
    }

    #[test]
    fn detectors_and_hosts_must_be_json_lists() {
        let catalogue = Catalogue::default();
        let workflow = Arc::clone(&catalogue.workflow);
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        let spec = catalogue
            .spec(
                Arc::clone(&workflow),
                &vars(&[("detectors", r#"["TPC","ITS"]"#), ("run_type", "PHYSICS")]),
                Default::default(),
            )
            .expect("a valid request");
        assert_eq!(spec.detectors, ["TPC", "ITS"]);
        assert_eq!(
            spec.vars.get("run_type").map(String::as_str),
            Some("PHYSICS")
        );
        assert!(!spec.vars.contains_key("detectors"));

        let error = catalogue
            .spec(
                workflow,
                &vars(&[("detectors", "TPC,ITS")]),
                Default::default(),
            )
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot load workflow template: variable detectors is not a JSON"),
            "{error}"
        );
    }
}
