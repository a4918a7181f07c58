//! The Engine API client: HTTP/1.1 over the daemon's unix socket (one connection per
//! request), `Host: docker`, every path under `/v1.41`, daemon errors decoded from
//! `{"message": "..."}`.

use super::endpoint::Endpoint;
use super::error::{ClientError, Result};
use crate::api::types::ErrorResponse;
use crate::api::API_VERSION;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::UnixStream;

/// The request body type: anything that yields bytes (JSON, or a streamed tar).
pub type ReqBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// An empty request body.
pub fn empty() -> ReqBody {
    Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync()
}

/// A request body holding `data`.
pub fn full(data: impl Into<Bytes>) -> ReqBody {
    Full::new(data.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A URL query string builder (values percent-encoded).
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds `key=value`.
    pub fn set(mut self, key: &str, value: impl ToString) -> Self {
        self.0.push((key.to_owned(), value.to_string()));
        self
    }
    /// Adds `key=value` when `value` is `Some`.
    pub fn set_opt(self, key: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }
    /// Adds `key=1` when `flag` is set.
    pub fn flag(self, key: &str, flag: bool) -> Self {
        if flag {
            self.set(key, 1)
        } else {
            self
        }
    }
    /// `?a=b&c=d`, or "" when empty.
    pub fn encode(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{}={}", escape(k, false), escape(v, false))).collect();
        format!("?{}", parts.join("&"))
    }
}

/// Percent-encodes `s`; with `path`, '/' and ':' are kept (image references in paths).
pub fn escape(s: &str, path: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (path && matches!(b, b'/' | b':'));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Engine API client bound to one daemon endpoint.
#[derive(Debug, Clone)]
pub struct EngineClient {
    endpoint: Endpoint,
}

impl EngineClient {
    /// A client for `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        EngineClient { endpoint }
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn connect(&self) -> Result<SendRequest<ReqBody>> {
        let Endpoint::Unix(path) = &self.endpoint;
        let stream = UnixStream::connect(path).await.map_err(|source| ClientError::Connect { endpoint: self.endpoint.to_string(), source })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!("engine API connection ended: {e}");
            }
        });
        Ok(sender)
    }

    /// Sends one request and returns the raw response, whatever its status.
    pub async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: ReqBody) -> Result<Response<Incoming>> {
        let mut sender = self.connect().await?;
        let uri = format!("/v{API_VERSION}{path}");
        tracing::debug!("{method} {uri}");
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, "docker")
            .header(hyper::header::USER_AGENT, concat!("berth-client/", env!("CARGO_PKG_VERSION")));
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let req = builder.body(body).map_err(|e| ClientError::Invalid(format!("bad request: {e}")))?;
        Ok(sender.send_request(req).await?)
    }

    /// Like [`send`](Self::send), but any status other than 2xx, 101 or 304 becomes
    /// [`ClientError::Daemon`].
    pub async fn call(&self, method: Method, path: &str, headers: &[(&str, &str)], body: ReqBody) -> Result<Response<Incoming>> {
        let resp = self.send(method, path, headers, body).await?;
        let st = resp.status();
        if st.is_success() || st == StatusCode::SWITCHING_PROTOCOLS || st == StatusCode::NOT_MODIFIED {
            Ok(resp)
        } else {
            Err(daemon_error(resp).await)
        }
    }

    /// GET `path` and decode the JSON answer (null members are treated as absent, so the
    /// shared API types' defaults apply: dockerd sends e.g. `"Labels": null`).
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.call(Method::GET, path, &[], empty()).await?;
        decode(&read_body(resp).await?)
    }

    /// GET `path` and return the JSON answer untouched (nulls kept, for `inspect`).
    pub async fn get_value(&self, path: &str) -> Result<serde_json::Value> {
        let resp = self.call(Method::GET, path, &[], empty()).await?;
        Ok(serde_json::from_slice(&read_body(resp).await?)?)
    }

    /// GET `path` and return the raw JSON text (for `inspect`, which keeps member order).
    pub async fn get_text(&self, path: &str) -> Result<String> {
        let resp = self.call(Method::GET, path, &[], empty()).await?;
        let body = read_body(resp).await?;
        // Validate, so garbage is reported rather than printed.
        serde_json::from_slice::<serde::de::IgnoredAny>(&body)?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// POST `body` as JSON to `path` and decode the JSON answer.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let data = serde_json::to_vec(body)?;
        let resp = self.call(Method::POST, path, &[("content-type", "application/json")], full(data)).await?;
        decode(&read_body(resp).await?)
    }

    /// POST with no body; the answer's body is read and dropped. Returns the status.
    pub async fn post_empty(&self, path: &str) -> Result<StatusCode> {
        let resp = self.call(Method::POST, path, &[], empty()).await?;
        let st = resp.status();
        read_body(resp).await?;
        Ok(st)
    }

    /// DELETE `path`; the answer's body is dropped.
    pub async fn delete(&self, path: &str) -> Result<()> {
        let resp = self.call(Method::DELETE, path, &[], empty()).await?;
        read_body(resp).await?;
        Ok(())
    }
}

/// Removes object members whose value is null, at every depth.
pub fn drop_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Decodes a JSON answer into `T`, treating null members as absent.
pub fn decode<T: DeserializeOwned>(data: &[u8]) -> Result<T> {
    let mut v: serde_json::Value = serde_json::from_slice(data)?;
    drop_nulls(&mut v);
    Ok(serde_json::from_value(v)?)
}

/// Reads a whole response body.
pub async fn read_body(resp: Response<Incoming>) -> Result<Bytes> {
    Ok(resp.into_body().collect().await?.to_bytes())
}

/// Turns an error response into [`ClientError::Daemon`] with the daemon's message.
pub async fn daemon_error(resp: Response<Incoming>) -> ClientError {
    let status = resp.status();
    let body = match read_body(resp).await {
        Ok(b) => b,
        Err(e) => return e,
    };
    let message = match serde_json::from_slice::<ErrorResponse>(&body) {
        Ok(e) if !e.message.is_empty() => e.message,
        _ => {
            let text = String::from_utf8_lossy(&body).trim().to_owned();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("unknown error").to_owned()
            } else {
                text
            }
        }
    };
    ClientError::Daemon { status: status.as_u16(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        let q = Query::new().set("repo", "my img").flag("all", true).flag("x", false).set_opt("t", None::<i32>);
        assert_eq!(q.encode(), "?repo=my%20img&all=1");
        assert_eq!(Query::new().encode(), "");
        assert_eq!(escape("library/busybox:latest", true), "library/busybox:latest");
    }

    #[test]
    fn nulls_from_dockerd_fall_back_to_defaults() {
        let data = br#"[{"Id":"sha256:ab","Labels":null,"RepoTags":null,"Size":5}]"#;
        let list: Vec<crate::api::types::ImageSummary> = decode(data).unwrap_or_default();
        assert_eq!(list.len(), 1);
        assert!(list[0].repo_tags.is_empty());
    }
}
