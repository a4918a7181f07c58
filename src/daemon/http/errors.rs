//! Engine API errors: the one place where daemon errors become HTTP status codes, and every
//! error body — ours, and those axum or hyper produce (a bad query, 405, 413) — becomes
//! Docker's `{"message": ...}`, with input that is not printable text escaped.

use super::super::error::ErrorKind;
use super::super::DaemonError;
use crate::api::types::ErrorResponse;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The longest message an error body carries; the rest is cut (a long or binary input that
/// an error names is not echoed whole).
const MAX_MESSAGE: usize = 1024;

/// An Engine API error: a status code and Docker's `{"message": ...}` body.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.0 == StatusCode::NOT_MODIFIED {
            return StatusCode::NOT_MODIFIED.into_response();
        }
        (self.0, Json(ErrorResponse { message: client_message(&self.1) })).into_response()
    }
}

/// The status code of each kind of error, as dockerd's `httpstatus.FromError`.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::InvalidParameter => StatusCode::BAD_REQUEST,
        ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::System => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<DaemonError> for ApiError {
    fn from(e: DaemonError) -> Self {
        if e.kind() == ErrorKind::System {
            // The whole chain goes to the daemon's log; the client gets the message.
            tracing::warn!(error = ?e, "request failed");
        }
        ApiError(status_of(e.kind()), e.to_string())
    }
}

impl From<crate::image::ImageError> for ApiError {
    fn from(e: crate::image::ImageError) -> Self {
        DaemonError::from(e).into()
    }
}

/// An error message as a client gets it, in an error body or a progress stream's
/// `errorDetail`: in Docker's words, printable, bounded.
pub fn client_message(msg: &str) -> String {
    printable(&docker_errno(msg))
}

/// `msg` with Rust's wording of the errors a client reacts to replaced by Docker's (Go's
/// strerror): "No space left on device (os error 28)" → "no space left on device".
fn docker_errno(msg: &str) -> String {
    const GO: [(i32, &str); 2] = [(libc::ENOSPC, "no space left on device"), (libc::EDQUOT, "disk quota exceeded")];
    let mut out = msg.to_owned();
    for (errno, go) in GO {
        let rust = std::io::Error::from_raw_os_error(errno).to_string();
        out = out.replace(&rust, go);
    }
    out
}

/// `s` with control characters (and the replacement character left by invalid UTF-8)
/// escaped, cut to [`MAX_MESSAGE`] characters.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_MESSAGE));
    for (n, c) in s.chars().enumerate() {
        if n >= MAX_MESSAGE {
            out.push_str("...");
            break;
        }
        if c.is_control() || c == char::REPLACEMENT_CHARACTER {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// The largest body an endpoint that reads its body whole (create, exec, commit…) takes;
/// archives (`/images/create`, `/images/load`) are streamed and have no limit.
pub const BODY_LIMIT: usize = 2 << 20;

/// How much of a too-large body is read and dropped before the 413 goes out: a client
/// still sending when the server closes gets a reset instead of the answer.
const DRAIN_LIMIT: u64 = 64 << 20;

/// How long that drain may take.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Middleware: a body announced larger than [`BODY_LIMIT`] on an endpoint that reads it
/// whole is refused with 413 before the handler runs, after the rest of the upload is
/// drained (up to [`DRAIN_LIMIT`]), so that the client reads the error.
pub async fn refuse_large_bodies(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let streamed = matches!(path, "/images/create" | "/images/load") || (path.starts_with("/containers/") && path.ends_with("/archive"));
    let len = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match len {
        Some(len) if !streamed && len > BODY_LIMIT as u64 => {
            if len <= DRAIN_LIMIT {
                let mut body = req.into_body();
                // Read and dropped frame by frame: never held.
                let drain = async { while let Some(Ok(_)) = http_body_util::BodyExt::frame(&mut body).await {} };
                let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
            }
            ApiError(StatusCode::PAYLOAD_TOO_LARGE, format!("request body of {len} bytes is larger than the limit of {BODY_LIMIT} bytes"))
                .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Middleware: an error response whose body is not JSON (axum's extractor rejections, 405,
/// 413, hyper's) gets Docker's JSON body, its text (or the status's reason) as the message.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // Such bodies are one line of text; anything longer is cut, not buffered.
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).trim().to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let body = serde_json::to_vec(&ErrorResponse { message: printable(&text) }).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_reported_in_dockers_words() {
        let e = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(docker_errno(&format!("write /x: {e}")), "write /x: no space left on device");
    }

    #[test]
    fn control_characters_and_invalid_utf8_are_escaped() {
        let raw = String::from_utf8_lossy(b"no such image: a\x00b\x1b[2J\xff");
        let p = printable(&raw);
        assert_eq!(p, "no such image: a\\u{0}b\\u{1b}[2J\\u{fffd}");
        assert!(!p.chars().any(char::is_control));
    }

    #[test]
    fn long_messages_are_cut() {
        let p = printable(&"x".repeat(5000));
        assert_eq!(p.len(), MAX_MESSAGE + 3);
    }
}
