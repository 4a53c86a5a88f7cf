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

/// Writes a duration as Go's `Duration.String()` does for whole milliseconds: `5s`, `1m30s`,
/// `2m0s`, `1h0m0s`, `500ms`, `1.5s`.
pub fn format_go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        return if millis < 1000 {
            format!("{millis}ms")
        } else {
            format!("{}s", duration.as_secs_f64())
        };
    }
    let secs = duration.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_go_writes() {
        for (secs_ms, text) in [
            ((5, 0), "5s"),
            ((90, 0), "1m30s"),
            ((120, 0), "2m0s"),
            ((3600, 0), "1h0m0s"),
            ((0, 500), "500ms"),
            ((1, 500), "1.5s"),
        ] {
            let duration = Duration::from_secs(secs_ms.0) + Duration::from_millis(secs_ms.1);
            assert_eq!(format_go_duration(duration), text);
            assert_eq!(parse_go_duration(text), Some(duration));
        }
    }

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
