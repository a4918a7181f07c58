//! Reconciliation: what the daemon does when its record of a container and what the backend
//! really has disagree (after a restart of the daemon or the supervisor, or a crash in the
//! middle of start or remove), and the bounded purge that removes a container's task with
//! everything it holds. The backend is reached through [`TaskOps`], so the state machine is
//! tested without a supervisor.

use super::backend::{Backend, BackendError, TaskStatus};
use super::container::{State, Status};
use std::time::Duration;

/// The backend calls reconciliation and purge need (a seam for tests, as runc's Spawner).
pub trait TaskOps {
    /// The task's status now.
    fn status(&self, id: &str) -> impl Future<Output = Result<TaskStatus, BackendError>> + Send;
    /// Sends `signal` to the task's init.
    fn kill(&self, id: &str, signal: i32) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Thaws a frozen task (a frozen process does not act on SIGKILL).
    fn resume(&self, id: &str) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Releases the task and the backend's record of the container (kills a created init).
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), BackendError>> + Send;
}

impl TaskOps for Backend {
    async fn status(&self, id: &str) -> Result<TaskStatus, BackendError> {
        Backend::status(self, id).await
    }
    async fn kill(&self, id: &str, signal: i32) -> Result<(), BackendError> {
        Backend::kill(self, id, signal).await
    }
    async fn resume(&self, id: &str) -> Result<(), BackendError> {
        Backend::resume(self, id).await
    }
    async fn delete(&self, id: &str) -> Result<(), BackendError> {
        Backend::delete(self, id).await
    }
}

impl TaskOps for super::supervisor_client::SupervisorClient {
    async fn status(&self, id: &str) -> Result<TaskStatus, BackendError> {
        super::supervisor_client::SupervisorClient::status(self, id).await
    }
    async fn kill(&self, id: &str, signal: i32) -> Result<(), BackendError> {
        super::supervisor_client::SupervisorClient::kill(self, id, signal).await
    }
    async fn resume(&self, id: &str) -> Result<(), BackendError> {
        self.pause(id, false).await
    }
    async fn delete(&self, id: &str) -> Result<(), BackendError> {
        super::supervisor_client::SupervisorClient::delete(self, id).await
    }
}

/// What to do with one container, from its record and its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Both agree; nothing to do.
    Keep,
    /// Both say running; the record takes the task's pid and frozen state.
    Refresh { pid: i32, paused: bool },
    /// The task runs the container's process but its start was never recorded (the daemon
    /// died between the backend's start and the record): the container becomes Running.
    Adopt { pid: i32, paused: bool },
    /// The record says running, the task ended (or is gone: 255, as Docker reports a lost
    /// task): the exit is handled as if it had just happened.
    Exit { code: i64 },
    /// No process of the container may run: whatever the backend still holds (a created
    /// init that was never started, an ended task, a stale record) is purged and the rootfs
    /// unmounted.
    Clean,
    /// A removal was under way: it is finished.
    FinishRemove,
}

/// The state machine: recorded state × backend state → action.
pub fn decide(recorded: &State, task: &TaskStatus) -> Action {
    match (recorded.status, task) {
        (Status::Removing, _) => Action::FinishRemove,
        (Status::Running, TaskStatus::Running { pid, paused }) => {
            if (*pid != 0 && *pid != recorded.pid) || *paused != recorded.paused {
                Action::Refresh { pid: if *pid != 0 { *pid } else { recorded.pid }, paused: *paused }
            } else {
                Action::Keep
            }
        }
        // The container's process never ran (init still waits for start): it did not start.
        (Status::Running, TaskStatus::Created { .. }) => Action::Exit { code: 255 },
        (Status::Running, TaskStatus::Stopped { exit_code }) => Action::Exit { code: *exit_code },
        (Status::Running, TaskStatus::Missing) => Action::Exit { code: 255 },
        (Status::Created | Status::Exited, TaskStatus::Running { pid, paused }) => Action::Adopt { pid: *pid, paused: *paused },
        (Status::Created | Status::Exited, TaskStatus::Created { .. } | TaskStatus::Stopped { .. } | TaskStatus::Missing) => Action::Clean,
    }
}

/// Errors of a purge.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// The task was still there when the time was up.
    #[error("task of container {id} still present after {timeout:?} ({last})")]
    Timeout { id: String, timeout: Duration, last: String },
}

/// Removes container `id`'s task from the backend and verifies it is gone: a running task is
/// thawed and SIGKILLed, a created or stopped one deleted (which removes its processes,
/// cgroups and runtime state, and the shim), until the backend reports it missing; then the
/// backend's record of the container is deleted. Retries through backend outages (a
/// supervisor being restarted) until `timeout`; an error then says what was left.
pub async fn purge<B: TaskOps>(backend: &B, id: &str, timeout: Duration) -> Result<(), PurgeError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    let mut last;
    loop {
        match backend.status(id).await {
            Ok(TaskStatus::Missing) => match backend.delete(id).await {
                Ok(()) | Err(BackendError::NotFound(_)) => return Ok(()),
                Err(e) => last = format!("deleting its record: {e}"),
            },
            Ok(TaskStatus::Running { paused, .. }) => {
                if paused && let Err(e) = backend.resume(id).await {
                    tracing::debug!(id, "purge: resume: {e}");
                }
                if let Err(e) = backend.kill(id, libc::SIGKILL).await {
                    tracing::debug!(id, "purge: kill: {e}");
                }
                // The exit takes a moment to be recorded; delete succeeds once it is.
                last = match backend.delete(id).await {
                    Ok(()) => "deleted while running".into(),
                    Err(e) => format!("running: {e}"),
                };
            }
            Ok(TaskStatus::Created { .. } | TaskStatus::Stopped { .. }) => {
                last = match backend.delete(id).await {
                    Ok(()) => "deleted".into(),
                    Err(e) => format!("delete: {e}"),
                };
            }
            Err(e) => last = format!("status: {e}"),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(PurgeError::Timeout { id: id.to_owned(), timeout, last });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn state(status: Status, pid: i32, paused: bool) -> State {
        State { status, pid, paused, ..Default::default() }
    }

    #[test]
    fn every_recorded_state_against_every_backend_state() {
        use Action::*;
        let running = TaskStatus::Running { pid: 42, paused: false };
        let frozen = TaskStatus::Running { pid: 42, paused: true };
        let created = TaskStatus::Created { pid: 42 };
        let stopped = TaskStatus::Stopped { exit_code: 3 };
        let missing = TaskStatus::Missing;
        let cases = [
            (state(Status::Running, 42, false), &running, Keep),
            (state(Status::Running, 41, false), &running, Refresh { pid: 42, paused: false }),
            (state(Status::Running, 42, false), &frozen, Refresh { pid: 42, paused: true }),
            (state(Status::Running, 42, true), &running, Refresh { pid: 42, paused: false }),
            (state(Status::Running, 42, false), &created, Exit { code: 255 }),
            (state(Status::Running, 42, false), &stopped, Exit { code: 3 }),
            (state(Status::Running, 42, false), &missing, Exit { code: 255 }),
            (state(Status::Created, 0, false), &running, Adopt { pid: 42, paused: false }),
            (state(Status::Created, 0, false), &frozen, Adopt { pid: 42, paused: true }),
            (state(Status::Created, 0, false), &created, Clean),
            (state(Status::Created, 0, false), &stopped, Clean),
            (state(Status::Created, 0, false), &missing, Clean),
            (state(Status::Exited, 0, false), &running, Adopt { pid: 42, paused: false }),
            (state(Status::Exited, 0, false), &created, Clean),
            (state(Status::Exited, 0, false), &stopped, Clean),
            (state(Status::Exited, 0, false), &missing, Clean),
            (state(Status::Removing, 0, false), &running, FinishRemove),
            (state(Status::Removing, 0, false), &created, FinishRemove),
            (state(Status::Removing, 0, false), &stopped, FinishRemove),
            (state(Status::Removing, 0, false), &missing, FinishRemove),
        ];
        for (recorded, task, want) in cases {
            assert_eq!(decide(&recorded, task), want, "recorded {:?}/{} × task {task:?}", recorded.status, recorded.paused);
        }
    }

    /// A backend with one task that behaves as the supervisor does: a running task cannot
    /// be deleted, SIGKILL ends it unless frozen, and it can be unreachable for a while.
    struct Fake {
        task: Mutex<TaskStatus>,
        record: Mutex<bool>,
        /// Calls to fail with Unavailable before answering.
        outage: Mutex<u32>,
        /// Never lets the task go (a stuck backend).
        stuck: bool,
        calls: Mutex<Vec<String>>,
    }

    impl Fake {
        fn new(task: TaskStatus) -> Self {
            Fake { task: Mutex::new(task), record: Mutex::new(true), outage: Mutex::new(0), stuck: false, calls: Mutex::default() }
        }
        fn call(&self, what: &str) -> Result<(), BackendError> {
            self.calls.lock().unwrap().push(what.into());
            let mut o = self.outage.lock().unwrap();
            if *o > 0 {
                *o -= 1;
                return Err(BackendError::Unavailable("transport error".into()));
            }
            Ok(())
        }
    }

    impl TaskOps for Fake {
        async fn status(&self, _id: &str) -> Result<TaskStatus, BackendError> {
            self.call("status")?;
            Ok(self.task.lock().unwrap().clone())
        }
        async fn kill(&self, id: &str, signal: i32) -> Result<(), BackendError> {
            self.call("kill")?;
            let mut t = self.task.lock().unwrap();
            match *t {
                TaskStatus::Running { paused: false, .. } if signal == libc::SIGKILL && !self.stuck => *t = TaskStatus::Stopped { exit_code: 137 },
                TaskStatus::Running { .. } => {}
                _ => return Err(BackendError::NotFound(id.into())),
            }
            Ok(())
        }
        async fn resume(&self, _id: &str) -> Result<(), BackendError> {
            self.call("resume")?;
            let mut t = self.task.lock().unwrap();
            if let TaskStatus::Running { pid, .. } = *t {
                *t = TaskStatus::Running { pid, paused: false };
            }
            Ok(())
        }
        async fn delete(&self, _id: &str) -> Result<(), BackendError> {
            self.call("delete")?;
            let mut t = self.task.lock().unwrap();
            if matches!(*t, TaskStatus::Running { .. }) {
                return Err(BackendError::Conflict("cannot delete a running task".into()));
            }
            *t = TaskStatus::Missing;
            *self.record.lock().unwrap() = false;
            Ok(())
        }
    }

    async fn purged(f: &Fake) -> Result<(), PurgeError> {
        purge(f, "c", Duration::from_secs(2)).await
    }

    #[tokio::test]
    async fn purge_leaves_no_task_and_no_record_whatever_the_task_was() {
        for task in [
            TaskStatus::Running { pid: 1, paused: false },
            TaskStatus::Running { pid: 1, paused: true },
            TaskStatus::Created { pid: 1 },
            TaskStatus::Stopped { exit_code: 0 },
            TaskStatus::Missing,
        ] {
            let f = Fake::new(task.clone());
            purged(&f).await.unwrap_or_else(|e| panic!("{task:?}: {e}"));
            assert_eq!(*f.task.lock().unwrap(), TaskStatus::Missing, "{task:?}");
            assert!(!*f.record.lock().unwrap(), "{task:?}: the backend's record is deleted too");
        }
    }

    #[tokio::test]
    async fn purge_retries_through_a_backend_outage() {
        let f = Fake::new(TaskStatus::Created { pid: 1 });
        *f.outage.lock().unwrap() = 3;
        purged(&f).await.expect("purged once the backend answers");
        assert_eq!(*f.task.lock().unwrap(), TaskStatus::Missing);
        assert!(f.calls.lock().unwrap().len() > 3);
    }

    #[tokio::test]
    async fn purge_reports_a_task_that_will_not_go() {
        let mut f = Fake::new(TaskStatus::Running { pid: 1, paused: false });
        f.stuck = true;
        let e = purge(&f, "c", Duration::from_millis(300)).await.expect_err("a task that stays is an error");
        assert!(e.to_string().contains("still present"), "{e}");
        let f = Fake::new(TaskStatus::Missing);
        *f.outage.lock().unwrap() = u32::MAX;
        let e = purge(&f, "c", Duration::from_millis(300)).await.expect_err("an unreachable backend is an error");
        assert!(e.to_string().contains("transport error"), "{e}");
    }
}
