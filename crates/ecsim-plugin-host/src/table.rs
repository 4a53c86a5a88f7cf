//! What a library's table hands back: buffers it owns (copied, then given back to its `free`),
//! and the replies they encode. Below everything that calls a table, in process or in a host
//! process.

use ecsim_plugin_abi::{OwnedBytes, PluginTable};

/// Copies a buffer the library returned, and gives it back.
///
/// # Safety
///
/// `table` passed the library's version checks (`library.rs`, `check_table`), and `bytes` was just returned by one of its
/// functions (the table's contract for `free`).
pub(crate) unsafe fn take(table: &PluginTable, bytes: OwnedBytes) -> Vec<u8> {
    let copy = bytes.as_slice().to_vec();
    // SAFETY: as the caller guarantees.
    unsafe { (table.free)(bytes) };
    copy
}

/// The instance id in an encoded `CreateReply`, when it is one.
pub(crate) fn created_instance(reply: &[u8]) -> Option<u64> {
    ecsim_proto::prost::Message::decode(reply)
        .ok()
        .and_then(|r: ecsim_proto::plugin::CreateReply| r.result)
        .and_then(|result| match result {
            ecsim_proto::plugin::create_reply::Result::Instance(id) => Some(id),
            ecsim_proto::plugin::create_reply::Result::Error(_) => None,
        })
}
