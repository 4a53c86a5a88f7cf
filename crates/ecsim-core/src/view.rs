//! Read-only views of the core's environments and tasks, for what shows them to people and
//! clients (the control API's `GetEnvironment`, `GetTasks`, `GetRoles`).
//!
//! A view is a copy taken under the environment's lock, never a reference into the core: a
//! client that holds one does not hold the core up, and sees one consistent instant.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    clock::Timestamp,
    fsm::State,
    id::{EnvironmentId, TaskId},
    role_state::{RoleKind, RoleState, TaskStatus},
    run_number::RunNumber,
    workflow::Workflow,
};

/// One environment, as it is at the instant the view was taken.
#[derive(Debug, Clone)]
pub struct EnvironmentView {
    /// Its AliECS id.
    pub id: EnvironmentId,
    /// The name it was created under (a scenario's environment name, or the request's).
    pub name: String,
    /// When it was created.
    pub created: Timestamp,
    /// Its state.
    pub state: State,
    /// The transition in progress (`START_ACTIVITY`, `DESTROY` …), if any.
    pub current_transition: Option<String>,
    /// The run, while one is on.
    pub run_number: Option<RunNumber>,
    /// Its workflow template.
    pub workflow: Arc<Workflow>,
    /// The detectors it holds, sorted.
    pub detectors: Vec<String>,
    /// Its FLP hosts.
    pub hosts: Vec<String>,
    /// Its variables by layer, as AliECS's `ConsolidatedVarMaps` gives them: the defaults
    /// (the workflow's under the environment's own), the vars, the user vars.
    pub defaults: BTreeMap<String, String>,
    /// See [`EnvironmentView::defaults`].
    pub vars: BTreeMap<String, String>,
    /// See [`EnvironmentView::defaults`].
    pub user_vars: BTreeMap<String, String>,
    /// Its tasks, in role order (none before DEPLOY).
    pub tasks: Vec<TaskView>,
    /// Its role tree, parents after their children, the root last.
    pub roles: Vec<RoleView>,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    /// The task id.
    pub id: TaskId,
    /// `<class name>#<id>`, as AliECS names tasks.
    pub name: String,
    /// The task class.
    pub class_name: String,
    /// The host it runs on.
    pub hostname: String,
    /// Its role's path.
    pub role_path: String,
    /// Its state (the environment's, which its tasks share; ERROR when it failed).
    pub state: State,
    /// ACTIVE or INACTIVE.
    pub status: TaskStatus,
    /// The environment it belongs to; none once a destruction that kept its tasks released it.
    pub environment_id: Option<EnvironmentId>,
    /// Whether its role is critical (a task hook's may not be: the shared-memory monitor's).
    pub critical: bool,
}

/// One role of the role tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleView {
    /// Its path from the root, dot-separated.
    pub path: String,
    /// What it is: a task's, a call's, or an aggregator.
    pub kind: RoleKind,
    /// Its state (UNKNOWN before it ever had one).
    pub state: RoleState,
    /// Its status (UNDEFINED before it ever had one).
    pub status: TaskStatus,
    /// The index of its parent in the list, `None` for the root.
    pub parent: Option<usize>,
    /// The id of its task, for a task role whose task runs.
    pub task_id: Option<TaskId>,
}
