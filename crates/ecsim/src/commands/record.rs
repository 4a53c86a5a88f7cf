//! `ecsim record`: what a broker's topics hold and receive, into a recording file.
//!
//! It reads as `ecsim tail` does — assigning itself every partition, never joining a group or
//! committing — and writes each record in the recording format (`ecsim_kafka::recording`),
//! flushed line by line so that a recording interrupted by Ctrl-C (which ends it cleanly) or
//! by a kill is every record read but the last, never a half line.

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
