//! The publisher's librdkafka producers: one per share of topics, made as their topics are,
//! and the context each runs with (librdkafka's logs to tracing, every delivery counted).

use std::{
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use rdkafka::{
    ClientConfig, ClientContext,
    config::RDKafkaLogLevel,
    error::KafkaError,
    message::Message as _,
    producer::{DeliveryResult, ProducerContext, ThreadedProducer},
};

use crate::accounting::Accounting;

/// How many topics one producer sends the records of, at most: past about a thousand,
/// librdkafka's lookup of a topic by name at each send costs more than the send.
pub(crate) const TOPICS_PER_PRODUCER: usize = 1_000;

/// The most producers a publisher runs: each brings librdkafka's own threads (about three).
pub(crate) const MAX_PRODUCERS: usize = 16;

/// The producer of the `position`th topic known (from 0): shares of [`TOPICS_PER_PRODUCER`]
/// in turn, round the [`MAX_PRODUCERS`] again past them.
pub(crate) fn share(position: usize) -> usize {
    (position / TOPICS_PER_PRODUCER) % MAX_PRODUCERS
}

/// One of the publisher's producers.
pub(crate) type Producer = ThreadedProducer<Context>;

/// Routes librdkafka's logs to tracing and counts deliveries.
pub(crate) struct Context {
    accounting: Arc<Accounting>,
    /// What each message's publish time is measured from (it travels as the delivery opaque,
    /// a number, so that timing a message costs no allocation).
    epoch: Instant,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        // librdkafka logs every failed connection attempt as an error; what matters to the user
        // (a cluster out of reach, messages not delivered) ecsim reports itself, so these
        // stay below the default log level unless they are critical.
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::error!(target: "librdkafka", fac, "{message}");
            }
            RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning | RDKafkaLogLevel::Notice => {
                tracing::info!(target: "librdkafka", fac, "{message}");
            }
            RDKafkaLogLevel::Info | RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", fac, "{message}");
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, "{reason}");
    }
}

impl ProducerContext for Context {
    /// When the message was published: nanoseconds since `epoch`.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, published: usize) {
        match result {
            Ok(message) => {
                let latency = self
                    .epoch
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(published as u64));
                self.accounting.delivered(message.topic(), latency);
            }
            Err((error, message)) => self.accounting.failed(message.topic(), &error.to_string()),
        }
    }
}

/// The producers, made on demand from one configuration, all counting into one accounting.
pub(crate) struct Producers {
    all: RwLock<Vec<Arc<Producer>>>,
    config: ClientConfig,
    accounting: Arc<Accounting>,
    epoch: Instant,
}

impl Producers {
    /// None yet: the first is made by the first [`Producers::get`].
    pub(crate) fn new(config: ClientConfig, accounting: Arc<Accounting>, epoch: Instant) -> Self {
        Self {
            all: RwLock::new(Vec::new()),
            config,
            accounting,
            epoch,
        }
    }

    /// Every producer so far.
    pub(crate) fn all(&self) -> Vec<Arc<Producer>> {
        self.all
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The producer with index `index`, made (with those before it) if it is not yet.
    pub(crate) fn get(&self, index: usize) -> Result<Arc<Producer>, KafkaError> {
        if let Some(producer) = self
            .all
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(index)
        {
            return Ok(Arc::clone(producer));
        }
        let mut producers = self.all.write().unwrap_or_else(PoisonError::into_inner);
        while producers.len() <= index {
            let producer: Producer = self.config.create_with_context(Context {
                accounting: Arc::clone(&self.accounting),
                epoch: self.epoch,
            })?;
            tracing::debug!(
                producers = producers.len() + 1,
                "a producer more, for the topics past {}",
                producers.len() * TOPICS_PER_PRODUCER
            );
            producers.push(Arc::new(producer));
        }
        Ok(Arc::clone(&producers[index]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_go_to_producers_a_share_at_a_time_and_never_to_more_than_the_most() {
        assert_eq!(share(0), 0);
        assert_eq!(share(TOPICS_PER_PRODUCER - 1), 0);
        assert_eq!(share(TOPICS_PER_PRODUCER), 1);
        assert_eq!(
            share(MAX_PRODUCERS * TOPICS_PER_PRODUCER - 1),
            MAX_PRODUCERS - 1
        );
        assert_eq!(share(MAX_PRODUCERS * TOPICS_PER_PRODUCER), 0, "round again");
        assert!(
            (0..100 * MAX_PRODUCERS * TOPICS_PER_PRODUCER)
                .step_by(997)
                .all(|position| share(position) < MAX_PRODUCERS)
        );
    }
}
