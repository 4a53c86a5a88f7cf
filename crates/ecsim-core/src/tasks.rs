//! Simulated tasks and roles: the `aliecs.task` and `aliecs.role` traffic of an environment.
//!
//! AliECS runs its tasks on the FLPs through Mesos and reports every change of a task's state or
//! status as an `Ev_TaskEvent` (key: task id), and every change of a role's state or status as an
//! `Ev_RoleEvent`, one field per message (reference §3.1). ecsim keeps a role tree of the same
//! shape — root `readout-dataflow`, one `host-<name>` role per host, under it the `readout` task
//! role and a `data-distribution` role with the `stfb` and `stfs` task roles — and moves the
//! tasks with the environment:
//!
//! | step | tasks |
//! |---|---|
//! | `tasks_DEPLOY` | launched: state STANDBY, status ACTIVE |
//! | `tasks_CONFIGURE`, `tasks_STOP_ACTIVITY` | CONFIGURED |
//! | `tasks_START_ACTIVITY` | RUNNING |
//! | `tasks_RESET` | STANDBY |
//! | `tasks_GO_ERROR` | running tasks are stopped: CONFIGURED |
//! | teardown, "releasing tasks" | detached: nothing published; the call roles go INACTIVE |
//! | after the teardown, killed | status INACTIVE, without environment, path or traits |
//!
//! Names follow AliECS: a task is `<task class>#<task id>`, its id an 11-character uid.
//!
//! Still simpler than AliECS: roles are recomputed once all tasks of a step have moved, so the
//! transient MIXED/PARTIAL values AliECS's task-by-task propagation shows are not published,
//! and the aggregator roles above the call roles (`readout-dataflow.kafka`) have no events.

use ecsim_proto::events::{EvRoleEvent, EvTaskEvent, Traits};

use crate::{clock::Timestamp, uid::UidGenerator, workflow::Workflow};

const ACTIVE: &str = "ACTIVE";
const INACTIVE: &str = "INACTIVE";
const PARTIAL: &str = "PARTIAL";
const MIXED: &str = "MIXED";
const ERROR: &str = "ERROR";

#[derive(Debug, Clone)]
struct Task {
    id: String,
    class_name: String,
    hostname: String,
    role_path: String,
    state: &'static str,
    status: &'static str,
    /// Its task role was set to ERROR by the core (TASK_INTERNAL_ERROR), whatever the task says.
    role_in_error: bool,
}

impl Task {
    /// The state its task role shows.
    fn role_state(&self) -> &'static str {
        if self.role_in_error {
            ERROR
        } else {
            self.state
        }
    }
}

/// Which task a scenario step means: the first task of the environment whose role is called
/// `role` (`readout`, `stfb`, …) on `host`, either left out meaning any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSelector {
    /// The task role's name.
    pub role: Option<String>,
    /// The task's host.
    pub host: Option<String>,
}

impl std::fmt::Display for TaskSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.role, &self.host) {
            (None, None) => f.write_str("any task"),
            (Some(role), None) => write!(f, "task {role}"),
            (None, Some(host)) => write!(f, "any task on {host}"),
            (Some(role), Some(host)) => write!(f, "task {role} on {host}"),
        }
    }
}

#[derive(Debug, Clone)]
struct Role {
    path: String,
    state: String,
    status: String,
}

/// The events a change produced, in the order AliECS would send them.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) tasks: Vec<EvTaskEvent>,
    pub(crate) roles: Vec<EvRoleEvent>,
}

/// The tasks and roles of one environment.
#[derive(Debug)]
pub(crate) struct TaskTree {
    environment_id: String,
    root: String,
    hosts: Vec<(String, usize)>,
    tasks: Vec<Task>,
    /// Task roles, then host roles, then the root: the order role events go out in.
    roles: Vec<Role>,
    call_roles: Vec<String>,
}

impl TaskTree {
    /// The tree of an environment before deployment: no tasks yet.
    pub(crate) fn new(
        environment_id: &str,
        workflow: &Workflow,
        hosts: &[String],
        tasks_per_host: usize,
        call_roles: Vec<String>,
    ) -> Self {
        Self {
            environment_id: environment_id.to_owned(),
            root: workflow.name.clone(),
            hosts: hosts.iter().map(|h| (h.clone(), tasks_per_host)).collect(),
            tasks: Vec::new(),
            roles: Vec::new(),
            call_roles,
        }
    }

    /// Launches every task (DEPLOY): tasks get ids, become STANDBY and ACTIVE.
    pub(crate) fn deploy(
        &mut self,
        workflow: &Workflow,
        uids: &mut UidGenerator,
        now: Timestamp,
    ) -> Changes {
        let mut changes = Changes::default();
        self.tasks.clear();
        self.roles.clear();
        let mut group_roles = Vec::new();
        let mut host_roles = Vec::new();
        for (host, count) in &self.hosts {
            let host_path = format!("{}.host-{host}", self.root);
            for class in workflow.tasks_for_host(*count) {
                let parent_path = match &class.group {
                    Some(group) => {
                        let path = format!("{host_path}.{group}");
                        if !group_roles.iter().any(|r: &Role| r.path == path) {
                            group_roles.push(Role {
                                path: path.clone(),
                                state: String::new(),
                                status: String::new(),
                            });
                        }
                        path
                    }
                    None => host_path.clone(),
                };
                let role_path = format!("{parent_path}.{}", class.name);
                let task = Task {
                    id: uids.next_id(now),
                    class_name: class.class_name,
                    hostname: host.clone(),
                    role_path: role_path.clone(),
                    state: "STANDBY",
                    status: ACTIVE,
                    role_in_error: false,
                };
                changes.tasks.push(self.task_event(&task));
                self.roles.push(Role {
                    path: role_path,
                    state: String::new(),
                    status: String::new(),
                });
                self.tasks.push(task);
            }
            host_roles.push(Role {
                path: host_path,
                state: String::new(),
                status: String::new(),
            });
        }
        // Inner aggregators before the hosts, the hosts before the root: each is recomputed
        // after the roles under it.
        self.roles.extend(group_roles);
        self.roles.extend(host_roles);
        self.roles.push(Role {
            path: self.root.clone(),
            state: String::new(),
            status: String::new(),
        });
        self.aggregate(&mut changes);
        for path in &self.call_roles {
            changes.roles.push(self.role_event(path, ACTIVE, ""));
        }
        changes
    }

    /// The task roles DEPLOY would make, by path (what a deployment that times out leaves
    /// inactive).
    pub(crate) fn planned_role_paths(&self, workflow: &Workflow) -> Vec<String> {
        self.hosts
            .iter()
            .flat_map(|(host, count)| {
                workflow
                    .tasks_for_host(*count)
                    .into_iter()
                    .map(move |class| match &class.group {
                        Some(group) => {
                            format!("{}.host-{host}.{group}.{}", self.root, class.name)
                        }
                        None => format!("{}.host-{host}.{}", self.root, class.name),
                    })
            })
            .collect()
    }

    /// The first task, which a failing task step fails: (role name, class name, host, id).
    pub(crate) fn first_task(&self) -> Option<(String, String, String, String)> {
        self.tasks.first().map(|task| {
            (
                task.role_path
                    .rsplit('.')
                    .next()
                    .unwrap_or(&task.role_path)
                    .to_owned(),
                task.class_name.clone(),
                task.hostname.clone(),
                task.id.clone(),
            )
        })
    }

    /// Moves every task for which `select` holds to `state`.
    pub(crate) fn transition(
        &mut self,
        state: &'static str,
        select: impl Fn(&str) -> bool,
    ) -> Changes {
        self.move_tasks(state, select, false)
    }

    /// As [`TaskTree::transition`], but the first task fails the transition: it goes to ERROR.
    pub(crate) fn transition_failing_first(&mut self, state: &'static str) -> Changes {
        self.move_tasks(state, |_| true, true)
    }

    fn move_tasks(
        &mut self,
        state: &'static str,
        select: impl Fn(&str) -> bool,
        first_fails: bool,
    ) -> Changes {
        let mut changes = Changes::default();
        for i in 0..self.tasks.len() {
            let target = if first_fails && i == 0 { ERROR } else { state };
            if select(self.tasks[i].state) && self.tasks[i].state != target {
                self.tasks[i].state = target;
                let event = self.task_event(&self.tasks[i]);
                changes.tasks.push(event);
            }
        }
        self.aggregate(&mut changes);
        changes
    }

    /// Releases the tasks (teardown's "releasing tasks"). AliECS only detaches them from the
    /// environment, which publishes nothing for tasks and task roles; the call roles go
    /// INACTIVE (docs/aliecs.md §1.7).
    pub(crate) fn release(&mut self) -> Changes {
        let mut changes = Changes::default();
        for path in &self.call_roles {
            changes.roles.push(self.role_event(path, INACTIVE, ""));
        }
        changes
    }

    /// The tasks are killed once the environment is gone: each reports INACTIVE, in the state
    /// it was in, as a task that no longer has a parent — no environment id, no path, empty
    /// traits (docs/aliecs.md §1.7). No role hears of it.
    pub(crate) fn kill(&mut self) -> Vec<EvTaskEvent> {
        let mut events = Vec::with_capacity(self.tasks.len());
        for task in &mut self.tasks {
            task.status = INACTIVE;
        }
        for task in &self.tasks {
            events.push(EvTaskEvent {
                environment_id: String::new(),
                path: String::new(),
                traits: Some(Traits::default()),
                ..self.task_event(task)
            });
        }
        events
    }

    /// A task fails (docs/aliecs.md §1.8): its state becomes ERROR, and its roles show it.
    /// Returns the changes, or `None` when no task matches.
    pub(crate) fn fail_task(&mut self, which: &TaskSelector) -> Option<Changes> {
        let index = self.find(which)?;
        let mut changes = Changes::default();
        if self.tasks[index].state != ERROR {
            self.tasks[index].state = ERROR;
            changes.tasks.push(self.task_event(&self.tasks[index]));
        }
        self.aggregate(&mut changes);
        Some(changes)
    }

    /// TASK_INTERNAL_ERROR: the core sets the task's role to ERROR; the task itself is left as it
    /// is (`manager.go`). Returns the changes, or `None` when no task matches.
    pub(crate) fn fail_role_of(&mut self, which: &TaskSelector) -> Option<Changes> {
        let index = self.find(which)?;
        self.tasks[index].role_in_error = true;
        let mut changes = Changes::default();
        self.aggregate(&mut changes);
        Some(changes)
    }

    fn find(&self, which: &TaskSelector) -> Option<usize> {
        self.tasks.iter().position(|task| {
            which
                .role
                .as_deref()
                .is_none_or(|role| task.role_path.rsplit('.').next() == Some(role))
                && which
                    .host
                    .as_deref()
                    .is_none_or(|host| task.hostname == host)
        })
    }

    /// The GO_ERROR reason AliECS gives when critical tasks went to ERROR
    /// (`newCriticalTasksErrorMessage`): every task is critical in readout-dataflow.
    pub(crate) fn critical_tasks_error(&self) -> String {
        let failed: Vec<&Task> = self.tasks.iter().filter(|t| t.state == ERROR).collect();
        match failed.as_slice() {
            [] => "no critical tasks in ERROR".to_owned(),
            [task] => format!(
                "critical task '{}' on host '{}' transitioned to ERROR",
                task.role_path.rsplit('.').next().unwrap_or(&task.role_path),
                task.hostname
            ),
            many => format!(
                "{} critical tasks transitioned to ERROR, could not determine the first one to fail",
                many.len()
            ),
        }
    }

    /// Recomputes every role's state and status from its tasks, recording each change.
    fn aggregate(&mut self, changes: &mut Changes) {
        for i in 0..self.roles.len() {
            let prefix = format!("{}.", self.roles[i].path);
            let (state, status) = {
                let under: Vec<&Task> = self
                    .tasks
                    .iter()
                    .filter(|t| {
                        t.role_path == self.roles[i].path || t.role_path.starts_with(&prefix)
                    })
                    .collect();
                (
                    aggregate_state(under.iter().map(|t| t.role_state())),
                    aggregate_status(under.iter().map(|t| t.status)),
                )
            };
            if status != self.roles[i].status {
                self.roles[i].status = status.clone();
                changes
                    .roles
                    .push(self.role_event(&self.roles[i].path, &status, ""));
            }
            if state != self.roles[i].state {
                self.roles[i].state = state.clone();
                changes
                    .roles
                    .push(self.role_event(&self.roles[i].path, "", &state));
            }
        }
    }

    fn task_event(&self, task: &Task) -> EvTaskEvent {
        EvTaskEvent {
            name: format!("{}#{}", task.class_name, task.id),
            taskid: task.id.clone(),
            state: task.state.to_owned(),
            status: task.status.to_owned(),
            hostname: task.hostname.clone(),
            class_name: task.class_name.clone(),
            // AliECS attaches the parent task role's traits; the template's task roles give
            // none, so they have the defaults: no timeout ("0s"), critical.
            traits: Some(Traits {
                timeout: "0s".to_owned(),
                critical: true,
                ..Traits::default()
            }),
            environment_id: self.environment_id.clone(),
            path: task.role_path.clone(),
        }
    }

    fn role_event(&self, path: &str, status: &str, state: &str) -> EvRoleEvent {
        EvRoleEvent {
            name: path.rsplit('.').next().unwrap_or(path).to_owned(),
            status: status.to_owned(),
            state: state.to_owned(),
            role_path: path.to_owned(),
            environment_id: self.environment_id.clone(),
        }
    }

    /// How many tasks the environment runs.
    #[cfg(test)]
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.len()
    }
}

/// AliECS's product of states (`sm.State.X`): ERROR wins, equal states stay, others are MIXED;
/// empty for no task.
fn aggregate_state<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut result: Option<&str> = None;
    for value in values {
        result = Some(match result {
            None => value,
            Some(current) if current == value => current,
            Some(current) if current == ERROR || value == ERROR => ERROR,
            Some(_) => MIXED,
        });
    }
    result.unwrap_or_default().to_owned()
}

/// AliECS's product of statuses (`task.STATUS_PRODUCT`, for the statuses tasks have): equal
/// statuses stay, ACTIVE with INACTIVE is PARTIAL; empty for no task.
fn aggregate_status<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut result: Option<&str> = None;
    for value in values {
        result = Some(match result {
            None => value,
            Some(current) if current == value => current,
            Some(_) => PARTIAL,
        });
    }
    result.unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readout_dataflow;

    fn tree(hosts: &[&str], per_host: usize) -> TaskTree {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        TaskTree::new(
            "ENV",
            &readout_dataflow::workflow(),
            &hosts,
            per_host,
            vec!["readout-dataflow.kafka.running".into()],
        )
    }

    #[test]
    fn deploying_launches_every_task_and_activates_every_role() {
        let wf = readout_dataflow::workflow();
        let mut tree = tree(&["flp001", "flp002"], 3);
        let changes = tree.deploy(
            &wf,
            &mut UidGenerator::new(1),
            Timestamp::from_unix_millis(1_750_000_000_000),
        );
        assert_eq!(tree.task_count(), 6);
        assert_eq!(changes.tasks.len(), 6);
        let first = &changes.tasks[0];
        assert_eq!(
            (first.state.as_str(), first.status.as_str()),
            ("STANDBY", "ACTIVE")
        );
        assert_eq!(first.name, format!("{}#{}", first.class_name, first.taskid));
        assert_eq!(first.path, "readout-dataflow.host-flp001.readout");
        assert_eq!(first.taskid.len(), 11);
        // 6 task roles + 2 data-distribution roles + 2 hosts + root, each a status and a state
        // event, then the call role.
        assert_eq!(changes.roles.len(), 11 * 2 + 1);
        let stfb = &changes.tasks[1];
        assert_eq!(
            stfb.path,
            "readout-dataflow.host-flp001.data-distribution.stfb"
        );
        assert!(
            changes.roles.iter().any(|r| r.role_path
                == "readout-dataflow.host-flp001.data-distribution"
                && r.state == "STANDBY"),
            "the data-distribution level has its events"
        );
        let root: Vec<_> = changes
            .roles
            .iter()
            .filter(|r| r.role_path == "readout-dataflow")
            .collect();
        assert_eq!(root.len(), 2);
        assert_eq!(
            (root[0].status.as_str(), root[0].state.as_str()),
            ("ACTIVE", "")
        );
        assert_eq!(
            (root[1].status.as_str(), root[1].state.as_str()),
            ("", "STANDBY")
        );
        assert_eq!(
            changes.roles.last().unwrap().role_path,
            "readout-dataflow.kafka.running"
        );
    }

    #[test]
    fn only_changes_produce_events() {
        let wf = readout_dataflow::workflow();
        let mut tree = tree(&["flp001"], 2);
        tree.deploy(
            &wf,
            &mut UidGenerator::new(1),
            Timestamp::from_unix_millis(1_750_000_000_000),
        );
        let configure = tree.transition("CONFIGURED", |_| true);
        assert_eq!(configure.tasks.len(), 2);
        assert_eq!(
            configure.roles.len(),
            5,
            "2 task roles, data-distribution, 1 host, root: state only"
        );
        assert!(
            configure
                .roles
                .iter()
                .all(|r| r.state == "CONFIGURED" && r.status.is_empty())
        );
        let again = tree.transition("CONFIGURED", |_| true);
        assert!(again.tasks.is_empty() && again.roles.is_empty());
        // Stopping only running tasks changes nothing when none runs.
        let stop = tree.transition("CONFIGURED", |state| state == "RUNNING");
        assert!(stop.tasks.is_empty());
    }

    #[test]
    fn roles_aggregate_as_aliecs_products_error_wins_and_mixed_statuses_are_partial() {
        assert_eq!(
            aggregate_state(["RUNNING", "RUNNING"].into_iter()),
            "RUNNING"
        );
        assert_eq!(
            aggregate_state(["RUNNING", "CONFIGURED"].into_iter()),
            "MIXED"
        );
        assert_eq!(
            aggregate_state(["RUNNING", "ERROR", "CONFIGURED"].into_iter()),
            "ERROR"
        );
        assert_eq!(aggregate_state(std::iter::empty()), "");
        assert_eq!(aggregate_status(["ACTIVE", "ACTIVE"].into_iter()), "ACTIVE");
        assert_eq!(
            aggregate_status(["ACTIVE", "INACTIVE"].into_iter()),
            "PARTIAL"
        );
    }

    #[test]
    fn critical_task_reasons_are_aliecs_texts() {
        let wf = readout_dataflow::workflow();
        let mut tree = tree(&["flp001", "flp002"], 1);
        tree.deploy(
            &wf,
            &mut UidGenerator::new(1),
            Timestamp::from_unix_millis(1_750_000_000_000),
        );
        assert_eq!(tree.critical_tasks_error(), "no critical tasks in ERROR");
        let second = TaskSelector {
            role: None,
            host: Some("flp002".into()),
        };
        tree.fail_task(&second).unwrap();
        assert_eq!(
            tree.critical_tasks_error(),
            "critical task 'readout' on host 'flp002' transitioned to ERROR"
        );
        tree.fail_task(&TaskSelector::default()).unwrap();
        assert_eq!(
            tree.critical_tasks_error(),
            "2 critical tasks transitioned to ERROR, could not determine the first one to fail"
        );
        assert!(
            tree.fail_task(&TaskSelector {
                role: Some("qc".into()),
                host: None
            })
            .is_none()
        );
    }

    /// AliECS's release only detaches the tasks: no task or task-role event, only the call
    /// roles go INACTIVE; the kill after teardown reports each task INACTIVE without its
    /// environment.
    #[test]
    fn no_inactive_task_or_role_events_at_release_and_kill_updates_without_environment() {
        let wf = readout_dataflow::workflow();
        let mut tree = tree(&["flp001"], 1);
        let deployed = tree.deploy(
            &wf,
            &mut UidGenerator::new(1),
            Timestamp::from_unix_millis(1_750_000_000_000),
        );
        let release = tree.release();
        assert!(release.tasks.is_empty());
        let roles: Vec<(&str, &str)> = release
            .roles
            .iter()
            .map(|r| (r.role_path.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(roles, [("readout-dataflow.kafka.running", "INACTIVE")]);
        let killed = tree.kill();
        assert_eq!(killed.len(), deployed.tasks.len());
        for (kill, launch) in killed.iter().zip(&deployed.tasks) {
            assert_eq!(
                (kill.taskid.as_str(), kill.status.as_str()),
                (launch.taskid.as_str(), "INACTIVE")
            );
            assert_eq!((kill.environment_id.as_str(), kill.path.as_str()), ("", ""));
            assert_eq!(kill.traits, Some(Traits::default()));
            assert_eq!(kill.state, launch.state, "the state it was in");
        }
    }
}
