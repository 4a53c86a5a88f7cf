//! A replay's expectations checked as it publishes: a publisher beside the others that decodes
//! only what some `[[expect]]` reads and feeds the format's [`Evaluator`], told each
//! environment's id before the environment publishes anything.

use std::sync::Mutex;

use ecsim_scenario::expect::{Evaluator, Expectation, Outcome, topic_matches};
use serde_json::Value;

/// A replay's own expectations, checked as it publishes: a publisher that decodes only the
/// topics some expectation reads, and is told each environment's id before the environment
/// publishes anything (`Progress::environment_named`).
#[derive(Debug)]
pub struct LiveCheck {
    /// The topics (patterns) the expectations read: a record of another topic is skipped
    /// without taking the lock.
    topics: Vec<String>,
    evaluator: Mutex<Evaluator>,
}

impl LiveCheck {
    /// Checks `expectations`.
    pub fn new(expectations: &[Expectation]) -> Self {
        let mut topics: Vec<String> = expectations.iter().map(|e| e.topic.clone()).collect();
        topics.sort();
        topics.dedup();
        Self {
            topics,
            evaluator: Mutex::new(Evaluator::new(expectations)),
        }
    }

    fn evaluator(&self) -> std::sync::MutexGuard<'_, Evaluator> {
        self.evaluator
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The environment with AliECS id `id` is the scenario's `name`.
    pub fn name(&self, id: &str, name: &str) {
        self.evaluator().name(id, name);
    }

    /// How every expectation fares so far.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.evaluator().outcomes()
    }
}

impl ecsim_core::publish::Publisher for LiveCheck {
    fn publish(&self, record: ecsim_core::publish::Record) {
        if !self.topics.iter().any(|t| topic_matches(t, &record.topic)) {
            return;
        }
        // Decoded outside the lock: publishers of several tasks do not wait on each other's JSON.
        let value = ecsim_proto::json::decode_to_json(record.message_type.name(), &record.value)
            .unwrap_or(Value::Null);
        self.evaluator().observe(&record.topic, &value);
    }
}

impl crate::progress::Progress for LiveCheck {
    fn advanced(&self, _done: u64, _total: u64, _simulated: std::time::Duration) {}

    fn environment_named(&self, name: &str, id: &str) {
        self.name(id, name);
    }
}
