//! What a request handler is given (its request's context), and how it writes an error code:
//! below the dispatcher and every handler, so that handlers need nothing of the dispatcher.

use std::net::SocketAddr;

use kafka_protocol::{ResponseError, protocol::StrBytes};

use crate::Shared;

/// One request's context, for the handlers.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) version: i16,
    pub(crate) client_id: StrBytes,
    pub(crate) peer: SocketAddr,
}

pub(crate) fn code(error: ResponseError) -> i16 {
    error.code()
}
