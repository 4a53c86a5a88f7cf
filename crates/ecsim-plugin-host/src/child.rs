//! The host process of an isolated plugin (`ecsim plugin host LIB`): it loads the library with
//! every check an in-process load makes, says what it found, then runs one instance's requests
//! from the pipe, one at a time, on its main thread (one instance at a time: after a destroy,
//! `ecsim plugin check` may create the next).
//!
//! The protocol has the process's standard input and output to itself: before anything of the
//! library runs, they are moved to other descriptors, standard output is pointed at standard
//! error (a plugin that prints — Go's `fmt.Println` — would otherwise corrupt the frames) and
//! standard input at `/dev/null`. On Linux the process asks to be killed when ecsim dies, so a
//! plugin stuck in a call does not outlive the run.

use std::{
    fs::File,
    io::{BufReader, BufWriter},
    os::fd::{FromRawFd as _, OwnedFd},
    path::Path,
};

use ecsim_proto::prost::Message as _;

use crate::{
    Library,
    isolation::frame::{self, FrameError, Tag},
    table::{created_instance, take},
};

/// Why the host process stopped before ecsim asked it to.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// Setting up the pipe descriptors failed.
    #[error("cannot set up the protocol's descriptors: {0}")]
    Descriptors(std::io::Error),
    /// A frame could not be read or written.
    #[error("the pipe to ecsim failed: {0}")]
    Pipe(String),
    /// ecsim sent what the protocol does not allow here.
    #[error("ecsim sent an unexpected {0:?} frame")]
    Unexpected(Tag),
}

impl From<FrameError> for ChildError {
    fn from(error: FrameError) -> Self {
        Self::Pipe(error.to_string())
    }
}

impl From<std::io::Error> for ChildError {
    fn from(error: std::io::Error) -> Self {
        Self::Pipe(error.to_string())
    }
}

/// Moves the protocol off descriptors 0 and 1, as the module says.
fn take_stdio() -> std::io::Result<(File, File)> {
    // SAFETY: plain descriptor calls on the process's own standard descriptors; every result
    // is checked, and each new descriptor is owned by exactly one `OwnedFd`.
    unsafe {
        let input = libc::dup(0);
        if input < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let input = OwnedFd::from_raw_fd(input);
        let output = libc::dup(1);
        if output < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let output = OwnedFd::from_raw_fd(output);
        if libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let null = File::open("/dev/null")?;
        if libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        #[cfg(target_os = "linux")]
        {
            // Best effort: without it, a stuck host lives until its call returns.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        }
        Ok((File::from(input), File::from(output)))
    }
}

/// Runs the host process for the library at `path` until ecsim closes the pipe or destroys the
/// instance. A library that is refused is reported to ecsim, which is a success here.
pub fn serve(path: &Path) -> Result<(), ChildError> {
    let (input, output) = take_stdio().map_err(ChildError::Descriptors)?;
    let mut input = BufReader::new(input);
    let mut output = BufWriter::new(output);
    let library = match Library::open(path) {
        Ok(library) => library,
        Err(error) => {
            frame::write(&mut output, Tag::Refused, error.to_string().as_bytes())?;
            return Ok(());
        }
    };
    let Some(table) = library.in_process_table() else {
        frame::write(
            &mut output,
            Tag::Refused,
            b"the plugin host process opened the library isolated",
        )?;
        return Ok(());
    };
    let manifest = library.manifest().encode_to_vec();
    frame::write(
        &mut output,
        Tag::Loaded,
        &frame::loaded(library.sdk_version(), &manifest),
    )?;

    let mut instance = None;
    loop {
        let (tag, payload) = match frame::read(&mut input) {
            Ok(read) => read,
            Err(FrameError::Closed) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        match (tag, instance) {
            (Tag::Create, None) => {
                // SAFETY: the table passed every check of `Library::open`; the reply goes back
                // to the table that made it (`take`). The same for the calls below.
                let reply = unsafe {
                    take(
                        table,
                        (table.create)(ecsim_plugin_abi::Bytes::new(&payload)),
                    )
                };
                instance = created_instance(&reply);
                frame::write(&mut output, Tag::Reply, &reply)?;
            }
            (Tag::Call, Some(id)) => {
                // SAFETY: as for `create`.
                let reply = unsafe {
                    take(
                        table,
                        (table.call)(id, ecsim_plugin_abi::Bytes::new(&payload)),
                    )
                };
                frame::write(&mut output, Tag::Reply, &reply)?;
            }
            (Tag::Destroy, Some(id)) => {
                // SAFETY: as for `create`.
                let reply = unsafe { take(table, (table.destroy)(id)) };
                frame::write(&mut output, Tag::Reply, &reply)?;
                // ecsim closes the pipe next; `ecsim plugin check` creates another instance.
                instance = None;
            }
            (tag, _) => return Err(ChildError::Unexpected(tag)),
        }
    }
}
