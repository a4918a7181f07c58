//! A process the shim holds: a container's init or one of its exec processes, with the
//! state machine the Task API drives (created → running ⇄ paused → stopped) and its stdio.

use std::fs::File;
use std::sync::Arc;

use containerd_shim_protos::api;

use super::ShimError;
use crate::bundle::ExitRecord;
use crate::stdio::Stdin;

/// Where a process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Created,
    Running,
    Paused,
    Stopped,
}

impl State {
    /// The Task API's view of the state.
    pub(super) fn to_api(self) -> api::Status {
        match self {
            State::Created => api::Status::CREATED,
            State::Running => api::Status::RUNNING,
            State::Paused => api::Status::PAUSED,
            State::Stopped => api::Status::STOPPED,
        }
    }
}

/// The init process or one exec process.
pub(super) struct Process {
    /// Host pid (0 until the process exists).
    pub pid: i32,
    pub state: State,
    /// Set once, when the process has exited.
    pub exit: Option<ExitRecord>,
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
    /// Where stdin goes (None until the process runs).
    pub input: Option<Arc<Stdin>>,
    /// The pty master, with a terminal.
    pub console: Option<File>,
    /// An exec's OCI process JSON (from Exec, used by Start).
    pub spec: Vec<u8>,
}

impl Process {
    /// A process not started yet, with the stdio paths of its request.
    pub(super) fn new(stdin: &str, stdout: &str, stderr: &str, terminal: bool) -> Self {
        Process {
            pid: 0,
            state: State::Created,
            exit: None,
            stdin: stdin.into(),
            stdout: stdout.into(),
            stderr: stderr.into(),
            terminal,
            input: None,
            console: None,
            spec: Vec::new(),
        }
    }

    /// Whether the process is alive (running or frozen).
    pub(super) fn is_live(&self) -> bool {
        matches!(self.state, State::Running | State::Paused)
    }

    /// An exec may start once, while its container's init runs.
    pub(super) fn check_exec_start(&self, id: &str, exec_id: &str, init: &Process) -> Result<(), ShimError> {
        if init.state != State::Running {
            return Err(ShimError::Precondition { id: id.into(), msg: "container is not running".into() });
        }
        if self.state != State::Created {
            return Err(ShimError::Precondition { id: id.into(), msg: format!("exec {exec_id} already started") });
        }
        Ok(())
    }

    /// A process (the init when `exec_id` is empty) may be deleted unless it is alive.
    pub(super) fn check_delete(&self, id: &str, exec_id: &str) -> Result<(), ShimError> {
        if !self.is_live() {
            return Ok(());
        }
        let msg = if exec_id.is_empty() { "cannot delete a running task".to_owned() } else { format!("exec {exec_id} is still running") };
        Err(ShimError::Precondition { id: id.into(), msg })
    }

    /// A signal goes only to a process that has not exited.
    pub(super) fn check_signal(&self, id: &str) -> Result<(), ShimError> {
        if self.exit.is_some() {
            return Err(ShimError::NotFound(format!("{id}: process already finished")));
        }
        Ok(())
    }

    /// The process has started (a start that raced its exit keeps the exit).
    pub(super) fn started(&mut self) {
        if self.exit.is_none() {
            self.state = State::Running;
        }
    }

    /// The process was frozen (`true`) or thawed, unless it has exited meanwhile.
    pub(super) fn paused(&mut self, paused: bool) {
        if self.exit.is_none() {
            self.state = if paused { State::Paused } else { State::Running };
        }
    }

    /// The process exited with `rec`; nobody reads its stdin any more.
    pub(super) fn exited(&mut self, rec: ExitRecord) {
        self.state = State::Stopped;
        self.exit = Some(rec);
        self.console = None;
        if let Some(i) = &self.input {
            i.close_io();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> ExitRecord {
        ExitRecord { pid: 7, exit_status: 3, exited_at: "2026-01-01T00:00:00Z".into() }
    }

    #[test]
    fn a_process_goes_created_running_paused_running_stopped() {
        let mut p = Process::new("", "", "", false);
        assert_eq!(p.state, State::Created);
        p.started();
        assert_eq!(p.state, State::Running);
        p.paused(true);
        assert_eq!(p.state, State::Paused);
        assert!(p.check_delete("c", "").is_err(), "a paused process cannot be deleted");
        p.paused(false);
        assert_eq!(p.state, State::Running);
        p.exited(rec());
        assert_eq!((p.state, p.exit.as_ref().map(|e| e.exit_status)), (State::Stopped, Some(3)));
        assert!(p.check_delete("c", "").is_ok());
    }

    #[test]
    fn an_exit_that_came_first_is_not_overwritten_by_a_late_start_or_pause() {
        let mut p = Process::new("", "", "", false);
        p.exited(rec());
        p.started();
        p.paused(true);
        p.paused(false);
        assert_eq!(p.state, State::Stopped);
    }

    #[test]
    fn an_exec_starts_once_and_only_while_the_init_runs() {
        let mut init = Process::new("", "", "", false);
        let exec = Process::new("", "", "", false);
        assert!(matches!(exec.check_exec_start("c", "e", &init), Err(ShimError::Precondition { .. })), "init only created");
        init.started();
        assert!(exec.check_exec_start("c", "e", &init).is_ok());
        init.paused(true);
        assert!(exec.check_exec_start("c", "e", &init).is_err(), "init paused");
        init.paused(false);
        let mut started = Process::new("", "", "", false);
        started.started();
        assert!(started.check_exec_start("c", "e", &init).is_err(), "already started");
    }

    #[test]
    fn an_exited_process_takes_no_signal() {
        let mut p = Process::new("", "", "", false);
        p.started();
        assert!(p.check_signal("c").is_ok());
        p.exited(rec());
        assert!(matches!(p.check_signal("c"), Err(ShimError::NotFound(_))));
    }

    #[test]
    fn states_map_to_the_task_api() {
        let all = [State::Created, State::Running, State::Paused, State::Stopped].map(State::to_api);
        assert_eq!(all, [api::Status::CREATED, api::Status::RUNNING, api::Status::PAUSED, api::Status::STOPPED]);
    }
}
