//! The core's views and events in the control API's messages.
//!
//! Field by field as AliECS's `core/server.go` fills them: an environment's info
//! (`EnvironmentInfo`), its tasks (`ShortTaskInfo`), its role tree (`RoleInfo`), and the
//! `events.Event` envelope of what `Subscribe` streams.

use std::collections::BTreeMap;

use ecsim_core::{
    EnvironmentId,
    event::{CoreEvent, CorePayload},
    role_state::{RoleState, TaskStatus},
    run_number::RunNumber,
    view::{EnvironmentView, RoleView, TaskView},
};
use ecsim_proto::{
    events::{Event, event::Payload},
    o2control::{EnvironmentInfo, RoleInfo, ShortTaskInfo, TaskDeploymentInfo},
};

/// An environment's `EnvironmentInfo`. `tasks` says whether to list its tasks (AliECS lists
/// them in `GetEnvironment` and `NewEnvironment`, and in `GetEnvironments` only when asked);
/// `services` is the integrated services' data about it, by plugin name; `framework_id` names
/// where its tasks run.
pub(crate) fn environment_info(
    view: &EnvironmentView,
    tasks: bool,
    services: BTreeMap<String, String>,
    framework_id: &str,
) -> EnvironmentInfo {
    let active = view
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Active)
        .count();
    EnvironmentInfo {
        id: view.id.to_string(),
        created_when: view.created.unix_millis(),
        state: view.state.as_str().to_owned(),
        tasks: if tasks {
            view.tasks
                .iter()
                .map(|task| short_task_info(task, framework_id))
                .collect()
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

/// A task's `ShortTaskInfo`, as AliECS's `taskToShortTaskInfo` fills it: locked (claimed by
/// its environment) while the environment lives; its status, state and criticality its role's
/// (a hook's role may not be critical),
/// or UNKNOWN for a task outside any environment; where Mesos runs it (agent, offer, executor,
/// process) and the address of its standard output in the agent's sandbox. ecsim has no Mesos:
/// those identifiers are made up from the framework id, the host and the task, the same each
/// time they are asked for, in Mesos's shapes.
pub(crate) fn short_task_info(task: &TaskView, framework_id: &str) -> ShortTaskInfo {
    let owned = task.environment_id.is_some();
    let deployment = Deployment::of(task, framework_id);
    ShortTaskInfo {
        name: task.name.clone(),
        locked: owned,
        task_id: task.id.to_string(),
        status: if owned { task.status.as_str() } else { UNKNOWN }.to_owned(),
        state: if owned { task.state.as_str() } else { UNKNOWN }.to_owned(),
        class_name: task.class_name.clone(),
        sandbox_stdout: deployment.sandbox_stdout(&task.hostname, framework_id),
        pid: deployment.pid,
        deployment_info: Some(TaskDeploymentInfo {
            hostname: task.hostname.clone(),
            agent_id: deployment.agent_id,
            offer_id: deployment.offer_id,
            executor_id: deployment.executor_id,
        }),
        claimable: false,
        critical: owned && task.critical,
    }
}

const UNKNOWN: &str = "UNKNOWN";

/// Where Mesos runs a task, in Mesos's identifiers.
struct Deployment {
    agent_id: String,
    offer_id: String,
    executor_id: String,
    pid: String,
}

impl Deployment {
    fn of(task: &TaskView, framework_id: &str) -> Self {
        // Mesos names agents and offers after its master: the framework id without its
        // `-0000` sequence number.
        let master = framework_id
            .rsplit_once('-')
            .map_or(framework_id, |(master, _)| master);
        let host = fnv1a(&[framework_id, &task.hostname]);
        Self {
            agent_id: format!("{master}-S{}", host % 1000),
            offer_id: format!(
                "{master}-O{}",
                fnv1a(&[
                    // A released task hashes as AliECS's empty environment id.
                    task.environment_id
                        .as_ref()
                        .map_or("", EnvironmentId::as_str),
                    &task.hostname
                ]) % 100_000
            ),
            // AliECS starts one executor per agent, named like its other ids.
            executor_id: base58(host),
            pid: (1000 + fnv1a(&[task.id.as_str()]) % 60_000).to_string(),
        }
    }

    /// The task's standard output through the Mesos agent (`core/serverutil.go`).
    fn sandbox_stdout(&self, hostname: &str, framework_id: &str) -> String {
        format!(
            "http://{hostname}:5051/files/download?path=/var/mesos/slaves/{}/frameworks/{framework_id}/executors/{}/runs/latest/stdout",
            self.agent_id, self.executor_id
        )
    }
}

/// FNV-1a over some strings, each followed by a zero byte: a stable hash, the same on every
/// run and platform.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Eleven base58 characters, the shape of AliECS's ids.
fn base58(mut value: u64) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    (0..11)
        .map(|_| {
            let digit = ALPHABET[(value % 58) as usize];
            value /= 58;
            char::from(digit)
        })
        .collect()
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
    let mut task_ids: Vec<String> = role.task_id.iter().map(ToString::to_string).collect();
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
        status: match role.status {
            TaskStatus::Undefined => "UNDEFINED",
            status => status.as_str(),
        }
        .to_owned(),
        state: match role.state {
            RoleState::Unknown => "UNKNOWN",
            state => state.as_str(),
        }
        .to_owned(),
        full_path: role.path.clone(),
        task_ids,
        roles,
        ..Default::default()
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
    let id: &str = match &event.payload {
        CorePayload::CoreStart(_) => return None,
        CorePayload::Environment(e) => &e.environment_id,
        CorePayload::Run(e) => &e.environment_id,
        CorePayload::Task(e) => e.environment_id(),
        CorePayload::Role(e) => &e.role.environment_id,
        CorePayload::Call(e) => &e.environment_id,
        CorePayload::IntegratedService { event, .. } => &event.environment_id,
    };
    Some(id).filter(|id| !id.is_empty())
}

/// A core event in its `events.Event` envelope, as AliECS's writers wrap it.
pub(crate) fn event(event: &CoreEvent) -> Event {
    let payload = match &event.payload {
        CorePayload::CoreStart(e) => Payload::CoreStartEvent(e.clone()),
        CorePayload::Environment(e) => Payload::EnvironmentEvent(e.clone()),
        CorePayload::Run(e) => Payload::RunEvent(e.clone()),
        CorePayload::Task(e) => Payload::TaskEvent(e.to_proto()),
        CorePayload::Role(e) => Payload::RoleEvent(e.to_proto()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use ecsim_core::fsm::State;

    fn task(environment: Option<&str>) -> TaskView {
        TaskView {
            id: "2oDvieFrVTj".into(),
            name: "readout#2oDvieFrVTj".to_owned(),
            class_name: "github.com/AliceO2Group/ControlWorkflows/tasks/readout@master".to_owned(),
            hostname: "alio2-cr1-flp187".to_owned(),
            role_path: "readout-dataflow.host-alio2-cr1-flp187.readout".to_owned(),
            state: State::Configured,
            status: TaskStatus::Active,
            environment_id: environment.map(EnvironmentId::from),
            critical: true,
        }
    }

    const FRAMEWORK: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d-0000";

    #[test]
    fn a_task_shows_where_mesos_runs_it_as_aliecs_fills_it() {
        let info = short_task_info(&task(Some("2oDvieFrVTi")), FRAMEWORK);
        let deployment = info.deployment_info.clone().expect("deployment info");
        let master = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
        assert!(deployment.agent_id.starts_with(&format!("{master}-S")));
        assert!(deployment.offer_id.starts_with(&format!("{master}-O")));
        assert_eq!(deployment.executor_id.len(), 11);
        assert!(info.pid.parse::<u32>().is_ok_and(|pid| pid >= 1000));
        assert_eq!(
            info.sandbox_stdout,
            format!(
                "http://alio2-cr1-flp187:5051/files/download?path=/var/mesos/slaves/{}/frameworks/{FRAMEWORK}/executors/{}/runs/latest/stdout",
                deployment.agent_id, deployment.executor_id
            )
        );
        assert!(info.locked && info.critical);
        let hook = TaskView {
            critical: false,
            ..task(Some("2oDvieFrVTi"))
        };
        assert!(
            !short_task_info(&hook, FRAMEWORK).critical,
            "a non-critical hook"
        );
        assert_eq!(
            (info.status.as_str(), info.state.as_str()),
            ("ACTIVE", "CONFIGURED")
        );
        // The same each time: a GUI polling the task list sees one agent per host.
        assert_eq!(short_task_info(&task(Some("2oDvieFrVTi")), FRAMEWORK), info);
    }

    #[test]
    fn a_task_outside_any_environment_has_no_role_to_report() {
        let info = short_task_info(&task(None), FRAMEWORK);
        assert!(!info.locked && !info.critical);
        assert_eq!(
            (info.status.as_str(), info.state.as_str()),
            ("UNKNOWN", "UNKNOWN")
        );
    }

    /// A task or role event reaches a `Subscribe` stream as AliECS's message, under its
    /// environment; a task killed after its environment belongs to none.
    #[test]
    fn task_and_role_events_stream_as_aliecs_messages_of_their_environment() {
        use std::sync::Arc;

        use ecsim_core::{
            clock::Timestamp,
            event::{RoleChange, RoleEvent, RoleFacts, TaskEvent, TaskEventStatus, TaskFacts},
            role_state::RoleState,
        };
        let role = Arc::new(RoleFacts::new(
            "2oDvieFrVTi".into(),
            "readout-dataflow.host-flp1.readout".to_owned(),
        ));
        let at = Timestamp::from_unix_millis(1_750_000_000_000);
        let role_event = RoleEvent {
            role: Arc::clone(&role),
            change: RoleChange::State(RoleState::Mixed),
        };
        let task_event = TaskEvent {
            task: Arc::new(TaskFacts {
                id: "2oDvieFrVTj".into(),
                name: "readout#2oDvieFrVTj".to_owned(),
                class_name: "readout".to_owned(),
                hostname: "flp1".to_owned(),
                traits: Arc::default(),
                role,
            }),
            state: State::Running,
            status: TaskEventStatus::Is(TaskStatus::Active),
            detached: false,
        };
        let killed = TaskEvent {
            detached: true,
            ..task_event.clone()
        };
        let of = |payload| CoreEvent {
            timestamp: at,
            payload,
        };
        let (role_core, task_core, killed_core) = (
            of(CorePayload::Role(role_event.clone())),
            of(CorePayload::Task(task_event.clone())),
            of(CorePayload::Task(killed)),
        );
        assert_eq!(environment_of(&role_core), Some("2oDvieFrVTi"));
        assert_eq!(environment_of(&task_core), Some("2oDvieFrVTi"));
        assert_eq!(
            environment_of(&killed_core),
            None,
            "a task of no environment"
        );
        assert_eq!(
            event(&role_core).payload,
            Some(Payload::RoleEvent(role_event.to_proto()))
        );
        let Some(Payload::TaskEvent(task)) = event(&task_core).payload else {
            panic!("not a task event")
        };
        assert_eq!(
            (
                task.taskid.as_str(),
                task.environment_id.as_str(),
                task.state.as_str()
            ),
            ("2oDvieFrVTj", "2oDvieFrVTi", "RUNNING")
        );
    }
}
