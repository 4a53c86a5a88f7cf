//! The utility templates the Control GUI runs as automatic environments: `resources-cleanup`
//! ("Clean resources" on the task page) and `o2-roc-config` (the CRU configuration page), as
//! ControlWorkflows defines them (25da17f8, `workflows/resources-cleanup.yaml`,
//! `workflows/o2-roc-config.yaml`).
//!
//! Both are a role per host with basic tasks (`control: mode: basic`): commands that run once
//! the environment starts and then exit. AliECS stops the run when every basic task of the
//! environment has terminated (`manager.go`, BASIC_TASK_TERMINATED handled as END_OF_STREAM),
//! and the automatic environment then resets and tears itself down. Neither template has an
//! integration call, so neither writes a Kafka plugin topic; their environment, task and role
//! events are the core's, as for any environment.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use ecsim_core::workflow::{TaskClass, Workflow};

/// `resources-cleanup`'s name.
pub const RESOURCES_CLEANUP: &str = "resources-cleanup";
/// `o2-roc-config`'s name.
pub const ROC_CONFIG: &str = "o2-roc-config";

/// How long a basic task of these templates runs before it terminates (simulated): the
/// cleanup's and the configuration's commands take seconds on an FLP.
pub const BASIC_TASK_RUN: Duration = Duration::from_secs(2);

const TASKS: &str = "github.com/AliceO2Group/ControlWorkflows/tasks";
const WORKFLOWS: &str = "github.com/AliceO2Group/ControlWorkflows/workflows";

fn defaults(pairs: &[(&str, &str)]) -> Arc<BTreeMap<String, String>> {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn task(name: &str) -> TaskClass {
    TaskClass {
        name: name.to_owned(),
        group: None,
        class_name: format!("{TASKS}/{name}@master"),
    }
}

fn template(name: &str, pairs: &[(&str, &str)], tasks: &[&str]) -> Workflow {
    Workflow {
        name: name.to_owned(),
        // Neither template has a description, and neither is public.
        description: String::new(),
        path: format!("{WORKFLOWS}/{name}@master"),
        public: false,
        defaults: defaults(pairs),
        calls: Vec::new(),
        task_classes: tasks.iter().map(|t| task(t)).collect(),
        hook_tasks: Vec::new(),
        role_defaults: BTreeMap::new(),
    }
}

/// `resources-cleanup`: on every host, the shared-memory monitor's cleanup and the readout
/// cards' cleanup.
pub fn resources_cleanup() -> Workflow {
    template(
        RESOURCES_CLEANUP,
        &[
            ("bookkept", "false"),
            ("fmq_cleanup_enabled", "true"),
            ("log_task_stderr", "none"),
            ("log_task_stdout", "none"),
            ("roc_cleanup_enabled", "true"),
        ],
        &["fairmq-shmmonitor", "o2-roc-cleanup"],
    )
}

/// `o2-roc-config`: on every host, the readout cards configured from the configuration store.
/// AliECS runs one task per card of the host; ecsim's inventory has no cards, so one per host.
pub fn roc_config() -> Workflow {
    template(
        ROC_CONFIG,
        &[
            ("bookkept", "false"),
            ("consul_port", "8500"),
            ("consul_prefix", "o2/components/readoutcard"),
            ("log_task_stderr", "none"),
            ("log_task_stdout", "none"),
            ("roc_config_uri_enabled", "true"),
        ],
        &["roc-config-uri"],
    )
}

/// Whether environments of `workflow` run basic tasks, which end by themselves.
pub fn runs_basic_tasks(workflow: &Workflow) -> bool {
    matches!(workflow.name.as_str(), RESOURCES_CLEANUP | ROC_CONFIG)
}
