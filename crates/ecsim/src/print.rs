//! `--print`: every published record as one JSON line on stdout, as it is published.
//!
//! Lines are written through a buffer, so printing costs little on the simulation's path. When
//! stdout goes away (`ecsim run … --print | head`), printing stops quietly and the replay goes
//! on; any other write error is reported at the end.

use std::{
    io::{self, BufWriter, Stdout, Write as _},
    sync::Mutex,
};

use ecsim_core::publish::{Publisher, Record};

/// Prints records as JSON lines.
#[derive(Debug)]
pub(crate) struct JsonLines {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    out: BufWriter<Stdout>,
    error: Option<io::Error>,
}

impl JsonLines {
    pub(crate) fn stdout() -> Self {
        Self {
            state: Mutex::new(State {
                out: BufWriter::with_capacity(1 << 16, io::stdout()),
                error: None,
            }),
        }
    }

    /// Flushes what is buffered; returns the first write error, unless it was a closed pipe.
    pub(crate) fn finish(&self) -> io::Result<()> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.error.is_none()
            && let Err(error) = state.out.flush()
        {
            state.error = Some(error);
        }
        match state.error.take() {
            Some(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(error),
            _ => Ok(()),
        }
    }
}

impl Publisher for JsonLines {
    fn publish(&self, record: Record) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.error.is_some() {
            return;
        }
        let line = record.to_json_line();
        if let Err(error) = writeln!(state.out, "{line}") {
            state.error = Some(error);
        }
    }
}
