//! Why a step of a transition failed, typed by where the failure came from and worded as
//! AliECS words it.
//!
//! The text of a step's failure is part of what consumers see: it is the `error` of the step's
//! `aliecs.environment` event and of the transition's, and the control API's error message.
//! So each variant's `Display` is AliECS's sentence, byte for byte (the golden streams hold the
//! bytes); the variants keep the parts (the calls that failed, the roles that timed out, the
//! task) for the code that needs to know more than the text.

use std::time::Duration;

use crate::{
    duration::format_go_duration, fsm::Transition, id::TaskId, plugin::CallError,
    run_number::RunNumberError, trigger::Moment,
};

use super::task_faults::CONFIGURE_RESPONSE_TIMEOUT;

/// The most critical failures at one trigger AliECS shows one by one; past them, a count.
const SHOWN_FAILURES: usize = 3;

/// Why a step of a transition failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// Critical calls failed at one trigger (AliECS's `handleHooks`): up to three shown as they
    /// are, joined with "; "; past three, how many (never empty).
    #[error("{}", hooks_text(.trigger, .failures))]
    Hooks {
        /// The moment whose calls failed.
        trigger: Moment,
        /// Each failed call's error, in the order the calls were awaited.
        failures: Vec<CallError>,
    },
    /// No run number could be taken (the core's own work at `before_START_ACTIVITY`).
    #[error(transparent)]
    RunNumber(#[from] RunNumberError),
    /// DEPLOY: the tasks did not all become active within `deploy_timeout`
    /// (`core/environment/transition_deploy.go`); here none did.
    #[error(
        "workflow deployment timed out ({}), aborting and cleaning up [0 undeployable roles: ; {} inactive roles: {}]",
        format_go_duration(*.timeout),
        .inactive_roles.len(),
        .inactive_roles.join(", ")
    )]
    DeployTimedOut {
        /// The environment's `deploy_timeout`.
        timeout: Duration,
        /// The roles that did not become active, sorted.
        inactive_roles: Vec<String>,
    },
    /// Mesos did not answer a task transition request (`core/task/manager.go`; AliECS's text
    /// says CONFIGURE whatever the transition).
    #[error(
        "no response from Mesos to CONFIGURE transition request within {}s timeout",
        CONFIGURE_RESPONSE_TIMEOUT.as_secs()
    )]
    NoTaskResponse,
    /// A critical task failed its transition (boxed: the one large variant).
    #[error(transparent)]
    TaskFailed(Box<TaskFailure>),
    /// An `enter_` or `after_` phase whose negative and non-negative weights both failed: both
    /// errors, one per line.
    #[error("{0}\n{1}")]
    Both(Box<StepError>, Box<StepError>),
}

/// A critical task that failed its transition (`core/task/manager.go`): named by its role for
/// CONFIGURE, by its command for the others (ecsim has no command line and names its class).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{transition} could not complete for critical tasks, errors: task '{name}' on {host} (id {task}) failed with error: {message}"
)]
pub struct TaskFailure {
    /// The transition the task failed.
    pub transition: Transition,
    /// The task's role or class.
    pub name: String,
    /// Its host.
    pub host: String,
    /// Its id.
    pub task: TaskId,
    /// What the task said.
    pub message: String,
}

impl StepError {
    /// The failures of a trigger's critical calls, or none.
    pub(crate) fn hooks(trigger: Moment, failures: Vec<CallError>) -> Option<Self> {
        (!failures.is_empty()).then_some(Self::Hooks { trigger, failures })
    }

    /// The failure of a deployment whose `inactive_roles` never became active.
    pub(crate) fn deploy_timed_out(timeout: Duration, mut inactive_roles: Vec<String>) -> Self {
        inactive_roles.sort();
        Self::DeployTimedOut {
            timeout,
            inactive_roles,
        }
    }

    /// Go's `errors.Join`: both errors when both happened, else the one that did.
    pub(crate) fn join(first: Option<Self>, second: Option<Self>) -> Option<Self> {
        match (first, second) {
            (Some(a), Some(b)) => Some(Self::Both(Box::new(a), Box::new(b))),
            (a, b) => a.or(b),
        }
    }
}

fn hooks_text(trigger: &Moment, failures: &[CallError]) -> String {
    if failures.len() <= SHOWN_FAILURES {
        let texts: Vec<String> = failures.iter().map(ToString::to_string).collect();
        texts.join("; ")
    } else {
        format!(
            "{} critical hooks failed at trigger {trigger} (see InfoLogger for details)",
            failures.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::State;

    #[test]
    fn hook_failures_read_as_aliecs_joins_them_up_to_three() {
        let failures = |n: usize| -> Vec<CallError> {
            (1..=n).map(|i| CallError::new(format!("e{i}"))).collect()
        };
        let trigger = Moment::Before(Transition::StartActivity);
        assert_eq!(StepError::hooks(trigger, failures(0)), None);
        let text = |n| {
            StepError::hooks(trigger, failures(n))
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(text(1), "e1");
        assert_eq!(text(3), "e1; e2; e3");
        assert_eq!(
            text(4),
            "4 critical hooks failed at trigger before_START_ACTIVITY (see InfoLogger for details)"
        );
        let with_reason = CallError::new("SOR failed").reason("probe says no");
        assert_eq!(
            StepError::hooks(Moment::Enter(State::Running), vec![with_reason])
                .map(|e| e.to_string()),
            Some("SOR failed. REASON: probe says no".to_owned())
        );
    }

    #[test]
    fn task_step_errors_read_as_aliecs_writes_them() {
        assert_eq!(
            StepError::deploy_timed_out(
                Duration::from_secs(90),
                vec!["rd.host-b.readout".into(), "rd.host-a.readout".into()]
            )
            .to_string(),
            "workflow deployment timed out (1m30s), aborting and cleaning up [0 undeployable roles: ; 2 inactive roles: rd.host-a.readout, rd.host-b.readout]"
        );
        assert_eq!(
            StepError::NoTaskResponse.to_string(),
            "no response from Mesos to CONFIGURE transition request within 120s timeout"
        );
        assert_eq!(
            StepError::TaskFailed(Box::new(TaskFailure {
                transition: Transition::Configure,
                name: "readout".into(),
                host: "flp-tpc".into(),
                task: "2v9o".into(),
                message: "boom".into(),
            }))
            .to_string(),
            "CONFIGURE could not complete for critical tasks, errors: task 'readout' on flp-tpc (id 2v9o) failed with error: boom"
        );
    }

    #[test]
    fn two_failures_of_one_phase_are_both_said_one_per_line() {
        let one = |text: &str| {
            StepError::hooks(Moment::Enter(State::Running), vec![CallError::new(text)])
        };
        assert_eq!(
            StepError::join(one("a"), one("b")).map(|e| e.to_string()),
            Some("a\nb".to_owned())
        );
        assert_eq!(StepError::join(None, one("b")), one("b"));
        assert_eq!(StepError::join(one("a"), None), one("a"));
    }
}
