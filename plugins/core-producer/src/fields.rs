//! What the encoders of this crate that work from borrowed data (`go_wire`, `tree_wire`)
//! share: string fields written by hand, as prost writes them, and the decoding side of a
//! message that is only ever encoded.

use ecsim_proto::prost::{
    bytes::BufMut,
    encoding::{self, WireType},
};

/// A string field's length on the wire, nothing when empty (proto3's default).
pub(crate) fn str_len(tag: u32, value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        encoding::key_len(tag) + encoding::encoded_len_varint(value.len() as u64) + value.len()
    }
}

/// Writes a string field, nothing when empty.
pub(crate) fn str_field(tag: u32, value: &str, buf: &mut impl BufMut) {
    if !value.is_empty() {
        str_field_always(tag, value, buf);
    }
}

/// Writes a string field even when empty, as a map entry's key and value are.
pub(crate) fn str_field_always(tag: u32, value: &str, buf: &mut impl BufMut) {
    // Nearly every field of these messages has a one-byte key and a one-byte length: both in
    // one write rather than two trips through the varint loop.
    if tag < 16 && value.len() < 0x80 {
        let key = (tag << 3) as u8 | WireType::LengthDelimited as u8;
        buf.put_slice(&[key, value.len() as u8]);
    } else {
        encoding::encode_key(tag, WireType::LengthDelimited, buf);
        encoding::encode_varint(value.len() as u64, buf);
    }
    buf.put_slice(value.as_bytes());
}

/// The decoding side of a `Message` that is only ever encoded (it borrows what it encodes):
/// decoding skips every field — decode into the prost type instead.
macro_rules! encoding_only {
    () => {
        fn merge_field(
            &mut self,
            tag: u32,
            wire_type: ecsim_proto::prost::encoding::WireType,
            buf: &mut impl ecsim_proto::prost::bytes::Buf,
            ctx: ecsim_proto::prost::encoding::DecodeContext,
        ) -> Result<(), ecsim_proto::prost::DecodeError> {
            ecsim_proto::prost::encoding::skip_field(wire_type, tag, buf, ctx)
        }
    };
}

pub(crate) use encoding_only;
