//! berth-supervisor + berth-shim driven through containerd's gRPC API, with Debian's runc as
//! the OCI runtime (binary_name in the runc options), so these do not need berth-runtime.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth::proto::containerd::services::containers::v1 as capi;
use berth::proto::containerd::services::events::v1 as eapi;
use berth::proto::containerd::services::tasks::v1 as tapi;
use berth::proto::containerd::v1::types::Status;
use common::{argv0_of, pid_alive, ppid_of, role, wait_until, TempDir};
use containerd_shim_protos::protobuf::Message as _;
use tonic::transport::Channel;

const NS: &str = "berth-test";
const RUNC: &str = "/usr/sbin/runc";

fn req<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert("containerd-namespace", NS.parse().expect("ascii"));
    r
}

fn kill9(pid: i32) {
    if pid > 0 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
}

/// Everything a test creates; cleaned up on drop even when the test fails.
struct Env {
    supervisor: Option<Child>,
    pids: Vec<i32>,
    ids: Vec<String>,
    cgroups: Vec<String>,
    tmp: TempDir,
}

impl Env {
    fn new(tag: &str) -> Self {
        let tmp = TempDir::new(tag);
        common::make_busybox_rootfs(&tmp.path().join("rootfs"));
        Env { supervisor: None, pids: Vec::new(), ids: Vec::new(), cgroups: Vec::new(), tmp }
    }
    fn p(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    fn socket(&self) -> PathBuf {
        self.p("sup.sock")
    }

    /// Starts berth-supervisor on this test's dirs and waits for its socket.
    fn start_supervisor(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new(role("berth-supervisor"))
            .arg("--address")
            .arg(self.socket())
            .arg("--root")
            .arg(self.p("root"))
            .arg("--state")
            .arg(self.p("state"))
            .arg("--log-level")
            .arg("debug")
            .arg("--log-file")
            .arg(self.p("supervisor.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn supervisor");
        self.supervisor = Some(child);
        let sock = self.socket();
        assert!(wait_until(10, || std::os::unix::net::UnixStream::connect(&sock).is_ok()), "supervisor socket");
    }

    fn supervisor_pid(&self) -> i32 {
        self.supervisor.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    fn kill_supervisor(&mut self) {
        if let Some(mut c) = self.supervisor.take() {
            kill9(c.id() as i32);
            let _ = c.wait();
        }
    }

    async fn channel(&self) -> Channel {
        berth::supervisor::connect(&self.socket()).await.expect("connect to supervisor")
    }

    fn spec(&mut self, id: &str, script: &str) -> prost_types::Any {
        let n: u32 = rand::random();
        let cg = format!("/berth-ss-{n:08x}");
        self.cgroups.push(cg.clone());
        self.ids.push(id.to_owned());
        let spec = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": ["sh", "-c", script],
                "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                "cwd": "/",
                "noNewPrivileges": true
            },
            "root": {"path": self.p("rootfs").to_string_lossy(), "readonly": false},
            "hostname": id,
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
            ],
            "linux": {
                "cgroupsPath": cg,
                "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}, {"type": "network"}]
            }
        });
        prost_types::Any {
            type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec".into(),
            value: serde_json::to_vec(&spec).expect("spec json"),
        }
    }

    fn runc_options(&self) -> prost_types::Any {
        let mut o = containerd_shim_protos::shim::oci::Options::new();
        o.binary_name = RUNC.into();
        o.root = self.p("runtime").to_string_lossy().into_owned();
        prost_types::Any { type_url: "containerd.runc.v1.Options".into(), value: o.write_to_bytes().expect("encode") }
    }

    /// containers.Create + tasks.Create (+ Start): returns the container pid.
    async fn run(&mut self, id: &str, script: &str, log: &Path) -> u32 {
        let spec = self.spec(id, script);
        let mut containers = capi::containers_client::ContainersClient::new(self.channel().await);
        containers
            .create(req(capi::CreateContainerRequest {
                container: Some(capi::Container {
                    id: id.into(),
                    runtime: Some(capi::container::Runtime { name: "io.containerd.berth.v2".into(), options: None }),
                    spec: Some(spec),
                    ..Default::default()
                }),
            }))
            .await
            .expect("containers.Create");
        let mut tasks = tapi::tasks_client::TasksClient::new(self.channel().await);
        let uri = format!("jsonfile://{}", log.display());
        let created = tasks
            .create(req(tapi::CreateTaskRequest {
                container_id: id.into(),
                stdout: uri.clone(),
                stderr: uri,
                options: Some(self.runc_options()),
                ..Default::default()
            }))
            .await
            .expect("tasks.Create")
            .into_inner();
        self.pids.push(created.pid as i32);
        if let Some(shim) = ppid_of(created.pid as i32) {
            self.pids.push(shim);
        }
        let started =
            tasks.start(req(tapi::StartRequest { container_id: id.into(), exec_id: String::new() })).await.expect("tasks.Start").into_inner();
        assert_eq!(started.pid, created.pid);
        created.pid
    }

    async fn tasks(&self) -> tapi::tasks_client::TasksClient<Channel> {
        tapi::tasks_client::TasksClient::new(self.channel().await)
    }

    async fn get(&self, id: &str) -> berth::proto::containerd::v1::types::Process {
        self.tasks()
            .await
            .get(req(tapi::GetRequest { container_id: id.into(), exec_id: String::new() }))
            .await
            .expect("tasks.Get")
            .into_inner()
            .process
            .expect("process")
    }

    async fn wait(&self, id: &str) -> u32 {
        let fut = async {
            self.tasks()
                .await
                .wait(req(tapi::WaitRequest { container_id: id.into(), exec_id: String::new() }))
                .await
                .expect("tasks.Wait")
                .into_inner()
                .exit_status
        };
        tokio::time::timeout(Duration::from_secs(20), fut).await.expect("Wait timed out")
    }

    async fn delete(&self, id: &str) -> tapi::DeleteResponse {
        let r = self.tasks().await.delete(req(tapi::DeleteTaskRequest { container_id: id.into() })).await.expect("tasks.Delete").into_inner();
        let mut containers = capi::containers_client::ContainersClient::new(self.channel().await);
        containers.delete(req(capi::DeleteContainerRequest { id: id.into() })).await.expect("containers.Delete");
        r
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for &pid in &self.pids {
            kill9(pid);
        }
        self.kill_supervisor();
        // Resident shims outlive the supervisor; a test that failed midway left them.
        for pid in common::pids_naming(self.tmp.path()) {
            kill9(pid);
        }
        for id in &self.ids {
            let _ = Command::new(RUNC)
                .arg("--root")
                .arg(self.p("runtime"))
                .args(["delete", "-f", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        std::thread::sleep(Duration::from_millis(100));
        for cg in &self.cgroups {
            if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
                for ctl in rd.flatten() {
                    let dir = ctl.path().join(cg.trim_start_matches('/'));
                    if dir.exists() {
                        for _ in 0..20 {
                            if std::fs::remove_dir(&dir).is_ok() {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            }
        }
        // TempDir (a field) unmounts and removes the rest after this.
    }
}

fn log_entries(path: &Path) -> Vec<berth::logs::jsonfile::Entry> {
    berth::logs::jsonfile::read_from(path, 0).map(|(e, _)| e).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_to_completion_with_json_log_and_events() {
    let mut env = Env::new("ss1");
    env.start_supervisor();
    let mut events = eapi::events_client::EventsClient::new(env.channel().await)
        .subscribe(req(eapi::SubscribeRequest { filters: vec![r#"topic=="/tasks/exit""#.into()] }))
        .await
        .expect("subscribe")
        .into_inner();
    let log = env.p("c.log");
    let pid = env.run("c1", "echo hi; echo err >&2", &log).await;
    assert!(pid > 0);
    assert_eq!(env.wait("c1").await, 0);
    let ev =
        tokio::time::timeout(Duration::from_secs(10), events.message()).await.expect("exit event in time").expect("event stream").expect("an event");
    assert_eq!(ev.topic, "/tasks/exit");
    assert_eq!(ev.namespace, NS);
    let any = ev.event.expect("payload");
    assert_eq!(any.type_url, "containerd.events.TaskExit");
    let exit = <berth::proto::containerd::events::TaskExit as prost::Message>::decode(any.value.as_slice()).expect("TaskExit");
    assert_eq!((exit.container_id.as_str(), exit.pid, exit.exit_status), ("c1", pid, 0));

    let entries = log_entries(&log);
    assert!(entries.iter().any(|e| e.stream == "stdout" && e.log == "hi\n"), "stdout in log: {entries:?}");
    assert!(entries.iter().any(|e| e.stream == "stderr" && e.log == "err\n"), "stderr in log: {entries:?}");
    let p = env.get("c1").await;
    assert_eq!(p.status, Status::Stopped as i32);
    let d = env.delete("c1").await;
    assert_eq!((d.pid, d.exit_status), (pid, 0));
    assert!(!env.p("state").join(NS).join("c1").exists(), "bundle removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_error_reaches_the_client() {
    let mut env = Env::new("ss2");
    env.start_supervisor();
    let spec = env.spec("bad", "true");
    let mut v: serde_json::Value = serde_json::from_slice(&spec.value).expect("json");
    v["process"]["args"] = serde_json::json!(["nosuchcmd"]);
    let spec = prost_types::Any { type_url: spec.type_url, value: serde_json::to_vec(&v).expect("json") };
    let mut containers = capi::containers_client::ContainersClient::new(env.channel().await);
    containers
        .create(req(capi::CreateContainerRequest { container: Some(capi::Container { id: "bad".into(), spec: Some(spec), ..Default::default() }) }))
        .await
        .expect("containers.Create");
    let err = env
        .tasks()
        .await
        .create(req(tapi::CreateTaskRequest { container_id: "bad".into(), options: Some(env.runc_options()), ..Default::default() }))
        .await
        .expect_err("create must fail");
    assert!(err.message().contains("executable file not found in $PATH"), "message: {}", err.message());
    let nf = env.tasks().await.get(req(tapi::GetRequest { container_id: "bad".into(), exec_id: String::new() })).await;
    assert_eq!(nf.expect_err("no task").code(), tonic::Code::NotFound);
    containers.delete(req(capi::DeleteContainerRequest { id: "bad".into() })).await.expect("containers.Delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_survives_supervisor_sigkill() {
    let mut env = Env::new("ss3");
    env.start_supervisor();
    let log = env.p("c.log");
    let pid = env.run("tick", "while true; do echo tick; sleep 0.1; done", &log).await as i32;
    let shim = ppid_of(pid).expect("container parent");
    assert_ne!(shim, env.supervisor_pid());
    let argv0 = argv0_of(shim).unwrap_or_default();
    assert!(argv0.ends_with("containerd-shim-berth-v2") || argv0.ends_with("berth-shim"), "parent is the shim: {argv0}");
    assert_ne!(ppid_of(shim), Some(env.supervisor_pid()), "shim is not the supervisor's child");

    env.kill_supervisor();
    let before = log_entries(&log).len();
    std::thread::sleep(Duration::from_millis(800));
    assert!(pid_alive(pid), "container survives the supervisor");
    assert!(pid_alive(shim), "shim survives the supervisor");
    let after = log_entries(&log).len();
    assert!(after > before, "log keeps growing ({before} -> {after})");

    env.start_supervisor();
    let p = env.get("tick").await;
    assert_eq!(p.status, Status::Running as i32);
    assert_eq!(p.pid, pid as u32);
    env.tasks()
        .await
        .kill(req(tapi::KillRequest { container_id: "tick".into(), exec_id: String::new(), signal: 9, all: false }))
        .await
        .expect("tasks.Kill");
    assert_eq!(env.wait("tick").await, 137);
    env.delete("tick").await;
    assert!(wait_until(10, || !pid_alive(shim)), "shim exits after delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_while_supervisor_down_is_reported() {
    let mut env = Env::new("ss4");
    env.start_supervisor();
    let log = env.p("c.log");
    let pid = env.run("seven", "sleep 0.5; exit 7", &log).await as i32;
    env.kill_supervisor();
    assert!(wait_until(10, || !pid_alive(pid)), "container exits");
    assert!(wait_until(5, || env.p("state").join(NS).join("seven/exit.json").exists()), "exit.json written");
    env.start_supervisor();
    assert_eq!(env.wait("seven").await, 7);
    let p = env.get("seven").await;
    assert_eq!((p.status, p.exit_status), (Status::Stopped as i32, 7));
    let d = env.delete("seven").await;
    assert_eq!(d.exit_status, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_with_dead_shim_comes_from_disk() {
    let mut env = Env::new("ss5");
    env.start_supervisor();
    let log = env.p("c.log");
    let pid = env.run("five", "sleep 0.3; exit 5", &log).await as i32;
    let shim = ppid_of(pid).expect("shim");
    env.kill_supervisor();
    assert!(wait_until(10, || env.p("state").join(NS).join("five/exit.json").exists()), "exit.json written");
    kill9(shim);
    assert!(wait_until(5, || !pid_alive(shim)));
    env.start_supervisor();
    let p = env.get("five").await;
    assert_eq!((p.status, p.exit_status), (Status::Stopped as i32, 5));
    assert_eq!(env.wait("five").await, 5);
    let d = env.delete("five").await;
    assert_eq!(d.exit_status, 5);
}

/// Same as the first test with berth's own runtime (the shim runs itself as `berth-runtime`);
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_berth_runtime() {
    let mut env = Env::new("ss6");
    env.start_supervisor();
    let spec = env.spec("own", "echo hi; echo err >&2");
    let mut containers = capi::containers_client::ContainersClient::new(env.channel().await);
    containers
        .create(req(capi::CreateContainerRequest { container: Some(capi::Container { id: "own".into(), spec: Some(spec), ..Default::default() }) }))
        .await
        .expect("containers.Create");
    let log = env.p("c.log");
    let uri = format!("jsonfile://{}", log.display());
    // No options: the supervisor sends runc options with root=<state>/runtime and no binary.
    let mut tasks = env.tasks().await;
    let created = tasks
        .create(req(tapi::CreateTaskRequest { container_id: "own".into(), stdout: uri.clone(), stderr: uri, ..Default::default() }))
        .await
        .expect("tasks.Create")
        .into_inner();
    env.pids.push(created.pid as i32);
    tasks.start(req(tapi::StartRequest { container_id: "own".into(), exec_id: String::new() })).await.expect("tasks.Start");
    assert_eq!(env.wait("own").await, 0);
    let entries = log_entries(&log);
    assert!(entries.iter().any(|e| e.stream == "stdout" && e.log == "hi\n"), "{entries:?}");
    env.delete("own").await;
}

/// Kills a pid on drop (by pid only).
struct PidGuard(i32);
impl Drop for PidGuard {
    fn drop(&mut self) {
        kill9(self.0);
    }
}

/// The shim alone, as containerd runs it: `start` prints the address, the resident shim is
/// re-parented away from its starter, answers under both task API names, and Shutdown ends it.
#[test]
fn shim_start_speaks_v2_and_v3_and_shuts_down() {
    use containerd_shim_protos::api;
    let tmp = TempDir::new("ss7");
    let bundle = tmp.path().join("b");
    std::fs::create_dir_all(&bundle).expect("bundle");
    let address = tmp.path().join("fake.sock");
    let out = Command::new(role("containerd-shim-berth-v2"))
        .args(["-namespace", NS, "-address"])
        .arg(&address)
        .args(["-publish-binary", "", "-id", "solo", "start"])
        .current_dir(&bundle)
        .output()
        .expect("run shim start");
    assert!(out.status.success(), "start failed: {}", String::from_utf8_lossy(&out.stderr));
    let addr = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(addr.starts_with(&format!("unix://{}/s/", tmp.path().display())), "address {addr}");
    assert_eq!(std::fs::read_to_string(bundle.join("address")).expect("address file"), addr);

    let client = ttrpc::Client::connect(&addr).expect("connect");
    let mut r = ttrpc::Request::new();
    r.service = "containerd.task.v2.Task".into();
    r.method = "Connect".into();
    r.timeout_nano = 5_000_000_000;
    r.payload = api::ConnectRequest::new().write_to_bytes().expect("encode");
    let resp = client.request(r).expect("v2 Connect");
    let c = api::ConnectResponse::parse_from_bytes(&resp.payload).expect("decode");
    let shim = c.shim_pid as i32;
    let _guard = PidGuard(shim);
    assert!(pid_alive(shim));
    assert!(argv0_of(shim).unwrap_or_default().ends_with("containerd-shim-berth-v2"));
    assert_ne!(ppid_of(shim), Some(std::process::id() as i32), "resident shim is not our child");

    let tc = containerd_shim_protos::TaskClient::new(client);
    let mut st = api::StateRequest::new();
    st.id = "nope".into();
    match tc.state(ttrpc::context::with_duration(Duration::from_secs(5)), &st) {
        Err(ttrpc::Error::RpcStatus(s)) => assert_eq!(s.code(), ttrpc::Code::NOT_FOUND),
        other => panic!("State of unknown id: {other:?}"),
    }
    tc.shutdown(ttrpc::context::with_duration(Duration::from_secs(5)), &api::ShutdownRequest::new()).expect("Shutdown");
    assert!(wait_until(5, || !pid_alive(shim)), "shim exits on Shutdown");
    assert!(!Path::new(addr.trim_start_matches("unix://")).exists(), "socket removed");
}

/// Waits for the next event on `topic` whose payload decodes as `M`.
async fn next_event<M: prost::Message + Default>(
    events: &mut tonic::Streaming<berth::proto::containerd::types::Envelope>,
    topic: &str,
    mut accept: impl FnMut(&M) -> bool,
) -> M {
    let fut = async {
        loop {
            let ev = events.message().await.expect("event stream").expect("an event");
            if ev.topic != topic {
                continue;
            }
            let any = ev.event.expect("payload");
            let m = M::decode(any.value.as_slice()).expect("decode event");
            if accept(&m) {
                return m;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), fut).await.unwrap_or_else(|_| panic!("no {topic} event in time"))
}

async fn subscribe(env: &Env) -> tonic::Streaming<berth::proto::containerd::types::Envelope> {
    eapi::events_client::EventsClient::new(env.channel().await)
        .subscribe(req(eapi::SubscribeRequest { filters: vec![] }))
        .await
        .expect("subscribe")
        .into_inner()
}

/// SIGKILL of the shim itself: the supervisor notices the closed connection, runs the shim's
/// `delete` action (runtime `delete -f` kills the container), reports exit 137 and cleans up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shim_sigkill_is_reported_as_137_and_leaves_nothing() {
    let mut env = Env::new("ss8");
    env.start_supervisor();
    let mut events = subscribe(&env).await;
    let log = env.p("c.log");
    let pid = env.run("victim", "while true; do echo tick; sleep 0.1; done", &log).await as i32;
    let shim = ppid_of(pid).expect("shim");
    kill9(shim);
    let exit: berth::proto::containerd::events::TaskExit =
        next_event(&mut events, "/tasks/exit", |e: &berth::proto::containerd::events::TaskExit| e.container_id == "victim").await;
    assert_eq!(exit.exit_status, 137);
    assert!(wait_until(5, || !pid_alive(pid)), "container killed with its shim");
    assert!(!env.p("state").join(NS).join("victim").exists(), "bundle cleaned");
    let runc_list = Command::new(RUNC).arg("--root").arg(env.p("runtime")).args(["list", "-q"]).output().expect("runc list");
    assert!(String::from_utf8_lossy(&runc_list.stdout).trim().is_empty(), "runtime state removed");
    let p = env.get("victim").await;
    assert_eq!((p.status, p.exit_status), (Status::Stopped as i32, 137));
    let d = env.delete("victim").await;
    assert_eq!(d.exit_status, 137);
}

fn exec_spec(args: &[&str]) -> prost_types::Any {
    let process = serde_json::json!({
        "terminal": false, "user": {"uid": 0, "gid": 0}, "args": args,
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/"
    });
    prost_types::Any {
        type_url: "types.containerd.io/opencontainers/runtime-spec/1/Process".into(),
        value: serde_json::to_vec(&process).expect("json"),
    }
}

/// Exec, pause/resume, pids, stats, update and CloseIO through the supervisor's tasks API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_pause_stats_through_the_supervisor() {
    let mut env = Env::new("ss9");
    env.start_supervisor();
    let mut events = subscribe(&env).await;
    let log = env.p("c.log");
    env.run("box", "while true; do sleep 0.2; done", &log).await;
    let mut tasks = env.tasks().await;
    let out = env.p("exec.out");
    tasks
        .exec(req(tapi::ExecProcessRequest {
            container_id: "box".into(),
            exec_id: "e1".into(),
            stdout: format!("file://{}", out.display()),
            spec: Some(exec_spec(&["sh", "-c", "echo from exec; exit 4"])),
            ..Default::default()
        }))
        .await
        .expect("tasks.Exec");
    let started = tasks.start(req(tapi::StartRequest { container_id: "box".into(), exec_id: "e1".into() })).await.expect("start exec").into_inner();
    assert!(started.pid > 0);
    let w = tasks.wait(req(tapi::WaitRequest { container_id: "box".into(), exec_id: "e1".into() })).await.expect("wait exec").into_inner();
    assert_eq!(w.exit_status, 4);
    let exit: berth::proto::containerd::events::TaskExit =
        next_event(&mut events, "/tasks/exit", |e: &berth::proto::containerd::events::TaskExit| e.id == "e1").await;
    assert_eq!((exit.container_id.as_str(), exit.exit_status), ("box", 4), "exec exit is forwarded from the shim");
    assert_eq!(std::fs::read_to_string(&out).expect("exec output"), "from exec\n");
    let d = tasks
        .delete_process(req(tapi::DeleteProcessRequest { container_id: "box".into(), exec_id: "e1".into() }))
        .await
        .expect("delete exec")
        .into_inner();
    assert_eq!(d.exit_status, 4);

    tasks.pause(req(tapi::PauseTaskRequest { container_id: "box".into() })).await.expect("pause");
    assert_eq!(env.get("box").await.status, Status::Paused as i32);
    tasks.resume(req(tapi::ResumeTaskRequest { container_id: "box".into() })).await.expect("resume");
    assert_eq!(env.get("box").await.status, Status::Running as i32);

    let pids = tasks.list_pids(req(tapi::ListPidsRequest { container_id: "box".into() })).await.expect("pids").into_inner();
    assert!(!pids.processes.is_empty());
    let m = tasks.metrics(req(tapi::MetricsRequest { filters: vec!["id==box".into()] })).await.expect("metrics").into_inner();
    assert_eq!(m.metrics.len(), 1);
    assert_eq!(m.metrics[0].data.as_ref().map(|d| d.type_url.as_str()), Some("io.containerd.cgroups.v1.Metrics"));
    let resources = serde_json::json!({"pids": {"limit": 100}});
    tasks
        .update(req(tapi::UpdateTaskRequest {
            container_id: "box".into(),
            resources: Some(prost_types::Any {
                type_url: "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources".into(),
                value: serde_json::to_vec(&resources).expect("json"),
            }),
            ..Default::default()
        }))
        .await
        .expect("update");
    tasks.close_io(req(tapi::CloseIoRequest { container_id: "box".into(), exec_id: String::new(), stdin: true })).await.expect("close io");
    tasks.kill(req(tapi::KillRequest { container_id: "box".into(), exec_id: String::new(), signal: 9, all: false })).await.expect("kill");
    assert_eq!(env.wait("box").await, 137);
    env.delete("box").await;
}

/// berth-supervisor drives containerd's own shim (containerd-shim-runc-v2 with runc) for
/// runtime io.containerd.runc.v2 and reports its exit as an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_drives_containerd_shim_runc_v2() {
    common::need(Path::new("/usr/bin/containerd-shim-runc-v2").exists(), "containerd-shim-runc-v2 (Debian's containerd)");
    let mut env = Env::new("ssa");
    env.start_supervisor();
    let mut events = subscribe(&env).await;
    let spec = env.spec("rc", "echo via runc shim; exit 6");
    let mut containers = capi::containers_client::ContainersClient::new(env.channel().await);
    containers
        .create(req(capi::CreateContainerRequest {
            container: Some(capi::Container {
                id: "rc".into(),
                runtime: Some(capi::container::Runtime { name: "io.containerd.runc.v2".into(), options: None }),
                spec: Some(spec),
                ..Default::default()
            }),
        }))
        .await
        .expect("containers.Create");
    let out = env.p("rc.out");
    let uri = format!("file://{}", out.display());
    let mut tasks = env.tasks().await;
    let created = tasks
        .create(req(tapi::CreateTaskRequest {
            container_id: "rc".into(),
            stdout: uri.clone(),
            stderr: uri,
            options: Some(env.runc_options()),
            ..Default::default()
        }))
        .await
        .expect("tasks.Create")
        .into_inner();
    let shim = ppid_of(created.pid as i32).expect("shim pid");
    env.pids.push(shim);
    assert!(argv0_of(shim).unwrap_or_default().contains("containerd-shim-runc-v2"), "containerd's shim serves it");
    tasks.start(req(tapi::StartRequest { container_id: "rc".into(), exec_id: String::new() })).await.expect("tasks.Start");
    let exit: berth::proto::containerd::events::TaskExit =
        next_event(&mut events, "/tasks/exit", |e: &berth::proto::containerd::events::TaskExit| e.container_id == "rc").await;
    assert_eq!(exit.exit_status, 6);
    assert!(wait_until(5, || std::fs::read_to_string(&out).unwrap_or_default().contains("via runc shim")));
    let d = env.delete("rc").await;
    assert_eq!(d.exit_status, 6);
    assert!(wait_until(10, || !pid_alive(shim)), "containerd's shim exits after delete");
}

/// `jsonfile://PATH?max-size=4k&max-file=3`: the shim rotates like Docker's json-file driver,
/// and keeps logging (and rotating) while the supervisor is dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_rotates_by_size_even_with_the_supervisor_dead() {
    let mut env = Env::new("ssb");
    env.start_supervisor();
    let dir = env.p("logs");
    std::fs::create_dir_all(&dir).expect("log dir");
    let log = dir.join("c-json.log");
    let spec = env.spec("rot", "sleep 0.5; i=0; while [ $i -lt 1000 ]; do echo line-$i; i=$((i+1)); done");
    let mut containers = capi::containers_client::ContainersClient::new(env.channel().await);
    containers
        .create(req(capi::CreateContainerRequest {
            container: Some(capi::Container {
                id: "rot".into(),
                runtime: Some(capi::container::Runtime { name: "io.containerd.berth.v2".into(), options: None }),
                spec: Some(spec),
                ..Default::default()
            }),
        }))
        .await
        .expect("containers.Create");
    let uri = format!("jsonfile://{}?max-size=4k&max-file=3", log.display());
    let mut tasks = env.tasks().await;
    let created = tasks
        .create(req(tapi::CreateTaskRequest {
            container_id: "rot".into(),
            stdout: uri.clone(),
            stderr: uri,
            options: Some(env.runc_options()),
            ..Default::default()
        }))
        .await
        .expect("tasks.Create")
        .into_inner();
    env.pids.push(created.pid as i32);
    tasks.start(req(tapi::StartRequest { container_id: "rot".into(), exec_id: String::new() })).await.expect("tasks.Start");
    // The container does all its writing while nobody supervises it.
    env.kill_supervisor();
    assert!(wait_until(20, || !pid_alive(created.pid as i32)), "container runs to completion");
    assert!(wait_until(5, || env.p("state").join(NS).join("rot/exit.json").exists()), "exit recorded");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("ls").flatten().map(|e| e.path()).collect();
    assert!(files.len() <= 3 && files.len() >= 2, "rotated into at most 3 files: {files:?}");
    for f in &files {
        let len = std::fs::metadata(f).expect("stat").len();
        assert!(len <= 4096 + 128, "{} is {len} bytes", f.display());
    }
    let entries = log_entries(&log);
    assert_eq!(entries.last().map(|e| e.log.as_str()), Some("line-999\n"), "newest line intact");
    // Lines in the current file and its predecessor are consecutive: nothing lost at rotation.
    let older = log_entries(&dir.join("c-json.log.1"));
    let all: Vec<u32> = older.iter().chain(&entries).filter_map(|e| e.log.trim().strip_prefix("line-")?.parse().ok()).collect();
    assert!(all.windows(2).all(|w| w[1] == w[0] + 1), "no gap across rotation");
    env.start_supervisor();
    assert_eq!(env.wait("rot").await, 0);
    env.delete("rot").await;
}

/// A container killed by the kernel's OOM killer: the shim reports TaskOOM (cgroup v1
/// memory.oom_control eventfd, or v2 memory.events), then the exit (137).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_kill_is_reported() {
    let v2_memory = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"));
    common::need(Path::new("/sys/fs/cgroup/memory/memory.oom_control").exists() || v2_memory, "a memory cgroup controller");
    let mut env = Env::new("ssc");
    env.start_supervisor();
    let mut events = subscribe(&env).await;
    let spec = env.spec("hog", "sleep 0.3; tail /dev/zero");
    let mut v: serde_json::Value = serde_json::from_slice(&spec.value).expect("json");
    v["linux"]["resources"] = serde_json::json!({"memory": {"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024}});
    let spec = prost_types::Any { type_url: spec.type_url, value: serde_json::to_vec(&v).expect("json") };
    let mut containers = capi::containers_client::ContainersClient::new(env.channel().await);
    containers
        .create(req(capi::CreateContainerRequest {
            container: Some(capi::Container {
                id: "hog".into(),
                runtime: Some(capi::container::Runtime { name: "io.containerd.berth.v2".into(), options: None }),
                spec: Some(spec),
                ..Default::default()
            }),
        }))
        .await
        .expect("containers.Create");
    let mut tasks = env.tasks().await;
    let created = tasks
        .create(req(tapi::CreateTaskRequest { container_id: "hog".into(), options: Some(env.runc_options()), ..Default::default() }))
        .await
        .expect("tasks.Create")
        .into_inner();
    env.pids.push(created.pid as i32);
    tasks.start(req(tapi::StartRequest { container_id: "hog".into(), exec_id: String::new() })).await.expect("tasks.Start");
    let oom: berth::proto::containerd::events::TaskOom =
        next_event(&mut events, "/tasks/oom", |_: &berth::proto::containerd::events::TaskOom| true).await;
    assert_eq!(oom.container_id, "hog");
    assert_eq!(env.wait("hog").await, 137);
    env.delete("hog").await;
}

/// containerd's own client manages berth-supervisor's namespaces: labels given at create
/// and set later are kept and listed, and a removed namespace is gone.
#[test]
fn ctr_creates_labels_lists_and_removes_namespaces() {
    common::need(Path::new("/usr/bin/ctr").exists(), "ctr (Debian's containerd)");
    let mut env = Env::new("ssns");
    env.start_supervisor();
    let ctr = |args: &[&str]| {
        let out = Command::new("/usr/bin/ctr").arg("--address").arg(env.socket()).args(args).output().expect("run ctr");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    assert!(ctr(&["namespaces", "create", "team", "owner=alice"]).0);
    let (ok, out) = ctr(&["namespaces", "create", "team"]);
    assert!(!ok && out.contains("already exists"), "{out}");
    assert!(ctr(&["namespaces", "label", "team", "tier=gold"]).0);
    let (_, ls) = ctr(&["namespaces", "ls"]);
    let line = ls.lines().find(|l| l.starts_with("team")).unwrap_or_default().to_owned();
    assert!(line.contains("owner=alice") && line.contains("tier=gold"), "{ls}");
    assert!(ctr(&["namespaces", "label", "team", "owner="]).0, "an empty value removes the label");
    let (_, ls) = ctr(&["namespaces", "ls"]);
    assert!(!ls.contains("owner=alice") && ls.contains("tier=gold"), "{ls}");
    let (ok, out) = ctr(&["namespaces", "rm", "team"]);
    assert!(ok, "{out}");
    let (_, ls) = ctr(&["namespaces", "ls", "-q"]);
    assert!(!ls.lines().any(|l| l == "team"), "the namespace is gone: {ls}");
    // A namespace that is not there is NotFound, which ctr (as with containerd) reports as
    // removed; an unexpected error would fail the command.
    let (ok, out) = ctr(&["namespaces", "rm", "ghost"]);
    assert!(ok && out.trim() == "ghost", "{out}");
}
