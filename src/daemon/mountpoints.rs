//! A container's mount points as Docker's Linux parser reads them: `HostConfig.Binds`
//! (`-v src:dst[:mode]`) and `HostConfig.Mounts` (`--mount`), with Docker's checks and
//! messages. A bind's source is a host path; a volume's, a volume name (empty: an anonymous
//! volume). Nothing is made here. Volumes are not implemented yet: a mount point of one is
//! refused by name, never dropped.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::Deserialize;

/// What a mount point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bind,
    Volume,
    Tmpfs,
}

impl Kind {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bind => "bind",
            Kind::Volume => "volume",
            Kind::Tmpfs => "tmpfs",
        }
    }
}

/// One parsed mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPoint {
    pub kind: Kind,
    /// A bind's host path (cleaned), a volume's name (empty: anonymous), nothing for tmpfs.
    pub source: String,
    /// The path in the container, cleaned.
    pub destination: String,
    pub rw: bool,
    /// The `-v` mode as given (inspect's `Mode`).
    pub mode: String,
    /// Binds: the propagation (`rprivate` unless given).
    pub propagation: String,
    /// Binds from `--mount`: not recursive.
    pub non_recursive: bool,
    /// Volumes: copy the image's content into a new, empty volume on first use.
    pub copy_data: bool,
    /// Volumes: the driver asked for (empty: local).
    pub driver: String,
    /// Volumes from `--mount`: options and labels for a volume it creates.
    pub driver_options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Tmpfs: the mount's options (`size=`, `mode=`, `ro`).
    pub tmpfs_options: Vec<String>,
    /// A bind from `Binds`: a missing host path is created (`--mount` refuses one).
    pub create_source: bool,
}

/// Docker's refusal of a mount point, in its words.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MountPointError {
    #[error("invalid volume specification: '{0}'")]
    Spec(String),
    #[error("invalid volume specification: '{raw}': {detail}")]
    SpecDetail { raw: String, detail: String },
    #[error("invalid mode: {0}")]
    Mode(String),
    #[error("invalid mount config for type {kind:?}: {detail}")]
    Config { kind: String, detail: String },
    #[error("Duplicate mount point: {0}")]
    Duplicate(String),
    #[error("invalid mount config: {0}")]
    Body(String),
    #[error("{0}")]
    Unsupported(String),
}

const PROPAGATIONS: [&str; 6] = ["private", "rprivate", "slave", "rslave", "shared", "rshared"];
const CONSISTENCIES: [&str; 4] = ["consistent", "cached", "delegated", "default"];

/// Whether `mode` is a valid `-v` mode: comma-separated words, at most one of each group
/// (ro/rw, z/Z, a propagation, nocopy, a consistency).
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for o in mode.split(',') {
        let group = match o {
            "ro" | "rw" => 0,
            "z" | "Z" => 1,
            o if PROPAGATIONS.contains(&o) => 2,
            "nocopy" => 3,
            o if CONSISTENCIES.contains(&o) => 4,
            _ => return false,
        };
        counts[group] += 1;
    }
    counts.iter().all(|c| *c <= 1)
}

/// `path` made absolute-clean as Go's path.Clean does (`/a/./b/../c/` → `/a/c`).
fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => out.push(s.to_str().unwrap_or_default()),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    format!("/{}", out.join("/"))
}

fn config(kind: &str, detail: impl Into<String>) -> MountPointError {
    MountPointError::Config { kind: kind.to_owned(), detail: detail.into() }
}

/// Checks a destination: absolute and not `/`.
fn check_target(kind: &str, target: &str) -> Result<(), MountPointError> {
    if target.is_empty() {
        return Err(config(kind, "field Target must not be empty"));
    }
    if !target.starts_with('/') {
        return Err(config(kind, format!("invalid mount path: '{target}' mount path must be absolute")));
    }
    if clean(target) == "/" {
        return Err(config(kind, "invalid specification: destination can't be '/'"));
    }
    Ok(())
}

/// Parses one `Binds` entry (`-v`): `dst`, `src:dst` or `src:dst:mode`.
pub fn parse_bind(raw: &str) -> Result<MountPoint, MountPointError> {
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    if parts[0].is_empty() {
        return Err(MountPointError::Spec(raw.to_owned()));
    }
    let (source, target, mode) = match parts[..] {
        [dst] => ("", dst, ""),
        // `/foo:rw` names no volume: a destination with a mode.
        [_, m] if valid_mode(m) => return Err(MountPointError::Spec(raw.to_owned())),
        [src, dst] => (src, dst, ""),
        [src, dst, m] => (src, dst, m),
        _ => return Err(MountPointError::Spec(raw.to_owned())),
    };
    if !valid_mode(mode) {
        return Err(MountPointError::Mode(mode.to_owned()));
    }
    let words: Vec<&str> = mode.split(',').filter(|w| !w.is_empty()).collect();
    let kind = if source.starts_with('/') { Kind::Bind } else { Kind::Volume };
    let detail = |e: MountPointError| MountPointError::SpecDetail { raw: raw.to_owned(), detail: e.to_string() };
    check_target(kind.as_str(), target).map_err(detail)?;
    let propagation = words.iter().find(|w| PROPAGATIONS.contains(w)).map(|w| (*w).to_owned());
    if kind == Kind::Volume && propagation.is_some() {
        return Err(detail(config("volume", "field BindOptions must not be specified")));
    }
    let rw = !words.contains(&"ro");
    if kind == Kind::Volume && source.is_empty() && !rw {
        return Err(detail(config("volume", "must not set ReadOnly mode when using anonymous volumes")));
    }
    if kind == Kind::Bind && words.iter().any(|w| *w == "z" || *w == "Z") {
        // SELinux relabelling: berth has no SELinux support to honour it with.
        return Err(MountPointError::Mode(format!("{mode} (SELinux relabelling z/Z is not supported by berth)")));
    }
    Ok(MountPoint {
        kind,
        source: if kind == Kind::Bind { clean(source) } else { source.to_owned() },
        destination: clean(target),
        rw,
        mode: mode.to_owned(),
        propagation: if kind == Kind::Bind { propagation.unwrap_or_else(|| "rprivate".to_owned()) } else { String::new() },
        non_recursive: false,
        copy_data: !words.contains(&"nocopy"),
        driver: String::new(),
        driver_options: BTreeMap::new(),
        labels: BTreeMap::new(),
        tmpfs_options: Vec::new(),
        create_source: kind == Kind::Bind,
    })
}

/// `HostConfig.Mounts[]` as the API sends it; an unknown field is refused by name.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MountSpec {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub consistency: String,
    pub bind_options: Option<BindOptions>,
    pub volume_options: Option<VolumeOptions>,
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// `BindOptions` of a mount.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BindOptions {
    #[serde(default)]
    pub propagation: String,
    #[serde(default)]
    pub non_recursive: bool,
    #[serde(default)]
    pub create_mountpoint: bool,
}

/// `VolumeOptions` of a mount.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VolumeOptions {
    #[serde(default)]
    pub no_copy: bool,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    pub driver_config: Option<DriverConfig>,
    #[serde(default)]
    pub subpath: String,
}

/// `VolumeOptions.DriverConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DriverConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

/// `TmpfsOptions` of a mount.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TmpfsOptions {
    #[serde(default)]
    pub size_bytes: i64,
    #[serde(default)]
    pub mode: u32,
    #[serde(default)]
    pub options: Option<Vec<Vec<String>>>,
}

/// Parses one `Mounts` entry (`--mount`); `exists` says whether a host path exists (a bind
/// of a missing one is refused, unless `CreateMountpoint`).
pub fn parse_mount(value: &serde_json::Value, exists: &dyn Fn(&Path) -> bool) -> Result<MountPoint, MountPointError> {
    let m: MountSpec = serde_json::from_value(value.clone()).map_err(|e| MountPointError::Body(e.to_string()))?;
    let kind = match m.kind.as_str() {
        "bind" => Kind::Bind,
        "volume" => Kind::Volume,
        "tmpfs" => Kind::Tmpfs,
        other => return Err(config(other, "mount type unknown")),
    };
    let k = kind.as_str();
    check_target(k, &m.target)?;
    if !m.consistency.is_empty() && !CONSISTENCIES.contains(&m.consistency.as_str()) {
        return Err(config(k, format!("invalid consistency: {}", m.consistency)));
    }
    let mut mp = MountPoint {
        kind,
        source: String::new(),
        destination: clean(&m.target),
        rw: !m.read_only,
        mode: String::new(),
        propagation: String::new(),
        non_recursive: false,
        copy_data: true,
        driver: String::new(),
        driver_options: BTreeMap::new(),
        labels: BTreeMap::new(),
        tmpfs_options: Vec::new(),
        create_source: false,
    };
    match kind {
        Kind::Bind => {
            if m.volume_options.is_some() {
                return Err(config(k, "field VolumeOptions must not be specified"));
            }
            if m.tmpfs_options.is_some() {
                return Err(config(k, "field TmpfsOptions must not be specified"));
            }
            if m.source.is_empty() {
                return Err(config(k, "field Source must not be empty"));
            }
            if !m.source.starts_with('/') {
                return Err(config(k, format!("invalid mount path: '{}' mount path must be absolute", m.source)));
            }
            let opts = m.bind_options.unwrap_or_default();
            if !opts.propagation.is_empty() && !PROPAGATIONS.contains(&opts.propagation.as_str()) {
                return Err(config(k, format!("invalid propagation mode: {}", opts.propagation)));
            }
            if !opts.create_mountpoint && !exists(Path::new(&m.source)) {
                return Err(config(k, format!("bind source path does not exist: {}", m.source)));
            }
            mp.source = clean(&m.source);
            mp.propagation = if opts.propagation.is_empty() { "rprivate".to_owned() } else { opts.propagation };
            mp.non_recursive = opts.non_recursive;
            mp.create_source = opts.create_mountpoint;
        }
        Kind::Volume => {
            if m.bind_options.is_some() {
                return Err(config(k, "field BindOptions must not be specified"));
            }
            if m.tmpfs_options.is_some() {
                return Err(config(k, "field TmpfsOptions must not be specified"));
            }
            if m.source.is_empty() && m.read_only {
                return Err(config(k, "must not set ReadOnly mode when using anonymous volumes"));
            }
            let opts = m.volume_options.unwrap_or_default();
            if !opts.subpath.is_empty() {
                return Err(config(k, "VolumeOptions.Subpath is not supported by berth"));
            }
            mp.source = m.source;
            mp.copy_data = !opts.no_copy;
            mp.labels = opts.labels.unwrap_or_default();
            if let Some(d) = opts.driver_config {
                mp.driver = d.name;
                mp.driver_options = d.options.unwrap_or_default();
            }
        }
        Kind::Tmpfs => {
            if m.bind_options.is_some() {
                return Err(config(k, "field BindOptions must not be specified"));
            }
            if m.volume_options.is_some() {
                return Err(config(k, "field VolumeOptions must not be specified"));
            }
            if !m.source.is_empty() {
                return Err(config(k, "field Source must not be specified"));
            }
            mp.tmpfs_options = tmpfs_options(m.tmpfs_options.as_ref(), m.read_only).map_err(|d| config(k, d))?;
        }
    }
    Ok(mp)
}

/// A tmpfs mount's options from its `TmpfsOptions`, as Docker converts them (the size in
/// the largest unit that divides it).
fn tmpfs_options(opts: Option<&TmpfsOptions>, read_only: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if read_only {
        out.push("ro".to_owned());
    }
    let Some(o) = opts else { return Ok(out) };
    if o.mode != 0 {
        out.push(format!("mode={:o}", o.mode));
    }
    if o.size_bytes < 0 {
        return Err(format!("invalid tmpfs size: {}", o.size_bytes));
    }
    if o.size_bytes != 0 {
        let (mut size, mut suffix) = (o.size_bytes, "");
        for (s, d) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
            if size % d == 0 {
                size /= d;
                suffix = s;
                break;
            }
        }
        out.push(format!("size={size}{suffix}"));
    }
    for opt in o.options.iter().flatten() {
        match opt.as_slice() {
            [k] if k == "exec" || k == "noexec" => out.push(k.clone()),
            [k, v] if k == "exec" || k == "noexec" => out.push(format!("{k}={v}")),
            [k] | [k, _] => return Err(format!("invalid option: {k}")),
            _ => return Err("invalid option array length".to_owned()),
        }
    }
    Ok(out)
}

/// The mount points `hc` asks for (`Binds`, then `Mounts`), checked; `exists` says whether
/// a `--mount` bind's host path exists.
pub fn of(hc: &crate::api::types::HostConfig, exists: &dyn Fn(&Path) -> bool) -> Result<Vec<MountPoint>, MountPointError> {
    let mut out = Vec::new();
    for raw in hc.binds.iter().flatten() {
        out.push(parse_bind(raw)?);
    }
    for m in hc.mounts.iter().flatten() {
        out.push(parse_mount(m, exists)?);
    }
    if let Some(v) = out.iter().find(|p| p.kind == Kind::Volume) {
        return Err(MountPointError::Unsupported(format!(
            "a volume at {} (named and anonymous volumes are not implemented by berth yet; bind a host directory instead)",
            v.destination
        )));
    }
    check_duplicates(&out)?;
    Ok(out)
}

/// The container's mount points as inspect's and ps's `Mounts` list them (Docker lists
/// binds, volumes and `--mount` tmpfs, not `--tmpfs`), by destination.
pub fn inspect(hc: &crate::api::types::HostConfig) -> Vec<serde_json::Value> {
    let mut points = of(hc, &|_| true).unwrap_or_default();
    points.sort_by(|a, b| a.destination.cmp(&b.destination));
    points
        .iter()
        .map(|p| {
            serde_json::json!({
                "Type": p.kind.as_str(),
                "Source": p.source,
                "Destination": p.destination,
                "Mode": p.mode,
                "RW": p.rw,
                "Propagation": p.propagation,
            })
        })
        .collect()
}

/// Refuses two mount points on one destination, as Docker's create does.
pub fn check_duplicates(points: &[MountPoint]) -> Result<(), MountPointError> {
    let mut seen: Vec<&str> = Vec::new();
    for p in points {
        if seen.contains(&p.destination.as_str()) {
            return Err(MountPointError::Duplicate(p.destination.clone()));
        }
        seen.push(&p.destination);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binds_parse_as_dockers_linux_parser() {
        let b = parse_bind("/srv/x/../y:/data:ro,rshared").expect("bind");
        assert_eq!((b.kind, b.source.as_str(), b.destination.as_str(), b.rw), (Kind::Bind, "/srv/y", "/data", false));
        assert_eq!((b.propagation.as_str(), b.mode.as_str(), b.create_source), ("rshared", "ro,rshared", true));
        let v = parse_bind("db:/var/lib/db:nocopy").expect("volume");
        assert_eq!((v.kind, v.source.as_str(), v.rw, v.copy_data), (Kind::Volume, "db", true, false));
        let a = parse_bind("/cache").expect("anonymous");
        assert_eq!((a.kind, a.source.as_str(), a.destination.as_str()), (Kind::Volume, "", "/cache"));
        assert_eq!(parse_bind("/foo:rw"), Err(MountPointError::Spec("/foo:rw".into())));
        assert_eq!(parse_bind(":/x"), Err(MountPointError::Spec(":/x".into())));
        assert_eq!(parse_bind("a:b:c:d"), Err(MountPointError::Spec("a:b:c:d".into())));
        assert_eq!(parse_bind("/a:/b:bogus"), Err(MountPointError::Mode("bogus".into())));
        assert_eq!(parse_bind("/a:/b:ro,rw"), Err(MountPointError::Mode("ro,rw".into())));
        let e = parse_bind("/a:rel").expect_err("relative").to_string();
        assert_eq!(
            e,
            "invalid volume specification: '/a:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert!(parse_bind("/a:/").expect_err("root").to_string().contains("destination can't be '/'"));
        assert!(parse_bind("v:/x:rshared").is_err(), "propagation on a volume");
        assert!(parse_bind("/a:/b:z").is_err(), "SELinux relabelling is refused, not ignored");
    }

    #[test]
    fn mounts_parse_and_refuse_as_dockers() {
        let exists = |p: &Path| p == Path::new("/srv");
        let b = parse_mount(&json!({"Type": "bind", "Source": "/srv", "Target": "/x", "ReadOnly": true, "BindOptions": {"Propagation": "rslave", "NonRecursive": true}}), &exists).expect("bind");
        assert_eq!((b.rw, b.propagation.as_str(), b.non_recursive, b.create_source), (false, "rslave", true, false));
        let e = parse_mount(&json!({"Type": "bind", "Source": "/missing", "Target": "/x"}), &exists).expect_err("missing").to_string();
        assert_eq!(e, "invalid mount config for type \"bind\": bind source path does not exist: /missing");
        let e = parse_mount(&json!({"Type": "bind", "Source": "rel", "Target": "/x"}), &exists).expect_err("relative").to_string();
        assert_eq!(e, "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute");
        let v = parse_mount(
            &json!({"Type": "volume", "Source": "v1", "Target": "/v", "VolumeOptions": {"NoCopy": true, "Labels": {"a": "b"}, "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}}}}),
            &exists,
        )
        .expect("volume");
        assert_eq!((v.source.as_str(), v.copy_data, v.driver.as_str(), v.driver_options.len(), v.labels.len()), ("v1", false, "local", 2, 1));
        let t = parse_mount(&json!({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 448}}), &exists).expect("tmpfs");
        assert_eq!(t.tmpfs_options, ["mode=700", "size=1m"]);
        let bad = [
            json!({"Type": "nfs", "Target": "/x"}),
            json!({"Type": "volume", "Target": "/x", "Bogus": 1}),
            json!({"Type": "volume", "Target": "/x", "ReadOnly": true}),
            json!({"Type": "volume", "Source": "v", "Target": "/x", "BindOptions": {}}),
            json!({"Type": "tmpfs", "Source": "x", "Target": "/x"}),
            json!({"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"Options": [["uid", "1"]]}}),
            json!({"Type": "bind", "Source": "/srv", "Target": "/x", "BindOptions": {"Propagation": "weird"}}),
            json!({"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "a"}}),
        ];
        for b in bad {
            assert!(parse_mount(&b, &exists).is_err(), "{b} accepted");
        }
        let e = parse_mount(&json!({"Type": "volume", "Target": "/x", "Bogus": 1}), &exists).expect_err("unknown").to_string();
        assert!(e.contains("Bogus"), "{e}");
        let pts = [parse_bind("/a:/d").expect("a"), parse_bind("v:/d").expect("v")];
        assert_eq!(check_duplicates(&pts), Err(MountPointError::Duplicate("/d".into())));
    }
}
