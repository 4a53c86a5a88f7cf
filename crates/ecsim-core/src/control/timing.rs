//! How long the task steps of a transition take in simulated time: a scenario's `timing`,
//! `serve --timing`, or AliECS-like defaults.

use std::time::Duration;

use crate::fsm::Transition;

/// How long each task step takes (simulated time). AliECS's steps take as long as the tasks
/// need; these defaults are in the range of a small physics environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `tasks_DEPLOY`: acquiring and launching the tasks.
    pub deploy: Duration,
    /// `tasks_CONFIGURE`.
    pub configure: Duration,
    /// `tasks_START_ACTIVITY`.
    pub start: Duration,
    /// `tasks_STOP_ACTIVITY`.
    pub stop: Duration,
    /// `tasks_RESET`.
    pub reset: Duration,
    /// `tasks_GO_ERROR`: stopping what can be stopped.
    pub go_error: Duration,
    /// Teardown's "releasing tasks".
    pub release: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            deploy: Duration::from_secs(20),
            configure: Duration::from_secs(30),
            start: Duration::from_secs(5),
            stop: Duration::from_secs(5),
            reset: Duration::from_secs(5),
            go_error: Duration::from_secs(2),
            release: Duration::from_secs(2),
        }
    }
}

impl Timing {
    /// Every step instantaneous.
    pub const ZERO: Timing = Timing {
        deploy: Duration::ZERO,
        configure: Duration::ZERO,
        start: Duration::ZERO,
        stop: Duration::ZERO,
        reset: Duration::ZERO,
        go_error: Duration::ZERO,
        release: Duration::ZERO,
    };

    /// Every step a second or less, for a GUI (whose calls give up after 20 s) and for tests:
    /// a creation takes two seconds.
    pub const FAST: Timing = Timing {
        deploy: Duration::from_secs(1),
        configure: Duration::from_secs(1),
        start: Duration::from_millis(500),
        stop: Duration::from_millis(500),
        reset: Duration::from_millis(500),
        go_error: Duration::from_millis(200),
        release: Duration::from_millis(200),
    };

    /// The names of the steps, as scenarios' `timing` and `serve --timing` write them.
    pub const STEPS: &'static str = "deploy, configure, start, stop, reset, go_error, release";

    /// The duration of the step named `step` (see [`Timing::STEPS`]), to set it.
    pub fn step_mut(&mut self, step: &str) -> Option<&mut Duration> {
        Some(match step {
            "deploy" => &mut self.deploy,
            "configure" => &mut self.configure,
            "start" => &mut self.start,
            "stop" => &mut self.stop,
            "reset" => &mut self.reset,
            "go_error" => &mut self.go_error,
            "release" => &mut self.release,
            _ => return None,
        })
    }

    /// How long the task step of `transition` takes.
    pub fn of(&self, transition: Transition) -> Duration {
        match transition {
            Transition::Deploy => self.deploy,
            Transition::Configure => self.configure,
            Transition::StartActivity => self.start,
            Transition::StopActivity => self.stop,
            Transition::Reset => self.reset,
            Transition::GoError => self.go_error,
            Transition::Recover | Transition::Exit => Duration::ZERO,
        }
    }
}
