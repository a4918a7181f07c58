//! Raw HTTP/1.1 over a daemon's API socket, as curl would send it: for tests of exactly what
//! the Engine API answers.

use super::TestDaemon;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A parsed HTTP response: status code and (de-chunked) body.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `message` of a JSON error body; fails the test when the body is not one.
    pub fn message(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("error body is not JSON ({e}): {:?}", self.text()));
        v["message"].as_str().unwrap_or_else(|| panic!("no message in {v}")).to_owned()
    }
}

/// Sends `head` (request line and headers, without the final blank line) and `body` as one
/// HTTP/1.1 request with `Connection: close`, and reads the whole response.
pub fn raw(d: &TestDaemon, method: &str, path: &[u8], headers: &str, body: &[u8]) -> Reply {
    let mut s = UnixStream::connect(d.socket()).expect("connect to the API socket");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(path);
    req.extend_from_slice(format!(" HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n", body.len()).as_bytes());
    req.extend_from_slice(body);
    // A server that refuses a body early (413) closes before reading all of it; its answer
    // is still there to read.
    if let Err(e) = s.write_all(&req) {
        assert!(matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset), "send request: {e}");
    }
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read response");
    parse(&resp)
}

fn parse(resp: &[u8]) -> Reply {
    let end = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(resp)));
    let head = String::from_utf8_lossy(&resp[..end]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad status line: {head}"));
    let mut body = resp[end + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Reply { status, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
    out
}

/// `GET path`.
pub fn get(d: &TestDaemon, path: &str) -> Reply {
    raw(d, "GET", path.as_bytes(), "", b"")
}

/// `POST path` with a JSON body.
pub fn post_json(d: &TestDaemon, path: &str, body: &str) -> Reply {
    raw(d, "POST", path.as_bytes(), "Content-Type: application/json\r\n", body.as_bytes())
}
