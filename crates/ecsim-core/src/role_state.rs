//! What tasks and roles report: AliECS's task statuses, role states and role kinds, as types.
//!
//! AliECS keeps them as Go constants (`core/task/status.go`, `core/task/sm/state.go`,
//! `core/workflow/`) and writes their names on the wire (`Ev_TaskEvent`, `Ev_RoleEvent`, the
//! control API's `TaskInfo` and `RoleInfo`). The core works with these types; `as_str` is the
//! one place a name is written, byte for byte what AliECS writes — the empty string where a
//! role never reported (UNKNOWN, UNDEFINED), which is what its events carry.

use std::fmt;

use crate::fsm::State;

/// A task's or a role's status (`task.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaskStatus {
    /// Never reported (AliECS's UNDEFINED; written "").
    #[default]
    Undefined,
    /// Running on its host.
    Active,
    /// Not running (before its launch, after its kill).
    Inactive,
    /// An aggregator whose critical children differ.
    Partial,
    /// An aggregator with nothing that counts: the product's neutral element.
    Invariant,
}

impl TaskStatus {
    /// The name AliECS writes ("" for [`TaskStatus::Undefined`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Undefined => "",
            TaskStatus::Active => "ACTIVE",
            TaskStatus::Inactive => "INACTIVE",
            TaskStatus::Partial => "PARTIAL",
            TaskStatus::Invariant => "INVARIANT",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role's state (`sm.State`): a task's state, or what an aggregator makes of its children's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RoleState {
    /// Never reported (AliECS's UNKNOWN; written "").
    #[default]
    Unknown,
    /// One of the state machine's states (ERROR included).
    Is(State),
    /// An aggregator whose critical children are in different states, none in ERROR.
    Mixed,
    /// An aggregator with nothing that counts, or a call role once its hooks were looked up.
    Invariant,
}

impl RoleState {
    /// The name AliECS writes ("" for [`RoleState::Unknown`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            RoleState::Unknown => "",
            RoleState::Is(state) => state.as_str(),
            RoleState::Mixed => "MIXED",
            RoleState::Invariant => "INVARIANT",
        }
    }
}

impl From<State> for RoleState {
    fn from(state: State) -> Self {
        RoleState::Is(state)
    }
}

impl fmt::Display for RoleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a role of the role tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    /// A task's role: STANDBY and INACTIVE until its task reports.
    Task,
    /// A call's role: UNKNOWN and UNDEFINED until the core updates it.
    Call,
    /// An aggregator (a host, `data-distribution`, the root, the parent of call roles): says
    /// nothing until a child reports.
    Aggregator,
}

impl RoleKind {
    /// Its name in views: `task`, `call`, `aggregator`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RoleKind::Task => "task",
            RoleKind::Call => "call",
            RoleKind::Aggregator => "aggregator",
        }
    }
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_aliecs_and_never_reported_is_empty_on_the_wire() {
        let statuses: Vec<&str> = [
            TaskStatus::Undefined,
            TaskStatus::Active,
            TaskStatus::Inactive,
            TaskStatus::Partial,
            TaskStatus::Invariant,
        ]
        .map(TaskStatus::as_str)
        .to_vec();
        assert_eq!(statuses, ["", "ACTIVE", "INACTIVE", "PARTIAL", "INVARIANT"]);
        let states: Vec<&str> = [
            RoleState::Unknown,
            RoleState::Is(State::Error),
            RoleState::Mixed,
            RoleState::Invariant,
        ]
        .map(RoleState::as_str)
        .to_vec();
        assert_eq!(states, ["", "ERROR", "MIXED", "INVARIANT"]);
        assert_eq!(RoleState::from(State::Standby).to_string(), "STANDBY");
    }
}
