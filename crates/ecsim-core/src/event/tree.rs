//! The events of an environment's tasks and roles (`aliecs.task`, `aliecs.role`), made of
//! shared parts.
//!
//! Tasks and roles make most of an environment's messages (in the core benchmark, role events
//! are 37% of them and task events 13%), and all of such an event but the value that changed is
//! the same from one event of that task or role to the next: ids, names, path, host, traits. So
//! these events hold those parts shared — made once, when the role tree is built or the task
//! launched — and the value that changed as a type: an event costs no allocation and copies no
//! string. The core-producer encodes them from these parts, byte for byte what prost makes of
//! [`TaskEvent::to_proto`] and [`RoleEvent::to_proto`] (AliECS's messages), which its tests
//! check.

use std::sync::Arc;

use ecsim_proto::events::{EvRoleEvent, EvTaskEvent, Traits};

use crate::{
    fsm::State,
    id::TaskId,
    role_state::{RoleState, TaskStatus},
};

/// A role's state or status changed (`aliecs.role`): AliECS sends one of the two a message,
/// the other field empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleEvent {
    /// The role.
    pub role: Arc<RoleFacts>,
    /// What it reports.
    pub change: RoleChange,
}

/// What does not change in a role's events: made once, when the role tree is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFacts {
    /// Its environment's id.
    pub environment_id: Arc<str>,
    /// Its path (`readout-dataflow.host-flp1.readout`): private, so that `name_at` always
    /// points into it.
    path: String,
    /// Where its name (the path's last segment) starts in the path: an environment holds
    /// thousands of roles, and this costs less than a string of its own.
    name_at: usize,
}

impl RoleFacts {
    /// The role at `path` in environment `environment_id`.
    pub fn new(environment_id: Arc<str>, path: String) -> Self {
        let name_at = path.rfind('.').map_or(0, |dot| dot + 1);
        Self {
            environment_id,
            path,
            name_at,
        }
    }

    /// Its path (`readout-dataflow.host-flp1.readout`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Its name: the path's last segment.
    pub fn name(&self) -> &str {
        &self.path[self.name_at..]
    }
}

/// What a role event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    /// Its new state (`state`).
    State(RoleState),
    /// Its new status (`status`).
    Status(TaskStatus),
}

impl RoleEvent {
    /// The `state` field: the new state, or "" when the status changed.
    pub fn state(&self) -> &'static str {
        match self.change {
            RoleChange::State(state) => state.as_str(),
            RoleChange::Status(_) => "",
        }
    }

    /// The `status` field: the new status, or "" when the state changed.
    pub fn status(&self) -> &'static str {
        match self.change {
            RoleChange::Status(status) => status.as_str(),
            RoleChange::State(_) => "",
        }
    }

    /// AliECS's message.
    pub fn to_proto(&self) -> EvRoleEvent {
        EvRoleEvent {
            name: self.role.name().to_owned(),
            status: self.status().to_owned(),
            state: self.state().to_owned(),
            role_path: self.role.path().to_owned(),
            environment_id: self.role.environment_id.to_string(),
        }
    }
}

/// What does not change in a task's events: made once, when the task is launched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFacts {
    /// Its id (`taskid`, the key of its messages).
    pub id: TaskId,
    /// `<class name>#<id>`, as AliECS names tasks.
    pub name: String,
    /// Its task class.
    pub class_name: String,
    /// The host it runs on.
    pub hostname: String,
    /// Its task role's traits: a hook's trigger (its await too), timeout and criticality; the
    /// defaults of the others (no timeout, "0s", critical).
    pub traits: Arc<Traits>,
    /// Its task role, which gives the task its path and environment.
    pub role: Arc<RoleFacts>,
}

/// A task's state or status changed (`aliecs.task`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEvent {
    /// The task.
    pub task: Arc<TaskFacts>,
    /// Its state.
    pub state: State,
    /// Its status.
    pub status: TaskEventStatus,
    /// Killed once its environment is gone: a task of no environment, with no role path and
    /// empty traits (docs/aliecs.md §1.7).
    pub detached: bool,
}

/// The `status` of a task event: the task's status, or Mesos's final state for a hook that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEventStatus {
    /// The task's status.
    Is(TaskStatus),
    /// A task hook's command ended (`TASK_FINISHED`).
    Finished,
}

impl TaskEventStatus {
    /// The name AliECS writes.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskEventStatus::Is(status) => status.as_str(),
            TaskEventStatus::Finished => "TASK_FINISHED",
        }
    }
}

/// The traits of a task of no environment: all empty.
const NO_TRAITS: &Traits = &Traits {
    trigger: String::new(),
    r#await: String::new(),
    timeout: String::new(),
    critical: false,
};

impl TaskEvent {
    /// The `environmentId` field: "" once the task is detached from its environment.
    pub fn environment_id(&self) -> &str {
        if self.detached {
            ""
        } else {
            &self.task.role.environment_id
        }
    }

    /// The `path` field: "" once the task is detached from its environment.
    pub fn path(&self) -> &str {
        if self.detached {
            ""
        } else {
            self.task.role.path()
        }
    }

    /// The `traits` field: empty once the task is detached from its environment.
    pub fn traits(&self) -> &Traits {
        if self.detached {
            NO_TRAITS
        } else {
            &self.task.traits
        }
    }

    /// AliECS's message.
    pub fn to_proto(&self) -> EvTaskEvent {
        let task = &*self.task;
        EvTaskEvent {
            name: task.name.clone(),
            taskid: task.id.as_str().to_owned(),
            state: self.state.as_str().to_owned(),
            status: self.status.as_str().to_owned(),
            hostname: task.hostname.clone(),
            class_name: task.class_name.clone(),
            traits: Some(self.traits().clone()),
            environment_id: self.environment_id().to_owned(),
            path: self.path().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Arc<TaskFacts> {
        Arc::new(TaskFacts {
            id: TaskId::from("2oDvieFrVTi"),
            name: "readout#2oDvieFrVTi".into(),
            class_name: "readout".into(),
            hostname: "flp1".into(),
            traits: Arc::new(Traits {
                timeout: "0s".into(),
                critical: true,
                ..Traits::default()
            }),
            role: Arc::new(RoleFacts::new(
                "ENV".into(),
                "readout-dataflow.host-flp1.readout".into(),
            )),
        })
    }

    #[test]
    fn a_role_event_carries_one_field_of_the_two_and_its_name_is_the_last_segment() {
        let state = RoleEvent {
            role: Arc::new(RoleFacts::new(
                "ENV".into(),
                "readout-dataflow.host-flp1".into(),
            )),
            change: RoleChange::State(RoleState::Mixed),
        };
        let status = RoleEvent {
            change: RoleChange::Status(TaskStatus::Active),
            ..state.clone()
        };
        let root = RoleFacts::new("ENV".into(), "readout-dataflow".into());
        assert_eq!(
            state.to_proto(),
            EvRoleEvent {
                name: "host-flp1".into(),
                status: String::new(),
                state: "MIXED".into(),
                role_path: "readout-dataflow.host-flp1".into(),
                environment_id: "ENV".into(),
            }
        );
        assert_eq!(
            (
                status.to_proto().status.as_str(),
                status.to_proto().state.as_str()
            ),
            ("ACTIVE", "")
        );
        assert_eq!(root.name(), "readout-dataflow");
        assert_eq!(state.role.name(), "host-flp1");
    }

    #[test]
    fn a_detached_task_has_no_environment_path_or_traits_and_a_finished_hook_says_so() {
        let running = TaskEvent {
            task: facts(),
            state: State::Running,
            status: TaskEventStatus::Is(TaskStatus::Active),
            detached: false,
        };
        let proto = running.to_proto();
        assert_eq!(
            (
                proto.taskid.as_str(),
                proto.state.as_str(),
                proto.status.as_str(),
                proto.environment_id.as_str(),
                proto.path.as_str(),
                proto.traits.as_ref().map(|t| t.timeout.as_str())
            ),
            (
                "2oDvieFrVTi",
                "RUNNING",
                "ACTIVE",
                "ENV",
                "readout-dataflow.host-flp1.readout",
                Some("0s")
            )
        );
        let killed = TaskEvent {
            status: TaskEventStatus::Is(TaskStatus::Inactive),
            detached: true,
            ..running.clone()
        }
        .to_proto();
        assert_eq!(
            (
                killed.environment_id.as_str(),
                killed.path.as_str(),
                killed.traits,
                killed.name.as_str()
            ),
            ("", "", Some(Traits::default()), "readout#2oDvieFrVTi")
        );
        let finished = TaskEvent {
            status: TaskEventStatus::Finished,
            ..running
        };
        assert_eq!(finished.to_proto().status, "TASK_FINISHED");
    }
}
