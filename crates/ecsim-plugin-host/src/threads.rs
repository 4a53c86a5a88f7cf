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
    Call { request: Vec<u8>, reply: ReplyTo },
    Destroy { reply: SyncSender<Reply> },
}

/// Where an instance's thread answers a call: a channel of one that goes back and forth with
/// the calls, so that a call makes no channel of its own, and the request's buffer comes back
/// with the answer to carry the next request (see [`Lines`]).
///
/// The thread holds the only sender while it works on the call: if it dies without answering,
/// the waiting side sees the channel disconnected at once, as it would a channel of the call's
/// own.
pub(crate) struct ReplyTo(SyncSender<Answer>);

/// An instance thread's answer to a call, and what goes back into the caller's [`Line`].
pub(crate) struct Answer {
    reply: Reply,
    back: ReplyTo,
    request: Vec<u8>,
}

impl ReplyTo {
    /// Answers the call with `reply`, handing back the call's `request` buffer.
    pub(crate) fn answer(self, reply: Reply, request: Vec<u8>) {
        let sender = self.0.clone();
        // The caller may have given up on the call (it timed out): nobody hears the answer.
        let _ = sender.send(Answer {
            reply,
            back: self,
            request,
        });
    }
}

/// The reply channel and request buffer of one call at a time, kept by [`Lines`] between calls.
pub(crate) struct Line {
    sender: Option<ReplyTo>,
    receiver: Receiver<Answer>,
    request: Vec<u8>,
}

impl Line {
    fn new() -> Self {
        let (sender, receiver) = mpsc::sync_channel(1);
        Self {
            sender: Some(ReplyTo(sender)),
            receiver,
            request: Vec::new(),
        }
    }

    /// The request's buffer, empty, with the capacity earlier requests gave it.
    pub(crate) fn request_buffer(&mut self) -> Vec<u8> {
        let mut buffer = std::mem::take(&mut self.request);
        buffer.clear();
        buffer
    }

    /// Where the instance's thread is to answer. Once per call.
    pub(crate) fn reply_to(&mut self) -> Option<ReplyTo> {
        self.sender.take()
    }
}

/// The lines of the calls not in flight, for one instance. Calls to one instance may be in
/// flight together (environments in real time); each takes a line, and gives it back only
/// once its answer is in: a line whose call timed out is dropped, so that its late answer can
/// never be taken for another call's.
#[derive(Default)]
pub(crate) struct Lines(std::sync::Mutex<Vec<Line>>);

impl Lines {
    /// A free line, or a new one.
    pub(crate) fn take(&self) -> Line {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_else(Line::new)
    }

    /// Waits for the answer on `line`, for at most `timeout` of wall-clock time, in the way
    /// the clock requires (as [`wait`]), and gives the line back once the answer is in.
    pub(crate) async fn wait(
        &self,
        line: Line,
        timeout: Duration,
        virtual_time: bool,
    ) -> Result<Reply, TimedOut> {
        let (answer, mut line) = if virtual_time {
            (
                receive(&line.receiver, Instant::now().checked_add(timeout)),
                line,
            )
        } else {
            tokio::task::spawn_blocking(move || (line.receiver.recv_timeout(timeout), line))
                .await
                .map_err(|_| TimedOut)
                .map(|(answer, line)| (answer.map_err(|_| TimedOut), line))?
        };
        let Answer {
            reply,
            back,
            request,
        } = answer?;
        line.sender = Some(back);
        line.request = request;
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
        Ok(reply)
    }
}
