//! The Engine API's HTTP server: one HTTP/1.1 connection task per client, the API version
//! prefix checked before routing, and a header read timeout, so that a client that never
//! finishes a request cannot hold a connection (slowloris).

use super::version::route_version;
use crate::daemon::Daemon;
use axum::body::Body;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// How long a client may take to send a request's headers, counted from the moment the
/// connection waits for them (so an idle keep-alive connection is closed after it too).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for open connections (attach streams, pulls) to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves the Engine API on `listener` until `shutdown` completes, then waits up to
/// [`SHUTDOWN_GRACE`] for open connections.
pub async fn serve(listener: tokio::net::UnixListener, daemon: Arc<Daemon>, shutdown: impl Future<Output = ()>) {
    let app = super::router(daemon);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning, and keep serving.
                    tracing::warn!("accept on the API socket: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move {
                    let req = req.map(Body::new);
                    let resp = match route_version(req) {
                        Ok(req) => match app.oneshot(req).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        },
                        Err(e) => e.into_response(),
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
            builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!("API connection: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; shutting down anyway"),
    }
}
