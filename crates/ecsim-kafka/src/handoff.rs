//! The hand-off between the simulation and the thread that feeds librdkafka.
//!
//! Handing a record to librdkafka costs more than simulating it (a copy into a fresh
//! allocation, the partitioner, the partition queue's lock, delivery bookkeeping: about 1.5 µs
//! against 0.5 µs), and on the simulation's thread that cost adds to the simulation's. So
//! [`Handoff::push`] only appends the record to a queue under a short lock, and a sending thread
//! takes everything queued at once and hands it over while the simulation goes on: on two cores
//! the two halves of the work overlap.
//!
//! - **Order is kept**: one queue, one sending thread, records taken in the order pushed.
//! - **Bounded**: past [`CAPACITY`] records queued, `push` waits for room — the back-pressure
//!   a full librdkafka queue gave when the simulation called it directly. The room comes when
//!   the sender has handed records to librdkafka; with the broker gone, when librdkafka fails
//!   them (`message.timeout.ms`, counted as failed). Waiting blocks the publishing thread: in
//!   a replay that is the simulation's own thread, on purpose (simulated time must not run
//!   ahead of what is published); on a worker of a multi-thread runtime (`serve`'s core) the
//!   wait tells tokio first (`block_in_place`), so that the worker's other tasks move to
//!   another worker and the server keeps answering.
//! - **Nothing disappears**: a record is queued, in the sender's hands, or handed to librdkafka
//!   (and from there accounted for); [`Handoff::drain`] waits until none is in the first two,
//!   and the sender counts whatever it was told to give up on instead of sending it.
//! - **No wake-up for a short burst**: waking the sender costs hundreds of microseconds on a
//!   virtual machine whose other CPU is idle, more than handing a record over. The first
//!   [`AT_ONCE`] records of a burst (records less than a [`LULL`] apart: a transition's
//!   messages in real time) are sent at once by the publishing thread itself when nothing is
//!   queued or in the sender's hands, still under the queue's lock, so that nothing can
//!   overtake them; a long burst (a replay in virtual time) goes through the sender.
//! - **Few wake-ups, few locks**: the sender is woken only when it sleeps, i.e. when a record
//!   arrives at an empty queue; after a small batch it pauses ([`PAUSE`]) so that the next one
//!   is larger, rather than contend for the queue's lock record by record.

use std::{
    sync::{Condvar, Mutex, MutexGuard},
    time::Instant,
};

use ecsim_core::publish::Record;

/// The most records queued before `push` waits. With the records the sender holds, at most
/// twice this many are between the simulation and librdkafka: a few megabytes.
pub(crate) const CAPACITY: usize = 16 * 1024;

/// A record published this long (in nanoseconds) after the previous one starts a new burst.
pub(crate) const LULL: usize = 1_000_000;

/// How many records of a burst are sent at once, when nothing is on its way. A transition in
/// real time publishes a few dozen; at that rate the hand-off would only add its wake-up to
/// their latency.
pub(crate) const AT_ONCE: u32 = 64;

/// A batch smaller than this is followed by a [`PAUSE`].
pub(crate) const SMALL_BATCH: usize = 1024;

/// How long the sender lets records gather after a small batch. Measured on the publish
/// benchmark: without it the sender takes a batch of a few records at a time, and its lock
/// and wake-ups slow the simulation; 50 µs gave more throughput than 200 µs, and adds at most
/// that to the latency of the records that come during it (librdkafka lingers 1 ms before a batch anyway).
pub(crate) const PAUSE: std::time::Duration = std::time::Duration::from_micros(50);

/// Runs `wait`, which blocks its thread; on a worker of a multi-thread tokio runtime, after
/// telling the runtime, which moves the worker's other tasks elsewhere meanwhile. On a
/// current-thread runtime (a replay) or outside one, blocking is what is meant.
fn blocking<T>(wait: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// A record on its way, with the moment it was published (nanoseconds since the publisher's
/// epoch, for the latency figures).
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) record: Record,
    pub(crate) published: usize,
    /// Its own run, instead of the publisher's (`ecsim replay` of several runs).
    pub(crate) run: Option<std::sync::Arc<crate::headers::RunTag>>,
}

#[derive(Debug, Default)]
struct Queue {
    records: Vec<Pending>,
    /// Records the sender has taken and not finished with.
    in_hand: usize,
    /// The sender waits on `work` and must be woken.
    sender_asleep: bool,
    /// Threads waiting on `room` (a notification is a system call: skipped when nobody waits).
    waiting_for_room: usize,
    /// No more batches: the sender exits once the queue is empty.
    closed: bool,
    /// When the previous record was published (`Pending::published`).
    last_published: Option<usize>,
    /// Records of the current burst sent at once.
    sent_at_once: u32,
}

/// The queue between publishers and the sending thread.
#[derive(Debug, Default)]
pub(crate) struct Handoff {
    queue: Mutex<Queue>,
    /// The sender waits here for records.
    work: Condvar,
    /// Publishers wait here for room, and `drain` for an empty queue.
    room: Condvar,
}

impl Handoff {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent between any two statements that hold the lock; a panic
        // elsewhere does not make it unusable.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a record for the sender, waiting while the queue is full; or, early in a burst
    /// with nothing on its way, hands it to `send_now` on this thread — which gives it back when
    /// it cannot send it without waiting, and then it is queued.
    pub(crate) fn push(&self, pending: Pending, send_now: impl FnOnce(Pending) -> Option<Pending>) {
        let mut queue = self.lock();
        let lull = queue
            .last_published
            .is_none_or(|last| pending.published.saturating_sub(last) >= LULL);
        queue.last_published = Some(pending.published);
        if lull {
            queue.sent_at_once = 0;
        }
        let at_once = queue.sent_at_once < AT_ONCE
            && queue.records.is_empty()
            && queue.in_hand == 0
            && !queue.closed;
        let pending = if at_once {
            queue.sent_at_once += 1;
            // Under the lock: the sender holds nothing and can take nothing meanwhile, and no
            // other publisher can go before this record.
            match send_now(pending) {
                None => return,
                Some(given_back) => given_back,
            }
        } else {
            pending
        };
        while queue.records.len() >= CAPACITY && !queue.closed {
            queue.waiting_for_room += 1;
            queue = blocking(|| {
                self.room
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
            });
            queue.waiting_for_room -= 1;
        }
        queue.records.push(pending);
        if queue.sender_asleep {
            queue.sender_asleep = false;
            self.work.notify_one();
        }
    }

    /// For the sender: everything queued, swapped with `spare` (an empty vector whose capacity
    /// is reused), waiting until there is something; `None` once closed and empty.
    pub(crate) fn take(&self, spare: Vec<Pending>) -> Option<Vec<Pending>> {
        let mut queue = self.lock();
        queue.in_hand = 0;
        // The previous batch is done: whoever waits for an empty queue may look again.
        if queue.waiting_for_room > 0 {
            self.room.notify_all();
        }
        while queue.records.is_empty() {
            if queue.closed {
                return None;
            }
            queue.sender_asleep = true;
            queue = self
                .work
                .wait(queue)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        queue.sender_asleep = false;
        let batch = std::mem::replace(&mut queue.records, spare);
        queue.in_hand = batch.len();
        if queue.waiting_for_room > 0 {
            self.room.notify_all();
        }
        Some(batch)
    }

    /// Waits until every record pushed so far is out of the queue and out of the sender's
    /// hands, or until `deadline`; whether it got there.
    pub(crate) fn drain(&self, deadline: Instant) -> bool {
        let mut queue = self.lock();
        loop {
            if queue.records.is_empty() && queue.in_hand == 0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            queue.waiting_for_room += 1;
            queue = self
                .room
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            queue.waiting_for_room -= 1;
        }
    }

    /// No more records: the sender hands over what is queued, then stops.
    pub(crate) fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        self.work.notify_all();
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use ecsim_core::clock::Timestamp;

    use super::*;

    fn pending(n: usize) -> Pending {
        Pending {
            run: None,
            record: Record {
                topic: "t".into(),
                key: Some(n.to_le_bytes().to_vec()),
                value: Vec::new(),
                timestamp: Timestamp::from_unix_millis(0),
                message_type: ecsim_core::publish::MessageType::Event,
            },
            published: n,
        }
    }

    #[test]
    fn records_reach_the_sender_in_order_through_a_full_queue() {
        let handoff = Arc::new(Handoff::default());
        let total = CAPACITY * 3 + 7;
        let sender = {
            let handoff = Arc::clone(&handoff);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut spare = Vec::new();
                while let Some(mut batch) = handoff.take(spare) {
                    // A slow sender: the publisher must wait for room, not drop or reorder.
                    std::thread::sleep(Duration::from_micros(200));
                    seen.extend(batch.drain(..).map(|p| p.published));
                    spare = batch;
                }
                seen
            })
        };
        let at_once = AT_ONCE as usize;
        for n in 0..total {
            // Published a nanosecond apart: one long burst, queued for the sender once its
            // first records have gone at once.
            handoff.push(pending(n), |p| {
                assert!(p.published < at_once, "{} went at once", p.published);
                None
            });
        }
        assert!(handoff.drain(Instant::now() + Duration::from_secs(30)));
        handoff.close();
        let seen = sender.join().unwrap();
        assert_eq!(seen, (at_once..total).collect::<Vec<_>>());
    }

    #[test]
    fn a_short_burst_goes_at_once_but_never_past_a_record_on_its_way() {
        let handoff = Handoff::default();
        let sent_now = std::cell::RefCell::new(Vec::new());
        let send_now = |p: Pending| {
            sent_now.borrow_mut().push(p.published);
            None
        };
        // A burst of AT_ONCE + 2 records, 10 ns apart: the first AT_ONCE go at once.
        let burst: Vec<usize> = (0..AT_ONCE as usize + 2).map(|i| i * 10).collect();
        for &at in &burst {
            handoff.push(pending(at), send_now);
        }
        assert_eq!(*sent_now.borrow(), burst[..AT_ONCE as usize]);
        // A new burst, but records are queued before it: queued behind them, in order.
        handoff.push(pending(LULL * 4), send_now);
        assert_eq!(sent_now.borrow().len(), AT_ONCE as usize);
        let batch = handoff.take(Vec::new()).unwrap();
        let queued: Vec<usize> = batch.iter().map(|p| p.published).collect();
        assert_eq!(
            queued,
            [
                burst[AT_ONCE as usize],
                burst[AT_ONCE as usize + 1],
                LULL * 4
            ]
        );
        // The sender holds them: still nothing overtakes them.
        handoff.push(pending(LULL * 6), send_now);
        assert_eq!(sent_now.borrow().len(), AT_ONCE as usize);
        // Once the sender is done with everything, a new burst goes at once again.
        let handoff = Arc::new(handoff);
        let sender = {
            let handoff = Arc::clone(&handoff);
            std::thread::spawn(move || while handoff.take(Vec::new()).is_some() {})
        };
        assert!(handoff.drain(Instant::now() + Duration::from_secs(30)));
        handoff.push(pending(LULL * 10), send_now);
        assert_eq!(sent_now.borrow().last(), Some(&(LULL * 10)));
        handoff.close();
        sender.join().unwrap();
    }

    /// On a multi-thread runtime with one worker, a publisher waiting for room does not keep
    /// the runtime's other tasks from running (the server answering, in `serve`).
    #[test]
    fn a_publisher_waiting_for_room_leaves_the_runtimes_other_tasks_running() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let handoff = Arc::new(Handoff::default());
        let (full, is_full) = std::sync::mpsc::channel();
        let publisher = {
            let handoff = Arc::clone(&handoff);
            runtime.spawn(async move {
                // One past the capacity, no sender taking: the last push waits for room.
                for n in 0..=CAPACITY {
                    if n == CAPACITY {
                        let _ = full.send(());
                    }
                    handoff.push(pending(n * LULL * 2), Some);
                }
            })
        };
        is_full.recv().unwrap();
        // The one worker is blocked in the wait; another task still runs (waited for on this
        // thread, outside the runtime, so that a runtime stuck fails the test, not hangs it).
        let (ran, has_run) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let _ = ran.send(42);
        });
        let answered = has_run.recv_timeout(Duration::from_secs(10));
        let still_waiting = !publisher.is_finished();
        // Room made (before any assertion, so that a failure ends the test): the publisher
        // finishes.
        let batch = handoff.take(Vec::new()).unwrap();
        runtime.block_on(publisher).unwrap();
        assert_eq!(
            answered,
            Ok(42),
            "another task ran while the publisher waited"
        );
        assert!(still_waiting, "the publisher waited for room");
        assert_eq!(batch.len(), CAPACITY);
    }

    #[test]
    fn a_record_that_cannot_go_at_once_is_queued() {
        let handoff = Handoff::default();
        handoff.push(pending(7), Some);
        let batch = handoff.take(Vec::new()).unwrap();
        assert_eq!(batch.iter().map(|p| p.published).collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn drain_gives_up_at_its_deadline_while_records_are_held() {
        let handoff = Handoff::default();
        handoff.push(pending(LULL), Some);
        // Nobody takes it.
        let started = Instant::now();
        assert!(!handoff.drain(started + Duration::from_millis(50)));
        assert!(started.elapsed() >= Duration::from_millis(50));
        // Taken but not finished with: still not drained.
        let batch = handoff.take(Vec::new()).unwrap();
        assert_eq!(batch.len(), 1);
        assert!(!handoff.drain(Instant::now() + Duration::from_millis(10)));
        handoff.close();
        assert!(handoff.take(Vec::new()).is_none());
        assert!(handoff.drain(Instant::now()));
    }
}
