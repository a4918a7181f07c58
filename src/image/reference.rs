//! Image references with Docker's grammar (distribution's `reference` package):
//! `[domain[:port]/]path[:tag][@digest]`, where each path component is lowercase
//! alphanumerics joined by `.`, `_`, `__` or runs of `-`, a tag is `[\w][\w.-]{0,127}`, a
//! digest `algorithm:hex`, and the whole name (with Docker Hub's implicit `docker.io/` and
//! `library/`) at most 255 characters. The store keys images by the familiar "repo:tag"
//! ("busybox:latest", not "docker.io/library/busybox:latest").

/// Docker Hub's domain, implied when a name has none.
const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's old domain, which Docker rewrites to [`DEFAULT_DOMAIN`].
const LEGACY_DOMAIN: &str = "index.docker.io";
/// The repository prefix of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";
/// The longest name (domain and path) Docker accepts.
const NAME_MAX: usize = 255;
/// The longest tag Docker accepts.
const TAG_MAX: usize = 128;

/// Why a reference was refused; the messages are Docker's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    /// The string does not follow the grammar.
    #[error("invalid reference format")]
    Format,
    /// The repository part has uppercase letters.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// The name is longer than 255 characters.
    #[error("repository name must not be more than {NAME_MAX} characters")]
    TooLong,
    /// Empty.
    #[error("repository name must have at least one component")]
    Empty,
    /// A 64-hex-digit string, which would be ambiguous with an image id.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    Hex64(String),
    /// A tag given on its own (`?tag=`) that does not follow the grammar.
    #[error("invalid tag format")]
    Tag,
    /// A digest where only a tag may be.
    #[error("cannot tag a digest reference")]
    DigestNotTag,
}

/// A parsed, normalized named reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// Registry host[:port], `docker.io` for Docker Hub.
    pub domain: String,
    /// Repository path, with `library/` for Docker Hub's official images.
    pub path: String,
    pub tag: Option<String>,
    /// "algorithm:hex".
    pub digest: Option<String>,
}

impl Named {
    /// The repository as Docker shows it: Docker Hub's `docker.io/` and `library/` left out.
    pub fn familiar_repo(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path.strip_prefix(OFFICIAL_PREFIX).unwrap_or(&self.path).to_owned()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The store's key for this name: "repo:tag", the tag defaulting to `latest`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.familiar_repo(), self.tag.as_deref().unwrap_or("latest"))
    }
}

/// What a user may name an image by: an id (64 hex digits, or a full digest), or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyRef {
    /// "sha256:<hex>".
    Id(String),
    Named(Named),
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn path_component_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && is_lower_alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        let sep = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        debug_assert!(i > sep);
    }
}

/// `host(:port)?` where host is dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`
/// labels or a bracketed IPv6 address.
fn domain_ok(s: &str) -> bool {
    let split = if s.starts_with('[') { s.find(']').map(|i| i + 1) } else { Some(s.find(':').unwrap_or(s.len())) };
    let Some(at) = split else { return false };
    let (host, port) = s.split_at(at);
    let port_ok = port.is_empty() || port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':'),
        None => host.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }),
    };
    host_ok && port_ok
}

/// `[\w][\w.-]{0,127}`
pub fn tag_ok(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty() && b.len() <= TAG_MAX && word(b[0]) && b.iter().all(|c| word(*c) || *c == b'.' || *c == b'-')
}

/// `algorithm:hex` as the OCI digest grammar, with the lengths of the algorithms Docker
/// knows (sha256, sha384, sha512) checked.
pub fn digest_ok(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len && hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Whether `name` (no tag, no digest) matches `(domain/)?component(/component)*`.
fn name_ok(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    if parts.iter().all(|p| path_component_ok(p)) {
        return true;
    }
    parts.len() > 1 && domain_ok(parts[0]) && parts[1..].iter().all(|p| path_component_ok(p))
}

/// Docker's `reference.Parse` of an already normalized string ("domain/path[:tag][@digest]").
fn parse_full(s: &str) -> Result<Named, RefError> {
    if s.is_empty() {
        return Err(RefError::Empty);
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    let grammar = name_ok(name) && tag.is_none_or(tag_ok) && digest.is_none_or(digest_ok);
    if !grammar {
        return Err(RefError::Format);
    }
    if name.len() > NAME_MAX {
        return Err(RefError::TooLong);
    }
    let (domain, path) = name.split_once('/').ok_or(RefError::Format)?;
    Ok(Named { domain: domain.to_owned(), path: path.to_owned(), tag: tag.map(str::to_owned), digest: digest.map(str::to_owned) })
}

/// Docker's `splitDockerDomain`: the first component is a domain only if it looks like one.
fn split_domain(s: &str) -> (String, String) {
    let (domain, mut rest) = match s.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first => {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), s.to_owned()),
    };
    let domain = if domain == LEGACY_DOMAIN { DEFAULT_DOMAIN.to_owned() } else { domain };
    if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        rest = format!("{OFFICIAL_PREFIX}{rest}");
    }
    (domain, rest)
}

/// Docker's `ParseNormalizedNamed`: a name as users type it ("busybox", "x/y:1",
/// "localhost:5000/app@sha256:...").
pub fn parse_normalized(s: &str) -> Result<Named, RefError> {
    if is_hex64(s) {
        return Err(RefError::Hex64(s.to_owned()));
    }
    let (domain, rest) = split_domain(s);
    let remote = rest.split(':').next().unwrap_or("");
    if remote.to_lowercase() != remote {
        return Err(RefError::Uppercase(remote.to_owned()));
    }
    parse_full(&format!("{domain}/{rest}"))
}

/// Docker's `ParseAnyReference`: an image id (64 hex digits or a full digest) or a name.
pub fn parse_any(s: &str) -> Result<AnyRef, RefError> {
    if is_hex64(s) {
        return Ok(AnyRef::Id(format!("sha256:{s}")));
    }
    if digest_ok(s) {
        return Ok(AnyRef::Id(s.to_owned()));
    }
    parse_normalized(s).map(AnyRef::Named)
}

/// Docker's `RepoTagReference`: the `repo` and `tag` parameters of tag, commit, import and
/// push, as one tagged name (tag `latest` when none is given anywhere).
pub fn repo_tag(repo: &str, tag: Option<&str>) -> Result<Named, RefError> {
    let mut n = parse_normalized(repo)?;
    if n.digest.is_some() {
        return Err(RefError::DigestNotTag);
    }
    match tag.filter(|t| !t.is_empty()) {
        Some(t) if !tag_ok(t) => return Err(RefError::Tag),
        Some(t) => n.tag = Some(t.to_owned()),
        None => {}
    }
    Ok(n)
}

/// Splits and normalizes a reference into (repository, tag); tag defaults to "latest".
/// Docker Hub's implicit prefixes ("docker.io/", "library/") are dropped so that
/// "busybox" and "docker.io/library/busybox:latest" name the same image. Lenient: filter
/// patterns (`busy*`) go through it too.
pub fn parse(reference: &str) -> (String, String) {
    if let Ok(n) = parse_normalized(reference) {
        return (n.familiar_repo(), n.tag.unwrap_or_else(|| "latest".to_owned()));
    }
    let reference = reference.split('@').next().unwrap_or(reference);
    let (repo, tag) = match reference.rfind(':') {
        // A ':' before the last '/' belongs to a registry host:port, not to a tag.
        Some(i) if !reference[i..].contains('/') => (&reference[..i], &reference[i + 1..]),
        _ => (reference, "latest"),
    };
    let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
    let repo = repo.strip_prefix("library/").unwrap_or(repo);
    (repo.to_owned(), tag.to_owned())
}

/// "repo:tag" for a reference.
pub fn normalize(reference: &str) -> String {
    let (repo, tag) = parse(reference);
    format!("{repo}:{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_prefixes_and_default_tag_are_normalized_away() {
        assert_eq!(normalize("busybox"), "busybox:latest");
        assert_eq!(normalize("docker.io/library/busybox:1.36"), "busybox:1.36");
        assert_eq!(normalize("index.docker.io/library/busybox"), "busybox:latest");
        assert_eq!(normalize("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalize("localhost:5000/app:v2"), "localhost:5000/app:v2");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(parse(&format!("127.0.0.1:5000/app@{d}")).0, "127.0.0.1:5000/app");
    }

    #[test]
    fn dockers_grammar_accepts_what_docker_accepts() {
        let d = format!("sha256:{}", "0".repeat(64));
        for ok in [
            "busybox",
            "a/b/c:1.0",
            "a_b__c-d---e.f:T_1.x-y",
            "localhost/x",
            "Example.COM:443/x/y",
            "[::1]:5000/x",
            "127.0.0.1:5000/app:v2",
            &format!("x@{d}"),
            &format!("x:t@{d}"),
        ] {
            assert!(parse_normalized(ok).is_ok(), "{ok} must parse");
        }
        assert!(parse_normalized(&"a".repeat(255 - "docker.io/library/".len())).is_ok());
    }

    #[test]
    fn dockers_grammar_refuses_with_dockers_messages() {
        let format = "invalid reference format";
        for bad in [
            "ok:../../x",
            "../../x",
            "a//b",
            "a/",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "x:",
            "x:.tag",
            "x@sha256:abc",
            "a b",
            "x/y:t/z",
            &format!("x:{}", "t".repeat(129)),
        ] {
            assert_eq!(parse_normalized(bad).map_err(|e| e.to_string()), Err(format.to_owned()), "{bad}");
        }
        assert!(parse_normalized(&format!("x:{}", "t".repeat(128))).is_ok());
        assert_eq!(
            parse_normalized("UPPER").map_err(|e| e.to_string()),
            Err("invalid reference format: repository name (library/UPPER) must be lowercase".to_owned())
        );
        assert_eq!(parse_normalized(""), Err(RefError::Format), "as Docker: \"docker.io/library/\" is malformed");
        assert_eq!(parse_normalized(&"a".repeat(250)), Err(RefError::TooLong));
        assert!(matches!(parse_normalized(&"a".repeat(64)), Err(RefError::Hex64(_))));
        assert_eq!(repo_tag("ok", Some("../../x")), Err(RefError::Tag));
        assert_eq!(repo_tag("ok", Some(&"t".repeat(200))), Err(RefError::Tag));
        assert_eq!(repo_tag("ok", Some("v1")).map(|n| n.key()), Ok("ok:v1".to_owned()));
        assert_eq!(repo_tag(&format!("ok@sha256:{}", "0".repeat(64)), None), Err(RefError::DigestNotTag));
    }

    #[test]
    fn ids_and_digests_are_told_from_names() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_any(&hex), Ok(AnyRef::Id(format!("sha256:{hex}"))));
        assert_eq!(parse_any(&format!("sha256:{hex}")), Ok(AnyRef::Id(format!("sha256:{hex}"))));
        assert!(matches!(parse_any("abc123"), Ok(AnyRef::Named(_))));
        assert!(parse_any("../x").is_err());
    }
}
