//! The frames ecsim and an isolated plugin's host process exchange over a pipe.
//!
//! A frame is a 4-byte little-endian length, then a tag byte and the payload (the length counts
//! both). The payloads are the plugin ABI's own messages (`CreateRequest`, `CallReply` …): the
//! pipe carries what the C ABI would have carried, so an isolated plugin behaves as the same
//! library loaded in process. Neither side trusts the other's lengths: a frame past
//! [`MAX_FRAME`] is an error before anything is allocated for it.

use std::io::{self, Read, Write};

/// The largest frame either side accepts: 64 MiB, far above any reply a plugin makes (a call's
/// reply is its output, its variables and its events).
pub const MAX_FRAME: u32 = 64 << 20;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// Host → ecsim, first: the library loaded; the SDK version and the encoded `Manifest`.
    Loaded = 1,
    /// Host → ecsim, first: the library was refused; the refusal's text.
    Refused = 2,
    /// ecsim → host: create the instance; an encoded `CreateRequest`.
    Create = 3,
    /// ecsim → host: a call; an encoded `CallRequest`.
    Call = 4,
    /// ecsim → host: destroy the instance, then exit; nothing.
    Destroy = 5,
    /// Host → ecsim: the reply to the last request, as the library returned it.
    Reply = 6,
}

impl Tag {
    fn from_byte(byte: u8) -> Option<Self> {
        [
            Self::Loaded,
            Self::Refused,
            Self::Create,
            Self::Call,
            Self::Destroy,
            Self::Reply,
        ]
        .into_iter()
        .find(|tag| *tag as u8 == byte)
    }
}

/// A frame that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The other side closed the pipe between frames.
    #[error("the pipe was closed")]
    Closed,
    /// Reading failed, or the pipe closed inside a frame.
    #[error("reading failed: {0}")]
    Io(io::Error),
    /// The length is 0 or above [`MAX_FRAME`].
    #[error("a frame of {0} bytes (at most {MAX_FRAME})")]
    Length(u32),
    /// An unknown tag.
    #[error("an unknown frame tag {0}")]
    Tag(u8),
}

impl From<io::Error> for FrameError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Writes one frame and flushes it.
pub fn write(out: &mut impl Write, tag: Tag, payload: &[u8]) -> io::Result<()> {
    let length = u32::try_from(payload.len() + 1)
        .ok()
        .filter(|length| *length <= MAX_FRAME)
        .ok_or_else(|| io::Error::other(format!("a frame of {} bytes", payload.len())))?;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(&[tag as u8])?;
    out.write_all(payload)?;
    out.flush()
}

/// Reads one frame.
pub fn read(input: &mut impl Read) -> Result<(Tag, Vec<u8>), FrameError> {
    let mut length = [0_u8; 4];
    let mut filled = 0;
    while filled < length.len() {
        match input.read(&mut length[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
    }
    let length = u32::from_le_bytes(length);
    if length == 0 || length > MAX_FRAME {
        return Err(FrameError::Length(length));
    }
    let mut tag = [0_u8; 1];
    input.read_exact(&mut tag)?;
    let tag = Tag::from_byte(tag[0]).ok_or(FrameError::Tag(tag[0]))?;
    let mut payload = Vec::new();
    input
        .take(u64::from(length - 1))
        .read_to_end(&mut payload)?;
    if payload.len() != (length - 1) as usize {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok((tag, payload))
}

/// The `Loaded` payload: the SDK version's length (2 bytes, little-endian), the version, the
/// encoded manifest.
pub fn loaded(sdk_version: &str, manifest: &[u8]) -> Vec<u8> {
    let version = &sdk_version.as_bytes()[..sdk_version.len().min(usize::from(u16::MAX))];
    let mut payload = Vec::with_capacity(2 + version.len() + manifest.len());
    payload.extend_from_slice(&(version.len() as u16).to_le_bytes());
    payload.extend_from_slice(version);
    payload.extend_from_slice(manifest);
    payload
}

/// Splits a `Loaded` payload into the SDK version and the encoded manifest.
pub fn split_loaded(payload: &[u8]) -> Option<(String, &[u8])> {
    let (length, rest) = payload.split_first_chunk::<2>()?;
    let length = usize::from(u16::from_le_bytes(*length));
    let (version, manifest) = rest.split_at_checked(length)?;
    Some((String::from_utf8_lossy(version).into_owned(), manifest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames_come_back_as_written() {
        let mut pipe = Vec::new();
        write(&mut pipe, Tag::Call, b"request").unwrap();
        write(&mut pipe, Tag::Destroy, b"").unwrap();
        let mut input = pipe.as_slice();
        assert_eq!(read(&mut input).unwrap(), (Tag::Call, b"request".to_vec()));
        assert_eq!(read(&mut input).unwrap(), (Tag::Destroy, Vec::new()));
        assert!(matches!(read(&mut input), Err(FrameError::Closed)));
    }

    #[test]
    fn lengths_tags_and_truncation_are_refused_before_allocating() {
        let huge = [0xff, 0xff, 0xff, 0x7f, 6];
        assert!(matches!(
            read(&mut huge.as_slice()),
            Err(FrameError::Length(0x7fff_ffff))
        ));
        let zero = [0, 0, 0, 0];
        assert!(matches!(
            read(&mut zero.as_slice()),
            Err(FrameError::Length(0))
        ));
        let tag = [1, 0, 0, 0, 99];
        assert!(matches!(
            read(&mut tag.as_slice()),
            Err(FrameError::Tag(99))
        ));
        let short = [10, 0, 0, 0, 6, 1, 2];
        assert!(matches!(
            read(&mut short.as_slice()),
            Err(FrameError::Io(_))
        ));
        let half_length = [10, 0];
        assert!(matches!(
            read(&mut half_length.as_slice()),
            Err(FrameError::Io(_))
        ));
    }

    #[test]
    fn the_loaded_payload_splits_into_version_and_manifest() {
        let payload = loaded("0.1.0", b"\x0a\x03abc");
        let (version, manifest) = split_loaded(&payload).unwrap();
        assert_eq!(version, "0.1.0");
        assert_eq!(manifest, b"\x0a\x03abc");
        assert_eq!(split_loaded(&[5, 0, b'a']), None);
    }
}
