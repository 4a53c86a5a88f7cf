//! A client that speaks the protocol frame by frame — to send what no well-behaved client
//! would, and read exactly what the broker answers.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::{
    messages::{ApiKey, RequestHeader, ResponseHeader, TopicName},
    protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes},
    records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType},
};

pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// One connection.
pub(crate) struct Wire {
    stream: TcpStream,
    correlation: i32,
}

impl Wire {
    pub(crate) fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).expect("the broker accepts");
        stream.set_read_timeout(Some(TIMEOUT)).expect("a timeout");
        Self {
            stream,
            correlation: 0,
        }
    }

    /// Sends bytes as they are.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// A request's frame at `version`, with this connection's next correlation id.
    pub(crate) fn frame<R: Request>(&mut self, request: &R, version: i16) -> BytesMut {
        self.correlation += 1;
        let mut body = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("wire")))
            .encode(&mut body, R::header_version(version))
            .expect("a header");
        if let Err(error) = request.encode(&mut body, version) {
            panic!(
                "{:?} v{version} does not encode: {error}",
                ApiKey::try_from(R::KEY)
            );
        }
        if let Some(seeds) = std::env::var_os("ECSIM_FUZZ_SEEDS") {
            // `cargo xtask fuzz` seeds the broker's fuzz target with every request sent here.
            let path = std::path::Path::new(&seeds).join(format!(
                "{}-v{version}-{}-{}",
                R::KEY,
                std::process::id(),
                self.correlation
            ));
            let _ = std::fs::write(path, &body);
        }
        let mut frame = BytesMut::new();
        frame.extend_from_slice(
            &u32::try_from(body.len())
                .expect("a small request")
                .to_be_bytes(),
        );
        frame.extend_from_slice(&body);
        frame
    }

    /// Sends a request and reads its response.
    pub(crate) fn call<R: Request>(&mut self, request: &R, version: i16) -> R::Response
    where
        R::Response: Decodable + HeaderVersion,
    {
        let frame = self.frame(request, version);
        self.send_raw(&frame).expect("sent");
        self.response::<R::Response>(R::KEY, version)
            .expect("an answer")
    }

    /// Reads one response frame, `None` if the broker closed the connection.
    pub(crate) fn response<T: Decodable + HeaderVersion>(
        &mut self,
        _api: i16,
        version: i16,
    ) -> Option<T> {
        let mut size = [0; 4];
        self.stream.read_exact(&mut size).ok()?;
        let mut frame = vec![0; u32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut frame).ok()?;
        let mut frame = Bytes::from(frame);
        let header = ResponseHeader::decode(&mut frame, T::header_version(version)).ok()?;
        assert_eq!(
            header.correlation_id, self.correlation,
            "answers come in order"
        );
        Some(T::decode(&mut frame, version).expect("a response that decodes"))
    }

    /// Whether the broker closed the connection (reads end) within the timeout.
    pub(crate) fn closed(&mut self) -> bool {
        let mut byte = [0; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }
}

/// The resident memory of this process (the broker runs in it), in bytes.
pub(crate) fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS");
    line.split_whitespace()
        .nth(1)
        .and_then(|kb| kb.parse::<usize>().ok())
        .expect("a size in kB")
        * 1024
}

/// An ApiKey as the protocol numbers it.
pub(crate) fn api(key: ApiKey) -> i16 {
    key as i16
}

pub(crate) fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

/// A batch as a client encodes it.
pub(crate) fn batch(timestamps: &[i64], compression: Compression, value_size: usize) -> Bytes {
    let records: Vec<Record> = timestamps
        .iter()
        .zip(0..)
        .map(|(&timestamp, offset)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: i32::try_from(offset).expect("a small offset"),
            timestamp,
            key: Some(Bytes::from_static(b"env")),
            value: Some(Bytes::from(vec![b'v'; value_size])),
            headers: IndexMap::new(),
        })
        .collect();
    let mut out = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut out,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("a batch");
    out.freeze()
}
