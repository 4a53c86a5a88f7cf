//! gRPC messages with their map entries written whole, as protobuf-go writes them.
//!
//! protobuf-go writes every map entry with both its key and its value, default or not; prost
//! leaves out a default key or value (the encoding allows both). Clients decode either — except
//! protobufjs, the library of AliECS's Control GUI (through `@grpc/proto-loader`): a map entry
//! without its value decodes to a `null` message, and turning the reply into an object then
//! fails the whole call ("Cannot read properties of null"). AliECS lists every integrated
//! service, the unloaded ones with an empty info, so its `GetIntegratedServices` reply has such
//! entries; encoded by prost, the GUI could not read it.
//!
//! [`GoCodec`] is the gRPC codec of the generated services (`codec_path` in `cargo xtask
//! codegen`): it encodes with prost, then, for the message types that hold a map somewhere,
//! writes again every map entry that lacks its key or value with the default one added. The
//! schema comes from the checked-in descriptor set. Messages without maps are written as prost
//! writes them, at no cost; bytes that do not parse as the schema says (they always do) are sent
//! as prost made them.

use std::{
    collections::{BTreeMap, BTreeSet},
    marker::PhantomData,
    sync::LazyLock,
};

use prost::{Message, Name, bytes::BufMut as _};
use prost_types::{FileDescriptorSet, field_descriptor_proto::Type};
use tonic::{
    Status,
    codec::{BufferSettings, Codec, EncodeBuf, Encoder},
};
use tonic_prost::ProstDecoder;

/// The codec of the generated gRPC services (see the module's documentation).
#[derive(Debug, Clone)]
pub struct GoCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for GoCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for GoCodec<T, U>
where
    T: Message + Name + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = GoEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        GoEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::default()
    }
}

/// Encodes `T` with its map entries whole.
#[derive(Debug, Clone)]
pub struct GoEncoder<T>(PhantomData<T>);

impl<T: Message + Name> Encoder for GoEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        let name = T::full_name();
        if SCHEMA.has_maps(&name) {
            let bytes = item.encode_to_vec();
            buf.put_slice(&SCHEMA.whole(&bytes, &name).unwrap_or(bytes));
        } else {
            item.encode(buf)
                .map_err(|error| Status::internal(format!("encoding {name}: {error}")))?;
        }
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// What a field holds, as far as rewriting map entries needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    /// The message it holds (a map's entry type, for a map), by full name.
    message: Option<String>,
    /// Its wire type.
    wire: u8,
    /// Its default value, encoded.
    default: &'static [u8],
}

#[derive(Debug, Default)]
struct MessageInfo {
    fields: BTreeMap<u32, Field>,
    /// A map's entry type: key (1) and value (2) are always written.
    map_entry: bool,
}

/// The schema's messages, by full name, and which of them hold a map somewhere.
#[derive(Debug, Default)]
struct Schema {
    messages: BTreeMap<String, MessageInfo>,
    with_maps: BTreeSet<String>,
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET)
        .map(|set| Schema::of(&set))
        .unwrap_or_default()
});

/// The encoding of a field's default value, by the field's type.
fn default_bytes(kind: Type) -> &'static [u8] {
    match kind {
        Type::Double | Type::Fixed64 | Type::Sfixed64 => &[0; 8],
        Type::Float | Type::Fixed32 | Type::Sfixed32 => &[0; 4],
        // An empty length-delimited value, or a varint 0.
        _ => &[0],
    }
}

/// The wire type of a field's type.
fn wire_type(kind: Type) -> u8 {
    match kind {
        Type::Double | Type::Fixed64 | Type::Sfixed64 => 1,
        Type::Float | Type::Fixed32 | Type::Sfixed32 => 5,
        Type::String | Type::Bytes | Type::Message | Type::Group => 2,
        _ => 0,
    }
}

impl Schema {
    fn of(set: &FileDescriptorSet) -> Self {
        let mut schema = Self::default();
        for file in &set.file {
            let package = file.package();
            for message in &file.message_type {
                schema.add(package, message);
            }
        }
        let names: Vec<String> = schema.messages.keys().cloned().collect();
        for name in names {
            if schema.reaches_a_map(&name, &mut BTreeSet::new()) {
                schema.with_maps.insert(name);
            }
        }
        schema
    }

    fn add(&mut self, scope: &str, message: &prost_types::DescriptorProto) {
        let name = if scope.is_empty() {
            message.name().to_owned()
        } else {
            format!("{scope}.{}", message.name())
        };
        let mut info = MessageInfo {
            map_entry: message
                .options
                .as_ref()
                .is_some_and(prost_types::MessageOptions::map_entry),
            ..MessageInfo::default()
        };
        for field in &message.field {
            let kind = field.r#type();
            info.fields.insert(
                u32::try_from(field.number()).unwrap_or_default(),
                Field {
                    message: (kind == Type::Message)
                        .then(|| field.type_name().trim_start_matches('.').to_owned()),
                    wire: wire_type(kind),
                    default: default_bytes(kind),
                },
            );
        }
        for nested in &message.nested_type {
            self.add(&name, nested);
        }
        self.messages.insert(name, info);
    }

    fn reaches_a_map(&self, name: &str, seen: &mut BTreeSet<String>) -> bool {
        if !seen.insert(name.to_owned()) {
            return false;
        }
        let Some(info) = self.messages.get(name) else {
            return false;
        };
        info.map_entry
            || info.fields.values().any(|field| {
                field
                    .message
                    .as_deref()
                    .is_some_and(|inner| self.reaches_a_map(inner, seen))
            })
    }

    fn has_maps(&self, name: &str) -> bool {
        self.with_maps.contains(name)
    }

    /// `bytes`, a `name`, with every map entry whole; `None` if the bytes are not what the
    /// schema says.
    fn whole(&self, bytes: &[u8], name: &str) -> Option<Vec<u8>> {
        let info = self.messages.get(name)?;
        let mut out = Vec::with_capacity(bytes.len() + 16);
        let mut rest = bytes;
        let (mut key, mut value) = (false, false);
        while !rest.is_empty() {
            let start = rest;
            let tag = varint(&mut rest)?;
            let (number, wire) = (u32::try_from(tag >> 3).ok()?, tag & 7);
            key |= number == 1;
            value |= number == 2;
            match wire {
                0 => {
                    varint(&mut rest)?;
                }
                1 => rest = rest.get(8..)?,
                5 => rest = rest.get(4..)?,
                2 => {
                    let length = usize::try_from(varint(&mut rest)?).ok()?;
                    let payload = rest.get(..length)?;
                    rest = &rest[length..];
                    if let Some(inner) = info.fields.get(&number).and_then(|f| f.message.as_deref())
                        && self.has_maps(inner)
                    {
                        let rewritten = self.whole(payload, inner)?;
                        put_varint(&mut out, tag);
                        put_varint(&mut out, rewritten.len() as u64);
                        out.extend_from_slice(&rewritten);
                        continue;
                    }
                }
                _ => return None,
            }
            out.extend_from_slice(&start[..start.len() - rest.len()]);
        }
        if info.map_entry {
            if !key {
                let mut keyed = Vec::with_capacity(out.len() + 2);
                default_field(info, 1, &mut keyed);
                keyed.extend_from_slice(&out);
                out = keyed;
            }
            if !value {
                default_field(info, 2, &mut out);
            }
        }
        Some(out)
    }
}

/// Field `number` of a map entry, with its default value.
fn default_field(info: &MessageInfo, number: u32, out: &mut Vec<u8>) {
    if let Some(field) = info.fields.get(&number) {
        put_varint(out, u64::from(number << 3 | u32::from(field.wire)));
        out.extend_from_slice(field.default);
    }
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::o2control::{IntegratedServiceInfo, ListIntegratedServicesReply};

    #[test]
    fn an_empty_message_value_is_written_as_protobuf_go_writes_it() {
        let mut services = BTreeMap::new();
        services.insert("odc".to_owned(), IntegratedServiceInfo::default());
        let reply = ListIntegratedServicesReply {
            services,
            timestamp: 0,
        };
        let prost = reply.encode_to_vec();
        // prost: the entry holds the key only.
        assert_eq!(prost, [0x0a, 0x05, 0x0a, 0x03, b'o', b'd', b'c']);
        let go = SCHEMA
            .whole(&prost, &ListIntegratedServicesReply::full_name())
            .expect("parses");
        // protobuf-go: key and value, the value an empty message.
        assert_eq!(go, [0x0a, 0x07, 0x0a, 0x03, b'o', b'd', b'c', 0x12, 0x00]);
        assert_eq!(
            ListIntegratedServicesReply::decode(go.as_slice()),
            Ok(reply)
        );
    }

    #[test]
    fn string_maps_get_their_empty_values_and_keys_and_nothing_else_changes() {
        use crate::o2control::EnvironmentInfo;
        let mut vars = BTreeMap::new();
        vars.insert("a".to_owned(), String::new());
        vars.insert(String::new(), "b".to_owned());
        let info = EnvironmentInfo {
            id: "2oDvieFrVTi".to_owned(),
            vars,
            ..Default::default()
        };
        let go = SCHEMA
            .whole(&info.encode_to_vec(), &EnvironmentInfo::full_name())
            .expect("parses");
        assert_eq!(EnvironmentInfo::decode(go.as_slice()), Ok(info.clone()));
        let entry_a = [0x0a, 0x01, b'a', 0x12, 0x00];
        let entry_empty_key = [0x0a, 0x00, 0x12, 0x01, b'b'];
        let contains = |needle: &[u8]| go.windows(needle.len()).any(|w| w == needle);
        assert!(contains(&entry_a) && contains(&entry_empty_key), "{go:?}");
        // A message without maps is passed through.
        assert!(!SCHEMA.has_maps(&crate::o2control::Empty::full_name()));
        assert!(SCHEMA.has_maps(&EnvironmentInfo::full_name()));
    }
}
