//! Modular backend: the daemon drives a supervisor (berth-supervisor, or a real containerd)
//! over containerd's gRPC API, as dockerd does since 1.11.

use super::backend::{BackendError, ExitEvent, TaskEvent, TaskStatus};
use crate::proto::containerd::events::{TaskExit, TaskOom};
use crate::proto::containerd::services::containers::v1::{
    container::Runtime, containers_client::ContainersClient, Container, CreateContainerRequest, DeleteContainerRequest,
};
use crate::proto::containerd::services::events::v1::{events_client::EventsClient, SubscribeRequest};
use crate::proto::containerd::services::tasks::v1::{
    tasks_client::TasksClient, CloseIoRequest, CreateTaskRequest, DeleteProcessRequest, DeleteTaskRequest, ExecProcessRequest, GetRequest,
    KillRequest, MetricsRequest, PauseTaskRequest, ResizePtyRequest, ResumeTaskRequest, StartRequest, UpdateTaskRequest, WaitRequest,
};
use crate::proto::containerd::v1::types::Status;
use prost::Message;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request};

/// containerd namespace berthd keeps its containers in unless `--containerd-namespace` says
/// otherwise (dockerd's is "moby").
pub const DEFAULT_NAMESPACE: &str = "berth";
const SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
const PROCESS_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Process";
/// The type of `linux.resources` in an `Any`, as containerd registers it (Task.Update).
const RESOURCES_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
/// The type of runc's options in an `Any`, as containerd registers it.
const RUNC_OPTIONS_TYPE_URL: &str = "containerd.runc.v1.Options";
/// How long a start waits for the leftovers of an earlier attempt to go.
const LEFTOVER_TIMEOUT: Duration = Duration::from_secs(15);

/// The containerd runtime (shim) berthd's containers run under, by its containerd name
/// (`--default-runtime`; dockerd since 23.0 takes shim names there too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShimRuntime {
    /// `io.containerd.berth.v2`: berth's shim, with berth-runtime.
    #[default]
    Berth,
    /// `io.containerd.runc.v2`: containerd's runc shim (containerd-shim-runc-v2), with runc.
    Runc,
}

impl ShimRuntime {
    /// The runtime name the supervisor resolves to a shim binary.
    pub fn name(self) -> &'static str {
        match self {
            ShimRuntime::Berth => "io.containerd.berth.v2",
            ShimRuntime::Runc => "io.containerd.runc.v2",
        }
    }

    /// The OCI runtime under the shim, as `docker info` names runtimes.
    pub fn oci_runtime(self) -> &'static str {
        match self {
            ShimRuntime::Berth => "berth",
            ShimRuntime::Runc => "runc",
        }
    }
}

impl std::str::FromStr for ShimRuntime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [ShimRuntime::Berth, ShimRuntime::Runc].into_iter().find(|r| r.name() == s).ok_or_else(|| {
            format!(
                "unknown runtime {s:?}: berthd runs containers under {} (berth's shim and berth-runtime) or {} (containerd's runc shim and runc)",
                ShimRuntime::Berth.name(),
                ShimRuntime::Runc.name()
            )
        })
    }
}

/// Whether `ns` is a valid containerd namespace (containerd's identifier rule: alphanumeric
/// runs joined by single `.`, `_` or `-`, at most 76 characters).
pub fn check_namespace(ns: &str) -> Result<(), String> {
    let runs_ok = ns.split(['.', '_', '-']).all(|run| !run.is_empty() && run.bytes().all(|b| b.is_ascii_alphanumeric()));
    if runs_ok && ns.len() <= 76 {
        Ok(())
    } else {
        Err(format!("invalid containerd namespace {ns:?}: alphanumeric parts joined by '.', '_' or '-', at most 76 characters"))
    }
}

/// What berthd asks of the supervisor for every container.
#[derive(Debug, Clone)]
pub struct TaskSettings {
    /// The containerd namespace of every request and of the events berthd takes.
    pub namespace: String,
    /// The shim that runs the containers.
    pub runtime: ShimRuntime,
    /// The runtime's state root, sent as runc's `root` option. None leaves it to the
    /// supervisor: the berth-supervisor that berthd starts puts it below its own state dir.
    /// A supervisor berthd did not start (a real containerd) fills in nothing, and the
    /// shims' defaults are host-wide (/run/berth/runtime/<ns>, /run/containerd/runc/<ns>),
    /// outside berthd's exec-root: so berthd names one.
    pub runtime_root: Option<PathBuf>,
    /// The logging binary containerd's runc shim runs for the container's output: this
    /// executable (`berth logger`). Unused with berth's shim, which writes the json-file
    /// log itself.
    pub logger: PathBuf,
}

impl TaskSettings {
    /// berth's shim in berthd's default namespace, runtime state left to the supervisor.
    pub fn new(logger: PathBuf) -> Self {
        TaskSettings { namespace: DEFAULT_NAMESPACE.into(), runtime: ShimRuntime::Berth, runtime_root: None, logger }
    }

    /// The container's runtime: its name, with runc's options when a root is set.
    fn runtime(&self) -> Result<Runtime, BackendError> {
        let options = match &self.runtime_root {
            None => None,
            Some(root) => {
                use containerd_shim_protos::protobuf::Message as _;
                let mut o = containerd_shim_protos::shim::oci::Options::new();
                o.root = root.to_string_lossy().into_owned();
                let value = o.write_to_bytes().map_err(BackendError::Options)?;
                Some(prost_types::Any { type_url: RUNC_OPTIONS_TYPE_URL.into(), value })
            }
        };
        Ok(Runtime { name: self.runtime.name().into(), options })
    }

    /// Where the shim sends the container's output: berth's shim takes the json-file log
    /// itself (`jsonfile://`); containerd's runc shim knows fifos, files and logging
    /// binaries only (it refuses any other scheme), so it gets berth as its logging binary
    /// (`binary://`, containerd's shim logging protocol), which writes the same log. Either
    /// way the shim, not berthd, holds the container's output, and it outlives berthd.
    /// A terminal's output under the runc shim is logged read by read, as berth's shim does.
    fn log_uri(&self, log: &crate::logs::LogTarget, terminal: bool) -> String {
        match (self.runtime, terminal) {
            (ShimRuntime::Berth, _) => log.uri(),
            (ShimRuntime::Runc, false) => log.binary_uri(&self.logger),
            (ShimRuntime::Runc, true) => log.binary_uri_for_terminal(&self.logger),
        }
    }
}

/// A gRPC connection to the supervisor.
#[derive(Clone)]
pub struct SupervisorClient {
    channel: Channel,
    socket: PathBuf,
    settings: Arc<TaskSettings>,
    namespace: MetadataValue<Ascii>,
}

/// A lazy channel over a unix socket: it (re)connects on use, so a supervisor that was
/// killed and restarted is picked up again without the daemon noticing more than errors.
pub fn unix_channel(socket: &Path) -> Result<Channel, BackendError> {
    let path = socket.to_path_buf();
    let endpoint = Endpoint::try_from("http://[::]:50051").map_err(BackendError::Address)?.connect_timeout(Duration::from_secs(2));
    Ok(endpoint.connect_with_connector_lazy(tower::service_fn(move |_: tonic::transport::Uri| {
        let path = path.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(path).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    })))
}

/// Whether `s` says the supervisor could not be reached or went away mid-call, rather than
/// answering: statuses made on our side from a transport error carry that error as their
/// source; those the supervisor sent do not.
fn is_transport(s: &tonic::Status) -> bool {
    use std::error::Error;
    s.source().is_some() || matches!(s.code(), Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded)
}

fn status_err(id: &str, s: tonic::Status) -> BackendError {
    if is_transport(&s) {
        return BackendError::Unavailable(s.message().to_owned());
    }
    match s.code() {
        Code::NotFound => BackendError::NotFound(id.to_owned()),
        _ => BackendError::Supervisor(s),
    }
}

/// A failed task create or start: the runtime's refusal (a bad command, a bad mount), or a
/// supervisor that went away (a backend failure, not the request's fault).
fn start_err(id: &str, s: tonic::Status) -> BackendError {
    if is_transport(&s) {
        return BackendError::Unavailable(s.message().to_owned());
    }
    match s.code() {
        Code::Internal | Code::AlreadyExists | Code::NotFound => status_err(id, s),
        _ => BackendError::Start(s.message().to_owned()),
    }
}

impl SupervisorClient {
    /// A client for the supervisor at `socket`; exits are sent to `exits` by a background
    /// task that stays subscribed to the supervisor's events across its restarts.
    /// With `respawn` (the daemon's root and exec-root), a supervisor that dies is started
    /// again, as dockerd restarts the containerd it started.
    pub fn new(
        socket: &Path,
        settings: TaskSettings,
        exits: UnboundedSender<TaskEvent>,
        resync: UnboundedSender<()>,
        respawn: Option<(PathBuf, PathBuf)>,
    ) -> Result<Self, BackendError> {
        check_namespace(&settings.namespace).map_err(BackendError::Namespace)?;
        let namespace = settings.namespace.parse().map_err(|_| BackendError::Namespace(format!("containerd namespace {:?}", settings.namespace)))?;
        let channel = unix_channel(socket)?;
        let client = SupervisorClient { channel, socket: socket.to_path_buf(), settings: Arc::new(settings), namespace };
        tokio::spawn(client.clone().watch_exits(exits, resync, respawn));
        Ok(client)
    }

    /// The supervisor's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// What berthd asks of the supervisor (namespace, runtime).
    pub fn settings(&self) -> &TaskSettings {
        &self.settings
    }

    /// A request in berthd's containerd namespace.
    fn req<T>(&self, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        r.metadata_mut().insert("containerd-namespace", self.namespace.clone());
        r
    }

    async fn watch_exits(self, exits: UnboundedSender<TaskEvent>, resync: UnboundedSender<()>, respawn: Option<(PathBuf, PathBuf)>) {
        loop {
            let mut client = EventsClient::new(self.channel.clone());
            // Exits of berthd's namespace only: a containerd shared with other clients
            // (dockerd's "moby", Kubernetes' "k8s.io") sends every namespace's events.
            let filter = |topic: &str| format!("namespace==\"{}\",topic==\"{topic}\"", self.settings.namespace);
            let filters = vec![filter("/tasks/exit"), filter("/tasks/oom")];
            match client.subscribe(self.req(SubscribeRequest { filters })).await {
                Ok(resp) => {
                    // Exits that happened while we were not subscribed are found by a resync.
                    let _ = resync.send(());
                    let mut stream = resp.into_inner();
                    while let Ok(Some(env)) = stream.message().await {
                        if env.namespace != self.settings.namespace {
                            continue;
                        }
                        let Some(any) = env.event else { continue };
                        if env.topic == "/tasks/oom" {
                            let Ok(ev) = TaskOom::decode(any.value.as_slice()) else { continue };
                            if exits.send(TaskEvent::Oom { id: ev.container_id }).is_err() {
                                return;
                            }
                            continue;
                        }
                        if env.topic != "/tasks/exit" {
                            continue;
                        }
                        let Ok(ev) = TaskExit::decode(any.value.as_slice()) else { continue };
                        // Only the init process's exit ends the container.
                        if !ev.id.is_empty() && ev.id != ev.container_id {
                            continue;
                        }
                        let exited_at = ev
                            .exited_at
                            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
                            .unwrap_or_else(chrono::Utc::now);
                        if exits.send(TaskEvent::Exit(ExitEvent { id: ev.container_id, exit_code: ev.exit_status as i64, exited_at })).is_err() {
                            return;
                        }
                    }
                    tracing::warn!("event stream from supervisor ended; resubscribing");
                }
                Err(e) => {
                    tracing::debug!("subscribe to supervisor events: {e}");
                    if let Some((root, exec_root)) = &respawn
                        && let Err(e) = super::supervisor_process::ensure_running(root, exec_root).await
                    {
                        tracing::warn!("restarting berth-supervisor: {e:#}");
                    }
                }
            }
            if exits.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(super) async fn start(&self, id: &str, spec: &Value, log: &crate::logs::LogTarget, stdin: &str) -> Result<i32, BackendError> {
        let terminal = spec["process"]["terminal"].as_bool().unwrap_or(false);
        if !stdin.is_empty() && self.settings.runtime == ShimRuntime::Runc {
            // containerd's runc shim keeps no writer of its own on the stdin fifo: its
            // client must hold one for the container's life, which berthd cannot promise
            // (its restarts would close the container's stdin).
            return Err(BackendError::Start(format!(
                "OpenStdin (-i) is not supported under {}: containerd's runc shim does not hold the stdin fifo open; use {}",
                ShimRuntime::Runc.name(),
                ShimRuntime::Berth.name()
            )));
        }
        let spec_bytes = serde_json::to_vec(spec).map_err(|source| BackendError::Json { what: "encode the spec", source })?;
        let container = Container {
            id: id.to_owned(),
            runtime: Some(self.settings.runtime()?),
            spec: Some(prost_types::Any { type_url: SPEC_TYPE_URL.into(), value: spec_bytes }),
            ..Default::default()
        };
        let mut containers = ContainersClient::new(self.channel.clone());
        if let Err(s) = containers.create(self.req(CreateContainerRequest { container: Some(container.clone()) })).await {
            if s.code() != Code::AlreadyExists || is_transport(&s) {
                return Err(status_err(id, s));
            }
            // Left over from an earlier run of this container (or from a start cut short by
            // a crash): replace it, with whatever task it still has.
            if let Err(e) = super::reconcile::purge(self, id, LEFTOVER_TIMEOUT).await {
                return Err(BackendError::Leftover(e));
            }
            containers.create(self.req(CreateContainerRequest { container: Some(container) })).await.map_err(|s| status_err(id, s))?;
        }
        let log = self.settings.log_uri(log, terminal);
        let mut tasks = TasksClient::new(self.channel.clone());
        // The shim holds the stdin fifo and the pty master: both outlive berthd.
        let stderr = if terminal { String::new() } else { log.clone() };
        let create = CreateTaskRequest { container_id: id.to_owned(), stdin: stdin.to_owned(), stdout: log, stderr, terminal, ..Default::default() };
        if let Err(s) = tasks.create(self.req(create)).await {
            let _ = containers.delete(self.req(DeleteContainerRequest { id: id.to_owned() })).await;
            return Err(start_err(id, s));
        }
        match tasks.start(self.req(StartRequest { container_id: id.to_owned(), exec_id: String::new() })).await {
            Ok(r) => Ok(r.into_inner().pid as i32),
            Err(s) => {
                let _ = self.delete(id).await;
                Err(start_err(id, s))
            }
        }
    }

    pub(super) async fn kill(&self, id: &str, signal: i32) -> Result<(), BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let k = KillRequest { container_id: id.to_owned(), exec_id: String::new(), signal: signal as u32, all: false };
        tasks.kill(self.req(k)).await.map(|_| ()).map_err(|s| status_err(id, s))
    }

    /// Pauses (`pause`) or resumes the container's task through the supervisor.
    pub(super) async fn pause(&self, id: &str, pause: bool) -> Result<(), BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let container_id = id.to_owned();
        let r = if pause {
            tasks.pause(self.req(PauseTaskRequest { container_id })).await
        } else {
            tasks.resume(self.req(ResumeTaskRequest { container_id })).await
        };
        r.map(|_| ()).map_err(|s| status_err(id, s))
    }

    /// Applies new cgroup limits (`linux.resources` JSON) to the container's task (Task.Update).
    pub(super) async fn update(&self, id: &str, resources: &Value) -> Result<(), BackendError> {
        let value = serde_json::to_vec(resources).map_err(|source| BackendError::Json { what: "encode the resources", source })?;
        let req = UpdateTaskRequest {
            container_id: id.to_owned(),
            resources: Some(prost_types::Any { type_url: RESOURCES_TYPE_URL.into(), value }),
            ..Default::default()
        };
        let mut tasks = TasksClient::new(self.channel.clone());
        tasks.update(self.req(req)).await.map(|_| ()).map_err(|s| status_err(id, s))
    }

    /// The cgroup statistics of the container's task (Task.Metrics): the `Any` holding
    /// `io.containerd.cgroups.v1.Metrics` or `.v2.Metrics`; None when it has no running task.
    pub(super) async fn metrics(&self, id: &str) -> Result<Option<(String, Vec<u8>)>, BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let req = MetricsRequest { filters: vec![format!("id=={id}")] };
        let r = tasks.metrics(self.req(req)).await.map_err(|s| status_err(id, s))?.into_inner();
        Ok(r.metrics.into_iter().find(|m| m.id == id).and_then(|m| m.data).map(|a| (a.type_url, a.value)))
    }

    pub(super) async fn delete(&self, id: &str) -> Result<(), BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        match tasks.delete(self.req(DeleteTaskRequest { container_id: id.to_owned() })).await {
            Ok(_) => {}
            Err(s) if s.code() == Code::NotFound => {}
            Err(s) => return Err(status_err(id, s)),
        }
        let mut containers = ContainersClient::new(self.channel.clone());
        match containers.delete(self.req(DeleteContainerRequest { id: id.to_owned() })).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::NotFound => Ok(()),
            Err(s) => Err(status_err(id, s)),
        }
    }

    pub(super) async fn status(&self, id: &str) -> Result<TaskStatus, BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        match tasks.get(self.req(GetRequest { container_id: id.to_owned(), exec_id: String::new() })).await {
            Ok(r) => {
                let Some(p) = r.into_inner().process else { return Ok(TaskStatus::Missing) };
                Ok(match Status::try_from(p.status).unwrap_or(Status::Unknown) {
                    Status::Running => TaskStatus::Running { pid: p.pid as i32, paused: false },
                    Status::Created => TaskStatus::Created { pid: p.pid as i32 },
                    Status::Paused | Status::Pausing => TaskStatus::Running { pid: p.pid as i32, paused: true },
                    Status::Stopped => TaskStatus::Stopped { exit_code: p.exit_status as i64 },
                    Status::Unknown => TaskStatus::Missing,
                })
            }
            Err(s) if s.code() == Code::NotFound => Ok(TaskStatus::Missing),
            Err(s) => Err(status_err(id, s)),
        }
    }

    /// Adds process `exec_id` (an OCI process) to the container's task with its stdio on
    /// the fifos `stdio` (empty: none) and starts it; returns its pid.
    pub(super) async fn exec(&self, id: &str, exec_id: &str, process: &Value, stdio: [String; 3]) -> Result<i32, BackendError> {
        let value = serde_json::to_vec(process).map_err(|source| BackendError::Json { what: "encode the exec process", source })?;
        let terminal = process.get("terminal").and_then(Value::as_bool).unwrap_or(false);
        let [stdin, stdout, stderr] = stdio;
        let mut tasks = TasksClient::new(self.channel.clone());
        let exec = ExecProcessRequest {
            container_id: id.to_owned(),
            exec_id: exec_id.to_owned(),
            stdin,
            stdout,
            stderr,
            terminal,
            spec: Some(prost_types::Any { type_url: PROCESS_TYPE_URL.into(), value }),
        };
        tasks.exec(self.req(exec)).await.map_err(|s| status_err(id, s))?;
        match tasks.start(self.req(StartRequest { container_id: id.to_owned(), exec_id: exec_id.to_owned() })).await {
            Ok(r) => Ok(r.into_inner().pid as i32),
            Err(s) => {
                let _ = self.exec_delete(id, exec_id).await;
                Err(BackendError::Start(s.message().to_owned()))
            }
        }
    }

    /// Waits for process `exec_id` to exit; its exit code.
    pub(super) async fn exec_wait(&self, id: &str, exec_id: &str) -> Result<i64, BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let w = WaitRequest { container_id: id.to_owned(), exec_id: exec_id.to_owned() };
        let r = tasks.wait(self.req(w)).await.map_err(|s| status_err(id, s))?;
        Ok(r.into_inner().exit_status as i64)
    }

    /// Closes process `exec_id`'s stdin.
    pub(super) async fn exec_close_stdin(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let c = CloseIoRequest { container_id: id.to_owned(), exec_id: exec_id.to_owned(), stdin: true };
        tasks.close_io(self.req(c)).await.map(|_| ()).map_err(|s| status_err(id, s))
    }

    /// Sets the window size of process `exec_id`'s terminal.
    pub(super) async fn exec_resize(&self, id: &str, exec_id: &str, width: u32, height: u32) -> Result<(), BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let r = ResizePtyRequest { container_id: id.to_owned(), exec_id: exec_id.to_owned(), width, height };
        tasks.resize_pty(self.req(r)).await.map(|_| ()).map_err(|s| status_err(id, s))
    }

    /// Forgets the exited process `exec_id`.
    pub(super) async fn exec_delete(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
        let mut tasks = TasksClient::new(self.channel.clone());
        let d = DeleteProcessRequest { container_id: id.to_owned(), exec_id: exec_id.to_owned() };
        match tasks.delete_process(self.req(d)).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::NotFound => Ok(()),
            Err(s) => Err(status_err(id, s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_and_namespaces_are_taken_by_their_containerd_names_and_others_refused() {
        assert_eq!("io.containerd.runc.v2".parse::<ShimRuntime>(), Ok(ShimRuntime::Runc));
        assert_eq!("io.containerd.berth.v2".parse::<ShimRuntime>(), Ok(ShimRuntime::Berth));
        let e = "runc".parse::<ShimRuntime>().expect_err("a docker runtime name is not a shim name");
        assert!(e.contains("unknown runtime \"runc\"") && e.contains("io.containerd.runc.v2"), "{e}");
        for ok in ["berth", "bt0a1b2c3d", "k8s.io", "a-b_c.d"] {
            assert_eq!(check_namespace(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a..b", "-a", "a/b", "ä", &"x".repeat(77)] {
            assert!(check_namespace(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_supervisor_gone_mid_call_is_a_backend_failure_and_a_refusal_is_the_requests() {
        // What tonic makes on our side when the connection breaks carries the cause.
        let broken = tonic::Status::from_error(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        assert!(matches!(start_err("c", broken), BackendError::Unavailable(_)));
        assert!(matches!(start_err("c", tonic::Status::unavailable("gone")), BackendError::Unavailable(_)));
        // What the supervisor answers: the runtime's refusal, or its own failure.
        let refused = tonic::Status::unknown("exec: \"nope\": executable file not found in $PATH");
        assert!(matches!(start_err("c", refused), BackendError::Start(_)));
        assert!(matches!(start_err("c", tonic::Status::internal("write bundle: no space left on device")), BackendError::Supervisor(_)));
        assert!(matches!(start_err("c", tonic::Status::already_exists("task c already exists")), BackendError::Supervisor(_)));
        let e: super::super::DaemonError = BackendError::Unavailable("x".into()).into();
        assert_eq!(e.kind(), super::super::error::ErrorKind::Unavailable, "HTTP 503, never the request's fault");
    }
}
