//! A Kafka request frame, as any client may send it, through the embedded broker's decoding,
//! dispatch and encoding: any bytes get a response or a closed connection — never a panic, an
//! abort, or memory past libFuzzer's limit (`-rss_limit_mb`, `-malloc_limit_mb`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecsim_broker::fuzzing::handle(data);
});
