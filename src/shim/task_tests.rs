//! The shim's task state machine, driven through the Task calls with a fake OCI runtime (the
//! [`OciRuntime`] seam) and the reaper's record standing in for real exits.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use super::*;
use crate::shim::events::Publisher;
use crate::shim::reaper::Reaper;
use crate::shim::runtime::{OciRuntime, ProcessStdio};
use crate::shim::ShimArgs;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::Message;

/// Pids above pid_max: no real process has them.
const FIRST_PID: i32 = 0x3fff_0000;

/// Records every runtime call; processes "exit" when the test says so (or on SIGKILL).
struct FakeRuntime {
    calls: Mutex<Vec<String>>,
    reaper: Arc<Reaper>,
    next_pid: AtomicI32,
    init_pid: AtomicI32,
    fail: Mutex<Option<&'static str>>,
}

impl FakeRuntime {
    fn call(&self, what: String) -> Result<(), ShimError> {
        let verb = what.split(' ').next().unwrap_or_default().to_owned();
        self.calls.lock().expect("calls").push(what);
        match *self.fail.lock().expect("fail") {
            Some(v) if v == verb => Err(ShimError::Runtime { id: "c".into(), call: verb, msg: "injected failure".into() }),
            _ => Ok(()),
        }
    }
    fn pid(&self) -> i32 {
        self.next_pid.fetch_add(1, Ordering::SeqCst)
    }
}

impl OciRuntime for FakeRuntime {
    fn create(&self, id: &str, bundle: &Path, _stdio: ProcessStdio, _console: Option<&Path>) -> Result<(), ShimError> {
        self.call(format!("create {id}"))?;
        let pid = self.pid();
        self.init_pid.store(pid, Ordering::SeqCst);
        std::fs::write(bundle.join(crate::bundle::PID_FILE), pid.to_string()).map_err(|e| ShimError::io("write", bundle, e))
    }
    fn exec(&self, id: &str, _process: &Path, pid_file: &Path, _stdio: ProcessStdio, _console: Option<&Path>) -> Result<(), ShimError> {
        self.call(format!("exec {id}"))?;
        std::fs::write(pid_file, self.pid().to_string()).map_err(|e| ShimError::io("write", pid_file, e))
    }
    fn pause(&self, id: &str) -> Result<(), ShimError> {
        self.call(format!("pause {id}"))
    }
    fn resume(&self, id: &str) -> Result<(), ShimError> {
        self.call(format!("resume {id}"))
    }
    fn update(&self, id: &str, _resources: &Path) -> Result<(), ShimError> {
        self.call(format!("update {id}"))
    }
    fn start(&self, id: &str) -> Result<(), ShimError> {
        self.call(format!("start {id}"))
    }
    fn kill(&self, id: &str, signal: u32, _all: bool) -> Result<(), ShimError> {
        self.call(format!("kill {id} {signal}"))?;
        if signal == libc::SIGKILL as u32 {
            self.reaper.record(self.init_pid.load(Ordering::SeqCst), 137);
        }
        Ok(())
    }
    fn delete(&self, id: &str) -> Result<(), ShimError> {
        self.call(format!("delete {id}"))
    }
}

struct Harness {
    svc: TaskService,
    runtime: Arc<FakeRuntime>,
    reaper: Arc<Reaper>,
    dir: PathBuf,
    _tmp: crate::util::TestDir,
}

impl Harness {
    fn new(tag: &str) -> Self {
        let tmp = crate::util::TestDir::new(&format!("shim-task-{tag}"));
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("bundle")).expect("bundle dir");
        // Not started: no thread reaps this test process's children; exits come from record().
        let reaper = Arc::new(Reaper::default());
        let runtime = Arc::new(FakeRuntime {
            calls: Mutex::default(),
            reaper: reaper.clone(),
            next_pid: AtomicI32::new(FIRST_PID),
            init_pid: AtomicI32::new(0),
            fail: Mutex::default(),
        });
        let fake = runtime.clone();
        let shared = Arc::new(Shared {
            args: ShimArgs { namespace: "test".into(), ..Default::default() },
            socket: dir.join("shim.sock"),
            publisher: Publisher::new("", "", "test", reaper.clone()),
            reaper: reaper.clone(),
            containers: Mutex::default(),
            changed: std::sync::Condvar::new(),
            start_lock: Mutex::new(()),
            creating: Default::default(),
            make_runtime: Box::new(move |_, _| fake.clone()),
            resident: false,
        });
        Harness { svc: TaskService::new(shared), runtime, reaper, dir, _tmp: tmp }
    }

    fn create(&self, id: &str) -> Result<u32, ShimError> {
        let mut o = containerd_shim_protos::shim::oci::Options::new();
        o.root = self.dir.join("runtime-root").to_string_lossy().into_owned();
        let mut any = Any::new();
        any.type_url = "containerd.runc.v1.Options".into();
        any.value = o.write_to_bytes().expect("encode options");
        let mut req = api::CreateTaskRequest::new();
        req.id = id.into();
        req.bundle = self.dir.join("bundle").to_string_lossy().into_owned();
        req.options = MessageField::some(any);
        self.svc.create_inner(req).map(|r| r.pid)
    }

    fn status(&self, id: &str, exec_id: &str) -> Option<super::super::process::State> {
        self.svc.with_process(id, exec_id, |p| p.state).ok()
    }

    fn add_exec(&self, id: &str, exec_id: &str) {
        self.svc
            .with(id, |c| {
                let mut p = Process::new("", "", "", false);
                p.spec = br#"{"args":["true"],"cwd":"/"}"#.to_vec();
                c.execs.insert(exec_id.into(), p);
            })
            .expect("container exists");
    }

    fn calls(&self) -> Vec<String> {
        self.runtime.calls.lock().expect("calls").clone()
    }

    fn kill(&self, id: &str, exec_id: &str, signal: u32) -> Result<(), ShimError> {
        let mut req = api::KillRequest::new();
        req.id = id.into();
        req.exec_id = exec_id.into();
        req.signal = signal;
        self.svc.kill_inner(&req)
    }
}

use super::super::process::State;

#[test]
fn a_task_is_created_started_paused_resumed_killed_waited_and_deleted() {
    let h = Harness::new("life");
    let pid = h.create("c").expect("create");
    assert_eq!(pid as i32, FIRST_PID);
    assert_eq!(h.status("c", ""), Some(State::Created));
    assert!(matches!(h.create("c"), Err(ShimError::AlreadyExists(_))), "one container per id");
    assert_eq!(h.svc.start_init("c").expect("start"), pid);
    assert_eq!(h.status("c", ""), Some(State::Running));
    h.svc.pause_resume("c", true).expect("pause");
    assert_eq!(h.status("c", ""), Some(State::Paused));
    assert!(matches!(h.svc.delete_inner("c"), Err(ShimError::Precondition { .. })), "a paused task is not deleted");
    h.svc.pause_resume("c", false).expect("resume");
    assert_eq!(h.status("c", ""), Some(State::Running));
    assert!(matches!(h.svc.delete_inner("c"), Err(ShimError::Precondition { .. })), "a running task is not deleted");
    h.kill("c", "", libc::SIGKILL as u32).expect("kill");
    let w = h.svc.wait_inner("c", "").expect("wait");
    assert_eq!(w.exit_status, 137);
    assert_eq!(h.status("c", ""), Some(State::Stopped));
    let rec = crate::bundle::read_exit(&h.dir.join("bundle")).expect("the exit is recorded in the bundle");
    assert_eq!((rec.pid, rec.exit_status), (pid as i32, 137));
    assert!(matches!(h.kill("c", "", 15), Err(ShimError::NotFound(_))), "an exited init takes no signal");
    let d = h.svc.delete_inner("c").expect("delete");
    assert_eq!((d.pid, d.exit_status), (pid, 137));
    assert_eq!(h.status("c", ""), None);
    assert_eq!(h.calls(), ["create c", "start c", "pause c", "resume c", "kill c 9", "delete c"]);
}

#[test]
fn an_exit_before_start_returns_is_kept_and_the_task_stays_stopped() {
    let h = Harness::new("early");
    let pid = h.create("c").expect("create") as i32;
    // The init exits before start's answer: the reaper already has its status.
    h.reaper.record(pid, 3);
    let w = h.svc.wait_inner("c", "").expect("wait");
    assert_eq!(w.exit_status, 3);
    h.svc.start_init("c").expect("start");
    assert_eq!(h.status("c", ""), Some(State::Stopped), "a late start does not revive an exited init");
}

#[test]
fn execs_start_only_in_a_running_task_and_are_deleted_once_exited() {
    let h = Harness::new("exec");
    h.create("c").expect("create");
    h.add_exec("c", "e1");
    assert!(matches!(h.svc.start_exec("c", "e1"), Err(ShimError::Precondition { .. })), "init not started");
    h.svc.start_init("c").expect("start");
    let epid = h.svc.start_exec("c", "e1").expect("exec start") as i32;
    assert_eq!(h.status("c", "e1"), Some(State::Running));
    assert!(matches!(h.svc.start_exec("c", "e1"), Err(ShimError::Precondition { .. })), "an exec starts once");
    assert!(matches!(h.svc.delete_exec("c", "e1"), Err(ShimError::Precondition { .. })), "a running exec is not deleted");
    assert!(matches!(h.svc.start_exec("c", "nope"), Err(ShimError::NotFound(_))));
    h.reaper.record(epid, 5);
    assert_eq!(h.svc.wait_inner("c", "e1").expect("wait exec").exit_status, 5);
    assert_eq!(h.status("c", "e1"), Some(State::Stopped));
    assert_eq!(h.status("c", ""), Some(State::Running), "the init is untouched by its exec's exit");
    let d = h.svc.delete_exec("c", "e1").expect("delete exec");
    assert_eq!((d.pid as i32, d.exit_status), (epid, 5));
    assert_eq!(h.status("c", "e1"), None);
    assert!(!h.dir.join("bundle/exec-e1.json").exists() && !h.dir.join("bundle/exec-e1.pid").exists(), "exec files are removed");
}

#[test]
fn a_failed_runtime_call_leaves_the_state_as_it_was() {
    let h = Harness::new("fail");
    *h.runtime.fail.lock().expect("fail") = Some("create");
    assert!(matches!(h.create("c"), Err(ShimError::Runtime { .. })));
    assert_eq!(h.status("c", ""), None, "a failed create leaves no task");
    assert!(h.calls().contains(&"delete c".to_owned()), "what the failed create made is deleted: {:?}", h.calls());
    *h.runtime.fail.lock().expect("fail") = None;
    h.create("c").expect("create after a failed one");
    h.svc.start_init("c").expect("start");
    *h.runtime.fail.lock().expect("fail") = Some("pause");
    assert!(h.svc.pause_resume("c", true).is_err());
    assert_eq!(h.status("c", ""), Some(State::Running), "a pause the runtime refused does not count");
    *h.runtime.fail.lock().expect("fail") = Some("delete");
    h.kill("c", "", libc::SIGKILL as u32).expect("kill");
    h.svc.wait_inner("c", "").expect("wait");
    assert!(h.svc.delete_inner("c").is_err(), "a delete the runtime failed is an error");
    assert_eq!(h.status("c", ""), Some(State::Stopped), "and the task is still there to retry");
    *h.runtime.fail.lock().expect("fail") = None;
    h.svc.delete_inner("c").expect("retried delete");
}
