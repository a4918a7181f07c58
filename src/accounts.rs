//! The host's user and group databases, read from `/etc/passwd` and `/etc/group` as files.
//! glibc's NSS cannot serve the shipped binary: it is static, and NSS modules are shared
//! objects it must not load (with `group: files systemd` in nsswitch.conf, a static berthd
//! crashed in getgrnam_r at start). Names from other sources (LDAP, systemd's dynamic users)
//! are not seen; give a number instead.

use std::path::Path;

/// The gid of group `name` in group-file text (`name:password:gid:members` lines).
pub fn gid_in(text: &str, name: &str) -> Option<u32> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.trim().parse().ok()
    })
}

/// The name of user `uid` in passwd-file text (`name:password:uid:gid:gecos:home:shell`).
pub fn user_in(text: &str, uid: u32) -> Option<String> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[2].trim().parse::<u32>().ok()? == uid).then(|| f[0].to_owned())
    })
}

/// The gid of host group `name` (`/etc/group`).
pub fn host_gid(name: &str) -> Option<u32> {
    gid_in(&std::fs::read_to_string(Path::new("/etc/group")).ok()?, name)
}

/// The name of host user `uid` (`/etc/passwd`).
pub fn host_user(uid: u32) -> Option<String> {
    user_in(&std::fs::read_to_string(Path::new("/etc/passwd")).ok()?, uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_users_are_found_by_their_fields() {
        let group = "# comment\nroot:x:0:\ndocker:x:999:alice,bob\nberth:x:1001:\nbroken\n";
        assert_eq!(gid_in(group, "docker"), Some(999));
        assert_eq!(gid_in(group, "berth"), Some(1001));
        assert_eq!(gid_in(group, "dock"), None, "names match whole");
        assert_eq!(gid_in(group, "broken"), None);
        let passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(user_in(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_in(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_in(passwd, 5), None);
    }
}
