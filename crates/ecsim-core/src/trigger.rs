//! Trigger expressions: a hook moment and a signed weight, `before_START_ACTIVITY+100`.
//!
//! Reference §1.3 (`core/workflow/callable/call.go` ParseTriggerExpression): the expression is
//! split at its LAST `+` or `-`; without one the weight is `+0`; a weight that does not parse is
//! taken as 0 (AliECS logs a warning and carries on, and so does ecsim).

use std::fmt;

use crate::fsm::{State, Transition};

/// A moment at which the core runs hooks (reference §1.3): around each FSM event, on leaving and
/// entering each state, and at teardown. Hooks name moments in text, in a trigger expression;
/// [`Moment`]'s `Display` is that text, and a trigger naming no moment never fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Moment {
    /// `before_<EVENT>`: before the source state is left; failures cancel the transition.
    Before(Transition),
    /// `leave_<STATE>`: leaving the source state; failures cancel the transition.
    Leave(State),
    /// `enter_<STATE>`: in the destination state; failures do not undo it.
    Enter(State),
    /// `after_<EVENT>`: the end of the transition; failures do not undo it.
    After(Transition),
    /// `DESTROY`: teardown, after the tasks are released.
    Destroy,
    /// `after_DESTROY`: teardown, merged with `DESTROY` by weight.
    AfterDestroy,
}

impl Moment {
    /// Every moment, in a stable order: each event's `before_`/`after_`, each state's
    /// `enter_`/`leave_`, then teardown's.
    pub fn all() -> Vec<Moment> {
        let mut moments = Vec::new();
        for transition in Transition::ALL {
            moments.extend([Moment::Before(transition), Moment::After(transition)]);
        }
        for state in State::ALL {
            moments.extend([Moment::Enter(state), Moment::Leave(state)]);
        }
        moments.extend([Moment::Destroy, Moment::AfterDestroy]);
        moments
    }
    /// The moment's name in trigger expressions and on `aliecs.environment`'s
    /// `transitionStep`, without formatting: every hook and every step event names its moment,
    /// so this is on the path of every message.
    pub const fn as_str(self) -> &'static str {
        match self {
            Moment::Before(event) => match event {
                Transition::Deploy => "before_DEPLOY",
                Transition::Configure => "before_CONFIGURE",
                Transition::Reset => "before_RESET",
                Transition::StartActivity => "before_START_ACTIVITY",
                Transition::StopActivity => "before_STOP_ACTIVITY",
                Transition::GoError => "before_GO_ERROR",
                Transition::Recover => "before_RECOVER",
                Transition::Exit => "before_EXIT",
            },
            Moment::After(event) => match event {
                Transition::Deploy => "after_DEPLOY",
                Transition::Configure => "after_CONFIGURE",
                Transition::Reset => "after_RESET",
                Transition::StartActivity => "after_START_ACTIVITY",
                Transition::StopActivity => "after_STOP_ACTIVITY",
                Transition::GoError => "after_GO_ERROR",
                Transition::Recover => "after_RECOVER",
                Transition::Exit => "after_EXIT",
            },
            Moment::Enter(state) => match state {
                State::Standby => "enter_STANDBY",
                State::Deployed => "enter_DEPLOYED",
                State::Configured => "enter_CONFIGURED",
                State::Running => "enter_RUNNING",
                State::Error => "enter_ERROR",
                State::Done => "enter_DONE",
            },
            Moment::Leave(state) => match state {
                State::Standby => "leave_STANDBY",
                State::Deployed => "leave_DEPLOYED",
                State::Configured => "leave_CONFIGURED",
                State::Running => "leave_RUNNING",
                State::Error => "leave_ERROR",
                State::Done => "leave_DONE",
            },
            Moment::Destroy => "DESTROY",
            Moment::AfterDestroy => "after_DESTROY",
        }
    }
}

impl fmt::Display for Moment {
    /// [`Moment::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hook moment and a weight.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Trigger {
    /// The moment's name: `before_CONFIGURE`, `enter_RUNNING`, `DESTROY`, …
    pub moment: String,
    /// The order within the moment: negative weights run before the moment's built-in work.
    pub weight: i32,
}

impl Trigger {
    /// Parses a trigger expression the way AliECS does; never fails.
    pub fn parse(expression: &str) -> Self {
        match expression.rfind(['+', '-']) {
            Some(split) => {
                let (moment, weight) = expression.split_at(split);
                match weight.parse::<i32>() {
                    Ok(weight) => Self {
                        moment: moment.to_owned(),
                        weight,
                    },
                    Err(_) => {
                        tracing::warn!(
                            expression,
                            "invalid trigger weight definition, defaulting to {moment}+0"
                        );
                        Self {
                            moment: moment.to_owned(),
                            weight: 0,
                        }
                    }
                }
            }
            None => Self {
                moment: expression.to_owned(),
                weight: 0,
            },
        }
    }

    /// A trigger at `moment` with weight `weight`.
    pub fn new(moment: impl Into<String>, weight: i32) -> Self {
        Self {
            moment: moment.into(),
            weight,
        }
    }
}

impl fmt::Display for Trigger {
    /// Writes the canonical expression: `DESTROY` for weight 0, else `before_X+10` / `after_X-1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.weight {
            0 => f.write_str(&self.moment),
            weight => write!(f, "{}{weight:+}", self.moment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_moment_is_its_prefix_and_its_event_or_state() {
        for transition in Transition::ALL {
            assert_eq!(
                Moment::Before(transition).as_str(),
                format!("before_{transition}")
            );
            assert_eq!(
                Moment::After(transition).as_str(),
                format!("after_{transition}")
            );
        }
        for state in State::ALL {
            assert_eq!(Moment::Enter(state).as_str(), format!("enter_{state}"));
            assert_eq!(Moment::Leave(state).as_str(), format!("leave_{state}"));
        }
    }

    #[test]
    fn moments_are_named_as_aliecs_names_them() {
        let names: Vec<String> = Moment::all().iter().map(Moment::to_string).collect();
        assert_eq!(
            names.len(),
            2 * Transition::ALL.len() + 2 * State::ALL.len() + 2
        );
        for name in [
            "before_CONFIGURE",
            "after_START_ACTIVITY",
            "leave_RUNNING",
            "enter_CONFIGURED",
            "before_GO_ERROR",
            "DESTROY",
            "after_DESTROY",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn splits_at_the_last_sign() {
        let cases = [
            ("before_START_ACTIVITY+100", "before_START_ACTIVITY", 100),
            ("after_CONFIGURE-1", "after_CONFIGURE", -1),
            ("DESTROY", "DESTROY", 0),
            ("enter_RUNNING", "enter_RUNNING", 0),
            ("DESTROY-100", "DESTROY", -100),
            ("before_DEPLOY-100", "before_DEPLOY", -100),
            // A weight that does not parse counts as 0, and the moment keeps what preceded the sign.
            ("after_STOP_ACTIVITY+x", "after_STOP_ACTIVITY", 0),
            ("odd-name+5", "odd-name", 5),
        ];
        for (expression, moment, weight) in cases {
            assert_eq!(
                Trigger::parse(expression),
                Trigger::new(moment, weight),
                "{expression}"
            );
        }
    }

    #[test]
    fn displays_the_canonical_expression() {
        assert_eq!(Trigger::new("DESTROY", 0).to_string(), "DESTROY");
        assert_eq!(
            Trigger::new("before_START_ACTIVITY", 50).to_string(),
            "before_START_ACTIVITY+50"
        );
        assert_eq!(
            Trigger::new("after_GO_ERROR", -1).to_string(),
            "after_GO_ERROR-1"
        );
    }
}
