//! `ecsim decode`: one protobuf message in, proto3 JSON out.
//!
//! For looking at a record value saved from a topic (`kcat -e -t aliecs.run -o -1 > run.bin`,
//! or the payload of a failing test) without writing a decoder.

use std::io::{self, Read as _, Write as _};

use anyhow::Context as _;
use ecsim_proto::{json, topics};

use crate::{cli::DecodeArgs, exit::CliError};

pub(crate) fn run(args: &DecodeArgs) -> Result<(), CliError> {
    let message_type = match (&args.message_type, &args.topic) {
        (Some(name), _) => name.clone(),
        (None, Some(topic)) => topics::message_type_for_topic(topic)
            .ok_or_else(|| {
                CliError::InvalidInput(format!(
                    "topic `{topic}` is not one AliECS writes, so its message type is unknown; \
                     name the type with --type (e.g. --type events.Event)"
                ))
            })?
            .to_owned(),
        (None, None) => topics::EVENT_TYPE.to_owned(),
    };

    let bytes = read_input(args)?;
    let value = json::decode_to_json(&message_type, &bytes)?;

    let rendered = if args.pretty {
        serde_json::to_string_pretty(&value)
    } else {
        serde_json::to_string(&value)
    }
    .context("rendering JSON")?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{rendered}").context("writing to stdout")?;
    Ok(())
}

/// The largest message decoded: the embedded broker's largest produce request, with room.
const MAX_MESSAGE_BYTES: u64 = 128 << 20;

fn read_input(args: &DecodeArgs) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let too_large = |what: &str| {
        CliError::InvalidInput(format!(
            "{what} holds more than {} MiB: not one message",
            MAX_MESSAGE_BYTES >> 20
        ))
    };
    match args.file.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            // Looked at before it is opened: opening a FIFO blocks until something writes.
            let metadata =
                std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
            if !metadata.is_file() {
                return Err(CliError::InvalidInput(format!(
                    "{} is not a regular file (a FIFO, a device or a directory); give the message's \
                     bytes in a file, or on standard input with -",
                    path.display()
                )));
            }
            let file =
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            file.take(MAX_MESSAGE_BYTES + 1)
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            if bytes.len() as u64 > MAX_MESSAGE_BYTES {
                return Err(too_large(&path.display().to_string()));
            }
        }
        _ => {
            io::stdin()
                .lock()
                .take(MAX_MESSAGE_BYTES + 1)
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            if bytes.len() as u64 > MAX_MESSAGE_BYTES {
                return Err(too_large("standard input"));
            }
        }
    }
    Ok(bytes)
}
