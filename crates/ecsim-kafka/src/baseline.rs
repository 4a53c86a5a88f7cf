//! A bare producer, for benchmarks: pre-encoded records sent with librdkafka configured as
//! ecsim's publisher is (acks=all, idempotence, the same linger), with nothing else — no
//! topic bookkeeping, no accounting, no simulation. What it achieves on a broker is the ceiling
//! of what ecsim can achieve there: its throughput ([`send_all`]) and its latency at a given
//! pace ([`paced_latency`]).

use std::time::{Duration, Instant};

use ecsim_core::publish::Record;
use rdkafka::{
    ClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    message::Message as _,
    producer::{
        BaseRecord, DefaultProducerContext, DeliveryResult, Producer as _, ProducerContext,
        ThreadedProducer,
    },
};

use crate::{
    accounting::{Accounting, Latency},
    settings::{PRODUCER_DEFAULTS, Settings},
};

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

/// Times every acknowledgement from the moment its record was sent, as ecsim's publisher does.
struct Timing {
    accounting: Accounting,
    epoch: Instant,
}

impl ClientContext for Timing {}

impl ProducerContext for Timing {
    /// When the record was sent: nanoseconds since `epoch`.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: usize) {
        match result {
            // The untimed warm-up record.
            Ok(_) if sent == usize::MAX => {}
            Ok(message) => {
                let latency = self
                    .epoch
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(sent as u64));
                self.accounting.delivered(message.topic(), latency);
            }
            Err((error, message)) => self.accounting.failed(message.topic(), &error.to_string()),
        }
    }
}

/// Sends `records` to `bootstrap` at the pace a replay at `speed` times real time published
/// them (their timestamps' spacing divided by `speed`), and times each acknowledgement from the
/// record's send: the latency a bare producer gets from the broker at that rate, what ecsim's
/// own latency is compared with. `None` when nothing was acknowledged. The topics must exist.
pub fn paced_latency(
    bootstrap: &str,
    records: &[Record],
    speed: f64,
) -> Result<Option<Latency>, KafkaError> {
    let epoch = Instant::now();
    let producer: ThreadedProducer<Timing> = Settings::brokers(bootstrap)
        .client_config(PRODUCER_DEFAULTS)
        .create_with_context(Timing {
            accounting: Accounting::default(),
            epoch,
        })?;
    producer
        .client()
        .fetch_metadata(None, Duration::from_secs(10))?;
    let Some((first, rest)) = records.split_first() else {
        return Ok(None);
    };
    // The first record warms the producer up (its connection to the partition's leader, its
    // idempotent producer id: half a second on a fresh producer) and is not timed, as ecsim's
    // publisher is warm by the time its replay starts.
    let warm_up: BaseRecord<'_, Vec<u8>, Vec<u8>, usize> =
        BaseRecord::with_opaque_to(&first.topic, usize::MAX).payload(&first.value);
    producer.send(warm_up).map_err(|(error, _)| error)?;
    while producer.in_flight_count() > 0 {
        let _ = producer.flush(Duration::from_millis(100));
    }
    let started = Instant::now();
    for record in rest {
        let simulated = record.timestamp.unix_nanos() - first.timestamp.unix_nanos();
        let offset = Duration::from_nanos(u64::try_from(simulated).unwrap_or(0)).div_f64(speed);
        if let Some(wait) = (started + offset).checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = epoch.elapsed().as_nanos() as usize;
        let mut base = BaseRecord::with_opaque_to(&record.topic, sent)
            .payload(&record.value)
            .timestamp(record.timestamp.unix_millis());
        if let Some(key) = &record.key {
            base = base.key(key);
        }
        producer.send(base).map_err(|(error, _)| error)?;
    }
    while producer.in_flight_count() > 0 {
        let _ = producer.flush(Duration::from_millis(100));
    }
    Ok(producer.context().accounting.report().latency)
}
