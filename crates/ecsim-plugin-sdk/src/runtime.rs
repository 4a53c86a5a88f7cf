//! A private async runtime for plugins whose handlers call async code (feature `async`).
//!
//! A plugin library cannot use ecsim's tokio runtime: it has its own copy of tokio, whose
//! thread-locals know nothing of ecsim's. Each plugin instance runs on a thread of its own, so
//! a current-thread runtime per thread, made on first use, serves every call of the instance.
//!
//! Remember that simulated time is not the wall clock: a handler models how long things take
//! with [`Call::elapse`](crate::Call::elapse), not with `tokio::time::sleep`.

use std::cell::OnceCell;

thread_local! {
    static RUNTIME: OnceCell<Result<tokio::runtime::Runtime, String>> = const { OnceCell::new() };
}

/// Runs `future` to completion on this thread's private runtime.
///
/// # Errors
///
/// When the runtime cannot be made (the OS refused a thread or a timer): the message says so.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, String> {
    RUNTIME.with(|cell| {
        let runtime = cell.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| format!("cannot start the plugin's async runtime: {error}"))
        });
        match runtime {
            Ok(runtime) => Ok(runtime.block_on(future)),
            Err(error) => Err(error.clone()),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_a_future_and_reuses_the_thread_runtime() {
        assert_eq!(super::block_on(async { 40 + 2 }), Ok(42));
        let handle = super::block_on(async { tokio::runtime::Handle::current().id() }).unwrap();
        let again = super::block_on(async { tokio::runtime::Handle::current().id() }).unwrap();
        assert_eq!(handle, again);
    }
}
