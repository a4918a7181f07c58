//! Image names as users type them ("busybox", "library/busybox:1.36", "docker.io/x/y:tag")
//! normalized to the "repo:tag" keys the store uses.

/// Splits and normalizes a reference into (repository, tag); tag defaults to "latest".
/// Docker Hub's implicit prefixes ("docker.io/", "library/") are dropped so that
/// "busybox" and "docker.io/library/busybox:latest" name the same image.
pub fn parse(reference: &str) -> (String, String) {
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

/// Whether `repo` is a name Docker would accept (lowercase, digits, separators).
pub fn valid_repository(repo: &str) -> bool {
    !repo.is_empty()
        && repo.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
        && !repo.starts_with(['.', '_', '-', '/'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_prefixes_and_default_tag_are_normalized_away() {
        assert_eq!(normalize("busybox"), "busybox:latest");
        assert_eq!(normalize("docker.io/library/busybox:1.36"), "busybox:1.36");
        assert_eq!(normalize("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(normalize("localhost:5000/app:v2"), "localhost:5000/app:v2");
    }
}
