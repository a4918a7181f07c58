//! `features`: what this runtime implements, in the JSON shape of runc's `features`
//! (opencontainers/runtime-spec features.md), for engines that probe it.

use serde_json::{json, Value};

/// The features document.
pub fn features() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime",
            "nodev", "nodiratime", "noexec", "nosuid", "private", "rbind", "relatime", "remount", "ro",
            "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime",
            "suid", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": super::capabilities::NAMES.iter().map(|n| format!("CAP_{n}")).collect::<Vec<_>>(),
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false },
            "seccomp": {
                "enabled": super::seccomp::ENABLED,
                "actions": super::seccomp::ACTIONS,
                "operators": super::seccomp::OPERATORS,
                "archs": super::seccomp::ARCHS,
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false }
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.linux.exec": "true",
            "io.github.berth.runtime.version": env!("CARGO_PKG_VERSION")
        }
    })
}
