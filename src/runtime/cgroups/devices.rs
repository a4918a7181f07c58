//! The v1 device cgroup rules of a container: linux.resources.devices in order, then runc's
//! always-allowed devices. The nodes of linux.devices get no access of their own (as with
//! runc): what may use them is the rules' say, so `--device X:Y:r` stays read-only.
//! (v2 needs an eBPF program: not done yet.)

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

/// Devices every container may use whatever the rules say (runc's list): mknod of any, and
/// null, zero, full, random, urandom, tty, console, ptmx, the pts, tun.
const ALWAYS: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

/// (allow, rule) writes for devices.allow / devices.deny, in order; empty when
/// linux.resources has no device rules (the cgroup keeps what it inherits).
pub fn v1_rules(res: &LinuxResources) -> Vec<(bool, String)> {
    let Some(rules) = res.devices().as_ref().filter(|r| !r.is_empty()) else { return Vec::new() };
    let mut out: Vec<(bool, String)> = rules.iter().map(|r| (r.allow(), device_rule(r))).collect();
    out.extend(ALWAYS.iter().map(|r| (true, (*r).to_owned())));
    out
}

/// A device rule in the v1 devices.allow/deny syntax ("c 1:3 rwm", "a").
fn device_rule(r: &LinuxDeviceCgroup) -> String {
    let t = match r.typ() {
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        _ => 'a',
    };
    let access = r.access().clone().unwrap_or_else(|| "rwm".into());
    if t == 'a' && r.major().is_none() && r.minor().is_none() {
        // "a" alone means every device with every access.
        return "a".into();
    }
    let num = |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n.to_string()).unwrap_or_else(|| "*".into());
    format!("{t} {}:{} {access}", num(r.major()), num(r.minor()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_come_in_config_order_then_the_standard_devices() {
        let res: LinuxResources = serde_json::from_value(json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 4, "access": "rw"},
        ]}))
        .expect("resources");
        let rules = v1_rules(&res);
        assert_eq!(rules[0], (false, "a".to_owned()));
        assert_eq!(rules[1], (true, "c 4:* rw".to_owned()));
        assert_eq!(rules[2], (true, "c *:* m".to_owned()));
        assert_eq!(rules.last(), Some(&(true, "c 10:200 rwm".to_owned())), "no rule of its own for a linux.devices node");
        assert!(v1_rules(&LinuxResources::default()).is_empty());
    }
}
