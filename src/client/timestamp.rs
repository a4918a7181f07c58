//! The docker CLI's reading of `--since`/`--until` (`timetypes.GetTimestamp`): a Go
//! duration ("10m", "1h30m") is that long before now, an RFC 3339 time or date is that
//! moment, anything else is sent as written (Unix seconds). The daemon receives whole
//! seconds for a duration, "seconds.nanoseconds" for a time.

use crate::client::error::ClientError;

/// What the daemon gets for a `--since`/`--until` value given at Unix time `now_nanos`.
pub fn api_timestamp(value: &str, now_nanos: i128) -> Result<String, ClientError> {
    if value.is_empty() {
        return Ok(String::new());
    }
    // "0" is Unix time 0, not a zero duration (as docker's GetTimestamp reads it); a
    // duration back from now is sent as whole Unix seconds, as docker's is.
    if let Some(d) = crate::api::timestamp::go_duration(value).filter(|_| value != "0") {
        return Ok((now_nanos - d).div_euclid(1_000_000_000).to_string());
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc).naive_utc())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default()));
    if let Ok(t) = parsed {
        return Ok(secs_nanos(t.and_utc().timestamp_nanos_opt().unwrap_or(0) as i128));
    }
    // Unix seconds with an optional fraction pass through; anything else is an error here,
    // as the daemon would refuse it anyway.
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    if !secs.is_empty() && secs.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(value.to_owned());
    }
    Err(ClientError::Invalid(format!("invalid value {value:?}: neither a duration (e.g. \"10m\"), an RFC 3339 time nor Unix seconds")))
}

fn secs_nanos(n: i128) -> String {
    format!("{}.{:09}", n.div_euclid(1_000_000_000), n.rem_euclid(1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_count_back_from_now_and_times_are_absolute() {
        let now = 1_700_000_000_500_000_000i128;
        assert_eq!(api_timestamp("10m", now).ok().as_deref(), Some("1699999400"));
        assert_eq!(api_timestamp("1h30m", now).ok().as_deref(), Some("1699994600"));
        assert_eq!(api_timestamp("2023-11-14T22:13:20Z", now).ok().as_deref(), Some("1700000000.000000000"));
        assert_eq!(api_timestamp("2023-11-14", now).ok().as_deref(), Some("1699920000.000000000"));
        assert_eq!(api_timestamp("1700000000.25", now).ok().as_deref(), Some("1700000000.25"));
        assert!(api_timestamp("yesterday", now).is_err());
        assert!(api_timestamp("10x", now).is_err());
        assert_eq!(api_timestamp("0", now).ok().as_deref(), Some("0"));
    }
}
