//! Run numbers: what the core hands out at `START_ACTIVITY`, one counter for all environments.
//!
//! Reference §6: AliECS keeps the counter in its configuration store and increments it with a
//! check-and-set, starting at 1. A run number is never 0: on the wire (`runNumber` of `aliecs.environment` and
//! `aliecs.run`), 0 is how AliECS writes "no run", which [`RunNumber::wire`] keeps in one
//! place.

use std::{fmt, num::NonZeroU32};

/// A run number (positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunNumber(NonZeroU32);

impl RunNumber {
    /// The run number `number`, unless it is 0 (no run).
    pub const fn new(number: u32) -> Option<Self> {
        match NonZeroU32::new(number) {
            Some(number) => Some(Self(number)),
            None => None,
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The number as the messages carry it: 0 outside a run.
    pub fn wire(run: Option<RunNumber>) -> u32 {
        run.map_or(0, RunNumber::get)
    }
}

impl fmt::Display for RunNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why no run number could be handed out: the texts AliECS's START fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RunNumberError {
    /// The counter is past the last 32-bit run number.
    #[error("run numbers are used up: the last one is 4294967295")]
    UsedUp,
    /// The check-and-set of the incremented counter lost its race (the number is consumed).
    #[error("cannot write back incremented CAS key")]
    WriteBackLost,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_no_run_on_the_wire_and_never_a_run_number() {
        assert_eq!(RunNumber::new(0), None);
        let run = RunNumber::new(568_123);
        assert_eq!(run.map(RunNumber::get), Some(568_123));
        assert_eq!(RunNumber::wire(run), 568_123);
        assert_eq!(RunNumber::wire(None), 0);
        assert_eq!(run.map(|r| r.to_string()).as_deref(), Some("568123"));
    }
}
