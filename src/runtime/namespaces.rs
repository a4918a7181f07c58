//! Namespaces: which ones `clone` creates, which ones init joins by path, and bringing the
//! loopback interface up in a new network namespace.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::error::RuntimeError;

/// The namespace plan for a container, derived from linux.namespaces.
#[derive(Debug, Clone)]
pub struct NsPlan {
    /// Flags for `clone` (new pid/mnt/uts/ipc/net namespaces).
    pub clone_flags: CloneFlags,
    /// Namespaces init joins with setns (type flag, path).
    pub join: Vec<(CloneFlags, PathBuf)>,
    /// A pid namespace to start init in: setns on a pid namespace only places the caller's
    /// later children, so the creating thread enters it around its clone of init (see
    /// [`PidNsForChildren`]).
    pub join_pid: Option<PathBuf>,
    /// init unshares a cgroup namespace after the parent moved it into its cgroup.
    pub new_cgroup: bool,
}

impl NsPlan {
    /// Reads linux.namespaces; refuses what this runtime cannot do yet.
    pub fn from_spec(id: &str, spec: &Spec) -> Result<Self, RuntimeError> {
        let mut plan = NsPlan { clone_flags: CloneFlags::empty(), join: Vec::new(), join_pid: None, new_cgroup: false };
        let Some(nss) = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()) else {
            return Ok(plan);
        };
        for ns in nss {
            let typ = ns.typ();
            let flag = match typ {
                LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
                LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
                LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
                LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
                LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
                LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
                LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
                LinuxNamespaceType::Time => {
                    return Err(RuntimeError::Unsupported(format!("container {id}: time namespaces")));
                }
            };
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => {
                    if typ == LinuxNamespaceType::Pid {
                        plan.join_pid = Some(p.clone());
                    } else if typ == LinuxNamespaceType::User {
                        // Joined first: the other namespaces' permissions are judged in it.
                        plan.join.insert(0, (flag, p.clone()));
                    } else {
                        plan.join.push((flag, p.clone()));
                    }
                }
                _ if typ == LinuxNamespaceType::Cgroup => plan.new_cgroup = true,
                _ => plan.clone_flags |= flag,
            }
        }
        Ok(plan)
    }
}

/// Joins the namespace at `path` (init, which is single-threaded; or, for a pid namespace,
/// the creating thread through [`PidNsForChildren`]).
pub fn join(id: &str, flag: CloneFlags, path: &std::path::Path) -> Result<(), RuntimeError> {
    let f = std::fs::File::open(path).map_err(|e| RuntimeError::io(id, "open namespace", path, e))?;
    nix::sched::setns(f, flag).map_err(|e| RuntimeError::sys(id, format!("setns {}", path.display()), e))
}

/// While alive, the children the calling thread creates start in another pid namespace:
/// setns on a pid namespace changes only the calling thread's namespace for children (its
/// own stays), so this is safe in a multi-threaded creator. Dropping returns the thread to
/// its own.
pub struct PidNsForChildren {
    id: String,
    own: std::fs::File,
}

impl PidNsForChildren {
    /// Enters the pid namespace at `path` for the calling thread's next children.
    pub fn enter(id: &str, path: &std::path::Path) -> Result<Self, RuntimeError> {
        let own_path = std::path::Path::new("/proc/thread-self/ns/pid");
        let own = std::fs::File::open(own_path).map_err(|e| RuntimeError::io(id, "open namespace", own_path, e))?;
        join(id, CloneFlags::CLONE_NEWPID, path)?;
        Ok(PidNsForChildren { id: id.into(), own })
    }
}

impl Drop for PidNsForChildren {
    fn drop(&mut self) {
        // The thread's own (active) pid namespace is always one it may enter.
        if let Err(e) = nix::sched::setns(&self.own, CloneFlags::CLONE_NEWPID) {
            tracing::warn!(container = self.id.as_str(), "returning to the creator's pid namespace: {e}");
        }
    }
}

/// Brings `lo` up in the current network namespace (SIOCGIFFLAGS then SIOCSIFFLAGS).
pub fn loopback_up(id: &str) -> Result<(), RuntimeError> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock =
        socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).map_err(|e| RuntimeError::sys(id, "socket(AF_INET)", e))?;
    // SAFETY: ifreq is a plain C struct for which all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: the socket fd is open for the duration of the call and `ifr` is a valid,
    // NUL-terminated ifreq the kernel reads and writes in place.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) };
    if r < 0 {
        return Err(RuntimeError::sys(id, "ioctl(SIOCGIFFLAGS, lo)", nix::errno::Errno::last()));
    }
    // SAFETY: SIOCGIFFLAGS filled the ifru_flags member of the union.
    unsafe { ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; the kernel only reads `ifr`.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) };
    if r < 0 {
        return Err(RuntimeError::sys(id, "ioctl(SIOCSIFFLAGS, lo)", nix::errno::Errno::last()));
    }
    Ok(())
}

/// Writes linux.uidMappings/gidMappings for `pid`, which sits in a new user namespace
/// waiting for them (the parent, root in the initial namespace, may map any ids).
pub fn write_id_maps(id: &str, pid: i32, spec: &Spec) -> Result<(), RuntimeError> {
    let linux = spec.linux().as_ref();
    let fmt = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.into_iter().flatten().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect::<String>()
    };
    for (file, text) in
        [("uid_map", fmt(linux.and_then(|l| l.uid_mappings().as_ref()))), ("gid_map", fmt(linux.and_then(|l| l.gid_mappings().as_ref())))]
    {
        if text.is_empty() {
            return Err(RuntimeError::InvalidSpec {
                id: id.into(),
                reason: format!("a new user namespace needs linux.{}", if file == "uid_map" { "uidMappings" } else { "gidMappings" }),
            });
        }
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, text).map_err(|e| RuntimeError::io(id, "write id map", &path, e))?;
    }
    Ok(())
}
