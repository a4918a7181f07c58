//! containerd's ttrpc events endpoint (`<address>.ttrpc`, `containerd.services.events.ttrpc.v1.Events`):
//! containerd-shim-runc-v2 (containerd ≥ 1.5) forwards its events there instead of running the
//! publish binary. Events are handed to the same exchange as gRPC ones.

use std::path::Path;
use std::sync::Arc;

use containerd_shim_protos::protobuf::well_known_types::empty::Empty;
use containerd_shim_protos::shim::events::ForwardRequest;
use ttrpc::TtrpcContext;

use crate::proto::containerd::types::Envelope;

use super::events::{generated_here, Exchange};
use super::SupervisorError;

struct Forwarder {
    events: Exchange,
}

impl containerd_shim_protos::shim::events_ttrpc::Events for Forwarder {
    fn forward(&self, _ctx: &TtrpcContext, req: ForwardRequest) -> ttrpc::Result<Empty> {
        if let Some(e) = req.envelope.as_ref() {
            let env = Envelope {
                timestamp: e.timestamp.as_ref().map(|t| prost_types::Timestamp { seconds: t.seconds, nanos: t.nanos }),
                namespace: e.namespace.clone(),
                topic: e.topic.clone(),
                event: e.event.as_ref().map(|a| prost_types::Any { type_url: a.type_url.clone(), value: a.value.clone() }),
            };
            if !generated_here(&env) {
                self.events.forward(env);
            }
        }
        Ok(Empty::new())
    }
}

/// Serves the ttrpc events endpoint on `path` until the process ends.
pub fn serve(path: &Path, events: Exchange) -> Result<ttrpc::Server, SupervisorError> {
    let addr = format!("unix://{}", path.display());
    let svc = containerd_shim_protos::shim::events_ttrpc::create_events(Arc::new(Forwarder { events }));
    let invalid = |e: ttrpc::Error| SupervisorError::Invalid(format!("ttrpc events on {addr}: {e}"));
    let listener =
        crate::fsperm::bind_unix(path, crate::fsperm::SOCKET_PRIVATE, None).map_err(|e| SupervisorError::Invalid(format!("ttrpc events: {e}")))?;
    let fd = std::os::fd::IntoRawFd::into_raw_fd(listener);
    let mut server = ttrpc::Server::new().add_listener(fd).map_err(invalid)?.register_service(svc);
    server.start().map_err(invalid)?;
    Ok(server)
}
