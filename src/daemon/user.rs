//! A container's `User` as Docker resolves it (runc's libcontainer/user rules): `uid`,
//! `uid:gid`, `name`, `name:group` (either part a name or a number) against the container's
//! own `/etc/passwd` and `/etc/group`, read through the in-rootfs resolver, so a link in the
//! image cannot point the lookup at the host's files.

use std::io::Read;
use std::path::Path;

use crate::inroot::InRoot;

/// Who the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: those of /etc/group that list the user, when no group was named.
    pub additional_gids: Vec<u32>,
    /// The user's home (`HOME` unless the environment sets it): from passwd, else `/`.
    pub home: String,
}

/// Errors of user resolution, in Docker's words.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A name that the container's passwd does not have.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    /// A name that the container's group file does not have.
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    /// The container's passwd or group file could not be read.
    #[error("reading {path} in the container: {source}")]
    Read { path: &'static str, source: std::io::Error },
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4).then_some(())?;
        Some(PasswdEntry { name: f[0], uid: f[2].trim().parse().ok()?, gid: f[3].trim().parse().ok()?, home: f.get(5).copied().unwrap_or("") })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3).then_some(())?;
        let members = f.get(3).map(|m| m.split(',').map(str::trim).filter(|m| !m.is_empty()).collect()).unwrap_or_default();
        Some(GroupEntry { name: f[0], gid: f[2].trim().parse().ok()?, members })
    })
}

/// Resolves `spec` against the texts of passwd and group (None: the file is absent).
pub fn resolve_in(passwd: Option<&str>, group: Option<&str>, spec: &str) -> Result<ExecUser, UserError> {
    let mut user = ExecUser { uid: 0, gid: 0, additional_gids: Vec::new(), home: "/".into() };
    if spec.is_empty() {
        // Docker's default user is root, whose passwd entry gives the home.
        if let Some(e) = passwd.into_iter().flat_map(passwd_entries).find(|e| e.uid == 0) {
            user.home = e.home.to_owned();
        }
        return Ok(user);
    }
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    // A name or number that passwd has; else a number as given; else an error.
    let entry = passwd.into_iter().flat_map(passwd_entries).find(|e| e.name == user_part || e.uid.to_string() == user_part);
    let mut name = None;
    match (entry, user_part.parse::<u32>()) {
        (Some(e), _) => {
            (user.uid, user.gid, user.home, name) = (e.uid, e.gid, e.home.to_owned(), Some(e.name.to_owned()));
        }
        (None, Ok(uid)) => user.uid = uid,
        (None, Err(_)) => return Err(UserError::NoUser(user_part.to_owned())),
    }
    match group_part {
        Some(g) => {
            let found = group.into_iter().flat_map(group_entries).find(|e| e.name == g || e.gid.to_string() == g);
            user.gid = match (found, g.parse::<u32>()) {
                (Some(e), _) => e.gid,
                (None, Ok(gid)) => gid,
                (None, Err(_)) => return Err(UserError::NoGroup(g.to_owned())),
            };
        }
        None => {
            if let Some(n) = &name {
                user.additional_gids = group.into_iter().flat_map(group_entries).filter(|e| e.members.contains(&n.as_str())).map(|e| e.gid).collect();
            }
        }
    }
    if user.home.is_empty() {
        user.home = "/".into();
    }
    Ok(user)
}

/// The gids of `groups` (`GroupAdd`) against the text of the group file (None: absent), as
/// runc's `GetAdditionalGroups`: an entry is a group's name or gid, else a number as given.
pub fn additional_groups_in(group: Option<&str>, groups: &[String]) -> Result<Vec<u32>, UserError> {
    groups
        .iter()
        .map(|g| {
            let found = group.into_iter().flat_map(group_entries).find(|e| e.name == g || e.gid.to_string() == *g);
            match (found, g.parse::<u32>()) {
                (Some(e), _) => Ok(e.gid),
                (None, Ok(gid)) => Ok(gid),
                (None, Err(_)) => Err(UserError::NoGroup(g.clone())),
            }
        })
        .collect()
}

/// Adds the groups of `GroupAdd` to `user`'s supplementary groups, resolved in the
/// container whose root filesystem is `root`; each gid once.
pub fn add_groups(root: &InRoot, user: &mut ExecUser, groups: &[String]) -> Result<(), UserError> {
    if groups.is_empty() {
        return Ok(());
    }
    let group = read_in(root, "/etc/group")?;
    for gid in additional_groups_in(group.as_deref(), groups)? {
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(())
}

/// Reads `path` inside the container's root; None when it is not there.
fn read_in(root: &InRoot, path: &'static str) -> Result<Option<String>, UserError> {
    match root.open_read(Path::new(path)) {
        Ok(mut f) => {
            let mut s = String::new();
            f.read_to_string(&mut s).map_err(|source| UserError::Read { path, source })?;
            Ok(Some(s))
        }
        Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(None),
        Err(e) => Err(UserError::Read { path, source: std::io::Error::other(e.to_string()) }),
    }
}

/// Resolves `spec` in the container whose root filesystem is `root`.
pub fn resolve(root: &InRoot, spec: &str) -> Result<ExecUser, UserError> {
    let passwd = read_in(root, "/etc/passwd")?;
    let group = read_in(root, "/etc/group")?;
    resolve_in(passwd.as_deref(), group.as_deref(), spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\nalice:x:1000:\naudio:x:29:alice,bob\nvideo:x:44:bob\n";

    fn r(spec: &str) -> Result<ExecUser, UserError> {
        resolve_in(Some(PASSWD), Some(GROUP), spec)
    }

    #[test]
    fn users_resolve_by_name_or_number_with_dockers_rules() {
        let root = r("").expect("default");
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        let alice = r("alice").expect("name");
        assert_eq!((alice.uid, alice.gid, alice.additional_gids.clone(), alice.home.as_str()), (1000, 1000, vec![29], "/home/alice"));
        assert_eq!(r("1000").expect("a number passwd has").home, "/home/alice");
        let n = r("1234:5678").expect("numbers passwd lacks");
        assert_eq!((n.uid, n.gid, n.additional_gids.is_empty(), n.home.as_str()), (1234, 5678, true, "/"));
        assert_eq!(r("1234").expect("uid only").gid, 0);
        let g = r("alice:video").expect("name:group");
        assert_eq!((g.uid, g.gid, g.additional_gids.is_empty()), (1000, 44, true), "a named group means no supplementary ones");
        assert_eq!(r("nobody:100").expect("name:number").gid, 100);
        assert!(matches!(r("mallory"), Err(UserError::NoUser(u)) if u == "mallory"));
        assert!(matches!(r("alice:nosuch"), Err(UserError::NoGroup(g)) if g == "nosuch"));
        assert_eq!(resolve_in(None, None, "7:8").expect("no files, numbers").uid, 7);
        assert!(resolve_in(None, None, "alice").is_err(), "a name without a passwd file");
    }

    #[test]
    fn added_groups_resolve_by_name_or_number() {
        let g = |names: &[&str]| additional_groups_in(Some(GROUP), &names.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(g(&["audio", "44", "1234"]).expect("resolved"), [29, 44, 1234]);
        assert!(matches!(g(&["nosuch"]), Err(UserError::NoGroup(n)) if n == "nosuch"));
        assert_eq!(additional_groups_in(None, &["7".to_owned()]).expect("no group file"), [7]);
    }

    #[test]
    fn a_passwd_that_links_out_of_the_root_is_not_read() {
        let dir = crate::util::TestDir::new("user-link");
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).expect("mkdir");
        let host = dir.path().join("host-passwd");
        std::fs::write(&host, "mallory:x:4242:4242::/evil:/bin/sh\n").expect("write");
        // An absolute link: resolved inside the root, where it names nothing.
        std::os::unix::fs::symlink(&host, rootfs.join("etc/passwd")).expect("symlink");
        let root = InRoot::open(&rootfs).expect("open root");
        assert!(matches!(resolve(&root, "mallory"), Err(UserError::NoUser(_))), "the host file was read through the link");
    }
}
