//! `ecsim record`: what a broker's topics hold and receive, into a recording file.
//!
//! It reads as `ecsim tail` does — assigning itself every partition, never joining a group or
//! committing — and writes each record in the recording format (`ecsim_kafka::recording`),
//! flushed line by line so that a recording interrupted by Ctrl-C (which ends it cleanly) or
//! by a kill is every record read but the last, never a half line.
//!
//! With `--to-end` the recording is whole when reading ends, and is written in time order
//! across topics (a consumer reads topic by topic): the lines are spooled to a file beside the
//! output, sorted by timestamp (ties kept in the order they were read) with 16 bytes a record
//! in memory, and copied to the output in that order.

use std::{
    fs::File,
    io::{self, Write as _},
    ops::ControlFlow,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Context as _;
use ecsim_kafka::{
    consumer::{ReadOptions, read},
    recording::Recorded,
};

use crate::{
    cli::RecordArgs,
    commands::kafka::{consumer_settings, topics_or_default},
    exit::CliError,
};

pub(crate) fn run(args: &RecordArgs) -> Result<(), CliError> {
    let kafka = &args.kafka;
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    crate::stop::on_signal(move || on_signal.store(true, Ordering::Relaxed))?;
    let options = ReadOptions {
        settings: consumer_settings(kafka)?,
        topics: topics_or_default(&args.topics),
        from_beginning: !args.from_now,
        count: args.count,
        idle: args.idle,
        to_end: args.to_end,
        deadline: None,
        timeout: kafka.connect_timeout,
        stop: Some(stop),
    };
    let to_stdout = args.output.as_os_str() == "-";
    let name = args.output.display().to_string();
    let mut out: Box<dyn io::Write> = if to_stdout {
        Box::new(io::stdout().lock())
    } else {
        Box::new(File::create(&args.output).with_context(|| format!("creating {name}"))?)
    };
    if args.to_end {
        return record_in_time_order(&options, &args.output, out, to_stdout);
    }
    let mut write_error = None;
    let count = read(&options, |message| {
        let line = Recorded::from_received(&message).to_line() + "\n";
        // One write per line, flushed: what is in the file is whole records.
        match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => {
                write_error = Some(error);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(error) = write_error
        && !(to_stdout && error.kind() == io::ErrorKind::BrokenPipe)
    {
        return Err(anyhow::Error::new(error)
            .context(format!("writing {name}"))
            .into());
    }
    if !to_stdout {
        sayln!("recorded {count} records to {name}");
    }
    Ok(())
}

/// `--to-end`: every record read into a spool file, then written out in time order.
fn record_in_time_order(
    options: &ReadOptions,
    output: &std::path::Path,
    mut out: Box<dyn io::Write>,
    to_stdout: bool,
) -> Result<(), CliError> {
    use std::io::{BufRead as _, Seek as _};
    let name = output.display().to_string();
    let spool_path = if to_stdout {
        std::env::temp_dir().join(format!("ecsim-record-{}.spool", std::process::id()))
    } else {
        let mut path = output.as_os_str().to_owned();
        path.push(".spool");
        std::path::PathBuf::from(path)
    };
    let spooled = (|| -> Result<u64, CliError> {
        let mut spool = io::BufWriter::new(
            File::create(&spool_path)
                .with_context(|| format!("creating {}", spool_path.display()))?,
        );
        // (timestamp, where its line starts in the spool)
        let mut index: Vec<(i64, u64)> = Vec::new();
        let mut at = 0_u64;
        let mut write_error = None;
        read(options, |message| {
            let line = Recorded::from_received(&message).to_line() + "\n";
            index.push((message.timestamp_ms.unwrap_or(i64::MIN), at));
            at += line.len() as u64;
            match spool.write_all(line.as_bytes()) {
                Ok(()) => ControlFlow::Continue(()),
                Err(error) => {
                    write_error = Some(error);
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(error) = write_error {
            return Err(anyhow::Error::new(error)
                .context(format!("writing {}", spool_path.display()))
                .into());
        }
        spool
            .flush()
            .with_context(|| format!("writing {}", spool_path.display()))?;
        drop(spool);
        // Stable: records of one timestamp keep the order they were read in.
        index.sort_by_key(|(timestamp, _)| *timestamp);
        let mut spool = io::BufReader::new(
            File::open(&spool_path).with_context(|| format!("reading {}", spool_path.display()))?,
        );
        let mut line = Vec::new();
        for (_, start) in &index {
            spool
                .seek(io::SeekFrom::Start(*start))
                .and_then(|_| {
                    line.clear();
                    spool.read_until(b'\n', &mut line)
                })
                .with_context(|| format!("reading {}", spool_path.display()))?;
            if let Err(error) = out.write_all(&line) {
                if to_stdout && error.kind() == io::ErrorKind::BrokenPipe {
                    break;
                }
                return Err(anyhow::Error::new(error)
                    .context(format!("writing {name}"))
                    .into());
            }
        }
        out.flush().with_context(|| format!("writing {name}"))?;
        Ok(index.len() as u64)
    })();
    let _ = std::fs::remove_file(&spool_path);
    let count = spooled?;
    if !to_stdout {
        sayln!("recorded {count} records to {name}, in time order");
    }
    Ok(())
}
