//! The list of running environments, `kafka.ActiveRunsList`, in AliECS's order.
//!
//! Reference §2.4 (`SortRunningEnvList`, `SortDetectorsOfRunningEnvs`, OCTRL-932): a stable sort
//! whose comparator puts, among environments with at least two detectors, those with ITS first,
//! and otherwise the environment with more detectors first; then every environment's detector
//! list is sorted, in place. AliECS keeps the list in a Go map, so environments the comparator
//! ties come out in arbitrary order; ecsim keeps them in the order they entered RUNNING, so the
//! same run gives the same list.

use std::{cmp::Reverse, collections::BTreeMap};

use ecsim_proto::{
    kafka::EnvInfo,
    prost::{Message as _, encoding},
};

/// AliECS's comparator as a sort key (see [`aliecs_rank`]).
type Rank = (bool, Reverse<usize>);

/// One running environment: its place in the list, and its entry already encoded.
#[derive(Debug)]
struct Entry {
    /// Rank, then the order it entered RUNNING: the list's order.
    order: (Rank, u64),
    info: EnvInfo,
    encoded: Vec<u8>,
}

/// The environments last seen entering RUNNING, kept in list order.
///
/// AliECS sorts the whole list after every update and encodes it whole at every state change
/// of any environment. ecsim keeps it sorted as it changes (an update is a binary search) and
/// each entry encoded, so that publishing the list copies bytes rather than re-encoding every
/// entry: with thousands of environments running, the list is most of what the Kafka plugin
/// publishes.
#[derive(Debug, Default)]
pub struct RunningList {
    entries: Vec<Entry>,
    /// Environment id → its order key.
    index: BTreeMap<String, (Rank, u64)>,
    next: u64,
}

/// AliECS's comparator as a sort key. The comparator says: if both have two detectors or more
/// and one has ITS, that one first; in every other case, more detectors first. Written as a
/// key: environments with ITS among two detectors or more first, then by descending detector
/// count. (Detectors are exclusive, so at most one running environment has ITS: the comparator,
/// which is not a strict order when two would, never meets that case.)
fn aliecs_rank(e: &EnvInfo) -> Rank {
    let count = e.detectors.len();
    let its_among_several = count >= 2 && e.detectors.iter().any(|d| d == "ITS");
    (!its_among_several, Reverse(count))
}

impl RunningList {
    /// Records that `info`'s environment entered `info.state`: RUNNING inserts it (or replaces
    /// its entry), any other state removes it. The list stays in AliECS's order: a stable sort
    /// by AliECS's rank after every update, so environments the rank ties keep the order they
    /// entered RUNNING; every entry's detectors sorted.
    pub fn update(&mut self, info: &EnvInfo) {
        // An entry replaced in place keeps its place among ties, as in AliECS's stable sort.
        let previous = self.index.remove(&info.environment_id);
        if let Some(order) = previous
            && let Ok(position) = self.entries.binary_search_by(|e| e.order.cmp(&order))
        {
            self.entries.remove(position);
        }
        if info.state != "RUNNING" {
            return;
        }
        let mut info = info.clone();
        info.detectors.sort();
        let sequence = previous.map_or_else(
            || {
                self.next += 1;
                self.next
            },
            |(_, sequence)| sequence,
        );
        let order = (aliecs_rank(&info), sequence);
        let position = self
            .entries
            .binary_search_by(|e| e.order.cmp(&order))
            .unwrap_or_else(|insert_at| insert_at);
        self.index.insert(info.environment_id.clone(), order);
        let encoded = info.encode_to_vec();
        self.entries.insert(
            position,
            Entry {
                order,
                info,
                encoded,
            },
        );
    }

    /// The environments, in list order.
    pub fn environments(&self) -> Vec<&EnvInfo> {
        self.entries.iter().map(|e| &e.info).collect()
    }

    /// The list as an encoded `kafka.ActiveRunsList` — exactly prost's encoding of
    /// `ActiveRunsList { activeRuns, timestamp }` — assembled from the entries' encodings.
    pub fn encode(&self, timestamp: u64) -> Vec<u8> {
        let field_key = |buf: &mut Vec<u8>, len: usize| {
            encoding::encode_key(1, encoding::WireType::LengthDelimited, buf);
            encoding::encode_varint(len as u64, buf);
        };
        let mut size = 0;
        for entry in &self.entries {
            size += encoding::key_len(1)
                + encoding::encoded_len_varint(entry.encoded.len() as u64)
                + entry.encoded.len();
        }
        if timestamp != 0 {
            size += encoding::uint64::encoded_len(2, &timestamp);
        }
        let mut buf = Vec::with_capacity(size);
        for entry in &self.entries {
            field_key(&mut buf, entry.encoded.len());
            buf.extend_from_slice(&entry.encoded);
        }
        if timestamp != 0 {
            encoding::uint64::encode(2, &timestamp, &mut buf);
        }
        buf
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

    /// Among environments with two detectors or more and no ITS, more detectors first: AliECS's
    /// comparator falls through to the detector count.
    #[test]
    fn running_list_order_puts_more_detectors_first_when_neither_has_its() {
        let mut list = RunningList::default();
        for env in [
            running("two", &["TOF", "TRD"]),
            running("one", &["ZDC"]),
            running("three", &["MCH", "MID", "TPC"]),
            running("its-alone", &["ITS"]),
        ] {
            list.update(&env);
        }
        let ids: Vec<&str> = list
            .environments()
            .iter()
            .map(|e| e.environment_id.as_str())
            .collect();
        assert_eq!(ids, ["three", "two", "one", "its-alone"]);
        // ITS among several beats any count.
        list.update(&running("its", &["FT0", "ITS"]));
        assert_eq!(list.environments()[0].environment_id, "its");
        assert_eq!(list.environments()[1].environment_id, "three");
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
    fn the_encoded_list_is_byte_for_byte_what_prost_makes() {
        use ecsim_proto::kafka::ActiveRunsList;
        let mut list = RunningList::default();
        assert_eq!(list.encode(0), ActiveRunsList::default().encode_to_vec());
        for env in [
            running("a", &["second"]),
            running("b", &["TPC", "ITS"]),
            EnvInfo {
                run_number: Some(7),
                run_type: Some("PHYSICS".into()),
                ..running("c", &["ZDC", "FT0", "FV0"])
            },
        ] {
            list.update(&env);
            let prost = ActiveRunsList {
                active_runs: list.environments().into_iter().cloned().collect(),
                timestamp: 1_750_000_000_000,
            }
            .encode_to_vec();
            assert_eq!(list.encode(1_750_000_000_000), prost);
        }
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
        assert_eq!(
            list.environments()[1].environment_id,
            "y",
            "x kept its place"
        );
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
