//! Local volume names: Docker's rule (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`, so a name is one path
//! component and never `.`, `..` or a path), and the 64-hex-digit names of anonymous volumes.

use super::VolumeError;

/// The characters Docker allows, as its message quotes them.
const ALLOWED: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/// Checks `name` as Docker's local driver does, with its messages.
pub fn validate(name: &str) -> Result<(), VolumeError> {
    if name.chars().count() == 1 {
        return Err(VolumeError::InvalidName("volume name is too short, names should be at least two alphanumeric characters".into()));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(VolumeError::InvalidName(format!(
            "{name:?} includes invalid characters for a local volume name, only {ALLOWED:?} are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    Ok(())
}

/// A new anonymous volume's name: 64 random hex digits, as Docker's.
pub fn anonymous() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule_and_never_make_a_path() {
        for ok in ["db", "my-vol_1.data", "0a", &anonymous()] {
            validate(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "x/y", "../x", "..", ".hidden", "-x", "_x", "a b", "a\0b", "/abs", "é1"] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate("a").expect_err("short").to_string().contains("too short"));
        let msg = validate("x/y").expect_err("slash").to_string();
        assert!(msg.starts_with("\"x/y\" includes invalid characters for a local volume name"), "{msg}");
        assert_eq!(anonymous().len(), 64);
        assert_ne!(anonymous(), anonymous());
    }
}
