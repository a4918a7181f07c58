//! The task calls relayed to a task's shim as they come: exec processes, pause and resume,
//! terminal size, stdin close, resource updates and stats.

use containerd_shim_protos::api as shimapi;
use containerd_shim_protos::protobuf::well_known_types::any::Any as PbAny;
use containerd_shim_protos::protobuf::MessageField;

use crate::proto::containerd::services::tasks::v1 as tapi;
use crate::proto::containerd::v1::types::Process;

use super::shim_client::ctx;
use super::task::{pb_ts, shim_status, Exit};
use super::tasks::{Tasks, SHIM_CALL_TIMEOUT};
use super::SupervisorError;

impl Tasks {
    /// tasks.Exec: registers an exec process (started by tasks.Start with its exec id).
    pub async fn exec(&self, ns: &str, r: tapi::ExecProcessRequest) -> Result<(), SupervisorError> {
        let mut req = shimapi::ExecProcessRequest::new();
        req.id = r.container_id.clone();
        req.exec_id = r.exec_id;
        req.terminal = r.terminal;
        req.stdin = r.stdin;
        req.stdout = r.stdout;
        req.stderr = r.stderr;
        if let Some(spec) = r.spec {
            let mut any = PbAny::new();
            any.type_url = spec.type_url;
            any.value = spec.value;
            req.spec = MessageField::some(any);
        }
        self.call(ns, &r.container_id, "exec", move |c| c.exec(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// tasks.Start of an exec process.
    pub async fn start_exec(&self, ns: &str, id: &str, exec_id: &str) -> Result<u32, SupervisorError> {
        let mut req = shimapi::StartRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        let r = self.call(ns, id, "start", move |c| c.start(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(r.pid)
    }

    /// tasks.DeleteProcess.
    pub async fn delete_exec(&self, ns: &str, id: &str, exec_id: &str) -> Result<Exit, SupervisorError> {
        let mut req = shimapi::DeleteRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        let r = self.call(ns, id, "delete", move |c| c.delete(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(Exit { pid: r.pid, status: r.exit_status, at: pb_ts(&r.exited_at) })
    }

    /// An exec process as a containerd Process.
    pub async fn exec_process(&self, ns: &str, id: &str, exec_id: &str) -> Result<Process, SupervisorError> {
        let mut req = shimapi::StateRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        let s = self.call(ns, id, "state", move |c| c.state(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(Process {
            container_id: id.to_owned(),
            id: exec_id.to_owned(),
            pid: s.pid,
            status: shim_status(s.status.enum_value_or_default()) as i32,
            stdin: s.stdin.clone(),
            stdout: s.stdout.clone(),
            stderr: s.stderr.clone(),
            terminal: s.terminal,
            exit_status: s.exit_status,
            exited_at: s.exited_at.as_ref().map(pb_ts),
        })
    }

    /// tasks.Wait of an exec process (blocks in the shim).
    pub async fn wait_exec(&self, ns: &str, id: &str, exec_id: &str) -> Result<Exit, SupervisorError> {
        let mut req = shimapi::WaitRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        let r = self.call(ns, id, "wait", move |c| c.wait(ctx(None), &req)).await?;
        Ok(Exit { pid: 0, status: r.exit_status, at: pb_ts(&r.exited_at) })
    }

    /// tasks.Kill of an exec process.
    pub async fn kill_exec(&self, ns: &str, id: &str, exec_id: &str, signal: u32) -> Result<(), SupervisorError> {
        let mut req = shimapi::KillRequest::new();
        req.id = id.to_owned();
        req.exec_id = exec_id.to_owned();
        req.signal = signal;
        self.call(ns, id, "kill", move |c| c.kill(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// tasks.Pause / tasks.Resume.
    pub async fn pause(&self, ns: &str, id: &str, pause: bool) -> Result<(), SupervisorError> {
        let cid = id.to_owned();
        if pause {
            self.call(ns, id, "pause", move |c| {
                let mut req = shimapi::PauseRequest::new();
                req.id = cid;
                c.pause(ctx(Some(SHIM_CALL_TIMEOUT)), &req)
            })
            .await?;
        } else {
            self.call(ns, id, "resume", move |c| {
                let mut req = shimapi::ResumeRequest::new();
                req.id = cid;
                c.resume(ctx(Some(SHIM_CALL_TIMEOUT)), &req)
            })
            .await?;
        }
        Ok(())
    }

    /// tasks.ResizePty.
    pub async fn resize_pty(&self, ns: &str, r: tapi::ResizePtyRequest) -> Result<(), SupervisorError> {
        let mut req = shimapi::ResizePtyRequest::new();
        req.id = r.container_id.clone();
        req.exec_id = r.exec_id;
        req.width = r.width;
        req.height = r.height;
        self.call(ns, &r.container_id, "resize_pty", move |c| c.resize_pty(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// tasks.CloseIO.
    pub async fn close_io(&self, ns: &str, r: tapi::CloseIoRequest) -> Result<(), SupervisorError> {
        let mut req = shimapi::CloseIORequest::new();
        req.id = r.container_id.clone();
        req.exec_id = r.exec_id;
        req.stdin = r.stdin;
        self.call(ns, &r.container_id, "close_io", move |c| c.close_io(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// tasks.Update.
    pub async fn update(&self, ns: &str, r: tapi::UpdateTaskRequest) -> Result<(), SupervisorError> {
        let mut req = shimapi::UpdateTaskRequest::new();
        req.id = r.container_id.clone();
        if let Some(res) = r.resources {
            let mut any = PbAny::new();
            any.type_url = res.type_url;
            any.value = res.value;
            req.resources = MessageField::some(any);
        }
        self.call(ns, &r.container_id, "update", move |c| c.update(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(())
    }

    /// The shim's Stats of one task, as a containerd Metric.
    pub async fn metric(&self, ns: &str, id: &str) -> Result<crate::proto::containerd::types::Metric, SupervisorError> {
        let mut req = shimapi::StatsRequest::new();
        req.id = id.to_owned();
        let r = self.call(ns, id, "stats", move |c| c.stats(ctx(Some(SHIM_CALL_TIMEOUT)), &req)).await?;
        Ok(crate::proto::containerd::types::Metric {
            timestamp: Some(super::events::now()),
            id: id.to_owned(),
            data: r.stats.as_ref().map(|a| prost_types::Any { type_url: a.type_url.clone(), value: a.value.clone() }),
        })
    }
}
