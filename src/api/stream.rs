//! Docker's multiplexed stdio framing: an 8-byte header (stream type, three zero bytes,
//! big-endian payload length) before each chunk, used by attach and logs without a TTY.

/// Which stream a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

impl StdStream {
    /// The stream named in a json-file log line ("stdout"/"stderr").
    pub fn from_name(name: &str) -> Self {
        if name == "stderr" {
            StdStream::Stderr
        } else {
            StdStream::Stdout
        }
    }
}

/// Frames `payload` for `stream`.
pub fn frame(stream: StdStream, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.push(stream as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Incremental decoder: feed bytes, take complete frames.
#[derive(Default)]
pub struct Demuxer {
    buf: Vec<u8>,
}

impl Demuxer {
    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Takes the next complete frame, if any.
    pub fn next_frame(&mut self) -> Option<(StdStream, Vec<u8>)> {
        if self.buf.len() < 8 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < 8 + len {
            return None;
        }
        let stream = match self.buf[0] {
            0 => StdStream::Stdin,
            2 => StdStream::Stderr,
            _ => StdStream::Stdout,
        };
        let payload = self.buf[8..8 + len].to_vec();
        self.buf.drain(..8 + len);
        Some((stream, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_demuxer_in_pieces() {
        let mut bytes = frame(StdStream::Stdout, b"hello\n");
        bytes.extend(frame(StdStream::Stderr, b"oops\n"));
        let mut d = Demuxer::default();
        d.push(&bytes[..5]);
        assert!(d.next_frame().is_none());
        d.push(&bytes[5..]);
        assert_eq!(d.next_frame(), Some((StdStream::Stdout, b"hello\n".to_vec())));
        assert_eq!(d.next_frame(), Some((StdStream::Stderr, b"oops\n".to_vec())));
        assert_eq!(d.next_frame(), None);
    }
}
