//! `kill`: send a signal to a container's init, or to all its processes with `--all`.

use crate::runtime::Runtime;

/// The arguments of `kill`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container id.
    pub id: String,
    /// Signal: a name (`KILL`, `SIGKILL`, `kill`) or a number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Every process of the container.
    #[arg(short, long)]
    pub all: bool,
}

/// Parses `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(s: &str) -> Result<i32, String> {
    crate::units::parse_signal(s).ok_or_else(|| format!("unknown signal {s:?}"))
}

/// Sends the signal.
pub fn run(rt: &Runtime, a: &Args) -> Result<(), String> {
    rt.kill(&a.id, parse_signal(&a.signal)?, a.all).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_parse_by_name_number_and_short_name() {
        assert_eq!(parse_signal("KILL"), Ok(9));
        assert_eq!(parse_signal("SIGKILL"), Ok(9));
        assert_eq!(parse_signal("term"), Ok(15));
        assert_eq!(parse_signal("9"), Ok(9));
        assert!(parse_signal("NOPE").is_err());
    }
}
