//! Simulated tasks and roles: the `aliecs.task` and `aliecs.role` traffic of an environment.
//!
//! AliECS runs its tasks on the FLPs through Mesos and reports every change of a task's state or
//! status as an `Ev_TaskEvent` (key: task id), and every change of a role's state or status as an
//! `Ev_RoleEvent`, one field per message (reference §3.1). ecsim keeps a role tree of the same
//! shape — root `readout-dataflow`, one `host-<name>` role per host, under it the `readout` task
//! role and a `data-distribution` role with the `stfb` and `stfs` task roles; the call roles
//! under their aggregators — and moves the tasks with the environment:
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
//! a child reports, and count as UNKNOWN/UNDEFINED for their parent until then. Call roles sit
//! under aggregators of their parent paths (`readout-dataflow.kafka`): ACTIVE at DEPLOY,
//! INACTIVE at teardown, INVARIANT at the first hook lookup, their state passed up only when
//! critical. So an aggregator of non-critical calls never has a state, and the root, which
//! counts it, stays MIXED — what AliECS's code does, as we read it.

use std::{collections::BTreeMap, sync::Arc};

use ecsim_proto::events::Traits;

use crate::{
    clock::Timestamp,
    event::{RoleChange, RoleEvent, RoleFacts, TaskEvent, TaskEventStatus, TaskFacts},
    fsm::State,
    id::{EnvironmentId, TaskId},
    role_state::{RoleKind as Kind, RoleState, TaskStatus},
    uid::UidGenerator,
    view::{RoleView, TaskView},
    workflow::Workflow,
};

mod role;

use role::Role;

#[derive(Debug, Clone)]
struct Task {
    /// Its id, names, host, traits, environment and path: made once, shared by all its events.
    facts: Arc<TaskFacts>,
    /// What the task reports: the environment's states, which its tasks share.
    state: State,
    status: TaskStatus,
    /// Its task role was set to ERROR by the core (TASK_INTERNAL_ERROR), whatever the task says.
    role_in_error: bool,
    /// Its task role's index in `TaskTree::roles`.
    role: usize,
    /// When it is a task hook: when it runs, and its traits (shared with the plan: an
    /// environment holds thousands of tasks, most of them not hooks).
    hook: Option<Arc<PlannedHook>>,
    /// A hook that ran: finished, gone from Mesos (not killed later).
    finished: bool,
}

/// A task hook of one host, resolved for the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedHook {
    pub(crate) host: String,
    pub(crate) name: String,
    pub(crate) class_name: String,
    /// The trigger as written (`DESTROY`), its moment and weight.
    pub(crate) trigger: String,
    pub(crate) moment: String,
    pub(crate) weight: i32,
    pub(crate) timeout: String,
    pub(crate) critical: bool,
}

impl Task {
    /// The state its task role shows.
    fn role_state(&self) -> RoleState {
        if self.role_in_error {
            RoleState::Is(State::Error)
        } else {
            RoleState::Is(self.state)
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

/// One event of a change.
#[derive(Debug)]
pub(crate) enum Change {
    Task(TaskEvent),
    Role(RoleEvent),
}

/// The events a change produced, in the order AliECS sends them: a task's state, then its
/// roles' from the bottom up; its roles' statuses, then the task's.
#[derive(Debug, Default)]
pub(crate) struct Changes(pub(crate) Vec<Change>);

impl Changes {
    /// The task events, as AliECS's messages.
    #[cfg(test)]
    pub(crate) fn tasks(&self) -> Vec<ecsim_proto::events::EvTaskEvent> {
        self.0
            .iter()
            .filter_map(|c| match c {
                Change::Task(t) => Some(t.to_proto()),
                Change::Role(_) => None,
            })
            .collect()
    }

    /// The role events, as AliECS's messages.
    #[cfg(test)]
    pub(crate) fn roles(&self) -> Vec<ecsim_proto::events::EvRoleEvent> {
        self.0
            .iter()
            .filter_map(|c| match c {
                Change::Role(r) => Some(r.to_proto()),
                Change::Task(_) => None,
            })
            .collect()
    }
}

/// The tasks and roles of one environment.
#[derive(Debug)]
pub(crate) struct TaskTree {
    /// The traits of its tasks that are not hooks, shared by them all.
    plain_traits: Arc<Traits>,
    /// The roles: the workflow's tree, each aggregator after the roles beneath it.
    roles: Vec<Role>,
    /// The task roles, per host in order (tasks, then hooks), with the task class each runs.
    planned: Vec<(usize, String, String, Option<Arc<PlannedHook>>)>,
    tasks: Vec<Task>,
    /// The call roles, in role order.
    call_roles: Vec<usize>,
    /// Whether the call roles' hooks have been looked up yet.
    looked_up: bool,
}

impl TaskTree {
    /// The role tree of an environment, as its workflow loads: per host a `host-<name>`
    /// aggregator with its task roles (those of a group, `data-distribution`, under an
    /// aggregator of their own), the call roles under aggregators of their parent paths, and
    /// the root. No task runs yet.
    pub(crate) fn new(
        environment_id: &str,
        workflow: &Workflow,
        hosts: &[String],
        tasks_per_host: usize,
        call_roles: Vec<(String, bool)>,
        hooks: Vec<PlannedHook>,
    ) -> Self {
        // Shared by every event of the environment's tasks and roles, through their roles.
        let environment_id: Arc<str> = Arc::from(environment_id);
        let mut tree = Self {
            plain_traits: Arc::new(plain_traits()),
            roles: Vec::new(),
            planned: Vec::new(),
            tasks: Vec::new(),
            call_roles: Vec::new(),
            looked_up: false,
        };
        let root = workflow.name.clone();
        // Paths first, parents resolved once every role exists. `index` finds a path's place in
        // `paths` in logarithmic time: a creation with thousands of hosts stays linear-ish.
        let mut paths: Vec<(String, Kind, bool)> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let add = |paths: &mut Vec<(String, Kind, bool)>,
                   index: &mut BTreeMap<String, usize>,
                   path: String,
                   kind,
                   critical| {
            if !index.contains_key(&path) {
                index.insert(path.clone(), paths.len());
                paths.push((path, kind, critical));
            }
        };
        let hooks: Vec<Arc<PlannedHook>> = hooks.into_iter().map(Arc::new).collect();
        let mut hooks_of: BTreeMap<&str, Vec<&Arc<PlannedHook>>> = BTreeMap::new();
        for hook in &hooks {
            hooks_of.entry(hook.host.as_str()).or_default().push(hook);
        }
        let classes = workflow.tasks_for_host(tasks_per_host);
        for host in hosts {
            let host_path = format!("{root}.host-{host}");
            for class in &classes {
                let parent = match &class.group {
                    Some(group) => format!("{host_path}.{group}"),
                    None => host_path.clone(),
                };
                let path = format!("{parent}.{}", class.name);
                tree.planned
                    .push((paths.len(), host.clone(), class.class_name.clone(), None));
                add(&mut paths, &mut index, path, Kind::Task, true);
            }
            for hook in hooks_of.get(host.as_str()).into_iter().flatten() {
                let path = format!("{host_path}.{}", hook.name);
                tree.planned.push((
                    paths.len(),
                    host.clone(),
                    hook.class_name.clone(),
                    Some(Arc::clone(hook)),
                ));
                add(&mut paths, &mut index, path, Kind::Task, hook.critical);
            }
        }
        for (path, critical) in &call_roles {
            add(&mut paths, &mut index, path.clone(), Kind::Call, *critical);
        }
        // Every ancestor of those roles below the root is an aggregator; deeper ones first.
        let mut aggregators: Vec<String> = Vec::new();
        let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for (path, _, _) in &paths {
            let mut at = path.as_str();
            while let Some((parent, _)) = at.rsplit_once('.') {
                if parent == root {
                    break;
                }
                if seen.insert(parent.to_owned()) {
                    aggregators.push(parent.to_owned());
                }
                at = parent;
            }
        }
        aggregators.sort_by_key(|a| std::cmp::Reverse(a.matches('.').count()));
        for aggregator in aggregators {
            add(&mut paths, &mut index, aggregator, Kind::Aggregator, true);
        }
        add(&mut paths, &mut index, root.clone(), Kind::Aggregator, true);
        let index_of = |path: &str| index.get(path).copied();
        tree.roles = paths
            .iter()
            .map(|(path, kind, critical)| {
                let parent = path
                    .rsplit_once('.')
                    .and_then(|(parent, _)| index_of(parent));
                let facts = RoleFacts::new(Arc::clone(&environment_id), path.clone());
                Role::new(Arc::new(facts), *kind, *critical, parent)
            })
            .collect();
        tree.call_roles = call_roles
            .iter()
            .filter_map(|(path, _)| index_of(path))
            .collect();
        // Each aggregator counts what its critical children show before anything reports.
        for child in 0..tree.roles.len() {
            let Some(parent) = tree.roles[child].parent else {
                continue;
            };
            tree.roles[parent].has_children = true;
            if tree.roles[child].critical {
                let (state, status) = (tree.roles[child].state, tree.roles[child].status);
                tree.roles[parent].states.add(state);
                tree.roles[parent].statuses.add(status);
            }
        }
        tree
    }

    /// The first lookup of the workflow's hooks (AliECS's `GetHooksMapForTrigger`, at the first
    /// moment of the first transition): every call role's state becomes INVARIANT.
    pub(crate) fn look_up_hooks(&mut self) -> Changes {
        let mut changes = Changes::default();
        if std::mem::replace(&mut self.looked_up, true) {
            return changes;
        }
        for call in self.call_roles.clone() {
            self.report_state(call, RoleState::Invariant, &mut changes);
        }
        changes
    }

    /// DEPLOY: the call roles become ACTIVE at once, then the tasks are launched and become
    /// ACTIVE one after the other, in STANDBY.
    pub(crate) fn deploy(&mut self, uids: &mut UidGenerator, now: Timestamp) -> Changes {
        let mut changes = Changes::default();
        for call in self.call_roles.clone() {
            self.report_status(call, TaskStatus::Active, &mut changes);
        }
        self.tasks = self
            .planned
            .iter()
            .map(|(role, host, class_name, hook)| {
                let id = TaskId::from(uids.next_id(now));
                Task {
                    facts: Arc::new(TaskFacts {
                        name: format!("{class_name}#{id}"),
                        id,
                        class_name: class_name.clone(),
                        hostname: host.clone(),
                        traits: match hook {
                            Some(hook) => Arc::new(hook_traits(hook)),
                            None => Arc::clone(&self.plain_traits),
                        },
                        role: Arc::clone(&self.roles[*role].facts),
                    }),
                    state: State::Standby,
                    status: TaskStatus::Inactive,
                    role_in_error: false,
                    role: *role,
                    hook: hook.clone(),
                    finished: false,
                }
            })
            .collect();
        for i in 0..self.tasks.len() {
            // Mesos reports the task running: its roles' statuses, then the task's event; the
            // task's STANDBY then reaches the aggregators that had no state yet.
            self.set_status(i, TaskStatus::Active, &mut changes);
            let (role, state) = (self.tasks[i].role, self.tasks[i].role_state());
            self.report_state(role, state, &mut changes);
        }
        changes
    }

    /// The weights of the hooks of `moment` whose tasks exist.
    pub(crate) fn hook_weights(&self, moment: &str) -> Vec<i32> {
        self.tasks
            .iter()
            .filter_map(|t| t.hook.as_ref())
            .filter(|h| h.moment == moment)
            .map(|h| h.weight)
            .collect()
    }

    /// Runs the hooks of `moment` and `weight` whose task exists, is ACTIVE and has not run yet,
    /// one after the other (AliECS's `TriggerHooks`): the command ends, the task is reported
    /// terminated (its event with Mesos's final state, TASK_FINISHED), then INACTIVE.
    pub(crate) fn trigger_hooks(&mut self, moment: &str, weight: i32) -> Changes {
        let mut changes = Changes::default();
        for i in 0..self.tasks.len() {
            let due = self.tasks[i]
                .hook
                .as_ref()
                .is_some_and(|h| h.moment == moment && h.weight == weight)
                && self.tasks[i].status == TaskStatus::Active
                && !self.tasks[i].finished;
            if !due {
                continue;
            }
            self.tasks[i].finished = true;
            changes.0.push(Change::Task(TaskEvent {
                status: TaskEventStatus::Finished,
                ..task_event(&self.tasks[i])
            }));
            self.set_status(i, TaskStatus::Inactive, &mut changes);
        }
        changes
    }

    /// The task roles DEPLOY makes, by path (what a deployment that times out leaves inactive).
    pub(crate) fn planned_role_paths(&self) -> Vec<String> {
        self.planned
            .iter()
            .map(|(role, _, _, _)| self.roles[*role].facts.path().to_owned())
            .collect()
    }

    /// The first task, which a failing task step fails: (role name, class name, host, id).
    pub(crate) fn first_task(&self) -> Option<(String, String, String, TaskId)> {
        self.tasks.first().map(|task| {
            let facts = &*task.facts;
            (
                facts.role.name().to_owned(),
                facts.class_name.clone(),
                facts.hostname.clone(),
                facts.id.clone(),
            )
        })
    }

    /// Moves every task for which `select` holds to `state`.
    pub(crate) fn transition(&mut self, state: State, select: impl Fn(State) -> bool) -> Changes {
        self.move_tasks(state, select, false)
    }

    /// As [`TaskTree::transition`], but the first task fails the transition: it goes to ERROR.
    pub(crate) fn transition_failing_first(&mut self, state: State) -> Changes {
        self.move_tasks(state, |_| true, true)
    }

    fn move_tasks(
        &mut self,
        state: State,
        select: impl Fn(State) -> bool,
        first_fails: bool,
    ) -> Changes {
        let mut changes = Changes::default();
        for i in 0..self.tasks.len() {
            let target = if first_fails && i == 0 {
                State::Error
            } else {
                state
            };
            if !self.tasks[i].finished
                && select(self.tasks[i].state)
                && self.tasks[i].state != target
            {
                self.set_state(i, target, &mut changes);
            }
        }
        changes
    }

    /// Task `i` reports `state`: its event, then its roles' (AliECS's `updateTaskState`).
    fn set_state(&mut self, i: usize, state: State, changes: &mut Changes) {
        self.tasks[i].state = state;
        changes.0.push(Change::Task(task_event(&self.tasks[i])));
        let (role, state) = (self.tasks[i].role, self.tasks[i].role_state());
        self.report_state(role, state, changes);
    }

    /// Task `i` reports `status`: its roles' statuses, then the task's event (AliECS's
    /// `updateTaskStatus`).
    fn set_status(&mut self, i: usize, status: TaskStatus, changes: &mut Changes) {
        self.tasks[i].status = status;
        self.report_status(self.tasks[i].role, status, changes);
        changes.0.push(Change::Task(task_event(&self.tasks[i])));
    }

    /// A task or call role takes `state`, and a critical one passes it up: each aggregator
    /// recomputes over its children and publishes what changed; AliECS asks every ancestor,
    /// changed or not, so an aggregator that had nothing to say speaks at its first child's
    /// report (`updateState` of task, call and aggregator roles).
    fn report_state(&mut self, role: usize, state: RoleState, changes: &mut Changes) {
        let mut at = role;
        let mut new = state;
        loop {
            let old = self.roles[at].state;
            if new != old {
                self.roles[at].state = new;
                changes
                    .0
                    .push(Change::Role(self.role_event(at, RoleChange::State(new))));
            }
            if at == role && !self.roles[at].critical {
                return; // a non-critical role keeps its state to itself
            }
            let Some(parent) = self.roles[at].parent else {
                return;
            };
            if self.roles[at].critical && new != old {
                self.roles[parent].states.move_one(old, new);
            }
            at = parent;
            new = self.roles[at].aggregated_state();
        }
    }

    /// A task or call role takes `status`, which goes up whatever its criticality
    /// (`updateStatus`); each aggregator recomputes over its critical children.
    fn report_status(&mut self, role: usize, status: TaskStatus, changes: &mut Changes) {
        let mut at = role;
        let mut new = status;
        loop {
            let old = self.roles[at].status;
            if new != old {
                self.roles[at].status = new;
                changes
                    .0
                    .push(Change::Role(self.role_event(at, RoleChange::Status(new))));
            }
            let Some(parent) = self.roles[at].parent else {
                return;
            };
            if self.roles[at].critical && new != old {
                self.roles[parent].statuses.move_one(old, new);
            }
            at = parent;
            new = self.roles[at].aggregated_status();
        }
    }

    /// Releases the tasks (teardown's "releasing tasks"). AliECS only detaches them from the
    /// environment, which publishes nothing for tasks and task roles; the call roles go
    /// INACTIVE (docs/aliecs.md §1.7).
    pub(crate) fn release(&mut self) -> Changes {
        let mut changes = Changes::default();
        for call in self.call_roles.clone() {
            self.report_status(call, TaskStatus::Inactive, &mut changes);
        }
        changes
    }

    /// The tasks are killed once the environment is gone: each reports INACTIVE, in the state
    /// it was in, as a task that no longer has a parent — no environment id, no path, empty
    /// traits (docs/aliecs.md §1.7). No role hears of it.
    pub(crate) fn kill(&mut self) -> Vec<TaskEvent> {
        let mut events = Vec::with_capacity(self.tasks.len());
        for task in &mut self.tasks {
            task.status = TaskStatus::Inactive;
        }
        // A hook that ran has finished: Mesos has nothing more to say of it.
        for task in self.tasks.iter().filter(|t| !t.finished) {
            events.push(TaskEvent {
                detached: true,
                ..task_event(task)
            });
        }
        events
    }

    /// A task fails (docs/aliecs.md §1.8): its state becomes ERROR, and its roles show it.
    /// Returns the changes, or `None` when no task matches.
    pub(crate) fn fail_task(&mut self, which: &TaskSelector) -> Option<Changes> {
        let index = self.find(which)?;
        let mut changes = Changes::default();
        if self.tasks[index].state != State::Error {
            self.set_state(index, State::Error, &mut changes);
        }
        Some(changes)
    }

    /// TASK_INTERNAL_ERROR: the core sets the task's role to ERROR; the task itself is left as it
    /// is (`manager.go`). Returns the changes, or `None` when no task matches.
    pub(crate) fn fail_role_of(&mut self, which: &TaskSelector) -> Option<Changes> {
        let index = self.find(which)?;
        self.tasks[index].role_in_error = true;
        let mut changes = Changes::default();
        let role = self.tasks[index].role;
        self.report_state(role, RoleState::Is(State::Error), &mut changes);
        Some(changes)
    }

    fn find(&self, which: &TaskSelector) -> Option<usize> {
        self.tasks.iter().position(|task| {
            which
                .role
                .as_deref()
                .is_none_or(|role| task.facts.role.name() == role)
                && which
                    .host
                    .as_deref()
                    .is_none_or(|host| task.facts.hostname == host)
        })
    }

    /// The GO_ERROR reason AliECS gives when critical tasks went to ERROR
    /// (`newCriticalTasksErrorMessage`): every task is critical in readout-dataflow.
    pub(crate) fn critical_tasks_error(&self) -> String {
        let failed: Vec<&Task> = self
            .tasks
            .iter()
            .filter(|t| t.state == State::Error && t.hook.as_ref().is_none_or(|h| h.critical))
            .collect();
        match failed.as_slice() {
            [] => "no critical tasks in ERROR".to_owned(),
            [task] => format!(
                "critical task '{}' on host '{}' transitioned to ERROR",
                task.facts.role.name(),
                task.facts.hostname
            ),
            many => format!(
                "{} critical tasks transitioned to ERROR, could not determine the first one to fail",
                many.len()
            ),
        }
    }

    /// The tasks, as the control API shows them.
    pub(crate) fn task_views(&self) -> Vec<TaskView> {
        self.tasks
            .iter()
            .map(|task| {
                let facts = &*task.facts;
                TaskView {
                    id: facts.id.clone(),
                    name: facts.name.clone(),
                    class_name: facts.class_name.clone(),
                    hostname: facts.hostname.clone(),
                    role_path: facts.role.path().to_owned(),
                    state: task.state,
                    status: task.status,
                    environment_id: Some(EnvironmentId::from(&*facts.role.environment_id)),
                    critical: facts.traits.critical,
                }
            })
            .collect()
    }

    /// The role tree, as the control API shows it.
    pub(crate) fn role_views(&self) -> Vec<RoleView> {
        // Each task role's task, found once: a view costs a pass over the tasks, not one per role.
        let mut task_of: Vec<Option<&Task>> = vec![None; self.roles.len()];
        for task in &self.tasks {
            if let Some(slot) = task_of.get_mut(task.role)
                && slot.is_none()
            {
                *slot = Some(task);
            }
        }
        self.roles
            .iter()
            .enumerate()
            .map(|(index, role)| RoleView {
                path: role.facts.path().to_owned(),
                kind: role.kind,
                state: role.state,
                status: role.status,
                parent: role.parent,
                task_id: task_of[index].map(|task| task.facts.id.clone()),
            })
            .collect()
    }

    fn role_event(&self, role: usize, change: RoleChange) -> RoleEvent {
        RoleEvent {
            role: Arc::clone(&self.roles[role].facts),
            change,
        }
    }

    /// How many tasks the environment runs.
    pub(crate) fn task_count(&self) -> usize {
        self.tasks.len()
    }
}

/// The event a task makes of its state and status now.
fn task_event(task: &Task) -> TaskEvent {
    TaskEvent {
        task: Arc::clone(&task.facts),
        state: task.state,
        status: TaskEventStatus::Is(task.status),
        detached: false,
    }
}

/// AliECS attaches the task role's traits to a task's events: a hook's trigger (its await too),
/// timeout and criticality.
fn hook_traits(hook: &PlannedHook) -> Traits {
    Traits {
        trigger: hook.trigger.clone(),
        r#await: hook.trigger.clone(),
        timeout: hook.timeout.clone(),
        critical: hook.critical,
    }
}

/// The traits of the task roles that are not hooks: they give none, so they have the defaults:
/// no timeout ("0s"), critical.
fn plain_traits() -> Traits {
    Traits {
        timeout: "0s".to_owned(),
        critical: true,
        ..Traits::default()
    }
}

#[cfg(test)]
mod tests {
    use ecsim_proto::events::Traits;

    use super::*;
    use crate::readout_dataflow;

    fn tree(hosts: &[&str], per_host: usize) -> TaskTree {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        TaskTree::new(
            "ENV",
            &readout_dataflow::workflow(),
            &hosts,
            per_host,
            vec![("readout-dataflow.kafka.running".into(), false)],
            Vec::new(),
        )
    }

    fn deployed(hosts: &[&str], per_host: usize) -> (TaskTree, Changes) {
        let mut tree = tree(hosts, per_host);
        let changes = tree.deploy(
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
                Change::Task(t) => format!(
                    "task {} {}/{}",
                    t.path(),
                    t.state.as_str(),
                    t.status.as_str()
                ),
                Change::Role(r) => format!("role {} {}{}", r.role.path(), r.state(), r.status()),
            })
            .collect()
    }

    #[test]
    fn deploying_launches_every_task_and_activates_every_role() {
        let (tree, changes) = deployed(&["flp001", "flp002"], 3);
        assert_eq!(tree.task_count(), 6);
        let tasks = changes.tasks();
        assert_eq!(tasks.len(), 6);
        let first = &tasks[0];
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
            "readout-dataflow.host-flp002",
            "readout-dataflow.host-flp001.data-distribution",
        ] {
            assert_eq!(last(path, false).as_deref(), Some("ACTIVE"), "{path}");
            assert_eq!(last(path, true).as_deref(), Some("STANDBY"), "{path}");
        }
        // The root counts the `kafka` aggregator too, whose calls are all non-critical: its
        // status is INVARIANT, but no state ever reaches it, so it stays UNKNOWN and the root,
        // with known hosts, is MIXED — AliECS's merge, read from its code.
        assert_eq!(last("readout-dataflow", false).as_deref(), Some("ACTIVE"));
        assert_eq!(last("readout-dataflow", true).as_deref(), Some("MIXED"));
        assert_eq!(
            (roles[0].role_path.as_str(), roles[0].status.as_str()),
            ("readout-dataflow.kafka.running", "ACTIVE"),
            "the call roles first"
        );
        assert_eq!(
            (roles[1].role_path.as_str(), roles[1].status.as_str()),
            ("readout-dataflow.kafka", "INVARIANT")
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
                // The call role is ACTIVE; its aggregator, whose calls are all non-critical,
                // INVARIANT; the root, whose host has not reported, UNDEFINED (silent).
                "role readout-dataflow.kafka.running ACTIVE".to_owned(),
                "role readout-dataflow.kafka INVARIANT".to_owned(),
                // readout runs: its role is ACTIVE; the host, whose data-distribution has not
                // reported, stays UNDEFINED …
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
                // The root stays MIXED: the kafka aggregator never has a state.
            ]
        );
        let configure = tree.transition(State::Configured, |_| true);
        assert_eq!(
            trace(&configure),
            [
                format!("task {host}.readout CONFIGURED/ACTIVE"),
                format!("role {host}.readout CONFIGURED"),
                format!("role {host} MIXED"),
                format!("task {dd}.stfb CONFIGURED/ACTIVE"),
                format!("role {dd}.stfb CONFIGURED"),
                format!("role {dd} CONFIGURED"),
                format!("role {host} CONFIGURED"),
            ]
        );
        let again = tree.transition(State::Configured, |_| true);
        assert!(again.0.is_empty(), "only changes produce events");
        let stop = tree.transition(State::Configured, |state| state == State::Running);
        assert!(stop.0.is_empty(), "stopping only running tasks: none runs");
    }

    /// The first lookup of the hooks makes every call role INVARIANT; a critical one passes it
    /// to its aggregator, which becomes INVARIANT once all its critical calls are; the
    /// aggregator of non-critical calls hears nothing. Once only (`GetHooksMapForTrigger`).
    #[test]
    fn call_roles_become_invariant_at_the_first_hook_lookup() {
        let mut tree = TaskTree::new(
            "ENV",
            &readout_dataflow::workflow(),
            &["flp001".to_owned()],
            1,
            vec![
                ("readout-dataflow.dcs.pfr".into(), false),
                ("readout-dataflow.dcs.sor".into(), true),
                ("readout-dataflow.kafka.running".into(), false),
            ],
            Vec::new(),
        );
        assert_eq!(
            trace(&tree.look_up_hooks()),
            [
                "role readout-dataflow.dcs.pfr INVARIANT",
                "role readout-dataflow.dcs.sor INVARIANT",
                "role readout-dataflow.dcs INVARIANT",
                "role readout-dataflow.kafka.running INVARIANT",
            ]
        );
        assert!(tree.look_up_hooks().0.is_empty(), "once");
    }

    /// Task hooks are deployed with the tasks and follow the environment; at their moment each
    /// runs once: reported terminated (TASK_FINISHED), then INACTIVE; they are not killed later.
    /// A critical hook counts for its host, a non-critical one does not.
    #[test]
    fn task_hooks_run_at_their_moment_and_finish() {
        let hook = |name: &str, critical| PlannedHook {
            host: "flp-its".into(),
            name: name.into(),
            class_name: "shell-command".into(),
            trigger: "DESTROY".into(),
            moment: "DESTROY".into(),
            weight: 0,
            timeout: "10s".into(),
            critical,
        };
        let mut tree = TaskTree::new(
            "ENV",
            &readout_dataflow::workflow(),
            &["flp-its".to_owned()],
            1,
            Vec::new(),
            vec![
                hook("fairmq-shmmonitor", false),
                hook("its-cru-enable", true),
            ],
        );
        let deployed = tree.deploy(
            &mut UidGenerator::new(1),
            Timestamp::from_unix_millis(1_750_000_000_000),
        );
        let launched = deployed.tasks();
        assert_eq!(launched.len(), 3, "readout and the two hooks");
        let traits = launched[2].traits.clone().unwrap();
        assert_eq!(
            (
                traits.trigger.as_str(),
                traits.timeout.as_str(),
                traits.critical
            ),
            ("DESTROY", "10s", true)
        );
        assert_eq!(tree.hook_weights("DESTROY"), [0, 0]);
        assert!(tree.trigger_hooks("before_DEPLOY", 0).0.is_empty());
        let host = "readout-dataflow.host-flp-its";
        assert_eq!(
            trace(&tree.trigger_hooks("DESTROY", 0)),
            [
                format!("task {host}.fairmq-shmmonitor STANDBY/TASK_FINISHED"),
                format!("role {host}.fairmq-shmmonitor INACTIVE"),
                format!("task {host}.fairmq-shmmonitor STANDBY/INACTIVE"),
                format!("task {host}.its-cru-enable STANDBY/TASK_FINISHED"),
                format!("role {host}.its-cru-enable INACTIVE"),
                format!("role {host} PARTIAL"),
                "role readout-dataflow PARTIAL".to_owned(),
                format!("task {host}.its-cru-enable STANDBY/INACTIVE"),
            ]
        );
        assert!(tree.trigger_hooks("DESTROY", 0).0.is_empty(), "once");
        assert_eq!(tree.kill().len(), 1, "only readout is killed");
    }

    #[test]
    fn critical_task_reasons_are_aliecs_texts() {
        let mut tree = tree(&["flp001", "flp002"], 1);
        tree.deploy(
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
        let mut tree = tree(&["flp001"], 1);
        let deployed = tree.deploy(
            &mut UidGenerator::new(1),
            Timestamp::from_unix_millis(1_750_000_000_000),
        );
        let launched = deployed.tasks();
        let release = tree.release();
        assert!(release.tasks().is_empty());
        let roles: Vec<(String, String)> = release
            .roles()
            .into_iter()
            .map(|r| (r.role_path, r.status))
            .collect();
        assert_eq!(
            roles,
            [(
                "readout-dataflow.kafka.running".to_owned(),
                "INACTIVE".to_owned()
            )]
        );
        let killed: Vec<_> = tree.kill().iter().map(TaskEvent::to_proto).collect();
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
