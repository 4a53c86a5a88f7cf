//! The headers ecsim adds to the records it publishes (AliECS adds none; a consumer that reads
//! none sees no difference): which run published a record, and which scenario it played, so
//! that `ecsim verify` tells runs apart that publish the same bytes.

use rdkafka::message::{Header, OwnedHeaders};

/// The header that says which invocation published a record (`ecsim run`, `ecsim replay`),
/// so that `ecsim verify` can tell one run from another of the same scenario (same seed, same
/// ids, same bytes).
pub const RUN_HEADER: &str = "ecsim.run";

/// The header that says which scenario a run played (its `[scenario] name`), so that `ecsim
/// verify` checks a scenario's own latest run, not the latest of whatever ran since.
pub const SCENARIO_HEADER: &str = "ecsim.scenario";

/// The run a record is tagged with when it is not the publisher's own: a recorded run, replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTag {
    /// Its [`RUN_HEADER`].
    pub id: String,
    /// Its [`SCENARIO_HEADER`], if it had one.
    pub scenario: Option<String>,
}

/// The headers of a record of run `id`, of `scenario` when known.
pub(crate) fn of_run(id: &str, scenario: Option<&str>) -> OwnedHeaders {
    let headers = OwnedHeaders::new_with_capacity(2).insert(Header {
        key: RUN_HEADER,
        value: Some(id.as_bytes()),
    });
    match scenario {
        Some(scenario) => headers.insert(Header {
            key: SCENARIO_HEADER,
            value: Some(scenario.as_bytes()),
        }),
        None => headers,
    }
}
