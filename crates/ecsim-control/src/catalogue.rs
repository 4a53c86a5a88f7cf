//! What the server offers to create environments from: one repository of workflow templates,
//! ALICE's detectors and FLPs, and how a `NewEnvironment` request becomes an
//! [`EnvironmentSpec`].
//!
//! AliECS resolves a template expression (`readout-dataflow`,
//! `github.com/AliceO2Group/ControlWorkflows/workflows/readout-dataflow@master`) against the
//! repositories it has cloned, and computes an environment's detectors from its FLPs through its
//! configuration service. ecsim has one repository with the templates it simulates —
//! `readout-dataflow`, and the two utility templates the GUI runs as automatic environments
//! ([`crate::templates`]) — and computes detectors from hosts through its [`Inventory`], as
//! AliECS does; a request that gives `detectors` (a JSON list, as AliECS's own variable is) and
//! no hosts gets one FLP of ecsim's per detector (`flp-<detector>`), which AliECS cannot do.

use std::{collections::BTreeMap, sync::Arc};

use ecsim_core::{EnvironmentSpec, Timing, readout_dataflow, workflow::Workflow};

use crate::{
    inventory::{Inventory, SYSTEM_IDS, UnknownHost},
    templates,
};

/// The repository ecsim lists, as AliECS lists ControlWorkflows.
pub const REPOSITORY: &str = "github.com/AliceO2Group/ControlWorkflows/";
/// Its default (and only) revision.
pub const REVISION: &str = "master";

/// At most this many hosts, or detectors, in one request's lists.
pub const MAX_LIST: usize = 10_000;

/// Why a request cannot become an environment: the text is what AliECS's creation error says
/// after its prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The template expression names no template ecsim has: AliECS fails reading it, before
    /// the workflow is loaded.
    #[error(
        "workflow public info parsing failed: no workflow template {expression} in {REPOSITORY} \
         (ecsim simulates {})",
        simulated()
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
    /// A list longer than ecsim takes.
    #[error(
        "cannot load workflow template: variable {name} lists {count} entries; ecsim takes at most {MAX_LIST}"
    )]
    TooLong {
        /// `detectors` or `hosts`.
        name: &'static str,
        /// How many it lists.
        count: usize,
    },
    /// A host the inventory does not know: AliECS fails computing the detectors.
    #[error("cannot acquire detectors in loaded workflow template: {0}")]
    UnknownHost(UnknownHost),
    /// A detector name that is not one of AliECS's.
    #[error(
        "cannot acquire detectors in loaded workflow template: {0} does not belong to ID values"
    )]
    UnknownDetector(String),
}

/// What the server builds environments of, and how.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// The data-taking workflow, `readout-dataflow`.
    pub workflow: Arc<Workflow>,
    /// The utility templates automatic environments run (`resources-cleanup`, `o2-roc-config`).
    pub utilities: Vec<Arc<Workflow>>,
    /// ALICE's detectors and FLPs.
    pub inventory: Arc<Inventory>,
    /// Task step durations of environments created through the API.
    pub timing: Timing,
    /// Simulated tasks per FLP of `readout-dataflow`.
    pub tasks_per_host: usize,
}

impl Default for Catalogue {
    fn default() -> Self {
        Self {
            workflow: Arc::new(readout_dataflow::workflow()),
            utilities: vec![
                Arc::new(templates::resources_cleanup()),
                Arc::new(templates::roc_config()),
            ],
            inventory: Arc::new(Inventory::alice()),
            timing: Timing::default(),
            tasks_per_host: 3,
        }
    }
}

fn simulated() -> String {
    [
        readout_dataflow::NAME,
        templates::RESOURCES_CLEANUP,
        templates::ROC_CONFIG,
    ]
    .join(", ")
}

impl Catalogue {
    /// Every template, the data-taking one first.
    pub fn templates(&self) -> impl Iterator<Item = &Arc<Workflow>> {
        std::iter::once(&self.workflow).chain(&self.utilities)
    }

    /// The templates `GetWorkflowTemplates` lists for `request`, as AliECS's repository manager
    /// selects them: repositories by glob pattern (or index), the revision by glob pattern (or
    /// the default), public templates unless every one is asked for.
    pub fn query(
        &self,
        request: &ecsim_proto::o2control::GetWorkflowTemplatesRequest,
    ) -> Result<Vec<&Arc<Workflow>>, tonic::Status> {
        let (repo, revision) = (&request.repo_pattern, &request.revision_pattern);
        let refused = |why: String| {
            tonic::Status::invalid_argument(format!(
                "cannot query available workflows for {}@{}: {why}",
                crate::status::clip(repo),
                crate::status::clip(revision)
            ))
        };
        if (request.all_branches || request.all_tags) && !revision.is_empty() {
            return Err(refused(
                "cannot use all{Branches,Tags} with a revision specified".to_owned(),
            ));
        }
        let matches = |pattern: &str, candidate: &str| -> Result<bool, tonic::Status> {
            globset::Glob::new(pattern)
                .map(|glob| glob.compile_matcher().is_match(candidate))
                .map_err(|error| refused(error.to_string()))
        };
        let identifier = REPOSITORY.trim_end_matches('/');
        let repo_matches = match repo.parse::<i64>() {
            Ok(0) => true,
            Ok(index) => {
                return Err(refused(format!(
                    "getRepoByIndex: repo not found for index :{index}"
                )));
            }
            Err(_) if repo.is_empty() => true,
            Err(_) => matches(repo, identifier)? || matches(repo, REPOSITORY)?,
        };
        let revision_matches = request.all_branches
            || request.all_tags
            || revision.is_empty()
            || matches(revision, REVISION)?;
        if !(repo_matches && revision_matches) {
            return Ok(Vec::new());
        }
        Ok(self
            .templates()
            .filter(|workflow| request.all_workflows || workflow.public)
            .collect())
    }

    /// The template a workflow expression names: a template's name, with or without the
    /// repository (`…/ControlWorkflows/workflows/readout-dataflow`, with or without the
    /// trailing slash of the repository name) and a revision (`@master`, any revision: ecsim has
    /// one).
    pub fn resolve(&self, expression: &str) -> Result<Arc<Workflow>, RequestError> {
        let unknown = || RequestError::UnknownTemplate {
            expression: crate::status::clip(expression),
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
        self.templates()
            .find(|workflow| workflow.name == name)
            .cloned()
            .ok_or_else(unknown)
    }

    /// The environment a request asks for: its variables as user variables, the detectors
    /// from `detectors`, else from the FLPs; the FLPs from `hosts` (each one the inventory
    /// knows), else — for a utility template — every FLP.
    pub fn spec(
        &self,
        workflow: Arc<Workflow>,
        vars: &BTreeMap<String, String>,
        user: ecsim_proto::common::User,
    ) -> Result<EnvironmentSpec, RequestError> {
        let list = |name: &'static str| -> Result<Option<Vec<String>>, RequestError> {
            match vars.get(name) {
                None => Ok(None),
                Some(text) if text.trim().is_empty() => Ok(None),
                Some(text) => {
                    let list = serde_json::from_str::<Vec<String>>(text).map_err(|error| {
                        RequestError::MalformedVariable {
                            name,
                            reason: error.to_string(),
                        }
                    })?;
                    if list.len() > MAX_LIST {
                        return Err(RequestError::TooLong {
                            name,
                            count: list.len(),
                        });
                    }
                    Ok(Some(list))
                }
            }
        };
        let utility = templates::runs_basic_tasks(&workflow);
        // The Control GUI takes the FLPs of "Clean resources" from Consul; without one it sends
        // JavaScript's `undefined` for them. It means every FLP, and that is what a cleanup is
        // given then (AliECS would fail reading the list).
        let gui_without_consul = utility
            && vars
                .get("hosts")
                .is_some_and(|hosts| hosts.trim() == "undefined");
        let hosts = match list("hosts") {
            _ if gui_without_consul => self.inventory.hosts(""),
            Ok(Some(hosts)) => hosts,
            Ok(None) if utility => self.inventory.hosts(""),
            Ok(None) => Vec::new(),
            Err(error) => return Err(error),
        };
        // AliECS asks its configuration service for the detectors of the FLPs whatever else the
        // request says: an FLP it does not know fails the creation.
        let of_hosts = self
            .inventory
            .detectors_for(&hosts)
            .map_err(|UnknownHost(host)| {
                RequestError::UnknownHost(UnknownHost(crate::status::clip(&host)))
            })?;
        let detectors = match list("detectors")? {
            Some(detectors) => {
                if let Some(unknown) = detectors.iter().find(|d| !SYSTEM_IDS.contains(&d.as_str()))
                {
                    return Err(RequestError::UnknownDetector(crate::status::clip(unknown)));
                }
                detectors
            }
            None => of_hosts,
        };
        let mut user_vars = vars.clone();
        // The core computes both from the lists, as AliECS computes them: the request's text is
        // not kept as a user variable over them.
        user_vars.remove("detectors");
        user_vars.remove("hosts");
        Ok(EnvironmentSpec {
            name: String::new(),
            tasks_per_host: if utility {
                workflow.task_classes.len()
            } else {
                self.tasks_per_host
            },
            workflow,
            // A utility environment holds no detector: the GUI runs it beside data taking.
            detectors: if utility { Vec::new() } else { detectors },
            hosts,
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

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn detectors_and_hosts_must_be_json_lists() {
        let catalogue = Catalogue::default();
        let workflow = Arc::clone(&catalogue.workflow);
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

    #[test]
    fn hosts_alone_give_the_detectors_as_aliecs_computes_them() {
        let catalogue = Catalogue::default();
        let workflow = Arc::clone(&catalogue.workflow);
        let spec = catalogue
            .spec(
                Arc::clone(&workflow),
                &vars(&[(
                    "hosts",
                    r#"["alio2-cr1-flp187","alio2-cr1-flp188","alio2-cr1-flp001"]"#,
                )]),
                Default::default(),
            )
            .expect("hosts the inventory knows");
        assert_eq!(spec.detectors, ["ITS", "TPC"]);
        assert_eq!(spec.hosts.len(), 3);
        let unknown = catalogue
            .spec(
                Arc::clone(&workflow),
                &vars(&[("hosts", r#"["alio2-cr1-flp001","flp-nowhere"]"#)]),
                Default::default(),
            )
            .unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "cannot acquire detectors in loaded workflow template: detector not found for host flp-nowhere"
        );
        let not_a_detector = catalogue
            .spec(
                Arc::clone(&workflow),
                &vars(&[("detectors", r#"["TPC","NOPE"]"#)]),
                Default::default(),
            )
            .unwrap_err();
        assert_eq!(
            not_a_detector.to_string(),
            "cannot acquire detectors in loaded workflow template: NOPE does not belong to ID values"
        );
        let many: Vec<String> = (0..=MAX_LIST)
            .map(|_| "alio2-cr1-flp001".to_owned())
            .collect();
        let too_long = catalogue
            .spec(
                workflow,
                &vars(&[("hosts", &serde_json::to_string(&many).expect("JSON"))]),
                Default::default(),
            )
            .unwrap_err();
        assert!(matches!(
            too_long,
            RequestError::TooLong { name: "hosts", .. }
        ));
    }

    #[test]
    fn a_utility_template_runs_on_every_flp_and_holds_no_detector() {
        let catalogue = Catalogue::default();
        let cleanup = catalogue
            .resolve("github.com/AliceO2Group/ControlWorkflows/workflows/resources-cleanup@master")
            .expect("the GUI's expression");
        let spec = catalogue
            .spec(Arc::clone(&cleanup), &BTreeMap::new(), Default::default())
            .expect("no hosts: every FLP");
        assert_eq!(spec.hosts.len(), catalogue.inventory.hosts("").len());
        assert!(spec.detectors.is_empty());
        assert_eq!(spec.tasks_per_host, 2);
        let some = catalogue
            .spec(
                Arc::clone(&cleanup),
                &vars(&[("hosts", r#"["alio2-cr1-flp187"]"#)]),
                Default::default(),
            )
            .expect("some hosts");
        assert_eq!(some.hosts, ["alio2-cr1-flp187"]);
        let from_a_gui_without_consul = catalogue
            .spec(
                Arc::clone(&cleanup),
                &vars(&[("hosts", "undefined")]),
                Default::default(),
            )
            .expect("every FLP");
        assert_eq!(
            from_a_gui_without_consul.hosts.len(),
            catalogue.inventory.hosts("").len()
        );
        assert!(catalogue.resolve("o2-roc-config").is_ok());
    }

    #[test]
    fn templates_are_listed_as_aliecs_s_repository_manager_selects_them() {
        use ecsim_proto::o2control::GetWorkflowTemplatesRequest as Query;
        let catalogue = Catalogue::default();
        let names = |query: Query| -> Vec<String> {
            catalogue
                .query(&query)
                .expect("a valid query")
                .iter()
                .map(|w| w.name.clone())
                .collect()
        };
        assert_eq!(names(Query::default()), ["readout-dataflow"]);
        assert_eq!(
            names(Query {
                all_workflows: true,
                ..Query::default()
            }),
            ["readout-dataflow", "resources-cleanup", "o2-roc-config"]
        );
        assert_eq!(
            names(Query {
                repo_pattern: "*ControlWorkflows*".to_owned(),
                revision_pattern: "mas*".to_owned(),
                ..Query::default()
            }),
            ["readout-dataflow"]
        );
        assert!(
            names(Query {
                repo_pattern: "github.com/other/*".to_owned(),
                ..Query::default()
            })
            .is_empty()
        );
        assert!(
            names(Query {
                revision_pattern: "v1.*".to_owned(),
                ..Query::default()
            })
            .is_empty()
        );
        let refused = catalogue
            .query(&Query {
                all_tags: true,
                revision_pattern: "master".to_owned(),
                ..Query::default()
            })
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(
            refused
                .message()
                .ends_with("cannot use all{Branches,Tags} with a revision specified"),
            "{}",
            refused.message()
        );
    }
}
