//! Task steps that fail: the `tasks_<EVENT>` step of a transition ending in an error, as AliECS's
//! task manager reports it (docs/aliecs.md §1.5, §1.6).
//!
//! A scenario asks for them with `[[fault]] service = "tasks"`. A DEPLOY times out when the
//! tasks do not all become active within `deploy_timeout`; a CONFIGURE times out when Mesos does
//! not answer within two minutes; a CONFIGURE, START_ACTIVITY, STOP_ACTIVITY or RESET fails when
//! a task fails its transition — the task goes to ERROR and the step's error names it. Either
//! way the transition is canceled, and what follows is what follows any failed transition.

use std::time::Duration;

use crate::{clock::Timestamp, duration::parse_go_duration, fsm::Transition};

/// What a task fault does to its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFaultOutcome {
    /// A task fails the transition (not DEPLOY).
    Error,
    /// The step does not complete in time (DEPLOY, CONFIGURE).
    Timeout,
}

/// A task step that fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFault {
    /// The transition whose task step fails.
    pub transition: Transition,
    /// How.
    pub outcome: TaskFaultOutcome,
    /// The failing task's error, instead of ecsim's.
    pub message: Option<String>,
    /// How many times it strikes (every time when `None`).
    pub times: Option<u32>,
    /// Armed from this instant on (from the start when `None`).
    pub from: Option<Timestamp>,
    /// The line of the scenario's `[[fault]]`, reported by `Core::faults_fired` once it
    /// strikes.
    pub line: Option<u32>,
}

impl TaskFault {
    /// Whether `outcome` can happen to the task step of `transition` (what validation checks).
    pub fn applies(transition: Transition, outcome: TaskFaultOutcome) -> bool {
        match outcome {
            TaskFaultOutcome::Timeout => {
                matches!(transition, Transition::Deploy | Transition::Configure)
            }
            TaskFaultOutcome::Error => matches!(
                transition,
                Transition::Configure
                    | Transition::StartActivity
                    | Transition::StopActivity
                    | Transition::Reset
            ),
        }
    }
}

/// How long CONFIGURE waits for Mesos (`core/task/manager.go`).
pub(crate) const CONFIGURE_RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// `deploy_timeout` when the variable is missing or unreadable.
const DEFAULT_DEPLOY_TIMEOUT: Duration = Duration::from_secs(90);

/// An environment's task faults and how often each has struck.
#[derive(Debug, Default)]
pub(crate) struct TaskFaults(Vec<(TaskFault, u32)>);

impl TaskFaults {
    pub(crate) fn new(faults: Vec<TaskFault>) -> Self {
        Self(faults.into_iter().map(|fault| (fault, 0)).collect())
    }

    /// The fault that strikes this task step now, if any (counted as struck).
    pub(crate) fn strike(&mut self, transition: Transition, now: Timestamp) -> Option<TaskFault> {
        let (fault, struck) = self.0.iter_mut().find(|(fault, struck)| {
            fault.transition == transition
                && fault.from.is_none_or(|from| from <= now)
                && fault.times.is_none_or(|times| *struck < times)
        })?;
        *struck += 1;
        Some(fault.clone())
    }
}

/// The DEPLOY timeout: `deploy_timeout` as Go reads it.
pub(crate) fn deploy_timeout(var: Option<&str>) -> Duration {
    var.and_then(parse_go_duration)
        .unwrap_or(DEFAULT_DEPLOY_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_strikes_its_step_as_many_times_as_asked_once_armed() {
        let at = |ms| Timestamp::from_unix_millis(ms);
        let mut faults = TaskFaults::new(vec![TaskFault {
            transition: Transition::Configure,
            outcome: TaskFaultOutcome::Error,
            message: None,
            times: Some(1),
            from: Some(at(1_000)),
            line: None,
        }]);
        assert_eq!(
            faults.strike(Transition::Configure, at(999)),
            None,
            "not armed yet"
        );
        assert_eq!(
            faults.strike(Transition::Deploy, at(2_000)),
            None,
            "another step"
        );
        assert!(faults.strike(Transition::Configure, at(2_000)).is_some());
        assert_eq!(
            faults.strike(Transition::Configure, at(3_000)),
            None,
            "once"
        );
    }

    #[test]
    fn deploy_timeout_is_read_as_go_reads_it_or_is_the_default() {
        assert_eq!(deploy_timeout(Some("90s")), Duration::from_secs(90));
        assert_eq!(deploy_timeout(Some("2m30s")), Duration::from_secs(150));
        assert_eq!(deploy_timeout(Some("soon")), Duration::from_secs(90));
        assert_eq!(deploy_timeout(None), Duration::from_secs(90));
    }

    #[test]
    fn timeouts_strike_deploy_and_configure_and_errors_the_others() {
        assert!(TaskFault::applies(
            Transition::Deploy,
            TaskFaultOutcome::Timeout
        ));
        assert!(!TaskFault::applies(
            Transition::Deploy,
            TaskFaultOutcome::Error
        ));
        assert!(!TaskFault::applies(
            Transition::StartActivity,
            TaskFaultOutcome::Timeout
        ));
    }
}
