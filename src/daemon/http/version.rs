//! The `/vX.Y` prefix of Engine API paths: checked against the versions berthd speaks, with
//! Docker's messages, and stripped before routing.

use super::ApiError;
use crate::api::{API_VERSION, MIN_API_VERSION};
use axum::extract::Request;
use axum::http::{StatusCode, Uri};

/// A dotted version as numbers ("1.41" → [1, 41]); None when it is not one.
fn numbers(v: &str) -> Option<Vec<u64>> {
    if v.is_empty() {
        return None;
    }
    v.split('.').map(|n| n.parse::<u64>().ok()).collect()
}

/// Compares two dotted versions component by component (missing components count as 0).
fn compare(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let len = a.len().max(b.len());
    (0..len).map(|i| a.get(i).copied().unwrap_or(0).cmp(&b.get(i).copied().unwrap_or(0))).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
}

/// Refuses a version outside [`MIN_API_VERSION`, `API_VERSION`] with Docker's messages.
pub fn check(version: &str) -> Result<(), ApiError> {
    let bad = || ApiError(StatusCode::BAD_REQUEST, format!("invalid API version: {version:?}"));
    let v = numbers(version).ok_or_else(bad)?;
    let (min, max) = (numbers(MIN_API_VERSION).ok_or_else(bad)?, numbers(API_VERSION).ok_or_else(bad)?);
    if compare(&v, &min).is_lt() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
            ),
        ));
    }
    if compare(&v, &max).is_gt() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("client version {version} is too new. Maximum supported API version is {API_VERSION}"),
        ));
    }
    Ok(())
}

/// Checks and strips the version prefix (`/v1.41/containers/json` → `/containers/json`).
/// A path whose first segment is not `v` followed by digits and dots has no version (as
/// Docker's router: `/vabc/x` is simply an unknown path).
pub fn route_version(mut req: Request) -> Result<Request, ApiError> {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(req);
    };
    let Some(slash) = rest.find('/') else {
        return Ok(req);
    };
    let ver = &rest[..slash];
    if ver.is_empty() || !ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Ok(req);
    }
    check(ver)?;
    let new_path = &rest[slash..];
    let pq = match req.uri().query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path.to_owned(),
    };
    let uri = pq.parse::<Uri>().map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid request path: {e}")))?;
    *req.uri_mut() = uri;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(path: &str) -> Result<String, (StatusCode, String)> {
        let req = Request::builder().uri(path).body(axum::body::Body::empty()).expect("request");
        route_version(req).map(|r| r.uri().to_string()).map_err(|e| (e.0, e.1))
    }

    #[test]
    fn versions_inside_the_range_are_stripped() {
        assert_eq!(status("/v1.41/containers/json?all=1").ok().as_deref(), Some("/containers/json?all=1"));
        assert_eq!(status("/v1.12/_ping").ok().as_deref(), Some("/_ping"));
        assert_eq!(status("/v1.24/info").ok().as_deref(), Some("/info"));
        assert_eq!(status("/_ping").ok().as_deref(), Some("/_ping"));
    }

    #[test]
    fn versions_outside_the_range_get_dockers_messages() {
        let (code, msg) = status("/v0.1/info").expect_err("too old");
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert_eq!(msg, "client version 0.1 is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version");
        let (code, msg) = status("/v99.99/info").expect_err("too new");
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert_eq!(msg, "client version 99.99 is too new. Maximum supported API version is 1.41");
        assert!(status("/v1.42/info").is_err());
        assert!(status("/v1..2/info").is_err());
    }

    #[test]
    fn a_first_segment_that_is_no_version_is_left_to_the_router() {
        assert_eq!(status("/vabc/info").ok().as_deref(), Some("/vabc/info"));
        assert_eq!(status("/volumes").ok().as_deref(), Some("/volumes"));
    }
}
