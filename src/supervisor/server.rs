//! The gRPC services (tonic) and the unix-socket server.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tonic::{Request, Response, Status};

use crate::proto::containerd::services::containers::v1 as capi;
use crate::proto::containerd::services::events::v1 as eapi;
use crate::proto::containerd::services::introspection::v1 as iapi;
use crate::proto::containerd::services::leases::v1 as lapi;
use crate::proto::containerd::services::namespaces::v1 as napi;
use crate::proto::containerd::services::tasks::v1 as tapi;
use crate::proto::containerd::services::version::v1 as vapi;
use crate::proto::containerd::types::Envelope;
use crate::proto::containerd::v1::types::ProcessInfo;

use super::events::{matches, Exchange};
use super::store::{ContainerRecord, Store};
use super::tasks::Tasks;
use super::{check_name, Config, SupervisorError, NAMESPACE_HEADER};

type R<T> = Result<Response<T>, Status>;

fn namespace<T>(req: &Request<T>) -> Result<String, Status> {
    let ns = req.metadata().get(NAMESPACE_HEADER).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty()).unwrap_or("default").to_owned();
    check_name("namespace", &ns)?;
    Ok(ns)
}

/// State shared by the services.
#[derive(Clone)]
pub struct Services {
    store: Store,
    tasks: Arc<Tasks>,
    events: Exchange,
}

#[tonic::async_trait]
impl capi::containers_server::Containers for Services {
    async fn get(&self, req: Request<capi::GetContainerRequest>) -> R<capi::GetContainerResponse> {
        let ns = namespace(&req)?;
        let rec = self.store.get(&ns, &req.get_ref().id)?;
        Ok(Response::new(capi::GetContainerResponse { container: Some(rec.to_proto()) }))
    }

    async fn list(&self, req: Request<capi::ListContainersRequest>) -> R<capi::ListContainersResponse> {
        let ns = namespace(&req)?;
        let containers = self.store.list(&ns)?.iter().map(ContainerRecord::to_proto).collect();
        Ok(Response::new(capi::ListContainersResponse { containers }))
    }

    type ListStreamStream = Pin<Box<dyn Stream<Item = Result<capi::ListContainerMessage, Status>> + Send>>;

    async fn list_stream(&self, req: Request<capi::ListContainersRequest>) -> R<Self::ListStreamStream> {
        let ns = namespace(&req)?;
        let items: Vec<Result<capi::ListContainerMessage, Status>> =
            self.store.list(&ns)?.iter().map(|r| Ok(capi::ListContainerMessage { container: Some(r.to_proto()) })).collect();
        Ok(Response::new(Box::pin(futures::stream::iter(items))))
    }

    async fn create(&self, req: Request<capi::CreateContainerRequest>) -> R<capi::CreateContainerResponse> {
        let ns = namespace(&req)?;
        let c = req.into_inner().container.ok_or_else(|| Status::invalid_argument("container is required"))?;
        check_name("container id", &c.id)?;
        let rec = ContainerRecord::from_proto(&c);
        self.store.create(&ns, &rec)?;
        Ok(Response::new(capi::CreateContainerResponse { container: Some(rec.to_proto()) }))
    }

    async fn update(&self, req: Request<capi::UpdateContainerRequest>) -> R<capi::UpdateContainerResponse> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let c = r.container.ok_or_else(|| Status::invalid_argument("container is required"))?;
        let mut rec = self.store.get(&ns, &c.id)?;
        let new = ContainerRecord::from_proto(&c);
        let paths: Vec<String> = r.update_mask.map(|m| m.paths).unwrap_or_default();
        let all = paths.is_empty();
        let has = |p: &str| all || paths.iter().any(|x| x == p || x.starts_with(&format!("{p}.")));
        if has("labels") {
            rec.labels = new.labels;
        }
        if has("image") {
            rec.image = new.image;
        }
        if has("spec") {
            rec.spec = new.spec;
        }
        if has("snapshotkey") || has("snapshot_key") {
            rec.snapshot_key = new.snapshot_key;
        }
        if has("extensions") {
            rec.extensions = new.extensions;
        }
        rec.updated_at = new.updated_at;
        self.store.update(&ns, &rec)?;
        Ok(Response::new(capi::UpdateContainerResponse { container: Some(rec.to_proto()) }))
    }

    async fn delete(&self, req: Request<capi::DeleteContainerRequest>) -> R<()> {
        let ns = namespace(&req)?;
        let id = &req.get_ref().id;
        self.tasks.settled(&ns, id).await;
        if self.tasks.get(&ns, id).is_ok() {
            return Err(Status::failed_precondition(format!("container {id} still has a task; delete it first")));
        }
        self.store.delete(&ns, id)?;
        Ok(Response::new(()))
    }
}

/// Runs `f` on its own task so that it completes even when the client goes away mid-call
/// (tonic drops a handler's future then): a create or delete cut short would leave a shim
/// holding a container no record names.
async fn detached<T: Send + 'static>(f: impl Future<Output = Result<T, SupervisorError>> + Send + 'static) -> Result<T, Status> {
    match tokio::spawn(f).await {
        Ok(r) => r.map_err(Status::from),
        Err(e) => Err(Status::internal(format!("task call failed: {e}"))),
    }
}

fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not implemented by berth-supervisor"))
}

#[tonic::async_trait]
impl tapi::tasks_server::Tasks for Services {
    async fn create(&self, req: Request<tapi::CreateTaskRequest>) -> R<tapi::CreateTaskResponse> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let id = r.container_id.clone();
        let tasks = self.tasks.clone();
        let pid = detached(async move { tasks.create(&ns, r).await }).await?;
        Ok(Response::new(tapi::CreateTaskResponse { container_id: id, pid }))
    }

    async fn start(&self, req: Request<tapi::StartRequest>) -> R<tapi::StartResponse> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let tasks = self.tasks.clone();
        let pid = detached(async move {
            if r.exec_id.is_empty() {
                tasks.start(&ns, &r.container_id).await
            } else {
                tasks.start_exec(&ns, &r.container_id, &r.exec_id).await
            }
        })
        .await?;
        Ok(Response::new(tapi::StartResponse { pid }))
    }

    async fn delete(&self, req: Request<tapi::DeleteTaskRequest>) -> R<tapi::DeleteResponse> {
        let ns = namespace(&req)?;
        let id = req.get_ref().container_id.clone();
        let (tasks, id2) = (self.tasks.clone(), id.clone());
        let e = detached(async move {
            tasks.settled(&ns, &id2).await;
            tasks.delete(&ns, &id2).await
        })
        .await?;
        Ok(Response::new(tapi::DeleteResponse { id, pid: e.pid, exit_status: e.status, exited_at: Some(e.at) }))
    }

    async fn delete_process(&self, req: Request<tapi::DeleteProcessRequest>) -> R<tapi::DeleteResponse> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let (tasks, cid, eid) = (self.tasks.clone(), r.container_id.clone(), r.exec_id.clone());
        let e = detached(async move { tasks.delete_exec(&ns, &cid, &eid).await }).await?;
        Ok(Response::new(tapi::DeleteResponse { id: r.exec_id, pid: e.pid, exit_status: e.status, exited_at: Some(e.at) }))
    }

    async fn get(&self, req: Request<tapi::GetRequest>) -> R<tapi::GetResponse> {
        let ns = namespace(&req)?;
        let r = req.get_ref();
        if !r.exec_id.is_empty() {
            let p = self.tasks.exec_process(&ns, &r.container_id, &r.exec_id).await?;
            return Ok(Response::new(tapi::GetResponse { process: Some(p) }));
        }
        self.tasks.settled(&ns, &r.container_id).await;
        let task = self.tasks.get(&ns, &r.container_id)?;
        Ok(Response::new(tapi::GetResponse { process: Some(self.tasks.process(&task).await) }))
    }

    async fn list(&self, req: Request<tapi::ListTasksRequest>) -> R<tapi::ListTasksResponse> {
        let ns = namespace(&req)?;
        let mut tasks = Vec::new();
        for t in self.tasks.list(&ns) {
            tasks.push(self.tasks.process(&t).await);
        }
        Ok(Response::new(tapi::ListTasksResponse { tasks }))
    }

    async fn kill(&self, req: Request<tapi::KillRequest>) -> R<()> {
        let ns = namespace(&req)?;
        let r = req.get_ref();
        if !r.exec_id.is_empty() {
            self.tasks.kill_exec(&ns, &r.container_id, &r.exec_id, r.signal).await?;
            return Ok(Response::new(()));
        }
        self.tasks.kill(&ns, &r.container_id, r.signal, r.all).await?;
        Ok(Response::new(()))
    }

    async fn exec(&self, req: Request<tapi::ExecProcessRequest>) -> R<()> {
        let ns = namespace(&req)?;
        self.tasks.exec(&ns, req.into_inner()).await?;
        Ok(Response::new(()))
    }
    async fn resize_pty(&self, req: Request<tapi::ResizePtyRequest>) -> R<()> {
        let ns = namespace(&req)?;
        self.tasks.resize_pty(&ns, req.into_inner()).await?;
        Ok(Response::new(()))
    }
    async fn close_io(&self, req: Request<tapi::CloseIoRequest>) -> R<()> {
        let ns = namespace(&req)?;
        self.tasks.close_io(&ns, req.into_inner()).await?;
        Ok(Response::new(()))
    }
    async fn pause(&self, req: Request<tapi::PauseTaskRequest>) -> R<()> {
        let ns = namespace(&req)?;
        self.tasks.pause(&ns, &req.get_ref().container_id, true).await?;
        Ok(Response::new(()))
    }
    async fn resume(&self, req: Request<tapi::ResumeTaskRequest>) -> R<()> {
        let ns = namespace(&req)?;
        self.tasks.pause(&ns, &req.get_ref().container_id, false).await?;
        Ok(Response::new(()))
    }

    async fn list_pids(&self, req: Request<tapi::ListPidsRequest>) -> R<tapi::ListPidsResponse> {
        let ns = namespace(&req)?;
        let pids = self.tasks.pids(&ns, &req.get_ref().container_id).await?;
        Ok(Response::new(tapi::ListPidsResponse { processes: pids.into_iter().map(|pid| ProcessInfo { pid, info: None }).collect() }))
    }

    async fn checkpoint(&self, _req: Request<tapi::CheckpointTaskRequest>) -> R<tapi::CheckpointTaskResponse> {
        Err(unimplemented("checkpoint"))
    }
    async fn update(&self, req: Request<tapi::UpdateTaskRequest>) -> R<()> {
        let ns = namespace(&req)?;
        self.tasks.update(&ns, req.into_inner()).await?;
        Ok(Response::new(()))
    }
    async fn metrics(&self, req: Request<tapi::MetricsRequest>) -> R<tapi::MetricsResponse> {
        let ns = namespace(&req)?;
        // Filters are understood as `id==X` clauses (what dockerd and ctr send); none = all.
        let ids: Vec<String> = req
            .get_ref()
            .filters
            .iter()
            .flat_map(|f| f.split(','))
            .filter_map(|c| c.trim().strip_prefix("id==").map(|v| v.trim_matches('"').to_owned()))
            .collect();
        let mut metrics = Vec::new();
        for t in self.tasks.list(&ns) {
            if (ids.is_empty() || ids.contains(&t.id)) && t.exit().is_none() {
                match self.tasks.metric(&ns, &t.id).await {
                    Ok(m) => metrics.push(m),
                    Err(e) => tracing::debug!("metrics of {}: {e}", t.id),
                }
            }
        }
        Ok(Response::new(tapi::MetricsResponse { metrics }))
    }

    async fn wait(&self, req: Request<tapi::WaitRequest>) -> R<tapi::WaitResponse> {
        let ns = namespace(&req)?;
        let r = req.get_ref();
        if !r.exec_id.is_empty() {
            let e = self.tasks.wait_exec(&ns, &r.container_id, &r.exec_id).await?;
            return Ok(Response::new(tapi::WaitResponse { exit_status: e.status, exited_at: Some(e.at) }));
        }
        let task = self.tasks.get(&ns, &r.container_id)?;
        let e = task.wait().await;
        Ok(Response::new(tapi::WaitResponse { exit_status: e.status, exited_at: Some(e.at) }))
    }
}

#[tonic::async_trait]
impl eapi::events_server::Events for Services {
    async fn publish(&self, req: Request<eapi::PublishRequest>) -> R<()> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let env = Envelope { timestamp: Some(super::events::now()), namespace: ns, topic: r.topic, event: r.event };
        if !super::events::generated_here(&env) {
            self.events.forward(env);
        }
        Ok(Response::new(()))
    }

    async fn forward(&self, req: Request<eapi::ForwardRequest>) -> R<()> {
        if let Some(env) = req.into_inner().envelope
            && !super::events::generated_here(&env)
        {
            self.events.forward(env);
        }
        Ok(Response::new(()))
    }

    type SubscribeStream = Pin<Box<dyn Stream<Item = Result<Envelope, Status>> + Send>>;

    async fn subscribe(&self, req: Request<eapi::SubscribeRequest>) -> R<Self::SubscribeStream> {
        let filters = req.into_inner().filters;
        let rx = self.events.subscribe();
        let stream = futures::stream::unfold((rx, filters), |(mut rx, filters)| async move {
            loop {
                match rx.recv().await {
                    Ok(env) if matches(&filters, &env) => return Some((Ok(env), (rx, filters))),
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("event subscriber lagged, {n} events dropped");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[tonic::async_trait]
impl vapi::version_server::Version for Services {
    async fn version(&self, _req: Request<()>) -> R<vapi::VersionResponse> {
        Ok(Response::new(vapi::VersionResponse { version: env!("CARGO_PKG_VERSION").into(), revision: "berth".into() }))
    }
}

#[tonic::async_trait]
impl napi::namespaces_server::Namespaces for Services {
    async fn get(&self, req: Request<napi::GetNamespaceRequest>) -> R<napi::GetNamespaceResponse> {
        let name = req.into_inner().name;
        // As containerd: a namespace nobody created yet simply has no labels (dockerd reads
        // the labels of its namespace at start-up, before creating anything in it).
        let labels = self.store.namespace_labels(&name)?;
        Ok(Response::new(napi::GetNamespaceResponse { namespace: Some(napi::Namespace { name, labels }) }))
    }

    async fn list(&self, _req: Request<napi::ListNamespacesRequest>) -> R<napi::ListNamespacesResponse> {
        let mut namespaces = Vec::new();
        for name in self.store.namespaces() {
            let labels = self.store.namespace_labels(&name)?;
            namespaces.push(napi::Namespace { name, labels });
        }
        Ok(Response::new(napi::ListNamespacesResponse { namespaces }))
    }

    async fn create(&self, req: Request<napi::CreateNamespaceRequest>) -> R<napi::CreateNamespaceResponse> {
        let ns = req.into_inner().namespace.ok_or_else(|| Status::invalid_argument("namespace is required"))?;
        self.store.create_namespace(&ns.name, &ns.labels)?;
        Ok(Response::new(napi::CreateNamespaceResponse { namespace: Some(ns) }))
    }

    /// Sets labels as containerd does: with no mask all of them, else the masked `labels`
    /// or `labels.<key>` (a key absent from the request is removed); any other field is
    /// refused by name.
    async fn update(&self, req: Request<napi::UpdateNamespaceRequest>) -> R<napi::UpdateNamespaceResponse> {
        let req = req.into_inner();
        let ns = req.namespace.ok_or_else(|| Status::invalid_argument("namespace is required"))?;
        let mut labels = self.store.namespace_labels(&ns.name)?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            labels = ns.labels.clone();
        }
        for path in &paths {
            match path.strip_prefix("labels") {
                Some("") => labels = ns.labels.clone(),
                Some(key) if key.starts_with('.') => match ns.labels.get(&key[1..]) {
                    Some(v) => {
                        labels.insert(key[1..].to_owned(), v.clone());
                    }
                    None => {
                        labels.remove(&key[1..]);
                    }
                },
                _ => return Err(Status::invalid_argument(format!("cannot update {path:?} field on namespace {:?}", ns.name))),
            }
        }
        self.store.set_namespace_labels(&ns.name, &labels)?;
        Ok(Response::new(napi::UpdateNamespaceResponse { namespace: Some(napi::Namespace { name: ns.name, labels }) }))
    }

    async fn delete(&self, req: Request<napi::DeleteNamespaceRequest>) -> R<()> {
        self.store.delete_namespace(&req.into_inner().name)?;
        Ok(Response::new(()))
    }
}

/// Serves until SIGTERM/SIGINT. Re-attaches to surviving shims first.
pub async fn run(cfg: Config) -> Result<(), SupervisorError> {
    for dir in [&cfg.root, &cfg.state] {
        crate::fsperm::ensure_dir(dir, crate::fsperm::DIR_PRIVATE).map_err(|e| SupervisorError::io("create", dir, e))?;
    }
    // Records hold container specs (their environment): private, also those of an old store.
    crate::fsperm::tighten_tree(&cfg.root, crate::fsperm::DIR_PRIVATE, crate::fsperm::FILE_PRIVATE, 3);
    let sock = cfg.address.clone();
    if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
        return Err(SupervisorError::InUse(sock));
    }
    let listener =
        crate::fsperm::bind_unix_tokio(&sock, crate::fsperm::SOCKET_PRIVATE, None).map_err(|e| SupervisorError::io("listen on", &sock, e.into()))?;

    let store = Store::new(&cfg.root);
    store.sweep();
    let events = Exchange::default();
    let tasks = Arc::new(Tasks::new(cfg.clone(), store.clone(), events.clone()));
    tasks.recover().await;
    let ttrpc_sock = PathBuf::from(format!("{}.ttrpc", sock.display()));
    // Kept alive while serving: containerd-shim-runc-v2 forwards its events here.
    let _ttrpc = match super::ttrpc_events::serve(&ttrpc_sock, events.clone()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("{e}; events of containerd's shims will be missed");
            None
        }
    };
    let svc = Services { store, tasks, events };
    let sock_ino = inode(&sock);
    let ttrpc_ino = inode(&ttrpc_sock);

    let incoming = futures::stream::unfold(listener, |l| async move {
        let r = l.accept().await.map(|(s, _)| s);
        Some((r, l))
    });
    let shutdown = async {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("supervisor stopping (shims and containers keep running)");
    };
    tracing::info!("supervisor listening on {}", sock.display());
    let result = tonic::transport::Server::builder()
        .add_service(capi::containers_server::ContainersServer::new(svc.clone()))
        .add_service(tapi::tasks_server::TasksServer::new(svc.clone()))
        .add_service(eapi::events_server::EventsServer::new(svc.clone()))
        .add_service(vapi::version_server::VersionServer::new(svc.clone()))
        .add_service(napi::namespaces_server::NamespacesServer::new(svc))
        .add_service(lapi::leases_server::LeasesServer::new(super::leases::Leases::default()))
        .add_service(iapi::introspection_server::IntrospectionServer::new(super::leases::Introspection))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    // A successor may already listen on the same path (it removed and re-created the
    // socket while this one was draining): only remove the socket if it is still ours.
    remove_if_same(&sock, sock_ino);
    remove_if_same(&ttrpc_sock, ttrpc_ino);
    result.map_err(|source| SupervisorError::Serve { path: sock, source })
}

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| m.ino())
}

fn remove_if_same(path: &Path, ino: Option<u64>) {
    if ino.is_some() && inode(path) == ino {
        let _ = std::fs::remove_file(path);
    }
}

/// A gRPC channel to a supervisor (or containerd) listening on the unix socket `path`.
pub async fn connect(path: &Path) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let path: PathBuf = path.to_path_buf();
    // The URI is required by tonic but unused: the connector dials the socket.
    tonic::transport::Endpoint::from_static("http://[::1]:50051")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let p = path.clone();
            async move { Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tokio::net::UnixStream::connect(p).await?)) }
        }))
        .await
}
