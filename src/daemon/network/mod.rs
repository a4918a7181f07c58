//! The daemon's networks: their records (persisted under `<root>/network`), the predefined
//! `bridge`, `host` and `none`, and user-defined bridge networks with their IPAM.
//! Containers' endpoints are made in [`endpoint`]; the API's shapes in [`inspect`].

pub mod create;
pub mod endpoint;
mod error;
pub mod inspect;
pub mod plan;
pub mod record;

pub use error::NetworkError;
pub use record::{Endpoint, EndpointConfig, Network, PortMapping, Sandbox};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ipnet::IpNet;

/// Where containers on user-defined networks find the embedded DNS server (in their own
/// namespace), as under Docker.
pub const EMBEDDED_DNS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 11);

/// How the daemon's networking was configured (`--bridge`, `--bip`, `--mtu`, `--icc`,
/// `--ip-masq`, `--ip-forward`).
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The default bridge's Linux name; `None`: no default bridge (`--bridge none`).
    pub bridge: Option<String>,
    /// The default bridge's gateway address with its subnet's prefix (`--bip`).
    pub bridge_ip: IpNet,
    pub mtu: Option<u32>,
    /// Containers on the default bridge may talk to each other.
    pub icc: bool,
    /// Masquerade containers' outbound traffic.
    pub ip_masq: bool,
    /// Turn on the namespace's IP forwarding.
    pub ip_forward: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bridge: Some("berth0".into()),
            bridge_ip: "172.17.0.1/16".parse().expect("the default bridge address"),
            mtu: None,
            icc: true,
            ip_masq: true,
            ip_forward: true,
        }
    }
}

/// The networks of one daemon.
pub struct Networks {
    dir: PathBuf,
    map: Mutex<BTreeMap<String, Network>>,
    pub config: NetConfig,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NetworkError + '_ {
    move |source| NetworkError::Io { path: path.to_path_buf(), source }
}

/// The id of a predefined network: stable for a daemon root (derived from its name and the
/// root), so a restart keeps it.
fn predefined_id(root: &Path, name: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("{}\0{name}", root.display()).as_bytes()))
}

impl Networks {
    /// Loads the networks under `<root>/network` and makes sure the predefined ones exist as
    /// `config` asks (a default bridge only without `--bridge none`).
    pub fn open(root: &Path, config: NetConfig) -> Result<Self, NetworkError> {
        let dir = root.join("network");
        crate::fsperm::ensure_dir(&dir, crate::fsperm::DIR_PRIVATE).map_err(io(&dir))?;
        let mut map = BTreeMap::new();
        for e in std::fs::read_dir(&dir).map_err(io(&dir))?.flatten() {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            match crate::util::read_json::<Network>(&p) {
                Ok(n) => {
                    map.insert(n.id.clone(), n);
                }
                Err(err) => tracing::warn!("skipping network record {}: {err}", p.display()),
            }
        }
        let nets = Networks { dir, map: Mutex::new(map), config };
        let mut predefined = vec![
            Network { name: "host".into(), driver: "host".into(), created: chrono::Utc::now(), ..Default::default() },
            Network { name: "none".into(), driver: "null".into(), created: chrono::Utc::now(), ..Default::default() },
        ];
        if let Some(b) = &nets.config.bridge {
            let mut n = create::default_bridge(b, nets.config.bridge_ip, nets.config.mtu);
            n.icc = nets.config.icc;
            predefined.push(n);
        }
        for mut n in predefined {
            let id = predefined_id(root, &n.name);
            let existing = nets.lock().get(&id).cloned();
            match existing {
                // The default bridge follows the daemon's flags of this start.
                Some(old) if n.name == "bridge" => {
                    n.id = id;
                    n.created = old.created;
                    nets.save(&n)?;
                }
                Some(_) => {}
                None => {
                    n.id = id;
                    nets.save(&n)?;
                }
            }
        }
        if nets.config.bridge.is_none() {
            let gone: Vec<String> = nets.lock().values().filter(|n| n.name == "bridge").map(|n| n.id.clone()).collect();
            for id in gone {
                nets.forget(&id)?;
            }
        }
        Ok(nets)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Network>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, n: &Network) -> Result<(), NetworkError> {
        let p = self.dir.join(format!("{}.json", n.id));
        crate::util::write_json(&p, n).map_err(io(&p))?;
        self.lock().insert(n.id.clone(), n.clone());
        Ok(())
    }

    fn forget(&self, id: &str) -> Result<(), NetworkError> {
        let p = self.dir.join(format!("{id}.json"));
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&p)(e)),
            _ => {}
        }
        self.lock().remove(id);
        Ok(())
    }

    /// Every network, by name.
    pub fn list(&self) -> Vec<Network> {
        let mut v: Vec<Network> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The network named `key`, or with id (or unique id prefix) `key`, as Docker looks
    /// one up: full id, then exact name, then id prefix.
    pub fn get(&self, key: &str) -> Result<Network, NetworkError> {
        let map = self.lock();
        if let Some(n) = map.get(key) {
            return Ok(n.clone());
        }
        if let Some(n) = map.values().find(|n| n.name == key) {
            return Ok(n.clone());
        }
        let prefixed: Vec<&Network> = if key.is_empty() { Vec::new() } else { map.values().filter(|n| n.id.starts_with(key)).collect() };
        match prefixed.as_slice() {
            [n] => Ok((*n).clone()),
            [] => Err(NetworkError::NotFound(key.to_owned())),
            many => Err(NetworkError::Ambiguous(key.to_owned(), many.len())),
        }
    }

    /// Records a new network from a parsed create body: a fresh id, its subnets (asked for,
    /// or the first free default pool) checked against every other network's, gateways set,
    /// its bridge named.
    pub fn add(&self, mut n: Network) -> Result<Network, NetworkError> {
        let map = self.lock();
        if map.values().any(|o| o.name == n.name) {
            return Err(NetworkError::Exists(n.name.clone()));
        }
        let taken: Vec<IpNet> = map.values().flat_map(|o| o.subnets().collect::<Vec<_>>()).collect();
        for s in n.subnets() {
            if taken.iter().any(|t| crate::net::ipam::overlaps(t, &s)) {
                return Err(NetworkError::Overlap);
            }
        }
        if !n.pools.iter().any(|p| matches!(p.subnet, Some(IpNet::V4(_)))) {
            let subnet = crate::net::ipam::pick_subnet(&taken).ok_or(NetworkError::PoolsExhausted)?;
            n.pools.insert(0, record::IpamPool { subnet: Some(subnet), ..Default::default() });
        }
        if n.enable_ipv6 && !n.pools.iter().any(|p| matches!(p.subnet, Some(IpNet::V6(_)))) {
            n.pools.push(record::IpamPool { subnet: Some(crate::net::ipam::random_ula()), ..Default::default() });
        }
        for p in &mut n.pools {
            if p.gateway.is_none() {
                p.gateway = p.subnet.as_ref().and_then(crate::net::ipam::first_host);
            }
        }
        n.id = crate::util::random_id();
        if n.bridge.is_empty() {
            n.bridge = format!("br-{}", &n.id[..12]);
        } else if map.values().any(|o| o.bridge == n.bridge) || n.bridge.len() > 15 {
            return Err(NetworkError::Invalid(format!("bridge name {:?} is taken or longer than 15 characters", n.bridge)));
        }
        drop(map);
        self.save(&n)?;
        Ok(n)
    }

    /// Forgets network `id` (the caller checked it has no endpoints and removed its bridge).
    pub fn remove(&self, id: &str) -> Result<(), NetworkError> {
        self.forget(id)
    }
}
