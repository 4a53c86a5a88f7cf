//! A bare producer, for benchmarks: pre-encoded records sent with librdkafka configured as
//! ecsim's publisher is (acks=all, idempotence, the same linger), with nothing else — no
//! topic bookkeeping, no accounting, no simulation. What it achieves on a broker is the ceiling
//! of what ecsim can achieve there.

use std::time::{Duration, Instant};

use ecsim_core::publish::Record;
use rdkafka::{
    error::{KafkaError, RDKafkaErrorCode},
    producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer},
};

use crate::settings::{PRODUCER_DEFAULTS, Settings};

/// Sends `records` to `bootstrap` and waits for every acknowledgement; returns the wall time
/// from the second send to the last acknowledgement. The first record warms the producer up
/// (its connection, its idempotent producer id) and is not timed, as ecsim's publisher is
/// warm when a replay starts. The topics must exist.
pub fn send_all(bootstrap: &str, records: &[Record]) -> Result<Duration, KafkaError> {
    let producer: ThreadedProducer<DefaultProducerContext> = Settings::brokers(bootstrap)
        .client_config(PRODUCER_DEFAULTS)
        .create()?;
    producer
        .client()
        .fetch_metadata(None, Duration::from_secs(10))?;
    let Some((first, rest)) = records.split_first() else {
        return Ok(Duration::ZERO);
    };
    send(&producer, first)?;
    while producer.in_flight_count() > 0 {
        let _ = producer.flush(Duration::from_millis(100));
    }
    let started = Instant::now();
    for record in rest {
        send(&producer, record)?;
    }
    while producer.in_flight_count() > 0 {
        let _ = producer.flush(Duration::from_millis(100));
    }
    Ok(started.elapsed())
}

fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    record: &Record,
) -> Result<(), KafkaError> {
    let mut base = BaseRecord::to(&record.topic)
        .payload(&record.value)
        .timestamp(record.timestamp.unix_millis());
    if let Some(key) = &record.key {
        base = base.key(key);
    }
    loop {
        match producer.send(base) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                base = returned;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((error, _)) => return Err(error),
        }
    }
}
