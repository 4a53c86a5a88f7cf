//! `ecsim tail`: AliECS's topics, one JSON line per message, as `ecsim run --print` prints them.

use std::{
    io::{self, Write as _},
    ops::ControlFlow,
};

use ecsim_core::publish::json_line;
use ecsim_kafka::consumer::{ReadOptions, read};
use ecsim_proto::{json::known_message_types, topics};

use crate::{
    cli::TailArgs,
    commands::kafka::{consumer_settings, topics_or_default},
    exit::CliError,
};

pub(crate) fn run(args: &TailArgs) -> Result<(), CliError> {
    let forced_type: Option<&str> = match &args.message_type {
        None => None,
        Some(name) => {
            if !known_message_types().contains(name) {
                return Err(CliError::InvalidInput(format!(
                    "unknown message type `{name}`; ecsim knows {}",
                    known_message_types().join(", ")
                )));
            }
            Some(name.as_str())
        }
    };
    let kafka = &args.kafka;
    let options = ReadOptions {
        settings: consumer_settings(kafka)?,
        topics: topics_or_default(&args.topics),
        from_beginning: args.from_beginning,
        count: args.count,
        idle: args.idle,
        to_end: false,
        deadline: None,
        timeout: kafka.connect_timeout,
        stop: None,
    };
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    let mut write_error = None;
    read(&options, |message| {
        let message_type = forced_type
            .or_else(|| topics::message_type_for_topic(&message.topic))
            .unwrap_or("");
        let line = json_line(
            &message.topic,
            message.key.as_deref(),
            &message.value,
            message_type,
        );
        // Follow as a tail does: every line out as soon as it is read.
        match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => {
                write_error = Some(error);
                ControlFlow::Break(())
            }
        }
    })?;
    match write_error {
        Some(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(error)
            .context("writing to stdout")
            .into()),
        _ => Ok(()),
    }
}
