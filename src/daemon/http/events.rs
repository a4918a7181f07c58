//! `GET /events`: past events from `since` (up to `until`), then live ones until `until`
//! (or for as long as the client reads), one JSON object per line, filtered as Docker's.

use super::{ApiError, ApiResult, D, Q};
use crate::api::filters::Filters;
use crate::daemon::events::{matches, parse_time, Event, FILTER_KEYS};
use crate::daemon::DaemonError;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;

fn line(ev: &Event) -> bytes::Bytes {
    let mut l = serde_json::to_vec(&ev.to_json()).unwrap_or_default();
    l.push(b'\n');
    bytes::Bytes::from(l)
}

/// `GET /events?since=&until=&filters=`.
pub(super) async fn events(State(d): D, Query(q): Q) -> ApiResult<Response> {
    let time = |name: &str| -> ApiResult<Option<i64>> {
        match q.get(name).filter(|v| !v.is_empty()) {
            Some(v) => parse_time(name, v).map(Some).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e)),
            None => Ok(None),
        }
    };
    let (since, until) = (time("since")?, time("until")?);
    let filters = Filters::parse(q.get("filters").map(String::as_str)).map_err(DaemonError::from)?;
    filters.only(FILTER_KEYS).map_err(DaemonError::from)?;
    // With either bound the kept events in range come first (Docker's replay).
    let replay_from = match (since, until) {
        (None, None) => None,
        (s, _) => Some(s.unwrap_or(0)),
    };
    let (past, rx) = d.event_log.since(replay_from);
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let in_range = move |ev: &Event| until.is_none_or(|u| ev.time_nano <= u);
    let past: Vec<bytes::Bytes> = past.iter().filter(|e| in_range(e) && matches(e, &filters)).map(line).collect();
    // Live events only while `until` lies ahead.
    let live = until.is_none_or(|u| u > now).then_some(rx);
    let deadline = until.map(|u| tokio::time::Instant::now() + std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64));
    let past = futures::stream::iter(past.into_iter().map(Ok::<_, std::convert::Infallible>));
    let live = futures::stream::unfold(live, move |rx| {
        let filters = filters.clone();
        async move {
            let mut rx = rx?;
            loop {
                let next = match deadline {
                    Some(dl) => match tokio::time::timeout_at(dl, rx.recv()).await {
                        Ok(r) => r,
                        Err(_) => return None,
                    },
                    None => rx.recv().await,
                };
                match next {
                    Ok(ev) if in_range(&ev) && matches(&ev, &filters) => return Some((Ok(line(&ev)), Some(rx))),
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => tracing::warn!("an events reader fell {n} events behind; they are skipped"),
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    use futures::StreamExt;
    Ok(([(header::CONTENT_TYPE, "application/json")], Body::from_stream(past.chain(live))).into_response())
}
