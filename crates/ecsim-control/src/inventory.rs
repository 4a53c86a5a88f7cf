//! ALICE's detectors and the FLPs that read each out: what AliECS's configuration service
//! (Apricot) answers from its hardware tree, and what an environment's detectors are computed
//! from when a request gives only its hosts.
//!
//! The built-in inventory is `data/inventory.toml` (host names as ALICE names them; which FLP
//! belongs to which detector is public where the file says so, ecsim's own elsewhere);
//! `ecsim serve --inventory FILE` replaces it with a file of the same shape. Lookups by host are
//! logarithmic, so a creation with thousands of hosts costs a lookup per host.

use std::collections::BTreeMap;

/// AliECS's detector identifiers (`common/system/systemid.go`), the names it accepts as
/// detectors; anything else "does not belong to ID values".
pub const SYSTEM_IDS: &[&str] = &[
    "CPV", "DCS", "EMC", "FDD", "FIT", "FOC", "FT0", "FV0", "HMP", "ITS", "MCH", "MFT", "MID",
    "NIL", "PHS", "TOF", "TPC", "TRD", "TRG", "TST", "ZDC",
];

/// The detector Apricot leaves out of `ListDetectors` unless asked for every one.
pub const PRIVATE_DETECTOR: &str = "TRG";

/// At most this many FLPs in an inventory file.
pub const MAX_HOSTS: usize = 20_000;

/// The built-in inventory's text.
const ALICE: &str = include_str!("../data/inventory.toml");

/// Why an inventory file is refused.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Not TOML of the expected shape.
    #[error("the inventory is not a `[detectors]` table of host lists: {0}")]
    Syntax(String),
    /// A detector name AliECS does not know.
    #[error(
        "the inventory names detector {name:?}, which is not one of AliECS's ({known})",
        known = SYSTEM_IDS.join(", ")
    )]
    UnknownDetector {
        /// The name.
        name: String,
    },
    /// A host name that cannot be one.
    #[error(
        "the inventory's host {0:?} is not a host name (1 to 253 letters, digits, '-', '.', '_')"
    )]
    BadHost(String),
    /// One FLP in two detectors.
    #[error(
        "the inventory gives host {host} to both {first} and {second}: an FLP reads out one detector"
    )]
    SharedHost {
        /// The host.
        host: String,
        /// The first detector that lists it.
        first: String,
        /// The second.
        second: String,
    },
    /// Too many hosts.
    #[error("the inventory lists more than {MAX_HOSTS} hosts")]
    TooLarge,
}

/// A host no detector reads out: Apricot's error, which AliECS's creation passes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("detector not found for host {0}")]
pub struct UnknownHost(pub String);

/// The detectors and their FLPs.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// Detector → its FLPs, sorted (the configuration store lists keys in order).
    detectors: BTreeMap<String, Vec<String>>,
    /// FLP → its detector.
    detector_of: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    detectors: BTreeMap<String, Vec<String>>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self::alice()
    }
}

impl Inventory {
    /// The built-in inventory of ALICE's detectors and FLPs.
    pub fn alice() -> Self {
        // The built-in file is checked by this crate's tests; it cannot fail at run time.
        #[allow(clippy::expect_used)]
        Self::from_toml(ALICE).expect("the built-in inventory is valid")
    }

    /// An inventory from a file's text (`[detectors]`, each a list of host names).
    pub fn from_toml(text: &str) -> Result<Self, InventoryError> {
        let file: File =
            toml::from_str(text).map_err(|error| InventoryError::Syntax(error.to_string()))?;
        let mut detector_of: BTreeMap<String, String> = BTreeMap::new();
        let mut detectors = BTreeMap::new();
        for (detector, mut hosts) in file.detectors {
            if !SYSTEM_IDS.contains(&detector.as_str()) {
                return Err(InventoryError::UnknownDetector { name: detector });
            }
            for host in &hosts {
                if !is_host_name(host) {
                    return Err(InventoryError::BadHost(host.clone()));
                }
                if let Some(first) = detector_of.insert(host.clone(), detector.clone())
                    && first != detector
                {
                    return Err(InventoryError::SharedHost {
                        host: host.clone(),
                        first,
                        second: detector,
                    });
                }
                if detector_of.len() > MAX_HOSTS {
                    return Err(InventoryError::TooLarge);
                }
            }
            hosts.sort();
            hosts.dedup();
            detectors.insert(detector, hosts);
        }
        Ok(Self {
            detectors,
            detector_of,
        })
    }

    /// The detectors, in order; without TRG unless `all` (Apricot's `ListDetectors`).
    pub fn detectors(&self, all: bool) -> Vec<String> {
        self.detectors
            .keys()
            .filter(|d| all || d.as_str() != PRIVATE_DETECTOR)
            .cloned()
            .collect()
    }

    /// Whether `detector` is in the inventory.
    pub fn has_detector(&self, detector: &str) -> bool {
        self.detectors.contains_key(detector)
    }

    /// A detector's FLPs, or every FLP for `""` (Apricot's `GetHostInventory`); none for a
    /// detector it does not know, as an empty key prefix has none.
    pub fn hosts(&self, detector: &str) -> Vec<String> {
        if detector.is_empty() {
            return self.detector_of.keys().cloned().collect();
        }
        self.detectors.get(detector).cloned().unwrap_or_default()
    }

    /// Every detector with its FLPs (`GetDetectorsInventory`).
    pub fn by_detector(&self) -> &BTreeMap<String, Vec<String>> {
        &self.detectors
    }

    /// The detector an FLP reads out (`GetDetectorForHost`).
    pub fn detector_of(&self, host: &str) -> Result<&str, UnknownHost> {
        self.detector_of
            .get(host)
            .map(String::as_str)
            .ok_or_else(|| UnknownHost(host.to_owned()))
    }

    /// The detectors of some FLPs, sorted, each once (`GetDetectorsForHosts`); the first host
    /// no detector has is the error.
    pub fn detectors_for<'a>(
        &self,
        hosts: impl IntoIterator<Item = &'a String>,
    ) -> Result<Vec<String>, UnknownHost> {
        let mut detectors = std::collections::BTreeSet::new();
        for host in hosts {
            detectors.insert(self.detector_of(host)?.to_owned());
        }
        Ok(detectors.into_iter().collect())
    }
}

/// A name the configuration store could hold as an FLP's key.
fn is_host_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_inventory_has_alice_s_detectors_and_the_publicly_known_flps() {
        let inventory = Inventory::alice();
        let all = inventory.detectors(true);
        assert!(all.contains(&"TRG".to_owned()));
        assert!(!inventory.detectors(false).contains(&"TRG".to_owned()));
        assert_eq!(inventory.detectors(false).len(), 16);
        for (host, detector) in [
            ("alio2-cr1-flp145", "TPC"),
            ("alio2-cr1-flp160", "HMP"),
            ("alio2-cr1-flp163", "TRG"),
            ("alio2-cr1-flp178", "TOF"),
            ("alio2-cr1-flp187", "ITS"),
        ] {
            assert_eq!(inventory.detector_of(host), Ok(detector), "{host}");
        }
        assert_eq!(inventory.hosts("TPC").len(), 145);
        assert_eq!(
            inventory.hosts("").len(),
            inventory
                .by_detector()
                .values()
                .map(Vec::len)
                .sum::<usize>()
        );
    }

    #[test]
    fn hosts_give_their_detectors_sorted_and_an_unknown_host_is_apricot_s_error() {
        let inventory = Inventory::alice();
        let hosts: Vec<String> = ["alio2-cr1-flp187", "alio2-cr1-flp001", "alio2-cr1-flp002"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            inventory.detectors_for(&hosts),
            Ok(vec!["ITS".to_owned(), "TPC".to_owned()])
        );
        let error = inventory
            .detectors_for(&["flp-nowhere".to_owned()])
            .unwrap_err();
        assert_eq!(error.to_string(), "detector not found for host flp-nowhere");
    }

    #[test]
    fn a_file_replaces_the_inventory_and_bad_files_say_what_is_wrong() {
        let inventory =
            Inventory::from_toml("[detectors]\nTST = [\"lab-2\", \"lab-1\"]\n").expect("valid");
        assert_eq!(inventory.hosts("TST"), ["lab-1", "lab-2"]);
        assert_eq!(inventory.detectors(true), ["TST"]);
        for (text, words) in [
            ("[detectors]\nNOPE = []\n", "not one of AliECS's"),
            ("[detectors]\nTST = [\"a b\"]\n", "is not a host name"),
            ("[detectors]\nTST = [\"x\"]\nTPC = [\"x\"]\n", "to both"),
            ("[hosts]\n", "not a `[detectors]` table"),
        ] {
            let error = Inventory::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(words), "{text}: {error}");
        }
    }
}
