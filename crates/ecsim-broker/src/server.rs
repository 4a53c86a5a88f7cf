//! Connections: accepted within [`Limits::max_connections`], requests read as their bytes
//! arrive, each answered in turn.
//!
//! A connection's requests are answered in the order they came, one at a time, as Kafka does
//! (clients rely on it to match replies); a request that waits (a long-polling fetch, a
//! JoinGroup) holds back the ones behind it on the same connection only.
//!
//! Any client may connect, so nothing is allocated on a client's word: a frame's buffer grows
//! as its bytes arrive (a 4-byte length claiming 100 MiB costs nothing until the bytes come),
//! the bytes being read and the fetch responses being written are held in one [`Budget`](crate::budget::Budget), an
//! idle connection is closed after [`Limits::idle_timeout`], and at the connection limit the
//! connection idle the longest makes room for the new one.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::{Bytes, BytesMut};
use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::{TcpListener, TcpStream},
    sync::{Notify, oneshot},
};

use crate::{
    Limits, Shared,
    budget::{CHUNK, Held},
    dispatch,
};

/// How often group timers (rebalance deadlines, session timeouts) are checked.
const TICK: Duration = Duration::from_millis(20);

/// The largest frame buffer a connection keeps for its next request.
const KEPT_BUFFER: usize = 4 * 1024 * 1024;

/// The open connections, for the connection limit.
#[derive(Debug, Default)]
struct Connections {
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    next: AtomicU64,
    started: Option<Instant>,
}

/// One connection as the limit sees it.
#[derive(Debug, Default)]
struct Slot {
    /// Milliseconds since the broker started, at its last request.
    last_active: AtomicU64,
    /// Told to close (to make room for a newer connection).
    close: Notify,
}

impl Connections {
    fn now(&self) -> u64 {
        self.started.map_or(0, |started| {
            started.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
        })
    }

    /// Registers a connection; at the limit, tells the one idle the longest to close.
    fn open(self: &Arc<Self>, limit: usize) -> Registered {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.len() >= limit
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, slot)| slot.last_active.load(Ordering::Relaxed))
                .map(|(id, _)| *id)
            && let Some(slot) = open.remove(&oldest)
        {
            tracing::warn!(
                limit,
                "connection limit reached: closing the connection idle the longest"
            );
            // Heard even if the connection is not waiting yet.
            slot.close.notify_one();
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            last_active: AtomicU64::new(self.now()),
            close: Notify::new(),
        });
        open.insert(id, Arc::clone(&slot));
        Registered {
            connections: Arc::clone(self),
            id,
            slot,
        }
    }
}

/// A connection's place among the open ones; removed when dropped.
struct Registered {
    connections: Arc<Connections>,
    id: u64,
    slot: Arc<Slot>,
}

impl Registered {
    fn active(&self) {
        self.slot
            .last_active
            .store(self.connections.now(), Ordering::Relaxed);
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Raises the soft limit on open files to the hard limit: the common soft limit of 1,024 would
/// otherwise refuse connections, and files, long before the broker's own limit (the process may
/// hold clients' sockets too: a test's, a consumer's in `ecsim run`). Says so when even the hard
/// limit is below what the connection limit needs.
pub(crate) fn raise_file_limit(connections: usize) {
    let wanted = u64::try_from(connections)
        .unwrap_or(u64::MAX)
        .saturating_add(256);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(got) if got < wanted => tracing::warn!(
            got,
            wanted,
            "the open-file limit is below what the broker's connection limit needs"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    }
}

pub(crate) async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "the broker cannot use its listening socket");
            return;
        }
    };
    let connections = Arc::new(Connections {
        started: Some(Instant::now()),
        ..Connections::default()
    });
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticks.tick() => shared.groups.tick(),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let registered = connections.open(shared.limits.max_connections);
                    tokio::spawn(connection(stream, peer, Arc::clone(&shared), registered));
                }
                Err(error) => {
                    // Out of file descriptors, most often: wait for connections to end.
                    tracing::warn!(%error, "the broker could not accept a connection");
                    tokio::time::sleep(TICK).await;
                }
            },
        }
    }
}

/// Why a connection's next frame did not come.
enum Ended {
    /// The client closed, went idle, sent too much, or was told to make room.
    Closed,
}

async fn connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, slot: Registered) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let limits = shared.limits;
    // The connection's frame buffer, used again request after request: a request's bytes are
    // not kept (the log copies what it stores), so no request costs fresh memory — whose first
    // touch, page by page (2 MiB at a time under transparent huge pages), was most of what a
    // produce cost.
    let mut buffer = BytesMut::new();
    loop {
        let frame = tokio::select! {
            frame = read_frame(&mut reader, &mut buffer, &shared, &limits, peer) => frame,
            () = slot.slot.close.notified() => return,
        };
        let Ok((frame, held)) = frame else {
            return;
        };
        slot.active();
        let handled = dispatch::handle(&shared, frame.clone(), peer).await;
        drop(held);
        // Nothing else holds the frame now (the request was dropped): its buffer comes back,
        // unless it grew past what is worth keeping for the next request.
        buffer = match frame.try_into_mut() {
            Ok(mut again) if again.capacity() <= KEPT_BUFFER => {
                again.clear();
                again
            }
            _ => BytesMut::new(),
        };
        match handled {
            Ok(Some((response, held))) => {
                // A client that does not read its responses would hold their bytes in the
                // budget for ever: it has as long as a stalled request to take them.
                match tokio::time::timeout(limits.stall_timeout, writer.write_all(&response)).await
                {
                    Ok(Ok(())) => drop(held),
                    Ok(Err(_)) => return,
                    Err(_) => {
                        tracing::warn!(%peer, "a response not read for {:?}: closing the connection", limits.stall_timeout);
                        return;
                    }
                }
            }
            Ok(None) => {} // acks=0: no reply.
            Err(error) => {
                // Kafka closes the connection on a request it cannot parse or serve; the
                // client reconnects and, for an unknown version, asks ApiVersions again.
                tracing::warn!(%peer, %error, "closing the connection");
                return;
            }
        }
        slot.active();
    }
}

/// Appends exactly `bytes` bytes from `reader` to `frame`.
async fn read_exactly<R: AsyncRead + Unpin>(
    reader: &mut R,
    frame: &mut BytesMut,
    bytes: usize,
    stalled: Duration,
) -> Result<(), Ended> {
    let mut piece = reader.take(bytes as u64);
    while piece.limit() > 0 {
        match tokio::time::timeout(stalled, piece.read_buf(frame)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => return Err(Ended::Closed),
            Ok(Ok(_)) => {}
        }
    }
    Ok(())
}

/// Reads one size-prefixed frame, its bytes held in the budget: its length within the idle
/// timeout, its bytes each within [`Limits::stall_timeout`] of the one before.
async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut BytesMut,
    shared: &Shared,
    limits: &Limits,
    peer: SocketAddr,
) -> Result<(Bytes, Vec<Held>), Ended> {
    let idle = limits.idle_timeout;
    let size = match tokio::time::timeout(idle, reader.read_u32()).await {
        Ok(Ok(size)) => size as usize,
        Ok(Err(_)) => return Err(Ended::Closed), // The client closed the connection.
        Err(_) => {
            tracing::debug!(%peer, "idle for {idle:?}: closing the connection");
            return Err(Ended::Closed);
        }
    };
    if size > limits.max_request_bytes {
        tracing::warn!(%peer, size, "a request larger than {} bytes: closing the connection", limits.max_request_bytes);
        return Err(Ended::Closed);
    }
    // The first piece, then — the client having shown it sends — the rest at once: held whole
    // (a frame never waits for budget while holding part of it, so frames cannot starve each
    // other) and allocated whole (copied once at most).
    let first = size.min(CHUNK);
    let mut held = vec![shared.budget.hold(first).await];
    let mut frame = std::mem::take(buffer);
    frame.clear();
    frame.reserve(first);
    read_exactly(reader, &mut frame, first, limits.stall_timeout).await?;
    if size > first {
        let api = i16::from_be_bytes([frame[0], frame[1]]);
        if size > limits.max_other_request_bytes
            && api != kafka_protocol::messages::ApiKey::Produce as i16
        {
            tracing::warn!(%peer, size, api, "a request other than Produce larger than {} bytes: closing the connection", limits.max_other_request_bytes);
            return Err(Ended::Closed);
        }
        held.push(shared.budget.hold(size - first).await);
        frame.reserve(size - first);
        read_exactly(reader, &mut frame, size - first, limits.stall_timeout).await?;
    }
    Ok((frame.freeze(), held))
}
