//! The bytes in flight, all connections together (`Limits::in_flight_bytes`): a frame being
//! read and a fetch response being written hold their bytes here until done, so that what
//! clients send, and are sent, is bounded as a whole. Below the connections and the handlers,
//! which both hold bytes in it.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A frame's first piece, read before the rest is held in the budget and allocated; the
/// smallest budget.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Bytes in flight, all connections together.
#[derive(Debug)]
pub(crate) struct Budget {
    permits: Arc<Semaphore>,
    total: usize,
}

/// Bytes held in the [`Budget`] until dropped.
#[derive(Debug, Default)]
pub(crate) struct Held {
    _permits: Option<OwnedSemaphorePermit>,
}

impl Budget {
    pub(crate) fn new(bytes: usize) -> Self {
        let total = bytes.clamp(CHUNK, u32::MAX as usize);
        Self {
            permits: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Holds `bytes` (at most the whole budget), waiting until they are free.
    pub(crate) async fn hold(&self, bytes: usize) -> Held {
        let bytes = u32::try_from(bytes.min(self.total)).unwrap_or(u32::MAX);
        if bytes == 0 {
            return Held::default();
        }
        Held {
            // The semaphore is never closed.
            _permits: Arc::clone(&self.permits)
                .acquire_many_owned(bytes)
                .await
                .ok(),
        }
    }
}
