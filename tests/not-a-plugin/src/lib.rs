//! A shared library that is not an ecsim plugin: it exports a C function, but not
//! `ecsim_plugin_entry_v1`. The tests load it to see ecsim refuse it, and say why.

/// Something a C library might export.
#[unsafe(no_mangle)]
pub extern "C" fn ecsim_test_answer() -> i32 {
    42
}
