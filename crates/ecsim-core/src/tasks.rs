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
//! As in AliECS (reference §3.1), every task's change goes up its roles at once: a task's new
//! state, then each role above it whose value changed, bottom up (a host shows MIXED while its
//! tasks move, `data-distribution` PARTIAL while some of its tasks are active); a status the
//! other way round, roles first. Task and role events interleave. Aggregators say nothing until
//! a child reports, and count as UNKNOWN/UNDEFINED for their parent until then. Unlike AliECS,
//! the aggregator roles above the call roles (`readout-dataflow.kafka`) have no events, the call
//! roles no state, and the root aggregates the hosts only.

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
    /// Its task role and the roles above it, bottom up: indexes into `TaskTree::roles`.
    chain: Vec<usize>,
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

/// A role of the tree: a task's role, or an aggregator (`data-distribution`, a host, the root).
/// An aggregator counts the states and statuses its direct children last reported ("" for
/// none yet), so that a child's change updates it in constant time, and it reports what AliECS's
/// merge gives over its children, when one of them reports.
#[derive(Debug, Clone)]
struct Role {
    path: String,
    /// What the role last reported: "" before it ever did (AliECS's UNKNOWN, UNDEFINED).
    state: &'static str,
    status: &'static str,
    /// Its children's reported states and statuses (aggregators).
    states: Counts,
    statuses: Counts,
}

impl Role {
    /// A task role as AliECS copies it from the template: STANDBY, INACTIVE; an aggregator has
    /// no state or status until a task reports (UNKNOWN, UNDEFINED: never published).
    fn new(path: String, task_role: bool) -> Self {
        let (state, status) = if task_role {
            ("STANDBY", INACTIVE)
        } else {
            ("", "")
        };
        Self {
            path,
            state,
            status,
            states: Counts::default(),
            statuses: Counts::default(),
        }
    }
}

/// How many task roles beneath a role are in each state (or status).
#[derive(Debug, Clone, Default)]
struct Counts(Vec<(&'static str, usize)>);

impl Counts {
    fn add(&mut self, value: &'static str) {
        match self.0.iter_mut().find(|(v, _)| *v == value) {
            Some((_, n)) => *n += 1,
            None => self.0.push((value, 1)),
        }
    }

    fn remove(&mut self, value: &'static str) {
        if let Some(index) = self.0.iter().position(|(v, _)| *v == value) {
            self.0[index].1 -= 1;
            if self.0[index].1 == 0 {
                self.0.remove(index);
            }
        }
    }

    /// AliECS's product of states (`sm.State.X`) over the children: one state stays (UNKNOWN
    /// too, ""), ERROR wins, several are MIXED — an UNKNOWN child with a known one included.
    fn state(&self) -> &'static str {
        match self.0.as_slice() {
            [] => "",
            [(one, _)] => one,
            many if many.iter().any(|(v, _)| *v == ERROR) => ERROR,
            _ => MIXED,
        }
    }

    /// AliECS's product of statuses (`task.STATUS_PRODUCT`): a child that never reported
    /// (UNDEFINED, "") makes it UNDEFINED; one status stays; several are PARTIAL.
    fn status(&self) -> &'static str {
        match self.0.as_slice() {
            [] => "",
            many if many.iter().any(|(v, _)| v.is_empty()) => "",
            [(one, _)] => one,
            _ => PARTIAL,
        }
    }
}

/// One event of a change.
#[derive(Debug)]
pub(crate) enum Change {
    Task(EvTaskEvent),
    Role(EvRoleEvent),
}

/// The events a change produced, in the order AliECS sends them: a task's state, then its
/// roles' from the bottom up; its roles' statuses, then the task's.
#[derive(Debug, Default)]
pub(crate) struct Changes(pub(crate) Vec<Change>);

impl Changes {
    #[cfg(test)]
    pub(crate) fn tasks(&self) -> Vec<&EvTaskEvent> {
        self.0
            .iter()
            .filter_map(|c| match c {
                Change::Task(t) => Some(t),
                Change::Role(_) => None,
            })
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn roles(&self) -> Vec<&EvRoleEvent> {
        self.0
            .iter()
            .filter_map(|c| match c {
                Change::Role(r) => Some(r),
                Change::Task(_) => None,
            })
            .collect()
    }
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

    /// Launches every task (DEPLOY): tasks get ids and become ACTIVE one after the other, in
    /// STANDBY; then the call roles become ACTIVE.
    pub(crate) fn deploy(
        &mut self,
        workflow: &Workflow,
        uids: &mut UidGenerator,
        now: Timestamp,
    ) -> Changes {
        self.tasks.clear();
        self.roles.clear();
        // The tree: task roles first, then the inner aggregators, the hosts, the root — each
        // role after every role beneath it.
        let mut task_roles: Vec<Role> = Vec::new();
        let mut groups: Vec<String> = Vec::new();
        let mut hosts: Vec<String> = Vec::new();
        let mut placed: Vec<(usize, Option<String>, String)> = Vec::new();
        for (host, count) in &self.hosts {
            let host_path = format!("{}.host-{host}", self.root);
            for class in workflow.tasks_for_host(*count) {
                let group = class.group.as_ref().map(|g| format!("{host_path}.{g}"));
                let parent = group.clone().unwrap_or_else(|| host_path.clone());
                if let Some(group) = &group
                    && !groups.contains(group)
                {
                    groups.push(group.clone());
                }
                let role_path = format!("{parent}.{}", class.name);
                placed.push((task_roles.len(), group, host_path.clone()));
                task_roles.push(Role::new(role_path.clone(), true));
                self.tasks.push(Task {
                    id: uids.next_id(now),
                    class_name: class.class_name,
                    hostname: host.clone(),
                    role_path,
                    state: "STANDBY",
                    status: INACTIVE,
                    role_in_error: false,
                    chain: Vec::new(),
                });
            }
            hosts.push(host_path);
        }
        let group_base = task_roles.len();
        let host_base = group_base + groups.len();
        let root = host_base + hosts.len();
        self.roles = task_roles;
        self.roles
            .extend(groups.iter().map(|g| Role::new(g.clone(), false)));
        self.roles
            .extend(hosts.iter().map(|h| Role::new(h.clone(), false)));
        self.roles.push(Role::new(self.root.clone(), false));
        for (task, (role, group, host)) in self.tasks.iter_mut().zip(placed) {
            let mut chain = vec![role];
            if let Some(group) = group {
                chain.extend(
                    groups
                        .iter()
                        .position(|g| *g == group)
                        .map(|i| group_base + i),
                );
            }
            chain.extend(hosts.iter().position(|h| *h == host).map(|i| host_base + i));
            chain.push(root);
            task.chain = chain;
        }
        // Each aggregator counts what its children show before anything is reported: task
        // roles STANDBY and INACTIVE, aggregators nothing.
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for task in &self.tasks {
            for pair in task.chain.windows(2) {
                if !edges.contains(&(pair[0], pair[1])) {
                    edges.push((pair[0], pair[1]));
                }
            }
        }
        for (child, parent) in edges {
            let (state, status) = (self.roles[child].state, self.roles[child].status);
            self.roles[parent].states.add(state);
            self.roles[parent].statuses.add(status);
        }

        let mut changes = Changes::default();
        for i in 0..self.tasks.len() {
            // Mesos reports the task running: its roles' statuses, then the task's event; the
            // task's STANDBY then reaches the aggregators that had no state yet.
            self.set_status(i, ACTIVE, &mut changes);
            self.report_state(i, &mut changes);
        }
        for path in &self.call_roles {
            changes
                .0
                .push(Change::Role(self.role_event(path, ACTIVE, "")));
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
                self.set_state(i, target, &mut changes);
            }
        }
        changes
    }

    /// Task `i` reports `state`: its event, then its roles' from the bottom up, each that changed
    /// (AliECS's `updateTaskState`, `taskRole.updateState`, `aggregatorRole.updateState`).
    fn set_state(&mut self, i: usize, state: &'static str, changes: &mut Changes) {
        self.tasks[i].state = state;
        changes
            .0
            .push(Change::Task(self.task_event(&self.tasks[i])));
        self.report_state(i, changes);
    }

    /// Task `i`'s role state goes up its roles: each recomputes from its children's reported
    /// states and publishes what changed; AliECS asks every ancestor, changed or not, so an
    /// aggregator that had nothing to say yet speaks at its first child's report.
    fn report_state(&mut self, i: usize, changes: &mut Changes) {
        let chain = self.tasks[i].chain.clone();
        let mut new = self.tasks[i].role_state();
        for (k, &role) in chain.iter().enumerate() {
            if k > 0 {
                new = self.roles[role].states.state();
            }
            let old = self.roles[role].state;
            if new == old {
                continue;
            }
            self.roles[role].state = new;
            let path = self.roles[role].path.clone();
            changes
                .0
                .push(Change::Role(self.role_event(&path, "", new)));
            if let Some(&parent) = chain.get(k + 1) {
                self.roles[parent].states.remove(old);
                self.roles[parent].states.add(new);
            }
        }
    }

    /// Task `i` reports `status`: its roles' statuses from the bottom up, each that changed, then
    /// the task's event (AliECS's `updateTaskStatus`).
    fn set_status(&mut self, i: usize, status: &'static str, changes: &mut Changes) {
        self.tasks[i].status = status;
        let chain = self.tasks[i].chain.clone();
        let mut new = status;
        for (k, &role) in chain.iter().enumerate() {
            if k > 0 {
                new = self.roles[role].statuses.status();
            }
            let old = self.roles[role].status;
            if new == old {
                continue;
            }
            self.roles[role].status = new;
            let path = self.roles[role].path.clone();
            changes
                .0
                .push(Change::Role(self.role_event(&path, new, "")));
            if let Some(&parent) = chain.get(k + 1) {
                self.roles[parent].statuses.remove(old);
                self.roles[parent].statuses.add(new);
            }
        }
        changes
            .0
            .push(Change::Task(self.task_event(&self.tasks[i])));
    }

    /// Releases the tasks (teardown's "releasing tasks"). AliECS only detaches them from the
    /// environment, which publishes nothing for tasks and task roles; the call roles go
    /// INACTIVE (docs/aliecs.md §1.7).
    pub(crate) fn release(&mut self) -> Changes {
        let mut changes = Changes::default();
        for path in &self.call_roles {
            changes
                .0
                .push(Change::Role(self.role_event(path, INACTIVE, "")));
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
            self.set_state(index, ERROR, &mut changes);
        }
        Some(changes)
    }

    /// TASK_INTERNAL_ERROR: the core sets the task's role to ERROR; the task itself is left as it
    /// is (`manager.go`). Returns the changes, or `None` when no task matches.
    pub(crate) fn fail_role_of(&mut self, which: &TaskSelector) -> Option<Changes> {
        let index = self.find(which)?;
        self.tasks[index].role_in_error = true;
        let mut changes = Changes::default();
        self.report_state(index, &mut changes);
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

    fn deployed(hosts: &[&str], per_host: usize) -> (TaskTree, Changes) {
        let wf = readout_dataflow::workflow();
        let mut tree = tree(hosts, per_host);
        let changes = tree.deploy(
            &wf,
            &mut UidGenerator::new(1),
            Timestamp::from_unix_millis(1_750_000_000_000),
        );
        (tree, changes)
    }

    /// The events as `task STATE/STATUS` and `role-path state|status`, in order.
    fn trace(changes: &Changes) -> Vec<String> {
        changes
            .0
            .iter()
            .map(|change| match change {
                Change::Task(t) => format!("task {} {}/{}", t.path, t.state, t.status),
                Change::Role(r) => format!("role {} {}{}", r.role_path, r.state, r.status),
            })
            .collect()
    }

    #[test]
    fn deploying_launches_every_task_and_activates_every_role() {
        let (tree, changes) = deployed(&["flp001", "flp002"], 3);
        assert_eq!(tree.task_count(), 6);
        let tasks = changes.tasks();
        assert_eq!(tasks.len(), 6);
        let first = tasks[0];
        assert_eq!(
            (first.state.as_str(), first.status.as_str()),
            ("STANDBY", "ACTIVE")
        );
        assert_eq!(first.name, format!("{}#{}", first.class_name, first.taskid));
        assert_eq!(first.path, "readout-dataflow.host-flp001.readout");
        assert_eq!(first.taskid.len(), 11);
        assert_eq!(
            tasks[1].path,
            "readout-dataflow.host-flp001.data-distribution.stfb"
        );
        let roles = changes.roles();
        let last = |path: &str, state: bool| {
            roles
                .iter()
                .rev()
                .filter(|r| r.role_path == path)
                .map(|r| if state { &r.state } else { &r.status })
                .find(|value| !value.is_empty())
                .cloned()
        };
        for path in [
            "readout-dataflow",
            "readout-dataflow.host-flp002",
            "readout-dataflow.host-flp001.data-distribution",
        ] {
            assert_eq!(last(path, false).as_deref(), Some("ACTIVE"), "{path}");
            assert_eq!(last(path, true).as_deref(), Some("STANDBY"), "{path}");
        }
        assert_eq!(
            roles.last().unwrap().role_path,
            "readout-dataflow.kafka.running"
        );
    }

    /// A task's change goes up its roles at once, so a host is MIXED while its tasks move, and
    /// task and role events interleave; task roles start STANDBY and INACTIVE, as AliECS copies
    /// them, aggregators with nothing to say until a child reports.
    #[test]
    fn role_events_interleave_with_task_events_and_show_transient_values() {
        let (mut tree, changes) = deployed(&["flp001"], 2);
        let host = "readout-dataflow.host-flp001";
        let dd = "readout-dataflow.host-flp001.data-distribution";
        assert_eq!(
            trace(&changes),
            [
                // readout runs: its role is ACTIVE; the host, whose data-distribution has not
                // reported, stays UNDEFINED (nothing published) …
                format!("role {host}.readout ACTIVE"),
                format!("task {host}.readout STANDBY/ACTIVE"),
                // … and its STANDBY with data-distribution's UNKNOWN makes the host MIXED.
                format!("role {host} MIXED"),
                "role readout-dataflow MIXED".to_owned(),
                format!("role {dd}.stfb ACTIVE"),
                format!("role {dd} ACTIVE"),
                format!("role {host} ACTIVE"),
                "role readout-dataflow ACTIVE".to_owned(),
                format!("task {dd}.stfb STANDBY/ACTIVE"),
                format!("role {dd} STANDBY"),
                format!("role {host} STANDBY"),
                "role readout-dataflow STANDBY".to_owned(),
                "role readout-dataflow.kafka.running ACTIVE".to_owned(),
            ]
        );
        let configure = tree.transition("CONFIGURED", |_| true);
        assert_eq!(
            trace(&configure),
            [
                format!("task {host}.readout CONFIGURED/ACTIVE"),
                format!("role {host}.readout CONFIGURED"),
                format!("role {host} MIXED"),
                "role readout-dataflow MIXED".to_owned(),
                format!("task {dd}.stfb CONFIGURED/ACTIVE"),
                format!("role {dd}.stfb CONFIGURED"),
                format!("role {dd} CONFIGURED"),
                format!("role {host} CONFIGURED"),
                "role readout-dataflow CONFIGURED".to_owned(),
            ]
        );
        let again = tree.transition("CONFIGURED", |_| true);
        assert!(again.0.is_empty(), "only changes produce events");
        let stop = tree.transition("CONFIGURED", |state| state == "RUNNING");
        assert!(stop.0.is_empty(), "stopping only running tasks: none runs");
    }

    #[test]
    fn roles_aggregate_as_aliecs_products_error_wins_and_mixed_statuses_are_partial() {
        let counts = |values: &[&'static str]| {
            let mut counts = Counts::default();
            for value in values {
                counts.add(value);
            }
            counts
        };
        assert_eq!(counts(&["RUNNING", "RUNNING"]).state(), "RUNNING");
        assert_eq!(counts(&["RUNNING", "CONFIGURED"]).state(), "MIXED");
        assert_eq!(counts(&["RUNNING", "ERROR", "CONFIGURED"]).state(), "ERROR");
        assert_eq!(counts(&[]).state(), "");
        assert_eq!(counts(&["ACTIVE", "ACTIVE"]).status(), "ACTIVE");
        assert_eq!(counts(&["ACTIVE", "INACTIVE"]).status(), "PARTIAL");
        assert_eq!(
            counts(&["ACTIVE", ""]).status(),
            "",
            "a silent child is UNDEFINED"
        );
        assert_eq!(
            counts(&["STANDBY", ""]).state(),
            "MIXED",
            "UNKNOWN with a state"
        );
        assert_eq!(counts(&["", ""]).state(), "");
        let mut moving = counts(&["RUNNING", "CONFIGURED"]);
        moving.remove("CONFIGURED");
        assert_eq!(moving.state(), "RUNNING", "a count that reaches 0 is gone");
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
        let launched = deployed.tasks();
        let release = tree.release();
        assert!(release.tasks().is_empty());
        let roles: Vec<(&str, &str)> = release
            .roles()
            .into_iter()
            .map(|r| (r.role_path.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(roles, [("readout-dataflow.kafka.running", "INACTIVE")]);
        let killed = tree.kill();
        assert_eq!(killed.len(), launched.len());
        for (kill, launch) in killed.iter().zip(launched) {
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
