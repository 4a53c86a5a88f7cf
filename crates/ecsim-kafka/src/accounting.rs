//! Delivery accounting: for every topic, how many messages were handed to the producer, how
//! many the broker acknowledged, how many failed and why.
//!
//! Nothing is dropped silently: a message is either acknowledged, failed (with the broker's or
//! librdkafka's error), or still pending when the publisher shuts down, and the report says
//! which for every topic.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use serde::Serialize;

/// The counts of one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TopicDelivery {
    /// Handed to the producer.
    pub sent: u64,
    /// Acknowledged by the broker.
    pub delivered: u64,
    /// Failed for good.
    pub failed: u64,
    /// The first error, when some failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl TopicDelivery {
    /// Neither acknowledged nor failed (yet).
    pub fn pending(&self) -> u64 {
        self.sent.saturating_sub(self.delivered + self.failed)
    }
}

/// What happened to everything published, per topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeliveryReport {
    /// Per topic, in name order.
    pub topics: BTreeMap<String, TopicDelivery>,
    /// How long acknowledgements took, from the moment a message was published (when the core
    /// emitted it) to the broker's acknowledgement; `None` before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
}

/// Acknowledgement latencies, in milliseconds (microsecond resolution).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Acknowledged messages measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "acknowledged within p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

impl DeliveryReport {
    /// Totals over every topic.
    pub fn total(&self) -> TopicDelivery {
        let mut total = TopicDelivery::default();
        for topic in self.topics.values() {
            total.sent += topic.sent;
            total.delivered += topic.delivered;
            total.failed += topic.failed;
            if total.first_error.is_none() {
                total.first_error.clone_from(&topic.first_error);
            }
        }
        total
    }

    /// Whether every message was acknowledged.
    pub fn all_delivered(&self) -> bool {
        self.topics.values().all(|t| t.delivered == t.sent)
    }
}

impl std::fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.total();
        writeln!(
            f,
            "delivery: {} sent, {} acknowledged, {} failed, {} pending",
            total.sent,
            total.delivered,
            total.failed,
            total.pending()
        )?;
        if let Some(latency) = &self.latency {
            writeln!(f, "  {latency}")?;
        }
        // Not `!=`: a delivery may be counted before its send while publishing goes on.
        for (topic, counts) in self.topics.iter().filter(|(_, c)| c.delivered < c.sent) {
            write!(
                f,
                "  {topic}: {} of {} not delivered",
                counts.sent - counts.delivered,
                counts.sent
            )?;
            match &counts.first_error {
                Some(error) => writeln!(f, " ({error})")?,
                None => writeln!(f, " (still pending)")?,
            }
        }
        Ok(())
    }
}

/// What the sending side counts: messages handed to a producer, per topic.
#[derive(Debug, Default)]
struct Sending {
    sent: BTreeMap<String, u64>,
}

/// What the delivery side counts: each message's outcome, per topic, and how long it took.
#[derive(Debug)]
struct Outcomes {
    topics: BTreeMap<String, Outcome>,
    /// Acknowledgement latencies, in microseconds.
    latency: hdrhistogram::Histogram<u64>,
}

#[derive(Debug, Default)]
struct Outcome {
    delivered: u64,
    failed: u64,
    first_error: Option<String>,
}

/// Counts kept while publishing; shared with the producer's delivery callback.
///
/// The two sides count under locks of their own: the thread handing messages to librdkafka
/// and librdkafka's thread reporting their delivery never wait for each other, message after
/// message. Only [`Accounting::report`] takes both.
#[derive(Debug)]
pub struct Accounting {
    sending: Mutex<Sending>,
    outcomes: Mutex<Outcomes>,
}

impl Default for Accounting {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds to `topic`'s count in `map`: one lookup for every message after its topic's first,
/// and the topic's name copied only the first time it is seen.
fn count<T: Default>(map: &mut BTreeMap<String, T>, topic: &str, add: impl FnOnce(&mut T)) {
    match map.get_mut(topic) {
        Some(value) => add(value),
        None => add(map.entry(topic.to_owned()).or_default()),
    }
}

impl Accounting {
    /// Accounting with nothing published yet.
    pub fn new() -> Self {
        // Three significant figures: 1 µs resolution below a millisecond, 0.1% above. The
        // histogram grows as it needs to (auto-resize), so no latency is ever out of range.
        let mut latency = hdrhistogram::Histogram::new(3).unwrap_or_else(|_| {
            hdrhistogram::Histogram::new_with_bounds(1, u64::MAX, 3)
                .unwrap_or_else(|_| unreachable!("3 significant figures are valid"))
        });
        latency.auto(true);
        Self {
            sending: Mutex::new(Sending::default()),
            outcomes: Mutex::new(Outcomes {
                topics: BTreeMap::new(),
                latency,
            }),
        }
    }

    fn sending(&self) -> std::sync::MutexGuard<'_, Sending> {
        self.sending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn outcomes(&self) -> std::sync::MutexGuard<'_, Outcomes> {
        self.outcomes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A message was handed to the producer.
    pub fn sent(&self, topic: &str) {
        self.sent_many(topic, 1);
    }

    /// `messages` were handed to the producer.
    pub fn sent_many(&self, topic: &str, messages: u64) {
        count(&mut self.sending().sent, topic, |sent| {
            *sent += messages;
        });
    }

    /// The broker acknowledged a message, `latency` after it was published.
    pub fn delivered(&self, topic: &str, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut outcomes = self.outcomes();
        count(&mut outcomes.topics, topic, |outcome| {
            outcome.delivered += 1;
        });
        // Cannot fail: the histogram resizes itself.
        let _ = outcomes.latency.record(micros);
    }

    /// A message failed for good.
    pub fn failed(&self, topic: &str, error: &str) {
        count(&mut self.outcomes().topics, topic, |outcome| {
            outcome.failed += 1;
            if outcome.first_error.is_none() {
                outcome.first_error = Some(error.to_owned());
            }
        });
    }

    /// The counts so far.
    pub fn report(&self) -> DeliveryReport {
        // Always in this order, and nowhere else both: no deadlock.
        let sending = self.sending();
        let outcomes = self.outcomes();
        let mut topics: BTreeMap<String, TopicDelivery> = sending
            .sent
            .iter()
            .map(|(topic, sent)| {
                let counts = TopicDelivery {
                    sent: *sent,
                    ..TopicDelivery::default()
                };
                (topic.clone(), counts)
            })
            .collect();
        for (topic, outcome) in &outcomes.topics {
            count(&mut topics, topic, |counts| {
                counts.delivered = outcome.delivered;
                counts.failed = outcome.failed;
                counts.first_error.clone_from(&outcome.first_error);
            });
        }
        let histogram = &outcomes.latency;
        let ms = |micros: u64| micros as f64 / 1000.0;
        DeliveryReport {
            topics,
            latency: (!histogram.is_empty()).then(|| Latency {
                count: histogram.len(),
                p50_ms: ms(histogram.value_at_quantile(0.5)),
                p99_ms: ms(histogram.value_at_quantile(0.99)),
                max_ms: ms(histogram.max()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_count_apart_and_the_report_joins_them_topic_by_topic() {
        let accounting = Accounting::new();
        // A delivery report may come before the sending side has counted its message.
        accounting.delivered("early", Duration::from_millis(1));
        accounting.failed("never-sent", "Local: Unknown topic");
        // Read meanwhile, the report shows the early delivery and nothing pending.
        let meanwhile = accounting.report();
        assert_eq!(meanwhile.topics["early"].pending(), 0);
        assert!(!meanwhile.to_string().contains("early"), "{meanwhile}");
        std::thread::scope(|scope| {
            scope.spawn(|| (0..1000).for_each(|_| accounting.sent("b")));
            scope.spawn(|| (0..1000).for_each(|_| accounting.delivered("b", Duration::ZERO)));
        });
        accounting.sent_many("early", 1);
        let report = accounting.report();
        let names: Vec<&str> = report.topics.keys().map(String::as_str).collect();
        assert_eq!(names, ["b", "early", "never-sent"]);
        assert_eq!(
            (report.topics["b"].sent, report.topics["b"].delivered),
            (1000, 1000)
        );
        assert_eq!(
            (
                report.topics["early"].sent,
                report.topics["early"].delivered
            ),
            (1, 1)
        );
        let never = &report.topics["never-sent"];
        assert_eq!((never.sent, never.failed), (0, 1));
        assert_eq!(never.first_error.as_deref(), Some("Local: Unknown topic"));
        assert_eq!(report.latency.map(|l| l.count), Some(1001));
    }

    #[test]
    fn every_message_is_acknowledged_failed_or_pending() {
        let accounting = Accounting::new();
        for _ in 0..5 {
            accounting.sent("a");
        }
        accounting.delivered("a", Duration::from_millis(2));
        accounting.delivered("a", Duration::from_millis(2));
        accounting.failed("a", "Broker: Leader not available");
        accounting.failed("a", "later error");
        let report = accounting.report();
        let a = &report.topics["a"];
        assert_eq!((a.sent, a.delivered, a.failed, a.pending()), (5, 2, 2, 1));
        assert_eq!(
            a.first_error.as_deref(),
            Some("Broker: Leader not available")
        );
        assert!(!report.all_delivered());
        let text = report.to_string();
        assert!(
            text.contains("5 sent, 2 acknowledged, 2 failed, 1 pending"),
            "{text}"
        );
        assert!(
            text.contains("a: 3 of 5 not delivered (Broker: Leader not available)"),
            "{text}"
        );
        let latency = report.latency.unwrap();
        assert_eq!(latency.count, 2);
        assert!((latency.p50_ms - 2.0).abs() < 0.01, "{latency:?}");
        assert!(
            text.contains("acknowledged within p50 2.0 ms, p99 2.0 ms"),
            "{text}"
        );
    }
}
