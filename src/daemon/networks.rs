//! The network verbs of the Engine API: create, list, inspect, remove, prune, connect and
//! disconnect, with their events.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::container::Status;
use super::network::inspect::Member;
use super::network::plan::{self, Mode};
use super::network::{endpoint, inspect, Network, NetworkError};
use super::{Daemon, DaemonError};
use crate::api::filters::{FilterError, Filters};
use crate::api::types::EndpointSettings;

/// Filter keys of `GET /networks`.
const LIST_FILTERS: &[&str] = &["driver", "id", "label", "name", "scope", "type", "dangling"];

fn unknown_filter(e: FilterError) -> DaemonError {
    match e {
        FilterError::Unknown(k) => DaemonError::BadRequest(format!("invalid filter '{k}'")),
        e => e.into(),
    }
}

impl Daemon {
    /// After a connect or disconnect: the names others resolve, and what `c` resolves.
    fn refresh_dns_of(&self, c: &super::container::Container) {
        self.refresh_names();
        if let (Status::Running, Some(sb)) = (c.state.status, &c.sandbox)
            && let Err(e) = self.start_dns(c, sb)
        {
            tracing::warn!(id = c.id.as_str(), "{e}");
        }
    }

    pub(super) fn network_event(&self, n: &Network, action: &str, container: Option<&str>) {
        let mut attrs = BTreeMap::from([("name".to_owned(), n.name.clone()), ("type".to_owned(), n.driver.clone())]);
        if let Some(c) = container {
            attrs.insert("container".into(), c.to_owned());
        }
        self.event_log.publish("network", action, &n.id, attrs);
    }

    /// The containers with an endpoint on network `id`: (container id, name, endpoint).
    fn members(&self, id: &str) -> Vec<(String, String, super::network::Endpoint)> {
        self.containers
            .list()
            .into_iter()
            .filter_map(|c| {
                let sb = c.sandbox.as_ref()?;
                let ep = sb.endpoints.values().find(|e| e.network_id == id)?.clone();
                Some((c.id.clone(), c.name.trim_start_matches('/').to_owned(), ep))
            })
            .collect()
    }

    /// `POST /networks/create`: the new network's id.
    pub fn network_create(&self, body: &Value) -> Result<String, DaemonError> {
        let asked = super::network::create::parse(body)?;
        let n = self.networks.add(asked)?;
        if let Err(e) = self.ensure_bridge(&n).and_then(|()| self.network_rules(&n)) {
            let _ = crate::net::firewall::remove_network(&n.bridge);
            // Nothing half made: the record goes with the bridge that could not be made.
            let _ = crate::net::link::delete(&n.bridge);
            let _ = self.networks.remove(&n.id);
            return Err(e);
        }
        self.network_event(&n, "create", None);
        Ok(n.id)
    }

    /// `GET /networks/{id}`.
    pub fn network_inspect(&self, key: &str) -> Result<Value, DaemonError> {
        let n = self.networks.get(key)?;
        let members = self.members(&n.id);
        let list: Vec<Member> = members.iter().map(|(id, name, ep)| Member { id, name, endpoint: ep }).collect();
        Ok(inspect::network(&n, &list))
    }

    /// `GET /networks[?filters=]`.
    pub fn network_list(&self, f: &Filters) -> Result<Vec<Value>, DaemonError> {
        f.only(LIST_FILTERS).map_err(unknown_filter)?;
        for t in f.get("type") {
            if t != "custom" && t != "builtin" {
                return Err(DaemonError::BadRequest(format!("invalid filter: 'type'='{t}'")));
            }
        }
        let dangling = f.bool("dangling")?;
        let any = |key: &str, pass: &dyn Fn(&str) -> bool| f.get(key).is_empty() || f.get(key).iter().any(|v| pass(v));
        let in_use = |n: &Network| !self.members(&n.id).is_empty();
        Ok(self
            .networks
            .list()
            .into_iter()
            .filter(|n| {
                let labels: HashMap<String, String> = n.labels.clone().into_iter().collect();
                any("driver", &|v| v == n.driver)
                    && any("id", &|v| n.id.starts_with(v))
                    && any("name", &|v| n.name.contains(v))
                    && any("scope", &|v| v == "local")
                    && any("type", &|v| (v == "builtin") == n.is_predefined())
                    && f.get("label").iter().all(|w| match w.split_once('=') {
                        Some((k, v)) => labels.get(k).is_some_and(|h| h == v),
                        None => labels.contains_key(w.as_str()),
                    })
                    && dangling.is_none_or(|d| d == (!n.is_predefined() && !in_use(n)))
            })
            .map(|n| inspect::network(&n, &[]))
            .collect())
    }

    /// `DELETE /networks/{id}`: refused for the predefined networks and for one with running
    /// containers on it.
    pub async fn network_remove(&self, key: &str) -> Result<(), DaemonError> {
        let _g = self.ops.lock().await;
        let n = self.networks.get(key)?;
        self.network_remove_locked(&n)
    }

    fn network_remove_locked(&self, n: &Network) -> Result<(), DaemonError> {
        if n.is_predefined() {
            return Err(NetworkError::Forbidden(format!("{} is a pre-defined network and cannot be removed", n.name)).into());
        }
        // Only running containers have endpoints: a stopped one that names the network
        // does not keep it, and fails its next start with "network ... not found", as
        // Docker's.
        if let Some((_, first, _)) = self.members(&n.id).first() {
            return Err(
                NetworkError::Forbidden(format!("error while removing network: network {} has active endpoints (name:{first:?})", n.name)).into()
            );
        }
        crate::net::firewall::remove_network(&n.bridge).map_err(NetworkError::from)?;
        crate::net::link::delete(&n.bridge).map_err(NetworkError::from)?;
        self.networks.remove(&n.id)?;
        self.network_event(n, "destroy", None);
        Ok(())
    }

    /// `POST /networks/prune[?filters=]` (`until`, `label`, `label!`): removes the unused
    /// user-defined networks; their names.
    pub async fn network_prune(&self, f: &Filters) -> Result<Vec<String>, DaemonError> {
        f.only(&["until", "label", "label!"]).map_err(unknown_filter)?;
        let until = super::prune::until_of(f)?;
        let _g = self.ops.lock().await;
        let mut removed = Vec::new();
        for n in self.networks.list() {
            let labels: HashMap<String, String> = n.labels.clone().into_iter().collect();
            if n.is_predefined() || until.is_some_and(|u| n.created > u) || !super::prune::labels_pass(f, &labels) {
                continue;
            }
            match self.network_remove_locked(&n) {
                Ok(()) => removed.push(n.name.clone()),
                Err(e) => tracing::debug!("prune {}: {e}", n.name),
            }
        }
        self.event_log.publish("network", "prune", "", BTreeMap::from([("reclaimed".to_owned(), "0".to_owned())]));
        Ok(removed)
    }

    /// `POST /networks/{id}/connect`: container `who` joins network `key` (live if it runs).
    pub async fn network_connect(&self, key: &str, who: &str, settings: &EndpointSettings) -> Result<(), DaemonError> {
        let _g = self.ops.lock().await;
        let n = self.networks.get(key)?;
        let id = self.containers.resolve(who)?;
        let c = self.containers.get(&id)?;
        match self.mode_of(&c.host_config.network_mode) {
            Mode::Bridge(_) => {}
            _ => {
                return Err(NetworkError::Conflict(format!(
                    "container sharing network namespace with another container or host cannot be connected to any other network (network mode {:?})",
                    c.host_config.network_mode
                ))
                .into());
            }
        }
        if n.driver != "bridge" {
            return Err(NetworkError::Forbidden(format!(
                "container cannot be disconnected from host network or connected to host network ({})",
                n.name
            ))
            .into());
        }
        if c.networks.contains_key(&n.name) {
            return Err(NetworkError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                c.name.trim_start_matches('/'),
                n.name
            ))
            .into());
        }
        let mut cfg = plan::endpoint_config(&n.name, settings)?;
        cfg.network_id = n.id.clone();
        if n.name == "bridge" && !cfg.aliases.is_empty() {
            return Err(NetworkError::Invalid("network-scoped alias is supported only for containers in user defined networks".into()).into());
        }
        endpoint::check_static(&n, &cfg)?;
        if c.state.status == Status::Running
            && let Some(mut sb) = c.sandbox.clone()
        {
            let joined = self.join_network(&mut sb, &n, &cfg);
            self.containers.update(&id, |r| r.sandbox = Some(sb.clone()))?;
            joined?;
        }
        let c = self.containers.update(&id, |r| {
            r.networks.insert(n.name.clone(), cfg);
        })?;
        self.refresh_dns_of(&c);
        self.network_event(&n, "connect", Some(&id));
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`: container `who` leaves network `key` (live if it
    /// runs). `force` is accepted as Docker's (it only matters for swarm).
    pub async fn network_disconnect(&self, key: &str, who: &str) -> Result<(), DaemonError> {
        let _g = self.ops.lock().await;
        let n = self.networks.get(key)?;
        let id = self.containers.resolve(who)?;
        let c = self.containers.get(&id)?;
        if !c.networks.contains_key(&n.name) {
            return Err(
                NetworkError::Forbidden(format!("container {} is not connected to network {}", c.name.trim_start_matches('/'), n.name)).into()
            );
        }
        if n.driver != "bridge" {
            return Err(NetworkError::Forbidden(format!(
                "container cannot be disconnected from host network or connected to host network ({})",
                n.name
            ))
            .into());
        }
        if let Some(mut sb) = c.sandbox.clone() {
            let left = endpoint::detach(&mut sb, &n.name);
            self.containers.update(&id, |r| r.sandbox = Some(sb.clone()))?;
            left?;
        }
        let c = self.containers.update(&id, |r| {
            r.networks.remove(&n.name);
        })?;
        self.refresh_dns_of(&c);
        self.network_event(&n, "disconnect", Some(&id));
        Ok(())
    }
}
