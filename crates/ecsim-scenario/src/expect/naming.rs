//! Which scenario environment an AliECS environment id is, learned from the stream: the
//! "workflow loaded" event of a creation (`after_CREATE` on `aliecs.environment`) carries the
//! environment's variables, among them its `detectors`, which identify the scenario environment
//! (two environments alive at once never share a detector). Environments with the same
//! detectors are told apart by creation order. `ecsim verify` reads a broker this way; a
//! replay knows its ids and says them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{EnvironmentIds, Observed};

/// Learns environment ids from `after_CREATE` events, one at a time.
#[derive(Debug, Clone)]
pub struct Namer {
    /// The sorted detectors as AliECS writes the variable (a JSON list) → the scenario
    /// environments with those detectors, in definition order.
    by_detectors: BTreeMap<String, Vec<String>>,
    /// How many creations each detector set has had.
    turns: BTreeMap<String, usize>,
}

impl Namer {
    /// A namer for the scenario's environments, each with its detectors.
    pub fn new(environments: &[(String, Vec<String>)]) -> Self {
        let mut by_detectors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, detectors) in environments {
            let mut sorted = detectors.clone();
            sorted.sort();
            if let Ok(json) = serde_json::to_string(&sorted) {
                by_detectors.entry(json).or_default().push(name.clone());
            }
        }
        Self {
            by_detectors,
            turns: BTreeMap::new(),
        }
    }

    /// The id and scenario environment a message names, when it is a creation's
    /// `after_CREATE` event on `topic` for one of the scenario's environments.
    pub fn learn(&mut self, topic: &str, value: &Value) -> Option<(String, String)> {
        if topic != ecsim_proto::topics::ENVIRONMENT {
            return None;
        }
        let event = &value["environmentEvent"];
        if event["transitionStep"] != "after_CREATE" {
            return None;
        }
        let id = event["environmentId"].as_str()?;
        let detectors = event["vars"]["detectors"].as_str()?;
        let candidates = self.by_detectors.get(detectors)?;
        let turn = self.turns.entry(detectors.to_owned()).or_default();
        let name = candidates.get(*turn % candidates.len())?.clone();
        *turn += 1;
        Some((id.to_owned(), name))
    }
}

/// Every scenario environment's ids in `observed`, as [`Namer`] learns them.
pub fn environment_ids_from_stream(
    observed: &[Observed],
    environments: &[(String, Vec<String>)],
) -> EnvironmentIds {
    let mut namer = Namer::new(environments);
    let mut ids: EnvironmentIds = BTreeMap::new();
    for message in observed {
        if let Some((id, name)) = namer.learn(&message.topic, &message.value) {
            ids.entry(name).or_default().push(id);
        }
    }
    ids
}
