//! The list of running environments, `kafka.ActiveRunsList`, in AliECS's order.
//!
//! Reference §2.4 (`SortRunningEnvList`, `SortDetectorsOfRunningEnvs`, OCTRL-932): a stable sort
//! whose comparator puts, among environments with at least two detectors, those with ITS first,
//! and otherwise the environment with more detectors first; then every environment's detector
//! list is sorted, in place. AliECS keeps the list in a Go map, so environments the comparator
//! ties come out in arbitrary order; ecsim keeps them in the order they entered RUNNING, so the
//! same run gives the same list.

use std::cmp::Reverse;

use ecsim_proto::kafka::EnvInfo;

/// The environments last seen entering RUNNING.
#[derive(Debug, Default)]
pub struct RunningList {
    environments: Vec<EnvInfo>,
}

/// AliECS's comparator as a sort key. The comparator says: if both have two detectors or more,
/// ITS first; otherwise more detectors first. That is the same as ranking environments with
/// two or more detectors first (those with ITS before those without), then the others by
/// descending detector count — written as a key, the order is total, as Rust's sort requires.
fn aliecs_rank(e: &EnvInfo) -> (bool, bool, Reverse<usize>) {
    let count = e.detectors.len();
    if count >= 2 {
        (false, !e.detectors.iter().any(|d| d == "ITS"), Reverse(0))
    } else {
        (true, false, Reverse(count))
    }
}

impl RunningList {
    /// Records that `info`'s environment entered `info.state`: RUNNING inserts it (or replaces
    /// its entry in place), any other state removes it. Then sorts, as AliECS does after every
    /// update.
    pub fn update(&mut self, info: &EnvInfo) {
        let position = self
            .environments
            .iter()
            .position(|e| e.environment_id == info.environment_id);
        match (info.state == "RUNNING", position) {
            (true, Some(i)) => self.environments[i] = info.clone(),
            (true, None) => self.environments.push(info.clone()),
            (false, Some(i)) => {
                self.environments.remove(i);
            }
            (false, None) => {}
        }
        self.environments.sort_by_key(aliecs_rank);
        for environment in &mut self.environments {
            environment.detectors.sort();
        }
    }

    /// The environments, in list order.
    pub fn environments(&self) -> &[EnvInfo] {
        &self.environments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(id: &str, detectors: &[&str]) -> EnvInfo {
        EnvInfo {
            environment_id: id.into(),
            state: "RUNNING".into(),
            detectors: detectors.iter().map(|d| (*d).to_owned()).collect(),
            ..Default::default()
        }
    }

    /// AliECS's own test (`core/integration/kafka/plugin_test.go`):
    /// [ITS,first] < [first,second,third] < [first] < [second].
    #[test]
    fn sorts_as_aliecs_test_expects() {
        let mut list = RunningList::default();
        for env in [
            running("a", &["second"]),
            running("b", &["first"]),
            running("c", &["third", "first", "second"]),
            running("d", &["first", "ITS"]),
        ] {
            list.update(&env);
        }
        let order: Vec<(&str, Vec<&str>)> = list
            .environments()
            .iter()
            .map(|e| {
                (
                    e.environment_id.as_str(),
                    e.detectors.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                ("d", vec!["ITS", "first"]),
                ("c", vec!["first", "second", "third"]),
                ("a", vec!["second"]),
                ("b", vec!["first"]),
            ]
        );
    }

    #[test]
    fn ties_keep_the_order_of_entering_running() {
        let mut list = RunningList::default();
        for id in ["x", "y", "z"] {
            list.update(&running(id, &["TPC"]));
        }
        let ids: Vec<&str> = list
            .environments()
            .iter()
            .map(|e| e.environment_id.as_str())
            .collect();
        assert_eq!(ids, ["x", "y", "z"]);
    }

    #[test]
    fn leaving_running_removes_and_reentering_replaces_in_place() {
        let mut list = RunningList::default();
        list.update(&running("x", &["TPC"]));
        list.update(&running("y", &["MCH"]));
        let mut again = running("x", &["TPC"]);
        again.run_number = Some(2);
        list.update(&again);
        assert_eq!(list.environments()[0].run_number, Some(2));
        assert_eq!(list.environments().len(), 2);

        list.update(&EnvInfo {
            state: "CONFIGURED".into(),
            ..running("x", &["TPC"])
        });
        assert_eq!(list.environments().len(), 1);
        list.update(&EnvInfo {
            state: "UNKNOWN".into(),
            ..running("nobody", &[])
        });
        assert_eq!(
            list.environments().len(),
            1,
            "removing an absent environment changes nothing"
        );
    }
}
