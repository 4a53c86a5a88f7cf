//! The core's views and events in the control API's messages.
//!
//! Field by field as AliECS's `core/server.go` fills them: an environment's info
//! (`EnvironmentInfo`), its tasks (`ShortTaskInfo`), its role tree (`RoleInfo`), and the
//! `events.Event` envelope of what `Subscribe` streams.

use std::collections::BTreeMap;

use ecsim_core::{
    event::{CoreEvent, CorePayload},
    run_number::RunNumber,
    view::{EnvironmentView, RoleView, TaskView},
};
use ecsim_proto::{
    events::{Event, event::Payload},
    o2control::{EnvironmentInfo, RoleInfo, ShortTaskInfo, TaskDeploymentInfo},
};

/// An environment's `EnvironmentInfo`. `tasks` says whether to list its tasks (AliECS lists
/// them in `GetEnvironment` and `NewEnvironment`, and in `GetEnvironments` only when asked);
/// `services` is the integrated services' data about it, by plugin name.
pub(crate) fn environment_info(
    view: &EnvironmentView,
    tasks: bool,
    services: BTreeMap<String, String>,
) -> EnvironmentInfo {
    let active = view.tasks.iter().filter(|t| t.status == "ACTIVE").count();
    EnvironmentInfo {
        id: view.id.to_string(),
        created_when: view.created.unix_millis(),
        state: view.state.as_str().to_owned(),
        tasks: if tasks {
            view.tasks.iter().map(short_task_info).collect()
        } else {
            Vec::new()
        },
        root_role: view.workflow.name.clone(),
        current_run_number: RunNumber::wire(view.run_number),
        defaults: view.defaults.clone(),
        vars: view.vars.clone(),
        user_vars: view.user_vars.clone(),
        number_of_flps: count(view.hosts.len()),
        included_detectors: view.detectors.clone(),
        description: view.workflow.description.clone(),
        number_of_hosts: count(view.hosts.len()),
        integrated_services_data: services,
        number_of_tasks: count(view.tasks.len()),
        current_transition: view.current_transition.clone().unwrap_or_default(),
        number_of_active_tasks: count(active),
        number_of_inactive_tasks: count(view.tasks.len() - active),
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A task's `ShortTaskInfo`: locked (claimed by its environment) while the environment lives.
pub(crate) fn short_task_info(task: &TaskView) -> ShortTaskInfo {
    ShortTaskInfo {
        name: task.name.clone(),
        locked: !task.environment_id.is_empty(),
        task_id: task.id.clone(),
        status: task.status.clone(),
        state: task.state.clone(),
        class_name: task.class_name.clone(),
        deployment_info: Some(TaskDeploymentInfo {
            hostname: task.hostname.clone(),
            ..Default::default()
        }),
        pid: String::new(),
        sandbox_stdout: String::new(),
        claimable: false,
        critical: true,
    }
}

/// The role tree under `root` (an index into `view.roles`), as `RoleInfo`s nest.
pub(crate) fn role_tree(view: &EnvironmentView, root: usize) -> Option<RoleInfo> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); view.roles.len()];
    for (index, role) in view.roles.iter().enumerate() {
        if let Some(parent) = role.parent {
            children[parent].push(index);
        }
    }
    view.roles.get(root)?;
    Some(build(view, &children, root))
}

fn build(view: &EnvironmentView, children: &[Vec<usize>], at: usize) -> RoleInfo {
    let role = &view.roles[at];
    // Children in the workflow's order: the list has parents after their children, so a
    // parent's children are in list order.
    let roles: Vec<RoleInfo> = children[at]
        .iter()
        .map(|&child| build(view, children, child))
        .collect();
    let mut task_ids: Vec<String> = role.task_id.iter().cloned().collect();
    for child in &roles {
        task_ids.extend(child.task_ids.iter().cloned());
    }
    RoleInfo {
        name: role
            .path
            .rsplit('.')
            .next()
            .unwrap_or(&role.path)
            .to_owned(),
        status: or_undefined(&role.status, "UNDEFINED"),
        state: or_undefined(&role.state, "UNKNOWN"),
        full_path: role.path.clone(),
        task_ids,
        roles,
        ..Default::default()
    }
}

fn or_undefined(value: &str, undefined: &str) -> String {
    if value.is_empty() {
        undefined.to_owned()
    } else {
        value.to_owned()
    }
}

/// The roles matching a path spec (AliECS's `QueryRoles`: a path, `*` matching one segment;
/// an empty spec is the root).
pub(crate) fn query_roles(view: &EnvironmentView, spec: &str) -> Vec<usize> {
    let spec = if spec.trim().is_empty() {
        view.workflow.name.as_str()
    } else {
        spec.trim()
    };
    let wanted: Vec<&str> = spec.split('.').collect();
    view.roles
        .iter()
        .enumerate()
        .filter(|(_, role)| matches(&wanted, role))
        .map(|(index, _)| index)
        .collect()
}

fn matches(wanted: &[&str], role: &RoleView) -> bool {
    let segments: Vec<&str> = role.path.split('.').collect();
    segments.len() == wanted.len()
        && segments
            .iter()
            .zip(wanted)
            .all(|(segment, want)| *want == "*" || segment == want)
}

/// The environment a core event is about, if any.
pub(crate) fn environment_of(event: &CoreEvent) -> Option<&str> {
    let id = match &event.payload {
        CorePayload::CoreStart(_) => return None,
        CorePayload::Environment(e) => &e.environment_id,
        CorePayload::Run(e) => &e.environment_id,
        CorePayload::Task(e) => &e.environment_id,
        CorePayload::Role(e) => &e.environment_id,
        CorePayload::Call(e) => &e.environment_id,
        CorePayload::IntegratedService { event, .. } => &event.environment_id,
    };
    Some(id.as_str()).filter(|id| !id.is_empty())
}

/// A core event in its `events.Event` envelope, as AliECS's writers wrap it.
pub(crate) fn event(event: &CoreEvent) -> Event {
    let payload = match &event.payload {
        CorePayload::CoreStart(e) => Payload::CoreStartEvent(e.clone()),
        CorePayload::Environment(e) => Payload::EnvironmentEvent(e.clone()),
        CorePayload::Run(e) => Payload::RunEvent(e.clone()),
        CorePayload::Task(e) => Payload::TaskEvent(e.clone()),
        CorePayload::Role(e) => Payload::RoleEvent(e.clone()),
        CorePayload::Call(e) => Payload::CallEvent(e.clone()),
        CorePayload::IntegratedService { event, .. } => {
            Payload::IntegratedServiceEvent(event.clone())
        }
    };
    Event {
        timestamp: event.timestamp.unix_millis(),
        timestamp_nano: event.timestamp.unix_nanos(),
        payload: Some(payload),
    }
}
