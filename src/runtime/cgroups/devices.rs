//! The device cgroup rules of a container: linux.resources.devices in order, then runc's
//! always-allowed devices. The nodes of linux.devices get no access of their own (as with
//! runc): what may use them is the rules' say, so `--device X:Y:r` stays read-only.
//! cgroup v1 gets them written to devices.allow/deny (each rule's `Display`); cgroup v2 has
//! no devices controller and gets the same list as an eBPF program (see `device_filter`).

use std::fmt;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

/// Which device type a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevType {
    /// Every device ("a").
    All,
    /// Block devices ("b").
    Block,
    /// Character devices ("c").
    Char,
}

/// One rule of the device cgroup, in the order it is applied (a later rule wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    /// Allow (true) or deny the access.
    pub allow: bool,
    /// Device type the rule covers.
    pub typ: DevType,
    /// Major number; `None` for any.
    pub major: Option<i64>,
    /// Minor number; `None` for any.
    pub minor: Option<i64>,
    /// Access letters from r, w, m (as written in the spec; checked where used).
    pub access: String,
}

/// Devices every container may use whatever the rules say (runc's list): mknod of any, and
/// null, zero, full, random, urandom, tty, console, ptmx, the pts, tun.
const ALWAYS: &[(DevType, Option<i64>, Option<i64>, &str)] = &[
    (DevType::Char, None, None, "m"),
    (DevType::Block, None, None, "m"),
    (DevType::Char, Some(1), Some(3), "rwm"),
    (DevType::Char, Some(1), Some(5), "rwm"),
    (DevType::Char, Some(1), Some(7), "rwm"),
    (DevType::Char, Some(1), Some(8), "rwm"),
    (DevType::Char, Some(1), Some(9), "rwm"),
    (DevType::Char, Some(5), Some(0), "rwm"),
    (DevType::Char, Some(5), Some(1), "rwm"),
    (DevType::Char, Some(5), Some(2), "rwm"),
    (DevType::Char, Some(136), None, "rwm"),
    (DevType::Char, Some(10), Some(200), "rwm"),
];

/// The container's rules in order: the spec's, then [`ALWAYS`]; empty when linux.resources
/// has no device rules (the cgroup keeps what it inherits).
pub fn rules(res: &LinuxResources) -> Vec<DeviceRule> {
    let Some(spec) = res.devices().as_ref().filter(|r| !r.is_empty()) else { return Vec::new() };
    let mut out: Vec<DeviceRule> = spec.iter().map(from_spec).collect();
    out.extend(ALWAYS.iter().map(|&(typ, major, minor, access)| DeviceRule { allow: true, typ, major, minor, access: access.to_owned() }));
    out
}

fn from_spec(r: &LinuxDeviceCgroup) -> DeviceRule {
    let typ = match r.typ() {
        Some(LinuxDeviceType::B) => DevType::Block,
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => DevType::Char,
        _ => DevType::All,
    };
    // A negative number is the spec's wildcard, as a missing one.
    let num = |n: Option<i64>| n.filter(|n| *n >= 0);
    DeviceRule { allow: r.allow(), typ, major: num(r.major()), minor: num(r.minor()), access: r.access().clone().unwrap_or_else(|| "rwm".into()) }
}

impl DeviceRule {
    /// Whether the rule covers every device with every access (a v1 "a").
    pub fn is_everything(&self) -> bool {
        self.typ == DevType::All && self.major.is_none() && self.minor.is_none() && ["r", "w", "m"].iter().all(|c| self.access.contains(c))
    }
}

/// The v1 devices.allow/deny syntax ("c 1:3 rwm", "a").
impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.typ {
            DevType::All => 'a',
            DevType::Block => 'b',
            DevType::Char => 'c',
        };
        if t == 'a' && self.major.is_none() && self.minor.is_none() {
            // "a" alone means every device with every access.
            return f.write_str("a");
        }
        let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        write!(f, "{t} {}:{} {}", num(self.major), num(self.minor), self.access)
    }
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
        let v1_rules = |res: &LinuxResources| rules(res).into_iter().map(|r| (r.allow, r.to_string())).collect::<Vec<_>>();
        let rules = v1_rules(&res);
        assert_eq!(rules[0], (false, "a".to_owned()));
        assert_eq!(rules[1], (true, "c 4:* rw".to_owned()));
        assert_eq!(rules[2], (true, "c *:* m".to_owned()));
        assert_eq!(rules[3], (true, "b *:* m".to_owned()));
        assert_eq!(rules[12], (true, "c 136:* rwm".to_owned()));
        assert_eq!(rules.last(), Some(&(true, "c 10:200 rwm".to_owned())), "no rule of its own for a linux.devices node");
        assert!(v1_rules(&LinuxResources::default()).is_empty());
    }

    #[test]
    fn only_an_all_rule_with_every_access_covers_everything() {
        let rule = |typ, major, access: &str| DeviceRule { allow: true, typ, major, minor: None, access: access.into() };
        assert!(rule(DevType::All, None, "rwm").is_everything());
        assert!(rule(DevType::All, None, "mrw").is_everything());
        assert!(!rule(DevType::All, None, "rw").is_everything());
        assert!(!rule(DevType::All, Some(1), "rwm").is_everything());
        assert!(!rule(DevType::Char, None, "rwm").is_everything());
    }
}
