//! A role of an environment's role tree and AliECS's merge of its children's values
//! (reference §3.1: `core/workflow/safestate.go`, `safestatus.go`, `core/task/status.go`,
//! `core/task/sm/state.go`): the products of states and statuses, over counts kept as children
//! report, so that a report costs constant time per role.

use std::sync::Arc;

use crate::{
    event::RoleFacts,
    fsm::State,
    role_state::{RoleKind as Kind, RoleState, TaskStatus},
};

/// A role of the tree. An aggregator counts the states and statuses its critical children last
/// reported ("" for none yet), so that a child's report updates it in constant time.
#[derive(Debug, Clone)]
pub(super) struct Role {
    /// Its path, name and environment: shared by every event of the role and its task.
    pub(super) facts: Arc<RoleFacts>,
    pub(super) kind: Kind,
    /// Whether its parent counts it: task and call roles as the template says (the task roles
    /// here are all critical), aggregators always.
    pub(super) critical: bool,
    pub(super) parent: Option<usize>,
    /// Whether it has children (an aggregator with none aggregates to INVARIANT).
    pub(super) has_children: bool,
    /// What the role last reported (UNKNOWN, UNDEFINED before it ever did).
    pub(super) state: RoleState,
    pub(super) status: TaskStatus,
    /// Its critical children's reported states and statuses (aggregators).
    pub(super) states: Counts<RoleState>,
    pub(super) statuses: Counts<TaskStatus>,
}

impl Role {
    pub(super) fn new(
        facts: Arc<RoleFacts>,
        kind: Kind,
        critical: bool,
        parent: Option<usize>,
    ) -> Self {
        let (state, status) = match kind {
            Kind::Task => (RoleState::Is(State::Standby), TaskStatus::Inactive),
            Kind::Call | Kind::Aggregator => (RoleState::Unknown, TaskStatus::Undefined),
        };
        Self {
            facts,
            kind,
            critical,
            parent,
            has_children: false,
            state,
            status,
            states: Counts::default(),
            statuses: Counts::default(),
        }
    }

    /// What an aggregator's state becomes over its children (`aggregateState`).
    pub(super) fn aggregated_state(&self) -> RoleState {
        self.states.state()
    }

    /// What an aggregator's status becomes over its children (`aggregateStatus`).
    pub(super) fn aggregated_status(&self) -> TaskStatus {
        if self.has_children {
            self.statuses.status()
        } else {
            TaskStatus::Undefined
        }
    }
}

/// How many of a role's critical children are in each state (or status).
#[derive(Debug, Clone)]
pub(super) struct Counts<T>(Vec<(T, usize)>);

impl<T> Default for Counts<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Copy + PartialEq> Counts<T> {
    pub(super) fn add(&mut self, value: T) {
        match self.0.iter_mut().find(|(v, _)| *v == value) {
            Some((_, n)) => *n += 1,
            None => self.0.push((value, 1)),
        }
    }

    pub(super) fn remove(&mut self, value: T) {
        if let Some(index) = self.0.iter().position(|(v, _)| *v == value) {
            self.0[index].1 -= 1;
            if self.0[index].1 == 0 {
                self.0.remove(index);
            }
        }
    }

    pub(super) fn move_one(&mut self, from: T, to: T) {
        self.remove(from);
        self.add(to);
    }

    /// The values that count: `neutral` is the product's neutral element (INVARIANT).
    fn counted(&self, neutral: T) -> impl Iterator<Item = T> + '_ {
        self.0
            .iter()
            .map(|(v, _)| *v)
            .filter(move |v| *v != neutral)
    }
}

impl Counts<RoleState> {
    /// AliECS's product of states (`sm.State.X`): INVARIANT when nothing counts, one state
    /// stays (UNKNOWN too), ERROR wins, several are MIXED — UNKNOWN with a state included.
    pub(super) fn state(&self) -> RoleState {
        let values: Vec<RoleState> = self.counted(RoleState::Invariant).collect();
        match values.as_slice() {
            [] => RoleState::Invariant,
            [one] => *one,
            many if many.contains(&RoleState::Is(State::Error)) => RoleState::Is(State::Error),
            _ => RoleState::Mixed,
        }
    }
}

impl Counts<TaskStatus> {
    /// AliECS's product of statuses (`task.STATUS_PRODUCT`): INVARIANT when nothing counts; a
    /// child that never reported (UNDEFINED) makes it UNDEFINED; one status stays; several are
    /// PARTIAL.
    pub(super) fn status(&self) -> TaskStatus {
        let values: Vec<TaskStatus> = self.counted(TaskStatus::Invariant).collect();
        match values.as_slice() {
            [] => TaskStatus::Invariant,
            many if many.contains(&TaskStatus::Undefined) => TaskStatus::Undefined,
            [one] => *one,
            _ => TaskStatus::Partial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts<T: Copy + PartialEq>(values: &[T]) -> Counts<T> {
        let mut counts = Counts::default();
        for value in values {
            counts.add(*value);
        }
        counts
    }

    #[test]
    fn roles_aggregate_as_aliecs_products_error_wins_and_mixed_statuses_are_partial() {
        use RoleState::{Invariant, Is, Mixed, Unknown};
        use State::{Configured, Error, Running, Standby};
        use TaskStatus::{Active, Inactive, Undefined};
        assert_eq!(counts(&[Is(Running), Is(Running)]).state(), Is(Running));
        assert_eq!(counts(&[Is(Running), Is(Configured)]).state(), Mixed);
        assert_eq!(
            counts(&[Is(Running), Is(Error), Is(Configured)]).state(),
            Is(Error)
        );
        assert_eq!(
            counts::<RoleState>(&[]).state(),
            Invariant,
            "no critical child"
        );
        assert_eq!(
            counts(&[Invariant, Is(Running)]).state(),
            Is(Running),
            "neutral"
        );
        assert_eq!(
            counts(&[TaskStatus::Invariant]).status(),
            TaskStatus::Invariant
        );
        assert_eq!(counts(&[Active, Active]).status(), Active);
        assert_eq!(counts(&[Active, Inactive]).status(), TaskStatus::Partial);
        assert_eq!(
            counts(&[Active, Undefined]).status(),
            Undefined,
            "a silent child is UNDEFINED"
        );
        assert_eq!(
            counts(&[Is(Standby), Unknown]).state(),
            Mixed,
            "UNKNOWN with a state"
        );
        assert_eq!(counts(&[Unknown, Unknown]).state(), Unknown);
        let mut moving = counts(&[Is(Running), Is(Configured)]);
        moving.remove(Is(Configured));
        assert_eq!(
            moving.state(),
            Is(Running),
            "a count that reaches 0 is gone"
        );
    }
}
