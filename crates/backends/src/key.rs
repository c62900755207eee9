//! Which keys a backend accepts.

use crate::{Error, Result};

/// The longest key accepted, in bytes (S3's limit).
pub const MAX_KEY_LEN: usize = 1024;

/// Checks that `key` is a key every Cairn backend accepts.
///
/// A key is a non-empty, `/`-separated relative path of at most
/// [`MAX_KEY_LEN`] bytes of UTF-8, whose segments are non-empty and are
/// neither `.` nor `..`, with no NUL and no backslash (so no key can escape a
/// local backend's root or mean different things on different stores).
/// Segments starting with `.cairn-tmp` are reserved for temporary files.
///
/// ```
/// use cairn_backends::validate_key;
/// assert!(validate_key("data/ab/abcdef").is_ok());
/// assert!(validate_key("../etc/passwd").is_err());
/// ```
pub fn validate_key(key: &str) -> Result<()> {
    let refuse = |reason| {
        Err(Error::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return refuse("empty key");
    }
    if key.len() > MAX_KEY_LEN {
        return refuse("key longer than 1024 bytes");
    }
    if key.contains('\0') {
        return refuse("key contains NUL");
    }
    if key.contains('\\') {
        return refuse("key contains a backslash");
    }
    if key.starts_with('/') {
        return refuse("absolute key");
    }
    for segment in key.split('/') {
        match segment {
            "" => return refuse("empty path segment"),
            "." | ".." => return refuse("relative path segment"),
            s if s.starts_with(".cairn-tmp") => return refuse("reserved segment name"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_unicode_keys() {
        for k in ["a", "data/00/0011", "snapshots/é/日本語", "a b/c-d_e.f"] {
            assert!(validate_key(k).is_ok(), "{k}");
        }
    }

    #[test]
    fn refuses_escaping_and_odd_keys() {
        let long = "x".repeat(MAX_KEY_LEN + 1);
        for k in [
            "",
            "/abs",
            "a//b",
            "a/",
            "./a",
            "a/../b",
            "..",
            "a\0b",
            "a\\b",
            &long,
            "x/.cairn-tmp-1",
        ] {
            let err = validate_key(k).unwrap_err();
            assert!(matches!(err, Error::InvalidKey { .. }), "{k:?}: {err}");
        }
    }
}
