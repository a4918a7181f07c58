//! `docker login` on the daemon side (`POST /auth`): credentials are checked against the
//! registry's `/v2/` as Docker does. A registry that asks for Basic auth must accept them on
//! `/v2/`; one that asks for a Bearer token must hand out a token for them at its realm.

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The registry refused the credentials.
    #[error("login to {server} failed: unauthorized: incorrect username or password ({detail})")]
    Unauthorized { server: String, detail: String },
    /// The registry could not be reached, or answered something that is not the protocol.
    #[error("login to {server} failed: {message}")]
    Registry { server: String, message: String },
}

/// Docker Hub's name in a config.json and in login requests.
pub const HUB_ADDRESS: &str = "https://index.docker.io/v1/";

/// "host[:port]" of a login server address as users and config.json spell it
/// ("https://host/v1/", "host:5000", Docker Hub's legacy URL).
pub fn registry_host(server: &str) -> String {
    let s = server.trim();
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "" | "docker.io" | "index.docker.io" => "registry-1.docker.io".to_owned(),
        h => h.to_owned(),
    }
}

/// The parameters of a `WWW-Authenticate` challenge: its scheme ("basic", "bearer") and
/// `key="value"` pairs.
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            (q[..end].to_owned(), q.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.push((key, value));
        rest = tail.trim_start_matches(',').trim();
    }
    (scheme.to_ascii_lowercase(), params)
}

/// Checks `username`/`password` against the registry at `server`.
pub async fn login(server: &str, username: &str, password: &str) -> Result<(), LoginError> {
    let host = registry_host(server);
    let scheme = if super::registry::is_loopback(&host) { "http" } else { "https" };
    let fail = |message: String| LoginError::Registry { server: host.clone(), message };
    let client = reqwest::Client::builder().build().map_err(|e| fail(e.to_string()))?;
    let url = format!("{scheme}://{host}/v2/");
    let first = client.get(&url).send().await.map_err(|e| fail(format!("GET {url}: {e}")))?;
    if first.status().is_success() {
        // An open registry: nothing to check, as with Docker.
        return Ok(());
    }
    if first.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Err(fail(format!("GET {url}: {}", first.status())));
    }
    let challenge = first.headers().get(reqwest::header::WWW_AUTHENTICATE).and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
    let (kind, params) = parse_challenge(&challenge);
    let refused = |detail: String| LoginError::Unauthorized { server: host.clone(), detail };
    let answer = match kind.as_str() {
        "basic" => client.get(&url).basic_auth(username, Some(password)).send().await.map_err(|e| fail(format!("GET {url}: {e}")))?,
        "bearer" => {
            let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            let realm = get("realm").ok_or_else(|| fail(format!("bearer challenge without a realm: {challenge}")))?;
            let mut query = vec![("account", username.to_owned()), ("client_id", "berth".to_owned())];
            if let Some(service) = get("service") {
                query.push(("service", service));
            }
            let mut token_url = reqwest::Url::parse(&realm).map_err(|e| fail(format!("token realm {realm:?}: {e}")))?;
            token_url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
            let resp = client.get(token_url).basic_auth(username, Some(password)).send().await.map_err(|e| fail(format!("GET {realm}: {e}")))?;
            if resp.status().is_success() {
                let bytes = resp.bytes().await.map_err(|e| fail(format!("token answer of {realm}: {e}")))?;
                let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| fail(format!("token answer of {realm}: {e}")))?;
                if body.get("token").or_else(|| body.get("access_token")).and_then(|t| t.as_str()).is_none_or(str::is_empty) {
                    return Err(fail(format!("{realm} answered without a token")));
                }
                return Ok(());
            }
            resp
        }
        _ => return Err(fail(format!("unknown authentication challenge {challenge:?}"))),
    };
    if answer.status().is_success() {
        Ok(())
    } else if matches!(answer.status().as_u16(), 401 | 403) {
        Err(refused(format!("{} {}", answer.status().as_u16(), answer.status().canonical_reason().unwrap_or(""))))
    } else {
        Err(fail(format!("{}", answer.status())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_split_into_scheme_and_parameters() {
        let (kind, p) = parse_challenge(r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull,push""#);
        assert_eq!(kind, "bearer");
        assert_eq!(p[0], ("realm".to_owned(), "http://127.0.0.1:1/token".to_owned()));
        assert_eq!(p[1], ("service".to_owned(), "reg".to_owned()));
        assert_eq!(p[2], ("scope".to_owned(), "repository:a/b:pull,push".to_owned()));
        let (kind, p) = parse_challenge(r#"Basic realm="basic-realm""#);
        assert_eq!((kind.as_str(), p.len()), ("basic", 1));
    }

    #[test]
    fn server_addresses_are_reduced_to_the_registry_host() {
        assert_eq!(registry_host(HUB_ADDRESS), "registry-1.docker.io");
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_host("http://localhost:5000/"), "localhost:5000");
    }
}
