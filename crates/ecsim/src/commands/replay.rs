//! `ecsim replay`: a recording published again.
//!
//! Every line is checked before the first is published (a recording that is wrong at line
//! 9,000 publishes nothing), then the lines are published in the file's order — so each key's
//! records keep their order — with their keys and value bytes unchanged, each at its recorded
//! distance from the first (divided by `--speed`; at once with `--speed 0`). Timestamps are
//! the recorded ones, or shifted together with `--epoch`. Recorded headers are not published:
//! each record carries instead an `ecsim.run` header of this replay's, as a run's records do, so
//! that `verify` can tell replays apart — one new id per run the recording holds (its records'
//! recorded `ecsim.run`), so that a recording of two runs replays as two runs, or the recorded
//! ids themselves with `--keep-run-ids`. The file is read twice and never held: memory does not
//! grow with its length (but for one id per recorded run).

use std::{
    borrow::Cow,
    fs::File,
    io::BufReader,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use ecsim_core::{
    clock::Timestamp,
    publish::{Publisher as _, Record},
};
use ecsim_kafka::recording::{self, LineFailure, Recorded};
use ecsim_proto::topics::MessageType;

use crate::{
    cli::{Epoch, ReplayArgs},
    commands::kafka::{open_publisher, settings},
    exit::CliError,
    print::JsonLines,
};

/// How long after the start a record `distance_ms` from the first is due at `speed`; `None`
/// when that is beyond what can be waited for (a tiny `--speed` over a long recording).
fn due_after(distance_ms: i64, speed: f64) -> Option<Duration> {
    let distance = Duration::from_millis(u64::try_from(distance_ms).unwrap_or(0));
    Duration::try_from_secs_f64(distance.as_secs_f64() / speed).ok()
}

/// What the first pass learns.
struct Survey {
    lines: usize,
    first_timestamp: Option<i64>,
    /// The largest distance of a record's timestamp from the first's, in ms.
    span_ms: i64,
    topics: Vec<String>,
}

fn lines(
    path: &Path,
) -> Result<impl Iterator<Item = (usize, Result<String, LineFailure>)>, CliError> {
    // Looked at before it is opened: opening a FIFO blocks until something writes to it.
    let metadata =
        std::fs::metadata(path).with_context(|| format!("opening {}", path.display()))?;
    if !metadata.is_file() {
        return Err(CliError::InvalidInput(format!(
            "{} is not a regular file (a FIFO, a device or a directory, which could block or never \
             end): give a recording, as `ecsim record` writes it",
            path.display()
        )));
    }
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(recording::lines(BufReader::new(file)))
}

fn parse(
    path: &Path,
    number: usize,
    line: Result<String, LineFailure>,
) -> Result<Recorded, CliError> {
    let recording_error = |cause| CliError::Recording {
        file: path.display().to_string(),
        line: number,
        cause,
    };
    let line = match line {
        Ok(line) => line,
        Err(LineFailure::Line(cause)) => return Err(recording_error(cause)),
        Err(LineFailure::Io(error)) => {
            return Err(anyhow::Error::from(error)
                .context(format!("reading {}", path.display()))
                .into());
        }
    };
    Recorded::parse(&line).map_err(recording_error)
}

/// The run a recorded record came from: its recorded `ecsim.run` header, and the scenario of
/// its `ecsim.scenario` header.
fn recorded_run(recorded: &Recorded) -> Option<(String, Option<String>)> {
    let run = recorded_header(recorded, ecsim_kafka::RUN_HEADER)?;
    Some((run, recorded_header(recorded, ecsim_kafka::SCENARIO_HEADER)))
}

/// A recorded header's value, as text.
fn recorded_header(recorded: &Recorded, name: &str) -> Option<String> {
    recorded
        .headers
        .iter()
        .find(|header| header.name == name)
        .and_then(|header| header.value_hex.as_deref())
        .and_then(|hex| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

fn survey(path: &Path) -> Result<Survey, CliError> {
    let mut survey = Survey {
        lines: 0,
        first_timestamp: None,
        span_ms: 0,
        topics: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    for (number, line) in lines(path)? {
        let recorded = parse(path, number, line)?;
        survey.lines += 1;
        if survey.first_timestamp.is_none() {
            survey.first_timestamp = recorded.timestamp;
        }
        if let (Some(first), Some(at)) = (survey.first_timestamp, recorded.timestamp) {
            survey.span_ms = survey.span_ms.max(at.saturating_sub(first));
        }
        // Indexed: a recording may hold tens of thousands of topics.
        if seen.insert(recorded.topic.clone()) {
            survey.topics.push(recorded.topic);
        }
    }
    if survey.lines == 0 {
        return Err(CliError::InvalidInput(format!(
            "{} holds no record to replay",
            path.display()
        )));
    }
    Ok(survey)
}

pub(crate) fn run(args: &ReplayArgs) -> Result<(), CliError> {
    let path = args.recording.as_path();
    let given = settings(
        args.kafka.brokers.as_deref(),
        args.kafka.producer_config.as_deref(),
        &args.kafka.properties,
        &args.kafka.allow_property,
    )?;
    if given.bootstrap_servers().is_none() {
        return Err(CliError::InvalidInput(
            "replay publishes to a broker that outlives it: give --brokers host:port (`ecsim broker` runs one)"
                .into(),
        ));
    }
    let survey = survey(path)?;
    // Ten years: a wait nobody means, and one the clocks can still count.
    const LONGEST_WAIT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
    if args.speed > 0.0
        && due_after(survey.span_ms, args.speed).is_none_or(|span| span > LONGEST_WAIT)
    {
        return Err(CliError::InvalidInput(format!(
            "at --speed {:?} the {} s of {} would take more than ten years; give a larger --speed, or 0 for at once",
            args.speed,
            survey.span_ms / 1000,
            path.display()
        )));
    }
    // A signal ends the replay between two records; what was sent is then flushed and reported.
    let (interrupt, interrupted) = std::sync::mpsc::channel::<()>();
    let signalled = std::sync::atomic::AtomicBool::new(false);
    crate::stop::on_signal(move || {
        if signalled.swap(true, std::sync::atomic::Ordering::SeqCst) {
            sayln!("interrupted again: quitting without waiting for the broker");
            crate::stop::quit_now(crate::exit::Exit::Interrupted);
        }
        sayln!(
            "interrupted: stopping the replay; the delivery report follows (again to quit at once)"
        );
        let _ = interrupt.send(());
    })?;
    let (kafka, _) = open_publisher(&args.kafka, None, survey.topics.clone())?;
    // As `run` does: each replay's records say which replay they came from.
    let run_id = uuid::Uuid::new_v4().to_string();
    kafka.tag_records(&run_id, None);
    let printer = args.print.then(JsonLines::stdout);
    let timeline = args
        .report
        .as_ref()
        .map(|_| ecsim_report::TimelineRecorder::new());
    let started = Instant::now();
    let now_ms = Timestamp::system_now().unix_millis();
    let first = survey.first_timestamp.unwrap_or(now_ms);
    let shift = match args.epoch {
        None => 0,
        Some(Epoch::Now) => now_ms.saturating_sub(first),
        Some(Epoch::At(at)) => at.unix_millis().saturating_sub(first),
    };
    let mut sent = 0_u64;
    let mut stopped = false;
    // Recorded run id → the id its records carry now.
    let mut runs: std::collections::BTreeMap<String, Arc<ecsim_kafka::RunTag>> =
        std::collections::BTreeMap::new();
    for (number, line) in lines(path)? {
        if interrupted.try_recv().is_ok() {
            stopped = true;
            break;
        }
        let recorded = parse(path, number, line)?;
        let timestamp = recorded.timestamp.map_or_else(
            || Timestamp::system_now().unix_millis(),
            |t| t.saturating_add(shift),
        );
        if args.speed > 0.0
            && let Some(recorded_at) = recorded.timestamp
        {
            // Records out of time order (from several partitions) go at once, in file order.
            // Within the span checked above, so the sum cannot overflow.
            let due = due_after(recorded_at.saturating_sub(first), args.speed)
                .and_then(|after| started.checked_add(after));
            if let Some(wait) = due.and_then(|due| due.checked_duration_since(Instant::now()))
                && interrupted.recv_timeout(wait).is_ok()
            {
                stopped = true;
                break;
            }
        }
        // Checked by the survey; a file changed since is reported, not half-replayed silently.
        let (key, value) = match (recorded.key(), recorded.value()) {
            (Ok(key), Ok(value)) => (key, value),
            (Err(cause), _) | (_, Err(cause)) => {
                return Err(CliError::Recording {
                    file: path.display().to_string(),
                    line: number,
                    cause,
                });
            }
        };
        let original_run = recorded_run(&recorded);
        let message_type = MessageType::for_topic(&recorded.topic).unwrap_or(MessageType::Event);
        let record = Record {
            topic: Cow::Owned(recorded.topic),
            key,
            value,
            timestamp: Timestamp::from_unix_millis(timestamp),
            message_type,
        };
        if let Some(printer) = &printer {
            printer.publish(record.clone());
        }
        if let Some(timeline) = &timeline {
            timeline.publish(record.clone());
        }
        match original_run {
            Some((original, scenario)) => {
                let tag = runs.entry(original.clone()).or_insert_with(|| {
                    Arc::new(ecsim_kafka::RunTag {
                        id: if args.keep_run_ids {
                            original
                        } else {
                            uuid::Uuid::new_v4().to_string()
                        },
                        scenario,
                    })
                });
                kafka.publish_as(record, Arc::clone(tag));
            }
            None => kafka.publish(record),
        }
        sent += 1;
    }
    let delivery = kafka.finish(args.kafka.flush_timeout);
    if let Some(printer) = &printer {
        printer.finish().context("writing to stdout")?;
    }
    let of_all = if stopped {
        format!("{sent} of {}", survey.lines)
    } else {
        sent.to_string()
    };
    let tagged = if runs.is_empty() {
        format!("{}={run_id}", ecsim_kafka::RUN_HEADER)
    } else {
        format!(
            "{} per recorded run: {}",
            ecsim_kafka::RUN_HEADER,
            runs.iter()
                .map(|(recorded, now)| if args.keep_run_ids {
                    recorded.clone()
                } else {
                    format!("{recorded} → {}", now.id)
                })
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    sayln!(
        "replayed {of_all} records from {} to {} in {:.1} s; records tagged {tagged}",
        path.display(),
        kafka.brokers(),
        started.elapsed().as_secs_f64(),
    );
    say!("{delivery}");
    if let (Some(timeline), Some(report)) = (&timeline, &args.report) {
        let title = format!("replay of {}", path.display());
        let summary = format!(
            "replayed {} records from {} to {}\n{delivery}",
            survey.lines,
            path.display(),
            kafka.brokers()
        );
        let page =
            ecsim_report::render(&timeline.timeline(), &title, &summary, &Default::default());
        std::fs::write(report, page)
            .with_context(|| format!("writing the report {}", report.display()))?;
    }
    if stopped {
        Err(CliError::Interrupted {
            done: sent,
            total: survey.lines as u64,
            what: "records",
        })
    } else if delivery.all_delivered() {
        Ok(())
    } else {
        let total = delivery.total();
        Err(CliError::Undelivered {
            undelivered: total.sent - total.delivered,
            sent: total.sent,
            broker: kafka.brokers().to_owned(),
        })
    }
}
