//! containerd's leases and introspection services, as far as dockerd needs them. Leases only
//! protect content and snapshots from garbage collection, and this supervisor keeps neither
//! (dockerd brings its own graph driver), so leases are remembered in memory and have no
//! other effect. Introspection lists the plugins this supervisor actually provides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tonic::{Request, Response, Status};

use crate::proto::containerd::services::introspection::v1 as iapi;
use crate::proto::containerd::services::leases::v1 as lapi;

type R<T> = Result<Response<T>, Status>;

/// In-memory leases, by namespace and id.
#[derive(Clone, Default)]
pub struct Leases {
    map: Arc<Mutex<HashMap<(String, String), lapi::Lease>>>,
}

fn ns_of<T>(req: &Request<T>) -> String {
    req.metadata().get(super::NAMESPACE_HEADER).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty()).unwrap_or("default").to_owned()
}

impl Leases {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), lapi::Lease>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[tonic::async_trait]
impl lapi::leases_server::Leases for Leases {
    async fn create(&self, req: Request<lapi::CreateRequest>) -> R<lapi::CreateResponse> {
        let ns = ns_of(&req);
        let r = req.into_inner();
        let id = if r.id.is_empty() { format!("berth-{:016x}", rand::random::<u64>()) } else { r.id };
        let lease = lapi::Lease { id: id.clone(), created_at: Some(super::events::now()), labels: r.labels };
        let mut map = self.lock();
        if map.contains_key(&(ns.clone(), id.clone())) {
            return Err(Status::already_exists(format!("lease {id} already exists")));
        }
        map.insert((ns, id), lease.clone());
        Ok(Response::new(lapi::CreateResponse { lease: Some(lease) }))
    }

    async fn delete(&self, req: Request<lapi::DeleteRequest>) -> R<()> {
        let ns = ns_of(&req);
        let id = req.into_inner().id;
        match self.lock().remove(&(ns, id.clone())) {
            Some(_) => Ok(Response::new(())),
            None => Err(Status::not_found(format!("lease {id} not found"))),
        }
    }

    async fn list(&self, req: Request<lapi::ListRequest>) -> R<lapi::ListResponse> {
        let ns = ns_of(&req);
        let leases = self.lock().iter().filter(|((n, _), _)| *n == ns).map(|(_, l)| l.clone()).collect();
        Ok(Response::new(lapi::ListResponse { leases }))
    }

    async fn add_resource(&self, _req: Request<lapi::AddResourceRequest>) -> R<()> {
        Ok(Response::new(()))
    }

    async fn delete_resource(&self, _req: Request<lapi::DeleteResourceRequest>) -> R<()> {
        Ok(Response::new(()))
    }

    async fn list_resources(&self, _req: Request<lapi::ListResourcesRequest>) -> R<lapi::ListResourcesResponse> {
        Ok(Response::new(lapi::ListResourcesResponse { resources: Vec::new() }))
    }
}

/// The introspection service.
#[derive(Clone, Default)]
pub struct Introspection;

fn plugin(kind: &str, id: &str) -> iapi::Plugin {
    iapi::Plugin { r#type: kind.into(), id: id.into(), ..Default::default() }
}

#[tonic::async_trait]
impl iapi::introspection_server::Introspection for Introspection {
    async fn plugins(&self, _req: Request<iapi::PluginsRequest>) -> R<iapi::PluginsResponse> {
        let plugins = vec![
            plugin("io.containerd.grpc.v1", "containers"),
            plugin("io.containerd.grpc.v1", "tasks"),
            plugin("io.containerd.grpc.v1", "events"),
            plugin("io.containerd.grpc.v1", "leases"),
            plugin("io.containerd.grpc.v1", "namespaces"),
            plugin("io.containerd.grpc.v1", "version"),
            plugin("io.containerd.grpc.v1", "introspection"),
            plugin("io.containerd.runtime.v2", "task"),
        ];
        Ok(Response::new(iapi::PluginsResponse { plugins }))
    }

    async fn server(&self, _req: Request<()>) -> R<iapi::ServerResponse> {
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default().trim().to_owned();
        Ok(Response::new(iapi::ServerResponse { uuid, ..Default::default() }))
    }

    async fn plugin_info(&self, _req: Request<iapi::PluginInfoRequest>) -> R<iapi::PluginInfoResponse> {
        Err(Status::unimplemented("plugin info is not provided by berth-supervisor"))
    }
}
