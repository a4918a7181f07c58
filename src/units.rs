//! Docker's go-units and signal names, shared by the roles: human durations, signals as
//! users name them (`TERM`, `SIGKILL`, `9`), and sizes as
//! given on command lines (`--memory 64m`, `--log-opt max-size=10m`) parsed like
//! `units.RAMInBytes`: binary multiples, an optional `b` after the unit, case-insensitive.

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let seconds = secs;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = ((seconds as f64) / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", seconds / 3600 / 24 / 365)
}

/// Why a size could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size: '{0}'")]
pub struct InvalidSize(pub String);

/// Parses "64m", "1g", "512k", "1.5G", "64mb", "100" (bytes) into bytes (1k = 1024).
pub fn parse_ram_bytes(s: &str) -> Result<i64, InvalidSize> {
    let err = || InvalidSize(s.to_owned());
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(err());
    }
    let value: f64 = num.parse().map_err(|_| err())?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').filter(|u| !u.is_empty()).unwrap_or(&unit);
    let mult: f64 = match unit {
        "" | "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(err()),
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(err());
    }
    Ok(bytes as i64)
}

/// Parses a signal as users name it: "SIGTERM", "TERM", "term" or "15".
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (n > 0 && n < 65).then_some(n);
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let sig: nix::sys::signal::Signal = format!("SIG{name}").parse().ok()?;
    Some(sig as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_style_sizes() {
        assert_eq!(parse_ram_bytes("64m"), Ok(67_108_864));
        assert_eq!(parse_ram_bytes("1g"), Ok(1_073_741_824));
        assert_eq!(parse_ram_bytes("512k"), Ok(524_288));
        assert_eq!(parse_ram_bytes("100"), Ok(100));
        assert_eq!(parse_ram_bytes("64MB"), Ok(67_108_864));
        assert_eq!(parse_ram_bytes("1.5g"), Ok(1_610_612_736));
        assert_eq!(parse_ram_bytes("10b"), Ok(10));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "m", "abc", "12x", "1.2.3m", "-5m"] {
            assert!(parse_ram_bytes(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
