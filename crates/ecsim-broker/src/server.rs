//! Connections: accept, read size-prefixed requests, answer each in turn.
//!
//! A connection's requests are answered in the order they came, one at a time, as Kafka does
//! (clients rely on it to match replies); a request that waits (a long-polling fetch, a
//! JoinGroup) holds back the ones behind it on the same connection only.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::{TcpListener, TcpStream},
    sync::oneshot,
};

use crate::{Shared, dispatch};

/// Kafka's `socket.request.max.bytes`: a larger request closes the connection.
const MAX_REQUEST: usize = 100 * 1024 * 1024;

/// How often group timers (rebalance deadlines, session timeouts) are checked.
const TICK: Duration = Duration::from_millis(20);

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
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticks.tick() => shared.groups.tick(),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, peer, Arc::clone(&shared)));
                }
                Err(error) => {
                    tracing::warn!(%error, "the broker could not accept a connection");
                    tokio::time::sleep(TICK).await;
                }
            },
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    loop {
        let Ok(size) = reader.read_u32().await else {
            return; // The client closed the connection.
        };
        let size = size as usize;
        if size > MAX_REQUEST {
            tracing::warn!(%peer, size, "request larger than {MAX_REQUEST} bytes: closing the connection");
            return;
        }
        let mut frame = vec![0; size];
        if reader.read_exact(&mut frame).await.is_err() {
            return;
        }
        match dispatch::handle(&shared, Bytes::from(frame), peer).await {
            Ok(Some(response)) => {
                if writer.write_all(&response).await.is_err() {
                    return;
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
    }
}
