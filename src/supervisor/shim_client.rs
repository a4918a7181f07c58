//! The supervisor's side of a shim: the [`ShimApi`] trait (a shim's Task service, the seam
//! the supervisor's task state machine is unit-tested through) and [`TaskClient`], its ttrpc
//! implementation under the name containerd 1.6 uses, `containerd.task.v2.Task` (berth's
//! shim and containerd's shims of 1.x serve it; the messages are the same as v3's).

use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use containerd_shim_protos::protobuf::Message;
use ttrpc::context::Context;

/// The Task service name spoken to shims.
const SERVICE: &str = "containerd.task.v2.Task";

/// A shim's Task service.
#[derive(Clone)]
pub struct TaskClient {
    client: ttrpc::Client,
}

impl TaskClient {
    /// A client over a connected ttrpc client.
    pub fn new(client: ttrpc::Client) -> Self {
        TaskClient { client }
    }

    fn call<Req: Message, Resp: Message>(&self, ctx: Context, method: &str, req: &Req) -> ttrpc::Result<Resp> {
        let payload = req.write_to_bytes().map_err(|e| ttrpc::Error::Others(format!("encode {method} request: {e}")))?;
        let mut r = ttrpc::Request::new();
        r.service = SERVICE.into();
        r.method = method.into();
        r.timeout_nano = ctx.timeout_nano;
        r.metadata = ttrpc::context::to_pb(ctx.metadata);
        r.payload = payload;
        // request() turns a non-OK status into Error::RpcStatus.
        let resp = self.client.request(r)?;
        Resp::parse_from_bytes(&resp.payload).map_err(|e| ttrpc::Error::Others(format!("decode {method} response: {e}")))
    }
}

macro_rules! calls {
    ($($name:ident($method:literal, $req:ty) -> $resp:ty;)*) => {
        /// A shim's Task service, one method per call (the request's timeout in `ctx`).
        pub trait ShimApi: Send + Sync {
            $(
                #[doc = concat!("Task.", $method, ".")]
                fn $name(&self, ctx: Context, req: &$req) -> ttrpc::Result<$resp>;
            )*
        }

        impl ShimApi for TaskClient {
            $(
                fn $name(&self, ctx: Context, req: &$req) -> ttrpc::Result<$resp> {
                    self.call(ctx, $method, req)
                }
            )*
        }
    };
}

calls! {
    create("Create", api::CreateTaskRequest) -> api::CreateTaskResponse;
    start("Start", api::StartRequest) -> api::StartResponse;
    delete("Delete", api::DeleteRequest) -> api::DeleteResponse;
    pids("Pids", api::PidsRequest) -> api::PidsResponse;
    pause("Pause", api::PauseRequest) -> Empty;
    resume("Resume", api::ResumeRequest) -> Empty;
    kill("Kill", api::KillRequest) -> Empty;
    exec("Exec", api::ExecProcessRequest) -> Empty;
    resize_pty("ResizePty", api::ResizePtyRequest) -> Empty;
    close_io("CloseIO", api::CloseIORequest) -> Empty;
    update("Update", api::UpdateTaskRequest) -> Empty;
    wait("Wait", api::WaitRequest) -> api::WaitResponse;
    stats("Stats", api::StatsRequest) -> api::StatsResponse;
    connect("Connect", api::ConnectRequest) -> api::ConnectResponse;
    shutdown("Shutdown", api::ShutdownRequest) -> Empty;
    state("State", api::StateRequest) -> api::StateResponse;
}

/// A shim client shared by a task and the calls made on it.
pub type Shim = std::sync::Arc<dyn ShimApi>;

/// The context of a call: `timeout`, or none (Wait blocks until the exit).
pub fn ctx(timeout: Option<std::time::Duration>) -> Context {
    match timeout {
        Some(d) => ttrpc::context::with_duration(d),
        None => Context::default(),
    }
}
