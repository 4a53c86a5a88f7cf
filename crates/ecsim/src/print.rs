//! `--print`: every published record as one JSON line on stdout, as it is published; and
//! `--record FILE`: the same records in the recording format (`ecsim_kafka::recording`).
//!
//! `--print` writes each line as it is published (one write per line): a program reading the
//! pipe sees a message when the broker does, and a replay stopped by a signal has printed
//! everything it published. A recording goes through a buffer, flushed at the end. When
//! stdout goes away (`ecsim run … --print | head`), printing stops quietly and the replay goes
//! on; any other write error is reported at the end.

use std::{
    io::{self, BufWriter, Write as _},
    sync::Mutex,
};

use ecsim_core::publish::{Publisher, Record};

/// Which line a record becomes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    /// `{"topic","key","type","value"}`, as `ecsim tail` prints.
    Print,
    /// The recording format of `ecsim record`.
    Recording,
}

/// Writes records as JSON lines.
#[derive(Debug)]
pub(crate) struct JsonLines {
    state: Mutex<State>,
    format: Format,
    /// Flush after every line (stdout), or when the buffer is full (a file).
    line_by_line: bool,
}

struct State {
    out: BufWriter<Box<dyn io::Write + Send>>,
    error: Option<io::Error>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("buffered", &self.out.buffer().len())
            .field("error", &self.error)
            .finish()
    }
}

impl JsonLines {
    pub(crate) fn stdout() -> Self {
        Self {
            line_by_line: true,
            ..Self::to(Box::new(io::stdout()), Format::Print)
        }
    }

    /// Records to `out` in `format`.
    pub(crate) fn to(out: Box<dyn io::Write + Send>, format: Format) -> Self {
        Self {
            state: Mutex::new(State {
                out: BufWriter::with_capacity(1 << 16, out),
                error: None,
            }),
            format,
            line_by_line: false,
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
        let line = match self.format {
            Format::Print => record.to_json_line(),
            Format::Recording => ecsim_kafka::recording::Recorded::from_record(&record).to_line(),
        };
        let mut written = writeln!(state.out, "{line}");
        if self.line_by_line {
            written = written.and_then(|()| state.out.flush());
        }
        if let Err(error) = written {
            state.error = Some(error);
        }
    }
}
