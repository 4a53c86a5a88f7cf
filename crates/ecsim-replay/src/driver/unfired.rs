//! The scenario's faults that never struck, and why they might not have: a fault whose service
//! is not enabled for its environment, or whose filters match no call, would otherwise pass
//! unnoticed — and so would the failure path it was written to test.
//!
//! A plugin says which faults struck each call (`CallReply.faults_fired`, by the fault's line);
//! the core notes the task faults it plays. A `hang` fault's call never replies, so a `hang`
//! counts as struck when a call of its operation timed out.

use std::collections::BTreeSet;

use ecsim_core::{CallCounts, EnvironmentSpec};

use ecsim_scenario::model::{Fault, FaultOutcome};

use crate::report::UnfiredFault;

/// The faults of `faults` that did not strike, given the lines that did (`fired`), how the
/// plugin calls ended (`calls`: plugin, function, counts) and the scenario's `environments`
/// (whose workflows say when a call is made).
pub(crate) fn unfired(
    faults: &[Fault],
    fired: &[u32],
    calls: &[(String, String, CallCounts)],
    environments: &[EnvironmentSpec],
) -> Vec<UnfiredFault> {
    let fired: BTreeSet<u32> = fired.iter().copied().collect();
    let counts = |fault: &Fault| {
        calls
            .iter()
            .find(|(plugin, function, _)| *plugin == fault.service && *function == fault.operation)
            .map(|(_, _, counts)| *counts)
            .unwrap_or_default()
    };
    faults
        .iter()
        .filter(|fault| {
            let line = u32::try_from(fault.line).unwrap_or(u32::MAX);
            let struck = fired.contains(&line)
                || (fault.outcome == FaultOutcome::Hang && counts(fault).timed_out > 0);
            !struck
        })
        .map(|fault| UnfiredFault {
            line: fault.line,
            service: fault.service.clone(),
            operation: fault.operation.clone(),
            outcome: fault.outcome.as_str().to_owned(),
            why: why(fault, counts(fault).calls, environments),
        })
        .collect()
}

/// What the run shows of why `fault` did not strike, given the calls made of its operation and
/// the environments' workflows.
fn why(fault: &Fault, calls: u64, environments: &[EnvironmentSpec]) -> String {
    if fault.service == "tasks" {
        return format!(
            "no {} of {} failed by it: the transition was not reached{}",
            fault.operation,
            fault
                .environment
                .as_deref()
                .map_or("an environment".to_owned(), |e| format!("`{e}`")),
            if fault.when.is_some() || fault.times.is_some() {
                ", or not once the fault was armed"
            } else {
                ""
            }
        );
    }
    let call = format!("{}.{}", fault.service, fault.operation);
    if calls == 0 {
        // What the workflow says of the call: the condition its role is enabled by.
        let prefix = format!("{call}(");
        let mut conditions: Vec<String> = environments
            .iter()
            .filter(|e| {
                fault
                    .environment
                    .as_ref()
                    .is_none_or(|name| *name == e.name)
            })
            .flat_map(|e| e.workflow.calls.iter())
            .filter(|c| c.func.starts_with(&prefix))
            .map(|c| c.enabled.to_string())
            .collect();
        conditions.sort();
        conditions.dedup();
        return match conditions.as_slice() {
            [] => format!("no environment's workflow calls {call}"),
            [condition] => format!(
                "no environment called {call}: its workflow calls it when `{condition}`; set \
                 that in the environment's `vars`"
            ),
            several => format!(
                "no environment called {call}: its workflow calls it when one of `{}`; set that \
                 in the environment's `vars`",
                several.join("`, `")
            ),
        };
    }
    let mut filters: Vec<String> = Vec::new();
    if let Some(env) = &fault.environment {
        filters.push(format!("env = \"{env}\""));
    }
    if let Some(run) = fault.run {
        filters.push(format!("run = {run}"));
    }
    if let Some(when) = fault.when {
        filters.push(format!("when = \"{}\"", humantime::format_duration(when)));
    }
    if !fault.detectors.is_empty() {
        filters.push(format!("detectors = {:?}", fault.detectors));
    }
    let calls_made = if calls == 1 {
        "1 call was made".to_owned()
    } else {
        format!("{calls} calls were made")
    };
    if filters.is_empty() {
        format!("{calls_made} to {call}, and the plugin reported none struck by this fault")
    } else {
        format!(
            "{calls_made} to {call}, none matching {}",
            filters.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn fault(service: &str, operation: &str, outcome: FaultOutcome, line: usize) -> Fault {
        Fault {
            service: service.into(),
            operation: operation.into(),
            outcome,
            environment: None,
            run: None,
            detectors: Vec::new(),
            delay: None,
            when: None,
            times: None,
            message: None,
            line,
        }
    }

    /// An environment of readout-dataflow, as scenarios make them.
    fn physics() -> EnvironmentSpec {
        let text = "[scenario]\nname = \"p\"\n\
                    [[environment]]\nname = \"physics\"\ndetectors = [\"TPC\"]\n";
        ecsim_scenario::parse("p.toml", text).unwrap().environments[0].clone()
    }

    fn calls(
        plugin: &str,
        function: &str,
        calls: u64,
        timed_out: u64,
    ) -> (String, String, CallCounts) {
        let counts = CallCounts {
            calls,
            failed: timed_out,
            timed_out,
            ..CallCounts::default()
        };
        (plugin.into(), function.into(), counts)
    }

    #[test]
    fn a_fault_that_struck_is_not_reported_and_one_that_did_not_says_why() {
        let struck = fault("dcs", "StartOfRun", FaultOutcome::Error, 10);
        let never_called = fault("odc", "Start", FaultOutcome::Error, 20);
        let mut filtered = fault("trg", "RunStart", FaultOutcome::Error, 30);
        filtered.environment = Some("cosmics".into());
        filtered.run = Some(4);
        let made = [
            calls("dcs", "StartOfRun", 2, 0),
            calls("trg", "RunStart", 3, 0),
        ];
        let unfired = unfired(
            &[struck, never_called, filtered],
            &[10],
            &made,
            &[physics()],
        );
        let lines: Vec<usize> = unfired.iter().map(|u| u.line).collect();
        assert_eq!(lines, [20, 30]);
        // The condition readout-dataflow puts on ODC's calls, read from the workflow.
        assert_eq!(
            unfired[0].why,
            "no environment called odc.Start: its workflow calls it when `odc_enabled == 'true'`; \
             set that in the environment's `vars`"
        );
        let nobody = fault("example", "Log", FaultOutcome::Error, 40);
        assert_eq!(
            super::unfired(&[nobody], &[], &[], &[physics()])[0].why,
            "no environment's workflow calls example.Log"
        );
        assert_eq!(
            unfired[1].why,
            "3 calls were made to trg.RunStart, none matching env = \"cosmics\", run = 4"
        );
    }

    #[test]
    fn a_hang_strikes_when_a_call_of_its_operation_timed_out() {
        let hang = fault("dcs", "StartOfRun", FaultOutcome::Hang, 5);
        assert!(
            unfired(
                std::slice::from_ref(&hang),
                &[],
                &[calls("dcs", "StartOfRun", 1, 1)],
                &[]
            )
            .is_empty()
        );
        let left = unfired(&[hang], &[], &[calls("dcs", "StartOfRun", 1, 0)], &[]);
        assert_eq!(left.len(), 1);
        assert_eq!(
            left[0].why,
            "1 call was made to dcs.StartOfRun, and the plugin reported none struck by this fault"
        );
    }

    #[test]
    fn a_task_fault_names_its_transition() {
        let mut tasks = fault("tasks", "START_ACTIVITY", FaultOutcome::Error, 7);
        tasks.environment = Some("physics".into());
        tasks.when = Some(Duration::from_secs(3600));
        let left = unfired(&[tasks], &[], &[], &[]);
        assert_eq!(
            left[0].why,
            "no START_ACTIVITY of `physics` failed by it: the transition was not reached, or \
             not once the fault was armed"
        );
    }
}
