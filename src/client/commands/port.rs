//! `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the host addresses a container's ports are
//! published on, from `NetworkSettings.Ports` of its inspect, printed as docker prints them.

use serde_json::Value;

use super::container_path;
use crate::client::error::{ClientError, Result};
use crate::client::http::EngineClient;

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The `HostIp:HostPort` of each binding in a `Ports` entry.
fn frontends(bindings: &Value) -> Vec<String> {
    bindings
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| join_host_port(b["HostIp"].as_str().unwrap_or_default(), b["HostPort"].as_str().unwrap_or_default()))
        .collect()
}

/// The lines `berth port` prints for `inspect` (a container's inspect) and an optional
/// `PRIVATE_PORT[/PROTO]`, or docker's error.
pub fn render(inspect: &Value, container: &str, port: Option<&str>) -> Result<String> {
    let ports = &inspect["NetworkSettings"]["Ports"];
    let mut out: Vec<String> = match port {
        Some(spec) => {
            let (num, proto) = spec.split_once('/').unwrap_or((spec, ""));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            if num.parse::<u16>().is_err() {
                return Err(ClientError::Invalid(format!("Error: invalid port ({num}): strconv.ParseUint: parsing {num:?}: invalid syntax")));
            }
            let found = frontends(&ports[format!("{num}/{proto}")]);
            if found.is_empty() {
                return Err(ClientError::Invalid(format!("Error: No public port '{spec}' published for {container}")));
            }
            found
        }
        None => ports
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(from, bindings)| frontends(bindings).into_iter().map(move |f| format!("{from} -> {f}")))
            .collect(),
    };
    out.sort_by(|a, b| super::network::natural_cmp(a, b));
    Ok(out.iter().map(|l| format!("{l}\n")).collect())
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub async fn port(client: &EngineClient, container: &str, port: Option<&str>) -> Result<u8> {
    let inspect = client.get_value(&container_path(container, "/json")).await?;
    print!("{}", render(&inspect, container, port)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_print_as_docker_prints_them() {
        let c = json!({"NetworkSettings": {"Ports": {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}, {"HostIp": "::", "HostPort": "32768"}],
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
            "443/tcp": null,
        }}});
        let all = render(&c, "c", None).unwrap_or_default();
        assert_eq!(all, "53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:32768\n80/tcp -> [::]:32768\n");
        assert_eq!(render(&c, "c", Some("80")).unwrap_or_default(), "0.0.0.0:32768\n[::]:32768\n");
        let e = render(&c, "c", Some("443")).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("Error: No public port '443' published for c"));
    }
}
