//! A plugin's reply bytes, decoded and checked as a call does before playing them: any bytes
//! become a reply or a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ecsim_plugin_host::call::check_reply(data);
});
