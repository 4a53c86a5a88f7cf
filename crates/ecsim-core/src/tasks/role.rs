//! A role of an environment's role tree and AliECS's merge of its children's values
//! (reference §3.1: `core/workflow/safestate.go`, `safestatus.go`, `core/task/status.go`,
//! `core/task/sm/state.go`): the products of states and statuses, over counts kept as children
//! report, so that a report costs constant time per role.

use super::{ERROR, INACTIVE, INVARIANT, MIXED, PARTIAL};

/// What a role is, for AliECS's aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A task's role: STANDBY and INACTIVE until its task reports.
    Task,
    /// A call's role: UNKNOWN and UNDEFINED until the core updates it.
    Call,
    /// An aggregator (a host, `data-distribution`, the root, the parent of call roles): says
    /// nothing until a child reports.
    Aggregator,
}

/// A role of the tree. An aggregator counts the states and statuses its critical children last
/// reported ("" for none yet), so that a child's report updates it in constant time.
#[derive(Debug, Clone)]
pub(super) struct Role {
    pub(super) path: String,
    pub(super) kind: Kind,
    /// Whether its parent counts it: task and call roles as the template says (the task roles
    /// here are all critical), aggregators always.
    pub(super) critical: bool,
    pub(super) parent: Option<usize>,
    /// Whether it has children (an aggregator with none aggregates to INVARIANT).
    pub(super) has_children: bool,
    /// What the role last reported: "" before it ever did (AliECS's UNKNOWN, UNDEFINED).
    pub(super) state: &'static str,
    pub(super) status: &'static str,
    /// Its critical children's reported states and statuses (aggregators).
    pub(super) states: Counts,
    pub(super) statuses: Counts,
}

impl Role {
    pub(super) fn new(path: String, kind: Kind, critical: bool, parent: Option<usize>) -> Self {
        let (state, status) = match kind {
            Kind::Task => ("STANDBY", INACTIVE),
            Kind::Call | Kind::Aggregator => ("", ""),
        };
        Self {
            path,
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
    pub(super) fn aggregated_state(&self) -> &'static str {
        self.states.state()
    }

    /// What an aggregator's status becomes over its children (`aggregateStatus`).
    pub(super) fn aggregated_status(&self) -> &'static str {
        if self.has_children {
            self.statuses.status()
        } else {
            ""
        }
    }
}

/// How many of a role's critical children are in each state (or status).
#[derive(Debug, Clone, Default)]
pub(super) struct Counts(Vec<(&'static str, usize)>);

impl Counts {
    pub(super) fn add(&mut self, value: &'static str) {
        match self.0.iter_mut().find(|(v, _)| *v == value) {
            Some((_, n)) => *n += 1,
            None => self.0.push((value, 1)),
        }
    }

    pub(super) fn remove(&mut self, value: &'static str) {
        if let Some(index) = self.0.iter().position(|(v, _)| *v == value) {
            self.0[index].1 -= 1;
            if self.0[index].1 == 0 {
                self.0.remove(index);
            }
        }
    }

    pub(super) fn move_one(&mut self, from: &'static str, to: &'static str) {
        self.remove(from);
        self.add(to);
    }

    /// The values that count: INVARIANT is the product's neutral element.
    fn counted(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(v, _)| *v).filter(|v| *v != INVARIANT)
    }

    /// AliECS's product of states (`sm.State.X`): INVARIANT when nothing counts, one state
    /// stays (UNKNOWN too, ""), ERROR wins, several are MIXED — UNKNOWN with a state included.
    pub(super) fn state(&self) -> &'static str {
        let values: Vec<&'static str> = self.counted().collect();
        match values.as_slice() {
            [] => INVARIANT,
            [one] => one,
            many if many.contains(&ERROR) => ERROR,
            _ => MIXED,
        }
    }

    /// AliECS's product of statuses (`task.STATUS_PRODUCT`): INVARIANT when nothing counts; a
    /// child that never reported (UNDEFINED, "") makes it UNDEFINED; one status stays; several
    /// are PARTIAL.
    pub(super) fn status(&self) -> &'static str {
        let values: Vec<&'static str> = self.counted().collect();
        match values.as_slice() {
            [] => INVARIANT,
            many if many.contains(&"") => "",
            [one] => one,
            _ => PARTIAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(counts(&[]).state(), "INVARIANT", "no critical child");
        assert_eq!(
            counts(&["INVARIANT", "RUNNING"]).state(),
            "RUNNING",
            "neutral"
        );
        assert_eq!(counts(&["INVARIANT"]).status(), "INVARIANT");
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
}
