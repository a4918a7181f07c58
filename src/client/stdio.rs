//! Copies a container's output stream (attach, logs) to our stdout and stderr: Docker's
//! multiplexed framing is split by stream, a raw (TTY) stream goes to stdout as is.

use super::error::{ClientError, Result};
use crate::api::stream::{Demuxer, StdStream};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::io::{self, Write};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Content type of Docker's multiplexed stdout/stderr stream.
pub const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
/// Content type of a raw (TTY) stream.
pub const RAW: &str = "application/vnd.docker.raw-stream";

/// Where decoded output goes; a closed stdout (EPIPE) ends the copy quietly.
pub struct StdioSink {
    demux: Option<Demuxer>,
    closed: bool,
}

impl StdioSink {
    /// A sink for the multiplexed framing.
    pub fn multiplexed() -> Self {
        StdioSink { demux: Some(Demuxer::default()), closed: false }
    }

    /// A sink that copies bytes to stdout unchanged.
    pub fn raw() -> Self {
        StdioSink { demux: None, closed: false }
    }

    /// Picks the framing from a response's Content-Type (multiplexed unless it says raw).
    pub fn for_content_type(ct: Option<&str>) -> Self {
        match ct {
            Some(ct) if ct.starts_with(RAW) => Self::raw(),
            _ => Self::multiplexed(),
        }
    }

    /// Whether our stdout went away.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Feeds received bytes; writes every complete frame.
    pub fn feed(&mut self, data: &[u8]) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let res = match &mut self.demux {
            None => write_to(StdStream::Stdout, data),
            Some(d) => {
                d.push(data);
                let mut res = Ok(());
                while let Some((stream, payload)) = d.next_frame() {
                    res = write_to(stream, &payload);
                    if res.is_err() {
                        break;
                    }
                }
                res
            }
        };
        match res {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(ClientError::io("writing output", e)),
        }
    }
}

fn write_to(stream: StdStream, data: &[u8]) -> io::Result<()> {
    match stream {
        StdStream::Stderr => {
            let mut e = io::stderr().lock();
            e.write_all(data)?;
            e.flush()
        }
        StdStream::Stdout | StdStream::Stdin => {
            let mut o = io::stdout().lock();
            o.write_all(data)?;
            o.flush()
        }
    }
}

/// Copies a response body through `sink` until the end of the body.
pub async fn copy_body(body: Incoming, sink: &mut StdioSink) -> Result<()> {
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(data) = frame.into_data() {
            let data: Bytes = data;
            sink.feed(&data)?;
            if sink.closed() {
                break;
            }
        }
    }
    Ok(())
}

/// Copies a hijacked/upgraded connection through `sink` until EOF.
pub async fn copy_reader<R: AsyncRead + Unpin>(mut reader: R, sink: &mut StdioSink) -> Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = reader.read(&mut buf).await.map_err(|e| ClientError::io("reading the container's output", e))?;
        if n == 0 {
            return Ok(());
        }
        sink.feed(&buf[..n])?;
        if sink.closed() {
            return Ok(());
        }
    }
}
