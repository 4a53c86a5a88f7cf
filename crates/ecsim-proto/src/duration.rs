//! Durations written the way Go's `time.ParseDuration` reads them: `310s`, `1m30s`, `1.5h`,
//! `500ms`.
//!
//! AliECS reads call timeouts and `auto_stop_timeout` with Go's parser, and writes call timeouts
//! this way on the wire (`events.Traits.timeout`), so values that work in AliECS work here, and
//! values AliECS rejects are rejected here too. The parser lives with the wire schema because
//! both the core and plugin libraries (through `ecsim-plugin-sdk`) read these values.

use std::time::Duration;

/// Parses a Go duration. Negative durations are refused: nothing in ecsim can wait a negative
/// time. Returns `None` for anything Go would not accept.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Some(Duration::ZERO);
    }
    if text.is_empty() || text.starts_with('-') {
        return None;
    }
    let mut rest = text;
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total_nanos += value * nanos_per_unit;
    }
    (total_nanos <= u64::MAX as f64).then(|| Duration::from_nanos(total_nanos.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_go_reads() {
        let cases = [
            ("310s", Duration::from_secs(310)),
            ("5s", Duration::from_secs(5)),
            ("1m", Duration::from_secs(60)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5h", Duration::from_secs(5400)),
            ("2h45m", Duration::from_secs(9900)),
            ("500ms", Duration::from_millis(500)),
            ("10us", Duration::from_micros(10)),
            ("10µs", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("0", Duration::ZERO),
            ("+3s", Duration::from_secs(3)),
            (".5s", Duration::from_millis(500)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_go_duration(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses_and_negative_durations() {
        for text in [
            "", "5", "s", "1d", "1.2.3s", "5 s", "-5s", "1m-3s", "..s", "tomorrow",
        ] {
            assert_eq!(parse_go_duration(text), None, "{text:?}");
        }
    }
}
