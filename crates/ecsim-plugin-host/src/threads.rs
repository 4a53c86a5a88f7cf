//! Waiting for threads without trusting them: a bounded wait for an answer (polling briefly
//! before sleeping), and the jobs and replies an instance's thread exchanges with ecsim. Below
//! the workers and the isolated processes, which both wait so.

use std::{
    sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError},
    time::{Duration, Instant},
};

/// No answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

/// Runs `f` on a thread of its own and waits at most `timeout` for its result. On a timeout the
/// thread is left to finish (or not) on its own.
pub fn run_with_timeout<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
    timeout: Duration,
) -> Result<T, TimedOut> {
    let (sender, receiver) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("ecsim-plugin-probe".to_owned())
        .spawn(move || {
            let _ = sender.send(f());
        });
    if spawned.is_err() {
        return Err(TimedOut);
    }
    receiver.recv_timeout(timeout).map_err(|_| TimedOut)
}

/// How long a waiting side polls before it sleeps. Waking a sleeping thread costs tens of
/// microseconds (two futex calls and a trip through the scheduler), far more than a call to a
/// plugin: polling briefly first keeps a call through a library within a few microseconds of a
/// call to a plugin linked in, for a few microseconds of CPU.
const SPIN: Duration = Duration::from_micros(50);

/// Receives from `receiver`, polling for [`SPIN`] before sleeping until `deadline`.
pub(crate) fn receive<T>(receiver: &Receiver<T>, deadline: Option<Instant>) -> Result<T, TimedOut> {
    let spin_until = Instant::now() + SPIN;
    loop {
        match receiver.try_recv() {
            Ok(value) => return Ok(value),
            Err(TryRecvError::Disconnected) => return Err(TimedOut),
            Err(TryRecvError::Empty) if Instant::now() < spin_until => std::hint::spin_loop(),
            Err(TryRecvError::Empty) => {
                return match deadline {
                    Some(deadline) => receiver
                        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                        .map_err(|_| TimedOut),
                    None => receiver.recv().map_err(|_| TimedOut),
                };
            }
        }
    }
}

/// Waits for an answer on `receiver` for at most `timeout` of wall-clock time, in the way the
/// clock requires: in virtual time blocking the runtime thread on purpose, in real time on a
/// blocking-pool thread (see [`crate::worker`]).
pub async fn wait<T: Send + 'static>(
    receiver: Receiver<T>,
    timeout: Duration,
    virtual_time: bool,
) -> Result<T, TimedOut> {
    if virtual_time {
        return receive(&receiver, Instant::now().checked_add(timeout));
    }
    tokio::task::spawn_blocking(move || receiver.recv_timeout(timeout))
        .await
        .map_err(|_| TimedOut)?
        .map_err(|_: RecvTimeoutError| TimedOut)
}

/// An instance that can no longer answer: its isolated process died (why, in words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended(pub String);

/// What an instance's thread answers: the library's encoded reply, or why there is none.
pub type Reply = Result<Vec<u8>, Ended>;

/// A request for an instance's thread.
pub(crate) enum Job {
    Call {
        request: Vec<u8>,
        reply: SyncSender<Reply>,
    },
    Destroy {
        reply: SyncSender<Reply>,
    },
}
