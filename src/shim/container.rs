//! A container the shim serves: its bundle, its runtime, its init and exec processes, and
//! the runtime options of its CreateTask request (runc's `Options`, or a config file).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::shim::oci::Options;
use serde::Deserialize;

use super::process::Process;
use super::runtime::{OciRuntime, RuntimeConfig};
use super::ShimError;

/// One container: its init and its exec processes.
pub(super) struct Container {
    pub bundle: PathBuf,
    pub runtime: Arc<dyn OciRuntime>,
    /// The shim mounted the rootfs from the request (and unmounts it on delete).
    pub rootfs_mounted: bool,
    pub init: Process,
    pub execs: HashMap<String, Process>,
}

impl Container {
    /// The init (`exec_id` empty) or an exec process.
    pub(super) fn process(&mut self, exec_id: &str) -> Option<&mut Process> {
        if exec_id.is_empty() {
            Some(&mut self.init)
        } else {
            self.execs.get_mut(exec_id)
        }
    }
}

/// Checks an exec id is usable in a file name.
pub(super) fn check_exec_id(exec_id: &str) -> Result<(), ShimError> {
    if exec_id.is_empty() || exec_id.len() > 128 || exec_id.contains('/') || exec_id.starts_with('.') {
        return Err(ShimError::Invalid(format!("exec id {exec_id:?}")));
    }
    Ok(())
}

/// `runtimeoptions.v1.Options` (what `ctr --runtime-config-path` sends): field 2 is the path.
#[derive(Clone, PartialEq, prost::Message)]
struct RuntimeOptionsV1 {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(string, tag = "2")]
    config_path: String,
}

/// runc's options as a TOML file (containerd's `runtime_config_path`), with the key
/// spellings containerd's configs use.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OptionsFile {
    #[serde(rename = "BinaryName", alias = "binary_name")]
    binary_name: Option<String>,
    #[serde(rename = "Root", alias = "root")]
    root: Option<String>,
    #[serde(rename = "SystemdCgroup", alias = "systemd_cgroup")]
    systemd_cgroup: Option<bool>,
    #[serde(rename = "NoPivotRoot", alias = "no_pivot_root")]
    no_pivot_root: Option<bool>,
    #[serde(rename = "NoNewKeyring", alias = "no_new_keyring")]
    no_new_keyring: Option<bool>,
    #[serde(rename = "ShimCgroup", alias = "shim_cgroup")]
    shim_cgroup: Option<String>,
    #[serde(rename = "IoUid", alias = "io_uid")]
    io_uid: Option<u32>,
    #[serde(rename = "IoGid", alias = "io_gid")]
    io_gid: Option<u32>,
    #[serde(rename = "CriuPath", alias = "criu_path")]
    criu_path: Option<String>,
    #[serde(rename = "CriuImagePath", alias = "criu_image_path")]
    criu_image_path: Option<String>,
    #[serde(rename = "CriuWorkPath", alias = "criu_work_path")]
    criu_work_path: Option<String>,
}

/// The options berth's shim does not implement, by name, when set to anything but their
/// default: a container asked for them must not be created without them.
fn refuse_unsupported(set: &[(&str, bool)]) -> Result<(), ShimError> {
    let named: Vec<&str> = set.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect();
    if named.is_empty() {
        return Ok(());
    }
    Err(ShimError::Invalid(format!("runtime options not supported by berth-shim: {}", named.join(", "))))
}

fn read_options_file(path: &Path, cfg: &mut RuntimeConfig) -> Result<(), ShimError> {
    let text = std::fs::read_to_string(path).map_err(|e| ShimError::io("read runtime config", path, e))?;
    let f: OptionsFile =
        toml::from_str(&text).map_err(|e| ShimError::Invalid(format!("runtime config {}: {}", path.display(), e.to_string().trim_end())))?;
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    refuse_unsupported(&[
        ("SystemdCgroup", f.systemd_cgroup == Some(true)),
        ("NoPivotRoot", f.no_pivot_root == Some(true)),
        ("NoNewKeyring", f.no_new_keyring == Some(true)),
        ("ShimCgroup", set(&f.shim_cgroup)),
        ("IoUid", f.io_uid.is_some_and(|u| u != 0)),
        ("IoGid", f.io_gid.is_some_and(|g| g != 0)),
        ("CriuPath", set(&f.criu_path)),
        ("CriuImagePath", set(&f.criu_image_path)),
        ("CriuWorkPath", set(&f.criu_work_path)),
    ])?;
    if let Some(b) = f.binary_name.filter(|b| !b.is_empty()) {
        cfg.binary_name = b;
    }
    if let Some(r) = f.root.filter(|r| !r.is_empty()) {
        cfg.root = PathBuf::from(r);
    }
    Ok(())
}

fn apply_runc_options(o: &Options, cfg: &mut RuntimeConfig) -> Result<(), ShimError> {
    refuse_unsupported(&[
        ("systemd_cgroup", o.systemd_cgroup),
        ("no_pivot_root", o.no_pivot_root),
        ("no_new_keyring", o.no_new_keyring),
        ("shim_cgroup", !o.shim_cgroup.is_empty()),
        ("io_uid", o.io_uid != 0),
        ("io_gid", o.io_gid != 0),
        ("criu_image_path", !o.criu_image_path.is_empty()),
        ("criu_work_path", !o.criu_work_path.is_empty()),
        ("task_api_address", !o.task_api_address.is_empty()),
        ("fields of a newer or older Options (unknown to berth)", o.special_fields.unknown_fields().iter().next().is_some()),
    ])?;
    if !o.binary_name.is_empty() {
        cfg.binary_name = o.binary_name.clone();
    }
    if !o.root.is_empty() {
        cfg.root = PathBuf::from(&o.root);
    }
    Ok(())
}

/// The runtime binary and root a CreateTask request asks for (defaults: berth-runtime under
/// `/run/berth/runtime/<namespace>`). Options berth cannot honour are refused by name.
pub(super) fn runtime_config(ns: &str, options: &MessageField<Any>) -> Result<RuntimeConfig, ShimError> {
    let mut cfg = RuntimeConfig { binary_name: String::new(), root: PathBuf::from(format!("/run/berth/runtime/{ns}")) };
    let Some(any) = options.as_ref() else { return Ok(cfg) };
    if any.type_url.ends_with("containerd.runc.v1.Options") {
        let o = Options::parse_from_bytes(&any.value).map_err(|e| ShimError::Invalid(format!("options {}: {e}", any.type_url)))?;
        apply_runc_options(&o, &mut cfg)?;
    } else if any.type_url.ends_with("runtimeoptions.v1.Options") {
        let o = <RuntimeOptionsV1 as prost::Message>::decode(any.value.as_slice())
            .map_err(|e| ShimError::Invalid(format!("options {}: {e}", any.type_url)))?;
        if !o.config_path.is_empty() {
            read_options_file(Path::new(&o.config_path), &mut cfg)?;
        }
    } else if !any.type_url.is_empty() {
        return Err(ShimError::Invalid(format!("task options of type {} are not supported by berth-shim", any.type_url)));
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runc_options(o: &Options) -> MessageField<Any> {
        let mut any = Any::new();
        any.type_url = "containerd.runc.v1.Options".into();
        any.value = o.write_to_bytes().expect("encode");
        MessageField::some(any)
    }

    #[test]
    fn runc_options_set_binary_and_root_and_unsupported_ones_are_refused_by_name() {
        let mut o = Options::new();
        o.binary_name = "/usr/sbin/runc".into();
        o.root = "/run/x".into();
        let cfg = runtime_config("ns", &runc_options(&o)).expect("binary and root");
        assert_eq!((cfg.binary_name.as_str(), cfg.root.as_path()), ("/usr/sbin/runc", Path::new("/run/x")));
        o.systemd_cgroup = true;
        o.io_uid = 1000;
        let e = runtime_config("ns", &runc_options(&o)).expect_err("refused").to_string();
        assert!(e.contains("systemd_cgroup") && e.contains("io_uid"), "{e}");
        let defaults = runtime_config("ns", &MessageField::none()).expect("no options");
        assert_eq!(defaults.root, PathBuf::from("/run/berth/runtime/ns"));
    }

    #[test]
    fn a_runtime_config_file_is_read_as_toml_and_unknown_keys_are_refused() {
        let dir = crate::util::TestDir::new("shim-opts");
        let file = dir.path().join("runc.toml");
        let read = |text: &str| {
            std::fs::write(&file, text).expect("write");
            let mut cfg = RuntimeConfig { binary_name: String::new(), root: PathBuf::from("/r") };
            read_options_file(&file, &mut cfg).map(|()| cfg)
        };
        let cfg = read("BinaryName = \"/usr/bin/crun\" # comment\nRoot = \"/run/crun\"\nSystemdCgroup = false\n").expect("valid");
        assert_eq!((cfg.binary_name.as_str(), cfg.root.as_path()), ("/usr/bin/crun", Path::new("/run/crun")));
        let e = read("SystemdCgroup = true\n").expect_err("systemd cgroups").to_string();
        assert!(e.contains("SystemdCgroup"), "{e}");
        let e = read("Bogus = 1\n").expect_err("unknown key").to_string();
        assert!(e.contains("Bogus"), "{e}");
        let e = read("BinaryName = \"a\" = \"b\"\n").expect_err("bad toml").to_string();
        assert!(e.contains("runc.toml"), "{e}");
    }

    #[test]
    fn exec_ids_must_be_file_names() {
        for bad in ["", "a/b", ".hidden", &"x".repeat(129)] {
            assert!(check_exec_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_exec_id("exec-1").is_ok());
    }
}
