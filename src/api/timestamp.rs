//! Timestamps of query parameters (`since`, `until` of logs and events) as the Engine API
//! takes them: Unix seconds with an optional fraction (`1700000000`, `1700000000.5`), which
//! is what clients send after turning `10m` or an RFC 3339 date into it.

use chrono::{DateTime, Utc};

/// A value that is not Unix seconds.
#[derive(Debug, thiserror::Error)]
#[error("invalid value for {name}: {value:?} is not a Unix timestamp (seconds[.fraction])")]
pub struct TimestampError {
    pub name: String,
    pub value: String,
}

/// Parses parameter `name`'s `value`; None for an empty value (no bound).
pub fn parse(name: &str, value: &str) -> Result<Option<DateTime<Utc>>, TimestampError> {
    let err = || TimestampError { name: name.to_owned(), value: value.to_owned() };
    if value.is_empty() {
        return Ok(None);
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = secs.parse().map_err(|_| err())?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    // The fraction's digits are the leading digits of the nanoseconds.
    let nanos: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| err())? };
    DateTime::from_timestamp(secs, nanos).map(Some).ok_or_else(err)
}

/// Go's `time.ParseDuration`, in nanoseconds ("1h30m", "1.5s", "300ms").
pub fn go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() || rest == "0" {
        return (rest == "0").then_some(0);
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(if neg { -(total as i128) } else { total as i128 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_with_a_fraction_parse_and_anything_else_is_refused() {
        let t = parse("since", "1700000000.5").ok().flatten().expect("timestamp");
        assert_eq!(t.timestamp(), 1_700_000_000);
        assert_eq!(t.timestamp_subsec_nanos(), 500_000_000);
        assert_eq!(parse("since", "1700000000").ok().flatten().map(|t| t.timestamp()), Some(1_700_000_000));
        assert!(parse("until", "").is_ok_and(|t| t.is_none()));
        for bad in ["abc", "10m", "2023-01-01T00:00:00Z", "1.2.3", "1.x", "1.0000000001"] {
            assert!(parse("since", bad).is_err(), "{bad} accepted");
        }
    }
}
