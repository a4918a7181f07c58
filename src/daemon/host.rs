//! Facts of the host and of this daemon process that `docker info` reports, read when asked.

/// The host's OS, from /etc/os-release (as dockerd reads it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OsRelease {
    /// `PRETTY_NAME`, e.g. "Debian GNU/Linux 12 (bookworm)".
    pub pretty_name: String,
    /// `VERSION_ID`, e.g. "12".
    pub version_id: String,
}

/// Parses os-release text: `KEY=value` lines, values optionally quoted.
fn parse_os_release(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_owned();
        match k.trim() {
            "PRETTY_NAME" => out.pretty_name = v,
            "VERSION_ID" => out.version_id = v,
            _ => {}
        }
    }
    out
}

/// The host's OS (`/etc/os-release`, else `/usr/lib/os-release`).
pub fn os_release() -> OsRelease {
    let text = std::fs::read_to_string("/etc/os-release").or_else(|_| std::fs::read_to_string("/usr/lib/os-release")).unwrap_or_default();
    let mut os = parse_os_release(&text);
    if os.pretty_name.is_empty() {
        os.pretty_name = "Linux".into();
    }
    os
}

/// Whether the host forwards IPv4 packets (`net.ipv4.ip_forward`).
pub fn ip_forwarding() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|s| s.trim() == "1")
}

/// File descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Threads of this process (what `NGoroutines` stands for here).
pub fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Threads:").and_then(|n| n.trim().parse().ok())))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_values_are_read_with_or_without_quotes() {
        let os = parse_os_release("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID='12'\nID=debian\n");
        assert_eq!(os, OsRelease { pretty_name: "Debian GNU/Linux 12 (bookworm)".into(), version_id: "12".into() });
    }
}
