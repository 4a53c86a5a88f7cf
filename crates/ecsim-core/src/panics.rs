//! A panic's payload in words: what `panic!` was given, for the message that reports it (a
//! plugin call that panicked, a replay step, the binary's panic hook).

use std::any::Any;

/// The text a panic was raised with: the `&str` or `String` that `panic!` formats, or a
/// placeholder for any other payload.
pub fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_formatted_and_other_payloads() {
        let literal = std::panic::catch_unwind(|| std::panic::panic_any("plain")).unwrap_err();
        assert_eq!(message(literal.as_ref()), "plain");
        let formatted =
            std::panic::catch_unwind(|| std::panic::panic_any(format!("run {}", 7))).unwrap_err();
        assert_eq!(message(formatted.as_ref()), "run 7");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(42_u8)).unwrap_err();
        assert_eq!(message(other.as_ref()), "a panic without a message");
    }
}
