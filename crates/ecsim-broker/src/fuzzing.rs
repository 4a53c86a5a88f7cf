//! The request path for a fuzz target: a frame (without its length) in, through decoding,
//! dispatch and encoding, as a connection would take it — with no socket, on a clock that
//! advances whenever everything waits, so that a JoinGroup or a long-polling Fetch ends at once.
//! One broker's state is kept across inputs, so that inputs build on each other's topics and
//! groups, as a hostile client's requests would.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use bytes::Bytes;

use crate::{Limits, Shared, budget, dispatch, group, store};

fn shared() -> &'static Arc<Shared> {
    static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();
    SHARED.get_or_init(|| {
        let limits = Limits {
            max_stored_bytes: 64 * 1024 * 1024,
            max_partitions: 10_000,
            max_groups: 1_000,
            ..Limits::default()
        };
        Arc::new(Shared {
            store: store::Store::new(store::Limits {
                max_stored_bytes: limits.max_stored_bytes,
                max_partitions: limits.max_partitions,
                message_max_bytes: limits.message_max_bytes,
            }),
            groups: group::Groups::new(limits.max_groups, limits.group_retention),
            advertised: SocketAddr::from(([127, 0, 0, 1], 9092)),
            auto_create_partitions: 1,
            next_producer_id: 1000.into(),
            limits,
            budget: budget::Budget::new(limits.in_flight_bytes),
        })
    })
}

/// Handles one frame; the response's size, or `None` when the connection would close (or the
/// protocol says not to answer).
pub fn handle(frame: &[u8]) -> Option<usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .ok()?;
    let shared = shared();
    runtime.block_on(async {
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        let handled = tokio::time::timeout(
            Duration::from_secs(60),
            dispatch::handle(shared, Bytes::copy_from_slice(frame), peer),
        )
        .await;
        shared.groups.tick();
        match handled {
            Ok(Ok(Some((response, _)))) => Some(response.len()),
            _ => None,
        }
    })
}
