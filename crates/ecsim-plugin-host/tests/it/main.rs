//! The integration tests of `ecsim-plugin-host`, in one binary: libraries whose tables are
//! linked into the test (`in_process`: every check and every call outcome) and replies fuzzed
//! (`reply_fuzz`: whatever bytes a library answers become an outcome).

#![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

mod in_process;
mod reply_fuzz;
