//! The client's config file, Docker's `config.json`: `auths` maps a registry to
//! `{"auth": base64("user:password")}`. It lives in `--config DIR`, else `$DOCKER_CONFIG`,
//! else `~/.docker`, as for the docker CLI, so both CLIs share logins. Members berth does not
//! use are kept as they are.

use crate::client::error::{ClientError, Result};
use crate::image::login::{registry_host, HUB_ADDRESS};
use base64::Engine;
use std::path::{Path, PathBuf};

/// The config directory: the `--config` flag, else `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub fn config_dir(flag: Option<&str>) -> PathBuf {
    if let Some(d) = flag.filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".docker")
}

/// The login server of an image reference: its registry host, or Docker Hub's address.
pub fn server_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => {
            if matches!(first, "docker.io" | "index.docker.io") {
                HUB_ADDRESS.to_owned()
            } else {
                first.to_owned()
            }
        }
        _ => HUB_ADDRESS.to_owned(),
    }
}

/// A loaded config.json.
pub struct ClientConfig {
    path: PathBuf,
    doc: serde_json::Map<String, serde_json::Value>,
}

impl ClientConfig {
    /// Reads `<dir>/config.json` (absent: empty).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let doc = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| ClientError::Invalid(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
            Err(e) => return Err(ClientError::io(format!("read {}", path.display()), e)),
        };
        Ok(ClientConfig { path, doc })
    }

    /// The `auths` key naming the same registry as `server`, if any.
    fn key_for(&self, server: &str) -> Option<String> {
        let host = registry_host(server);
        self.doc.get("auths")?.as_object()?.keys().find(|k| registry_host(k) == host).cloned()
    }

    /// The stored (username, password) for `server`.
    pub fn credentials(&self, server: &str) -> Option<(String, String)> {
        let key = self.key_for(server)?;
        let entry = self.doc.get("auths")?.get(&key)?;
        let encoded = entry.get("auth")?.as_str()?;
        let plain = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        let (u, p) = std::str::from_utf8(&plain).ok()?.split_once(':')?;
        Some((u.to_owned(), p.to_owned()))
    }

    /// Stores credentials for `server` (replacing any for the same registry).
    pub fn set(&mut self, server: &str, username: &str, password: &str) {
        self.erase(server);
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let auths = self.doc.entry("auths").or_insert_with(|| serde_json::json!({}));
        if !auths.is_object() {
            *auths = serde_json::json!({});
        }
        if let Some(m) = auths.as_object_mut() {
            m.insert(server.to_owned(), serde_json::json!({ "auth": auth }));
        }
    }

    /// Removes the credentials for `server`; returns whether there were any.
    pub fn erase(&mut self, server: &str) -> bool {
        let Some(key) = self.key_for(server) else { return false };
        self.doc.get_mut("auths").and_then(|a| a.as_object_mut()).is_some_and(|m| m.remove(&key).is_some())
    }

    /// Writes the file back (mode 0600: it holds passwords), crash-safely.
    pub fn save(&self) -> Result<()> {
        let ctx = || format!("write {}", self.path.display());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ClientError::io(ctx(), e))?;
        }
        let data = serde_json::to_vec_pretty(&self.doc)?;
        crate::util::atomic_write_mode(&self.path, &data, 0o600).map_err(|e| ClientError::io(ctx(), e))
    }

    /// The `X-Registry-Auth` header for pulling or pushing `reference`, if logged in there.
    pub fn registry_auth(&self, reference: &str) -> Option<String> {
        let server = server_of(reference);
        let (username, password) = self.credentials(&server)?;
        let json = serde_json::json!({ "username": username, "password": password, "serveraddress": server }).to_string();
        Some(base64::engine::general_purpose::URL_SAFE.encode(json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_login_server() {
        assert_eq!(server_of("busybox"), HUB_ADDRESS);
        assert_eq!(server_of("library/busybox:1"), HUB_ADDRESS);
        assert_eq!(server_of("docker.io/x/y"), HUB_ADDRESS);
        assert_eq!(server_of("127.0.0.1:5000/app:v1"), "127.0.0.1:5000");
        assert_eq!(server_of("localhost/app"), "localhost");
    }

    #[test]
    fn credentials_round_trip_and_other_members_are_kept() {
        let dir = std::env::temp_dir().join(format!("berth-cfg-{}", crate::util::random_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("config.json"), r#"{"psFormat":"x","auths":{"https://127.0.0.1:5000/":{"auth":"b2xkOnB3"}}}"#).expect("seed");
        let mut c = ClientConfig::load(&dir).expect("load");
        assert_eq!(c.credentials("127.0.0.1:5000"), Some(("old".into(), "pw".into())));
        c.set("127.0.0.1:5000", "u", "p:w");
        c.save().expect("save");
        let c = ClientConfig::load(&dir).expect("reload");
        assert_eq!(c.credentials("http://127.0.0.1:5000"), Some(("u".into(), "p:w".into())));
        assert_eq!(c.doc.get("psFormat").and_then(|v| v.as_str()), Some("x"));
        assert_eq!(c.doc["auths"].as_object().map(|m| m.len()), Some(1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
