//! Rendering the daemon's JSON message stream (pull, push, load): indicatif bars per layer
//! when stdout is a terminal, plain "id: status" lines (one per change) otherwise.

use super::error::Result;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Response;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;

/// Consumes one JSON-lines progress response, printing as it goes; returns the exit code
/// (1 if the stream carried an error).
pub async fn render(resp: Response<Incoming>) -> Result<u8> {
    let mut view = View::new(std::io::stdout().is_terminal());
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            pending.extend_from_slice(&data);
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                view.line(&line);
            }
        }
    }
    view.line(&pending);
    view.finish();
    Ok(if view.failed { 1 } else { 0 })
}

struct View {
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    last: HashMap<String, String>,
    failed: bool,
}

impl View {
    fn new(tty: bool) -> Self {
        View { bars: tty.then(|| (MultiProgress::new(), HashMap::new())), last: HashMap::new(), failed: false }
    }

    fn line(&mut self, raw: &[u8]) {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            println!("{text}");
            return;
        };
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let err = v.pointer("/errorDetail/message").and_then(|m| m.as_str()).map(str::to_owned).or_else(|| s("error"));
        if let Some(e) = err {
            self.failed = true;
            self.suspend(|| eprintln!("{e}"));
            return;
        }
        if let Some(stream) = s("stream") {
            self.suspend(|| print!("{stream}"));
            return;
        }
        let Some(status) = s("status") else { return };
        let Some(id) = s("id") else {
            self.suspend(|| println!("{status}"));
            return;
        };
        let current = v.pointer("/progressDetail/current").and_then(|c| c.as_u64());
        let total = v.pointer("/progressDetail/total").and_then(|c| c.as_u64());
        match &mut self.bars {
            Some((multi, bars)) => {
                let bar = bars.entry(id.clone()).or_insert_with(|| {
                    let b = multi.add(ProgressBar::new(0));
                    let style = ProgressStyle::with_template("{prefix}: {msg} {bar:30} {bytes}/{total_bytes}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar());
                    b.set_style(style);
                    b.set_prefix(id.clone());
                    b
                });
                bar.set_message(status);
                if let Some(t) = total {
                    bar.set_length(t);
                }
                if let Some(c) = current {
                    bar.set_position(c);
                }
            }
            None => {
                // Byte counts change constantly; a log gets one line per change of status.
                if self.last.get(&id) != Some(&status) {
                    println!("{id}: {status}");
                    self.last.insert(id, status);
                }
            }
        }
    }

    fn suspend(&self, f: impl FnOnce()) {
        match &self.bars {
            Some((multi, _)) => multi.suspend(f),
            None => f(),
        }
    }

    fn finish(&mut self) {
        if let Some((_, bars)) = &self.bars {
            for b in bars.values() {
                b.finish();
            }
        }
    }
}
