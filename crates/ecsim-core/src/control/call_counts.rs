//! How every plugin call ended, counted per plugin and function: a call that fails without
//! failing its transition (a non-critical call) shows nowhere in AliECS's own stream but here.
//! Also which scenario faults struck, so that one that never did can be reported.

use std::collections::{BTreeMap, BTreeSet};

use crate::plugin::CallFailure;

/// The calls to one plugin function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Calls made.
    pub calls: u64,
    /// Calls that failed, of every kind below.
    pub failed: u64,
    /// Failed by panicking.
    pub panicked: u64,
    /// Failed by not answering in time.
    pub timed_out: u64,
    /// Failed because the plugin's isolated process died or was down.
    pub crashed: u64,
}

impl CallCounts {
    fn count(&mut self, failure: Option<CallFailure>) {
        self.calls += 1;
        let Some(failure) = failure else { return };
        self.failed += 1;
        match failure {
            CallFailure::Reported => {}
            CallFailure::Panic => self.panicked += 1,
            CallFailure::Timeout => self.timed_out += 1,
            CallFailure::Crash => self.crashed += 1,
        }
    }
}

/// Counts by plugin, then function; both in name order.
#[derive(Debug, Default)]
pub(crate) struct CallTally(BTreeMap<String, BTreeMap<String, CallCounts>>);

/// The most distinct fault lines kept: far more than a scenario file can declare, and a bound
/// on what a plugin's replies can make the core keep.
const MAX_FIRED: usize = 100_000;

/// The scenario faults that struck, by the line of their `[[fault]]`.
#[derive(Debug, Default)]
pub(crate) struct FiredFaults(BTreeSet<u32>);

impl FiredFaults {
    /// Notes that the faults of `lines` struck.
    pub(crate) fn note(&mut self, lines: impl IntoIterator<Item = u32>) {
        for line in lines {
            if self.0.len() >= MAX_FIRED {
                return;
            }
            self.0.insert(line);
        }
    }

    /// Every line noted, in order.
    pub(crate) fn lines(&self) -> Vec<u32> {
        self.0.iter().copied().collect()
    }
}

impl CallTally {
    /// Counts one call of `plugin.function`, failed in the way `failure` says, if it did.
    pub(crate) fn count(&mut self, plugin: &str, function: &str, failure: Option<CallFailure>) {
        // Looked up by `&str` first: the keys are allocated once per function, not per call.
        let functions = match self.0.get_mut(plugin) {
            Some(functions) => functions,
            None => self.0.entry(plugin.to_owned()).or_default(),
        };
        let counts = match functions.get_mut(function) {
            Some(counts) => counts,
            None => functions.entry(function.to_owned()).or_default(),
        };
        counts.count(failure);
    }

    /// Every function called: plugin, function, counts.
    pub(crate) fn all(&self) -> Vec<(String, String, CallCounts)> {
        self.0
            .iter()
            .flat_map(|(plugin, functions)| {
                functions
                    .iter()
                    .map(|(function, counts)| (plugin.clone(), function.clone(), *counts))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fired_faults_are_kept_once_each_in_line_order_within_a_bound() {
        let mut fired = FiredFaults::default();
        fired.note([20, 12, 20]);
        fired.note([]);
        assert_eq!(fired.lines(), [12, 20]);
        fired.note(0..u32::try_from(MAX_FIRED).unwrap() * 2);
        assert_eq!(fired.lines().len(), MAX_FIRED);
    }

    #[test]
    fn calls_are_counted_by_plugin_and_function_and_failures_by_kind() {
        let mut tally = CallTally::default();
        tally.count("example", "Log", None);
        tally.count("example", "Log", Some(CallFailure::Reported));
        tally.count("example", "Boom", Some(CallFailure::Panic));
        tally.count("dcs", "StartOfRun", Some(CallFailure::Timeout));
        tally.count("dcs", "StartOfRun", Some(CallFailure::Crash));
        let all = tally.all();
        let names: Vec<_> = all.iter().map(|(p, f, _)| format!("{p}.{f}")).collect();
        assert_eq!(names, ["dcs.StartOfRun", "example.Boom", "example.Log"]);
        assert_eq!(
            all[0].2,
            CallCounts {
                calls: 2,
                failed: 2,
                panicked: 0,
                timed_out: 1,
                crashed: 1
            }
        );
        assert_eq!((all[1].2.failed, all[1].2.panicked), (1, 1));
        assert_eq!(
            (all[2].2.calls, all[2].2.failed, all[2].2.panicked),
            (2, 1, 0)
        );
    }
}
