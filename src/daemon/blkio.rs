//! Block I/O limits of a container (`--blkio-weight`, `--blkio-weight-device`,
//! `--device-read-bps`, `--device-write-bps`, `--device-read-iops`, `--device-write-iops`)
//! as `linux.resources.blockIO`. Devices are named by host path and turned into major:minor
//! as Docker does. Where Docker warns and discards a limit the host's cgroups cannot apply
//! (a weight without a proportional I/O scheduler), berth refuses it by name: a container
//! asked to be limited must not run unlimited.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;

use serde_json::{json, Map, Value};

use crate::api::types::{HostConfig, ThrottleDevice};
use crate::runtime::cgroups::support::Support;

/// The block devices a path names: (major, minor).
fn block_device(field: &str, path: &str) -> Result<(u64, u64), String> {
    let md = std::fs::metadata(path).map_err(|e| format!("invalid HostConfig.{field}: {path}: {e}"))?;
    if !md.file_type().is_block_device() {
        return Err(format!("invalid HostConfig.{field}: {path} is not a block device"));
    }
    let rdev = md.rdev();
    Ok((nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)))
}

fn weight_ok(field: &str, w: u16) -> Result<(), String> {
    if (10..=1000).contains(&w) {
        Ok(())
    } else {
        Err(format!("invalid HostConfig.{field}: {w}: the range of blkio weight is from 10 to 1000"))
    }
}

fn unsupported(field: &str, what: &str) -> String {
    format!("HostConfig.{field}: this host's cgroups cannot apply a {what} (Docker would discard it; berth refuses rather than run the container without it)")
}

/// `linux.resources.blockIO` for `hc`, or None when it asks for no block I/O limit;
/// `support` says what the host's cgroups can apply.
pub fn block_io(hc: &HostConfig, support: &Support) -> Result<Option<Value>, String> {
    let mut out = Map::new();
    if hc.blkio_weight != 0 {
        weight_ok("BlkioWeight", hc.blkio_weight)?;
        if !support.blkio_weight {
            return Err(unsupported("BlkioWeight", "block I/O weight"));
        }
        out.insert("weight".into(), json!(hc.blkio_weight));
    }
    let weights = hc.blkio_weight_device.as_deref().unwrap_or_default();
    if !weights.is_empty() {
        if !support.blkio_weight_device {
            return Err(unsupported("BlkioWeightDevice", "block I/O weight per device"));
        }
        let mut list = Vec::new();
        for d in weights {
            weight_ok("BlkioWeightDevice", d.weight)?;
            let (major, minor) = block_device("BlkioWeightDevice", &d.path)?;
            list.push(json!({ "major": major, "minor": minor, "weight": d.weight }));
        }
        out.insert("weightDevice".into(), Value::Array(list));
    }
    let throttles: [(&str, &Option<Vec<ThrottleDevice>>, &str); 4] = [
        ("BlkioDeviceReadBps", &hc.blkio_device_read_bps, "throttleReadBpsDevice"),
        ("BlkioDeviceWriteBps", &hc.blkio_device_write_bps, "throttleWriteBpsDevice"),
        ("BlkioDeviceReadIOps", &hc.blkio_device_read_iops, "throttleReadIOPSDevice"),
        ("BlkioDeviceWriteIOps", &hc.blkio_device_write_iops, "throttleWriteIOPSDevice"),
    ];
    for (field, devices, key) in throttles {
        let devices = devices.as_deref().unwrap_or_default();
        if devices.is_empty() {
            continue;
        }
        if !support.blkio_throttle {
            return Err(unsupported(field, "block I/O limit"));
        }
        let mut list = Vec::new();
        for d in devices {
            let (major, minor) = block_device(field, &d.path)?;
            list.push(json!({ "major": major, "minor": minor, "rate": d.rate }));
        }
        out.insert(key.into(), Value::Array(list));
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::WeightDevice;

    fn all() -> Support {
        Support { blkio_weight: true, blkio_weight_device: true, blkio_throttle: true, ..Default::default() }
    }

    fn throttle(path: &str, rate: u64) -> Option<Vec<ThrottleDevice>> {
        Some(vec![ThrottleDevice { path: path.into(), rate }])
    }

    #[test]
    fn no_limit_asked_is_no_block_io() {
        assert_eq!(block_io(&HostConfig::default(), &Support::default()), Ok(None));
    }

    #[test]
    fn limits_name_devices_by_number_and_are_refused_where_the_host_cannot_apply_them() {
        let dev = std::fs::read_dir("/dev")
            .expect("/dev")
            .flatten()
            .map(|e| e.path())
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device()))
            .expect("a block device in /dev");
        let dev = dev.to_str().expect("utf-8 path");
        let md = std::fs::metadata(dev).expect("stat");
        let (major, minor) = (nix::sys::stat::major(md.rdev()), nix::sys::stat::minor(md.rdev()));
        let hc = HostConfig {
            blkio_weight: 300,
            blkio_weight_device: Some(vec![WeightDevice { path: dev.into(), weight: 20 }]),
            blkio_device_read_bps: throttle(dev, 1 << 20),
            blkio_device_write_iops: throttle(dev, 100),
            ..Default::default()
        };
        let b = block_io(&hc, &all()).expect("all supported").expect("limits");
        assert_eq!(b["weight"], 300);
        assert_eq!(b["weightDevice"], json!([{ "major": major, "minor": minor, "weight": 20 }]));
        assert_eq!(b["throttleReadBpsDevice"], json!([{ "major": major, "minor": minor, "rate": 1 << 20 }]));
        assert_eq!(b["throttleWriteIOPSDevice"], json!([{ "major": major, "minor": minor, "rate": 100 }]));
        let no_weight = Support { blkio_weight: false, ..all() };
        assert!(block_io(&hc, &no_weight).expect_err("weight").contains("HostConfig.BlkioWeight:"));
        let hc = HostConfig { blkio_device_write_bps: throttle(dev, 1), ..Default::default() };
        assert!(block_io(&hc, &Support::default()).expect_err("throttle").contains("BlkioDeviceWriteBps"));
    }

    #[test]
    fn bad_weights_and_paths_are_refused_by_name() {
        let hc = HostConfig { blkio_weight: 5, ..Default::default() };
        assert!(block_io(&hc, &all()).expect_err("range").contains("from 10 to 1000"));
        let hc = HostConfig { blkio_device_read_iops: throttle("/dev/null", 1), ..Default::default() };
        assert!(block_io(&hc, &all()).expect_err("char device").contains("/dev/null is not a block device"));
        let hc = HostConfig { blkio_device_read_bps: throttle("/nonexistent/dev", 1), ..Default::default() };
        assert!(block_io(&hc, &all()).expect_err("missing").contains("BlkioDeviceReadBps: /nonexistent/dev"));
    }
}
