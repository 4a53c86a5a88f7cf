//! AliECS's environment state machine: states, events and the transition table.
//!
//! Reference §1.1–1.2 (`core/environment/environment.go`). The table includes `RECOVER` and
//! `EXIT`, which AliECS defines but never issues; nothing in ecsim issues them either.

use std::fmt;

/// The state of an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Initial state at construction. No event leads here, so `enter_STANDBY` never fires.
    Standby,
    Deployed,
    Configured,
    Running,
    Error,
    /// Reached only by teardown, without FSM callbacks.
    Done,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 6] = [
        State::Standby,
        State::Deployed,
        State::Configured,
        State::Running,
        State::Error,
        State::Done,
    ];

    /// The name AliECS uses in events, vars and topic names.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Standby => "STANDBY",
            State::Deployed => "DEPLOYED",
            State::Configured => "CONFIGURED",
            State::Running => "RUNNING",
            State::Error => "ERROR",
            State::Done => "DONE",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An FSM event (AliECS calls them transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transition {
    Deploy,
    Configure,
    Reset,
    StartActivity,
    StopActivity,
    GoError,
    /// Defined by AliECS, never issued (no Transition object exists for it).
    Recover,
    /// Defined by AliECS, never issued.
    Exit,
}

impl Transition {
    /// Every event of the table, in declaration order.
    pub const ALL: [Transition; 8] = [
        Transition::Deploy,
        Transition::Configure,
        Transition::Reset,
        Transition::StartActivity,
        Transition::StopActivity,
        Transition::GoError,
        Transition::Recover,
        Transition::Exit,
    ];

    /// The name AliECS uses in events and trigger names (`before_START_ACTIVITY`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Transition::Deploy => "DEPLOY",
            Transition::Configure => "CONFIGURE",
            Transition::Reset => "RESET",
            Transition::StartActivity => "START_ACTIVITY",
            Transition::StopActivity => "STOP_ACTIVITY",
            Transition::GoError => "GO_ERROR",
            Transition::Recover => "RECOVER",
            Transition::Exit => "EXIT",
        }
    }

    /// The state this event leads to from `from`, or `None` when the table does not allow it
    /// there (looplab/fsm's `InvalidEventError`).
    pub const fn destination(self, from: State) -> Option<State> {
        use State::*;
        match (self, from) {
            (Transition::Deploy, Standby) => Some(Deployed),
            (Transition::Configure, Deployed) => Some(Configured),
            (Transition::Reset, Configured) => Some(Deployed),
            (Transition::StartActivity, Configured) => Some(Running),
            (Transition::StopActivity, Running) => Some(Configured),
            (Transition::GoError, Standby | Deployed | Configured | Running) => Some(Error),
            (Transition::Recover, Error) => Some(Deployed),
            (Transition::Exit, Configured | Deployed | Standby) => Some(Done),
            _ => None,
        }
    }

    /// Whether a client may request this event (`ControlEnvironmentRequest.Optype`, reference
    /// §1.2). GO_ERROR is the core's alone; RECOVER and EXIT have no operation type.
    pub const fn is_client_requestable(self) -> bool {
        matches!(
            self,
            Transition::Deploy
                | Transition::Configure
                | Transition::Reset
                | Transition::StartActivity
                | Transition::StopActivity
        )
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Transition {
    type Err = UnknownTransition;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Transition::ALL
            .into_iter()
            .find(|transition| transition.as_str() == text)
            .ok_or_else(|| UnknownTransition(text.to_owned()))
    }
}

/// A name that is not one of AliECS's FSM events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an AliECS transition (DEPLOY, CONFIGURE, RESET, START_ACTIVITY, STOP_ACTIVITY, GO_ERROR)"
)]
pub struct UnknownTransition(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (event, state) pair against the table of reference §1.2, written out in full so a
    /// change to either shows up here.
    #[test]
    fn the_transition_table_is_aliecs_table() {
        use State::*;
        use Transition::*;
        let expected: &[(Transition, State, Option<State>)] = &[
            (Deploy, Standby, Some(Deployed)),
            (Deploy, Deployed, None),
            (Deploy, Configured, None),
            (Deploy, Running, None),
            (Deploy, Error, None),
            (Deploy, Done, None),
            (Configure, Standby, None),
            (Configure, Deployed, Some(Configured)),
            (Configure, Configured, None),
            (Configure, Running, None),
            (Configure, Error, None),
            (Configure, Done, None),
            (Reset, Standby, None),
            (Reset, Deployed, None),
            (Reset, Configured, Some(Deployed)),
            (Reset, Running, None),
            (Reset, Error, None),
            (Reset, Done, None),
            (StartActivity, Standby, None),
            (StartActivity, Deployed, None),
            (StartActivity, Configured, Some(Running)),
            (StartActivity, Running, None),
            (StartActivity, Error, None),
            (StartActivity, Done, None),
            (StopActivity, Standby, None),
            (StopActivity, Deployed, None),
            (StopActivity, Configured, None),
            (StopActivity, Running, Some(Configured)),
            (StopActivity, Error, None),
            (StopActivity, Done, None),
            (GoError, Standby, Some(Error)),
            (GoError, Deployed, Some(Error)),
            (GoError, Configured, Some(Error)),
            (GoError, Running, Some(Error)),
            (GoError, Error, None),
            (GoError, Done, None),
            (Recover, Error, Some(Deployed)),
            (Recover, Standby, None),
            (Recover, Running, None),
            (Exit, Configured, Some(Done)),
            (Exit, Deployed, Some(Done)),
            (Exit, Standby, Some(Done)),
            (Exit, Running, None),
            (Exit, Error, None),
        ];
        for &(event, from, to) in expected {
            assert_eq!(event.destination(from), to, "{event} from {from}");
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for transition in Transition::ALL {
            assert_eq!(transition.as_str().parse::<Transition>(), Ok(transition));
        }
        let error = "START".parse::<Transition>().unwrap_err();
        assert!(error.to_string().contains("START_ACTIVITY"), "{error}");
    }

    #[test]
    fn only_the_five_client_operations_are_requestable() {
        let requestable: Vec<_> = Transition::ALL
            .into_iter()
            .filter(|t| t.is_client_requestable())
            .collect();
        assert_eq!(
            requestable,
            [
                Transition::Deploy,
                Transition::Configure,
                Transition::Reset,
                Transition::StartActivity,
                Transition::StopActivity
            ]
        );
    }
}
