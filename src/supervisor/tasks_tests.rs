//! The supervisor's task state machine, driven through [`Tasks`] with a fake shim (the
//! [`ShimApi`] seam) started by a fake [`ShimLauncher`]: no process is started.

use std::sync::mpsc;
use std::sync::Mutex as StdMutex;

use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use ttrpc::context::Context;

use super::*;
use crate::proto::containerd::types::Envelope;
use crate::supervisor::shim_client::ShimApi;
use crate::supervisor::shim_launch::RuncShim;
use crate::supervisor::store::AnyJson;

const NS: &str = "test";
const PID: u32 = 4242;

/// How the fake shim's Wait ends.
enum Ending {
    /// The process exits with this status.
    Exit(u32),
    /// The shim's connection breaks (the shim died).
    ShimDied,
}

/// A shim that records calls; Wait blocks until the test ends the process.
struct FakeShim {
    calls: StdMutex<Vec<String>>,
    ending: StdMutex<mpsc::Receiver<Ending>>,
    end: StdMutex<mpsc::Sender<Ending>>,
    /// Start ends the process at once (a command that exits immediately).
    exit_on_start: Option<u32>,
    fail_create: bool,
}

impl FakeShim {
    fn new(exit_on_start: Option<u32>, fail_create: bool) -> Arc<Self> {
        let (tx, rx) = mpsc::channel();
        Arc::new(FakeShim { calls: StdMutex::default(), ending: StdMutex::new(rx), end: StdMutex::new(tx), exit_on_start, fail_create })
    }
    fn record(&self, call: &str) {
        self.calls.lock().expect("calls").push(call.to_owned());
    }
    fn end(&self, e: Ending) {
        let _ = self.end.lock().expect("end").send(e);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }
}

fn status(code: ttrpc::Code, msg: &str) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg))
}

impl ShimApi for FakeShim {
    fn create(&self, _: Context, req: &shimapi::CreateTaskRequest) -> ttrpc::Result<shimapi::CreateTaskResponse> {
        self.record(&format!("create {}", req.id));
        if self.fail_create {
            return Err(status(ttrpc::Code::UNKNOWN, "runtime create failed: injected"));
        }
        let mut r = shimapi::CreateTaskResponse::new();
        r.pid = PID;
        Ok(r)
    }
    fn start(&self, _: Context, req: &shimapi::StartRequest) -> ttrpc::Result<shimapi::StartResponse> {
        self.record(&format!("start {}", req.id));
        if let Some(code) = self.exit_on_start {
            self.end(Ending::Exit(code));
        }
        let mut r = shimapi::StartResponse::new();
        r.pid = PID;
        Ok(r)
    }
    fn delete(&self, _: Context, req: &shimapi::DeleteRequest) -> ttrpc::Result<shimapi::DeleteResponse> {
        self.record(&format!("delete {}", req.id));
        let mut r = shimapi::DeleteResponse::new();
        r.pid = PID;
        r.exit_status = 7;
        Ok(r)
    }
    fn pids(&self, _: Context, _: &shimapi::PidsRequest) -> ttrpc::Result<shimapi::PidsResponse> {
        Ok(shimapi::PidsResponse::new())
    }
    fn pause(&self, _: Context, _: &shimapi::PauseRequest) -> ttrpc::Result<Empty> {
        self.record("pause");
        Ok(Empty::new())
    }
    fn resume(&self, _: Context, _: &shimapi::ResumeRequest) -> ttrpc::Result<Empty> {
        self.record("resume");
        Ok(Empty::new())
    }
    fn kill(&self, _: Context, req: &shimapi::KillRequest) -> ttrpc::Result<Empty> {
        self.record(&format!("kill {}", req.signal));
        if req.signal == libc::SIGKILL as u32 {
            self.end(Ending::Exit(137));
        }
        Ok(Empty::new())
    }
    fn exec(&self, _: Context, _: &shimapi::ExecProcessRequest) -> ttrpc::Result<Empty> {
        Ok(Empty::new())
    }
    fn resize_pty(&self, _: Context, _: &shimapi::ResizePtyRequest) -> ttrpc::Result<Empty> {
        Ok(Empty::new())
    }
    fn close_io(&self, _: Context, _: &shimapi::CloseIORequest) -> ttrpc::Result<Empty> {
        Ok(Empty::new())
    }
    fn update(&self, _: Context, _: &shimapi::UpdateTaskRequest) -> ttrpc::Result<Empty> {
        Ok(Empty::new())
    }
    fn wait(&self, _: Context, _: &shimapi::WaitRequest) -> ttrpc::Result<shimapi::WaitResponse> {
        let ending = self.ending.lock().expect("ending").recv();
        match ending {
            Ok(Ending::Exit(code)) => {
                let mut r = shimapi::WaitResponse::new();
                r.exit_status = code;
                Ok(r)
            }
            Ok(Ending::ShimDied) | Err(_) => Err(ttrpc::Error::Others("connection reset by peer".into())),
        }
    }
    fn stats(&self, _: Context, _: &shimapi::StatsRequest) -> ttrpc::Result<shimapi::StatsResponse> {
        Ok(shimapi::StatsResponse::new())
    }
    fn connect(&self, _: Context, _: &shimapi::ConnectRequest) -> ttrpc::Result<shimapi::ConnectResponse> {
        let mut r = shimapi::ConnectResponse::new();
        r.task_pid = PID;
        Ok(r)
    }
    fn shutdown(&self, _: Context, _: &shimapi::ShutdownRequest) -> ttrpc::Result<Empty> {
        self.record("shutdown");
        Ok(Empty::new())
    }
    fn state(&self, _: Context, _: &shimapi::StateRequest) -> ttrpc::Result<shimapi::StateResponse> {
        let mut r = shimapi::StateResponse::new();
        r.pid = PID;
        r.status = shimapi::Status::RUNNING.into();
        Ok(r)
    }
}

/// Hands out prepared shims; records delete actions.
struct FakeLauncher {
    next: StdMutex<Vec<Arc<FakeShim>>>,
    listening: StdMutex<Option<Arc<FakeShim>>>,
    deleted: StdMutex<Vec<String>>,
}

impl ShimLauncher for FakeLauncher {
    fn start(&self, _ns: &str, id: &str, _runtime: &str, bundle: &Path) -> Result<Shim, SupervisorError> {
        assert!(bundle.join("config.json").is_file(), "the spec is in the bundle before the shim starts");
        let shim = self.next.lock().expect("next").pop().ok_or_else(|| SupervisorError::Invalid(format!("no shim for {id}")))?;
        Ok(shim)
    }
    fn connect(&self, _address: &str) -> Option<Shim> {
        self.listening.lock().expect("listening").clone().map(|s| s as Shim)
    }
    fn delete_action(&self, _ns: &str, id: &str, _runtime: &str, _bundle: &Path) {
        self.deleted.lock().expect("deleted").push(id.to_owned());
    }
}

struct Harness {
    tasks: Arc<Tasks>,
    launcher: Arc<FakeLauncher>,
    events: tokio::sync::broadcast::Receiver<Envelope>,
    dir: PathBuf,
    _tmp: crate::util::TestDir,
}

impl Harness {
    fn new(tag: &str) -> Self {
        let tmp = crate::util::TestDir::new(&format!("sup-tasks-{tag}"));
        let dir = tmp.path().to_path_buf();
        let cfg = Config {
            address: dir.join("s.sock"),
            root: dir.join("root"),
            state: dir.join("state"),
            publish_binary: PathBuf::new(),
            runc_shim: RuncShim::Berth,
        };
        let store = Store::new(&cfg.root);
        let exchange = Exchange::default();
        let events = exchange.subscribe();
        let launcher = Arc::new(FakeLauncher { next: StdMutex::default(), listening: StdMutex::default(), deleted: StdMutex::default() });
        let tasks = Arc::new(Tasks::with_launcher(cfg, store, exchange, launcher.clone()));
        Harness { tasks, launcher, events, dir, _tmp: tmp }
    }

    fn container(&self, id: &str) {
        let rec = ContainerRecord {
            id: id.into(),
            labels: Default::default(),
            image: String::new(),
            runtime_name: crate::supervisor::BERTH_RUNTIME.into(),
            runtime_options: None,
            spec: Some(AnyJson { type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec".into(), value: b"{}".to_vec() }),
            snapshotter: String::new(),
            snapshot_key: String::new(),
            created_at: (0, 0),
            updated_at: (0, 0),
            extensions: Default::default(),
            sandbox: String::new(),
        };
        self.tasks.store.create(NS, &rec).expect("store the container");
    }

    fn shim(&self, shim: Arc<FakeShim>) -> Arc<FakeShim> {
        self.launcher.next.lock().expect("next").push(shim.clone());
        shim
    }

    async fn create(&self, id: &str) -> Result<u32, SupervisorError> {
        let req = tapi::CreateTaskRequest { container_id: id.into(), ..Default::default() };
        self.tasks.create(NS, req).await
    }

    /// The topics published so far.
    fn topics(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.push(e.topic);
        }
        out
    }

    fn bundle(&self, id: &str) -> PathBuf {
        self.dir.join("state").join(NS).join(id)
    }
}

async fn exited(tasks: &Tasks, id: &str) -> Exit {
    let task = tasks.get(NS, id).expect("task");
    tokio::time::timeout(Duration::from_secs(10), task.wait()).await.expect("the exit is recorded")
}

#[tokio::test]
async fn a_task_is_created_started_killed_and_deleted_with_its_events_in_order() {
    let mut h = Harness::new("life");
    h.container("c");
    let shim = h.shim(FakeShim::new(None, false));
    assert_eq!(h.create("c").await.expect("create"), PID);
    assert!(matches!(h.create("c").await, Err(SupervisorError::AlreadyExists { .. })), "one task per container");
    assert_eq!(h.tasks.start(NS, "c").await.expect("start"), PID);
    let p = h.tasks.process(&h.tasks.get(NS, "c").expect("task")).await;
    assert_eq!((p.pid, p.status), (PID, Status::Running as i32));
    h.tasks.kill(NS, "c", libc::SIGKILL as u32, false).await.expect("kill");
    assert_eq!(exited(&h.tasks, "c").await.status, 137);
    let p = h.tasks.process(&h.tasks.get(NS, "c").expect("task")).await;
    assert_eq!((p.status, p.exit_status), (Status::Stopped as i32, 137), "a known exit is reported without asking the shim");
    let exit = h.tasks.delete(NS, "c").await.expect("delete");
    assert_eq!(exit.status, 7, "the shim's Delete answer is the task's exit");
    assert!(matches!(h.tasks.get(NS, "c"), Err(SupervisorError::NotFound { .. })));
    assert!(!h.bundle("c").exists(), "the bundle is removed");
    assert_eq!(shim.calls(), ["create c", "start c", "kill 9", "delete c", "shutdown"]);
    assert_eq!(h.topics(), ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]);
}

#[tokio::test]
async fn an_exit_during_start_is_published_after_the_start() {
    let mut h = Harness::new("fast");
    h.container("c");
    h.shim(FakeShim::new(Some(0), false));
    h.create("c").await.expect("create");
    h.tasks.start(NS, "c").await.expect("start");
    assert_eq!(exited(&h.tasks, "c").await.status, 0);
    assert_eq!(h.topics(), ["/tasks/create", "/tasks/start", "/tasks/exit"]);
}

#[tokio::test]
async fn a_dead_shim_is_cleaned_up_after_and_its_task_reported_killed() {
    let mut h = Harness::new("dead");
    h.container("c");
    let shim = h.shim(FakeShim::new(None, false));
    h.create("c").await.expect("create");
    h.tasks.start(NS, "c").await.expect("start");
    shim.end(Ending::ShimDied);
    assert_eq!(exited(&h.tasks, "c").await.status, 137, "no exit record: the container died with its shim");
    assert_eq!(*h.launcher.deleted.lock().expect("deleted"), ["c"], "the shim binary's delete action ran");
    assert!(!h.bundle("c").exists(), "the bundle is removed");
    assert_eq!(h.topics(), ["/tasks/create", "/tasks/start", "/tasks/exit"]);
    h.tasks.delete(NS, "c").await.expect("delete of a task whose shim died");
    assert!(h.tasks.get(NS, "c").is_err());
}

#[tokio::test]
async fn a_create_the_shim_refuses_leaves_no_task_shim_or_bundle() {
    let mut h = Harness::new("refused");
    h.container("c");
    let shim = h.shim(FakeShim::new(None, true));
    let e = h.create("c").await.expect_err("refused");
    assert!(e.to_string().contains("injected"), "the shim's message reaches the client: {e}");
    assert!(h.tasks.get(NS, "c").is_err());
    assert_eq!(shim.calls(), ["create c", "shutdown"], "the shim is shut down");
    assert!(!h.bundle("c").exists(), "the bundle is removed");
    assert_eq!(*h.launcher.deleted.lock().expect("deleted"), ["c"], "what the runtime made is deleted");
    assert!(h.topics().is_empty(), "nothing is published for a task that never was");
    h.shim(FakeShim::new(None, false));
    h.create("c").await.expect("a retry works");
}

#[tokio::test]
async fn a_container_without_a_task_has_no_task_to_start_and_an_unknown_container_none_to_create() {
    let h = Harness::new("none");
    assert!(matches!(h.tasks.start(NS, "c").await, Err(SupervisorError::NotFound { .. })));
    assert!(matches!(h.create("c").await, Err(SupervisorError::NotFound { .. })), "no container record");
    assert!(matches!(h.create("../x").await, Err(SupervisorError::InvalidName { .. })));
}

#[tokio::test]
async fn recovery_reattaches_a_live_shim_and_reports_a_gone_one_from_its_exit_record() {
    let h = Harness::new("recover");
    for id in ["alive", "gone", "half"] {
        h.container(id);
        std::fs::create_dir_all(h.bundle(id)).expect("bundle");
    }
    std::fs::write(h.bundle("alive").join(crate::bundle::ADDRESS_FILE), "unix:///nowhere/alive.sock").expect("address");
    std::fs::write(h.bundle("gone").join(crate::bundle::ADDRESS_FILE), "unix:///nowhere/gone.sock").expect("address");
    let rec = crate::bundle::ExitRecord { pid: 99, exit_status: 3, exited_at: "2026-01-01T00:00:00Z".into() };
    crate::bundle::write_exit(&h.bundle("gone"), &rec).expect("exit record");
    // "half" has neither an address nor a shim: a create cut short.
    let live = FakeShim::new(None, false);
    // A shim listens only at the address of "alive".
    struct ByAddress(Arc<FakeShim>, Arc<FakeLauncher>);
    impl ShimLauncher for ByAddress {
        fn start(&self, ns: &str, id: &str, runtime: &str, bundle: &Path) -> Result<Shim, SupervisorError> {
            self.1.start(ns, id, runtime, bundle)
        }
        fn connect(&self, address: &str) -> Option<Shim> {
            address.ends_with("alive.sock").then(|| self.0.clone() as Shim)
        }
        fn delete_action(&self, ns: &str, id: &str, runtime: &str, bundle: &Path) {
            self.1.delete_action(ns, id, runtime, bundle)
        }
    }
    let tasks = Arc::new(Tasks::with_launcher(
        h.tasks.cfg.clone(),
        h.tasks.store.clone(),
        Exchange::default(),
        Arc::new(ByAddress(live.clone(), h.launcher.clone())),
    ));
    tasks.recover().await;
    let alive = tasks.get(NS, "alive").expect("the live task is back");
    assert!(alive.client.is_some() && alive.exit().is_none());
    assert_eq!(tasks.process(&alive).await.status, Status::Running as i32);
    let gone = tasks.get(NS, "gone").expect("the gone task is kept for its exit");
    assert_eq!(gone.exit().map(|e| (e.pid, e.status)), Some((99, 3)));
    assert!(!h.bundle("gone").exists() && !h.bundle("half").exists(), "what nobody serves is cleaned");
    assert!(tasks.get(NS, "half").is_err());
    let mut deleted = h.launcher.deleted.lock().expect("deleted").clone();
    deleted.sort();
    assert_eq!(deleted, ["gone", "half"]);
    live.end(Ending::Exit(0));
    assert_eq!(exited(&tasks, "alive").await.status, 0, "the re-armed Wait learns the exit");
}
