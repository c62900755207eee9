//! The format of one cache file, and where an object's file lives.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "CAIRNMC" + version byte 0x01 (DO NOT CHANGE: a changed
//!               layout takes a new version byte; older files are then
//!               refused like tampered ones and refetched)
//! 8       32    MAC: keyed BLAKE3 under the repository's local-cache key
//!               (`KeySet::local_cache_key`) over
//!               u64 LE length of the object name || object name || content
//! 40      ..    the object's bytes exactly as the backend returned them
//! ```
//!
//! The MAC binds the content to its object name, so a cache file copied
//! over another (or planted by someone without the keys) is refused; the
//! repository then authenticates the content again as it always does (AEAD,
//! names that are content hashes), so a cached copy is checked twice.

use std::path::PathBuf;

/// Magic and version of a cache file.
pub(crate) const MAGIC: &[u8; 8] = b"CAIRNMC\x01";
/// Bytes before the content.
pub(crate) const HEADER_LEN: usize = 8 + 32;

fn mac(key: &[u8; 32], name: &str, content: &[u8]) -> blake3::Hash {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(&(name.len() as u64).to_le_bytes());
    h.update(name.as_bytes());
    h.update(content);
    h.finalize()
}

/// The header of the cache file holding `content` as object `name`.
pub(crate) fn header(key: &[u8; 32], name: &str, content: &[u8]) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[..8].copy_from_slice(MAGIC);
    out[8..].copy_from_slice(mac(key, name, content).as_bytes());
    out
}

/// Whether `file` is an intact cache file for object `name`; the content
/// starts at [`HEADER_LEN`].
pub(crate) fn verify(key: &[u8; 32], name: &str, file: &[u8]) -> bool {
    let Some((head, content)) = file.split_at_checked(HEADER_LEN) else {
        return false;
    };
    let Ok(tag) = <[u8; 32]>::try_from(&head[8..]) else {
        return false;
    };
    // `blake3::Hash` compares in constant time.
    &head[..8] == MAGIC && mac(key, name, content) == blake3::Hash::from_bytes(tag)
}

/// Whether `s` is a lowercase hex digest (64 characters).
fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `s` may be a tenant id in a key prefix (`tenants/<id>/…`).
fn is_tenant_id(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The relative path of object `name`'s cache file, if the cache may hold
/// it at all. An allowlist: index objects (`index/<digest>`), snapshot
/// records (`snapshots/<digest>`), journal entries (`journal/<digest>`) and packs (`data/<2 hex>/<digest>`, the
/// repository only asks for tree packs), each optionally under one or more
/// `tenants/<id>/` prefixes. Key files, tenant key objects, the config,
/// locks and everything else are never cached; the strict shape also keeps
/// names from escaping the cache directory.
pub(crate) fn object_path(name: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = name.split('/').collect();
    let mut rest = &parts[..];
    while let ["tenants", id, tail @ ..] = rest {
        if !is_tenant_id(id) {
            return None;
        }
        rest = tail;
    }
    let ok = match rest {
        ["index" | "snapshots" | "journal", d] => is_digest(d),
        ["data", fan, d] => is_digest(d) && d.starts_with(fan) && fan.len() == 2,
        _ => false,
    };
    ok.then(|| parts.iter().collect())
}

/// The relative path of a key prefix that [`purge`](super::MetaCache::purge)
/// may remove: whole components, none of them `.`/`..`/empty (a trailing
/// `/` is allowed). `""` is the whole repository's cache.
pub(crate) fn prefix_path(prefix: &str) -> Option<PathBuf> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        return Some(PathBuf::new());
    }
    let parts: Vec<&str> = trimmed.split('/').collect();
    parts
        .iter()
        .all(|p| is_tenant_id(p))
        .then(|| parts.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

    /// Pins the file layout: changing it must change the version byte.
    #[test]
    fn golden_header() {
        let key = [7u8; 32];
        let h = header(&key, "index/x", b"hello");
        assert_eq!(&h[..8], b"CAIRNMC\x01");
        assert_eq!(
            hex::encode(&h[8..]),
            blake3::Hasher::new_keyed(&key)
                .update(&7u64.to_le_bytes())
                .update(b"index/x")
                .update(b"hello")
                .finalize()
                .to_hex()
                .as_str()
        );
        assert_eq!(
            hex::encode(&h[8..]),
            "f0a1fb90e95dcabec78b35825359eea18a3707d7c1607867b3fa1f99964846b3"
        );
    }

    #[test]
    fn verify_refuses_any_change() {
        let key = [1u8; 32];
        let mut file = header(&key, "snapshots/a", b"content").to_vec();
        file.extend_from_slice(b"content");
        assert!(verify(&key, "snapshots/a", &file));
        assert!(!verify(&key, "snapshots/b", &file), "another name");
        assert!(!verify(&[2u8; 32], "snapshots/a", &file), "another key");
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x20;
            assert!(!verify(&key, "snapshots/a", &bad), "byte {i}");
        }
        for len in 0..file.len() {
            assert!(!verify(&key, "snapshots/a", &file[..len]), "len {len}");
        }
    }

    #[test]
    fn only_metadata_objects_are_cacheable() {
        let fan = &D[..2];
        for ok in [
            format!("index/{D}"),
            format!("snapshots/{D}"),
            format!("data/{fan}/{D}"),
            format!("tenants/acme/index/{D}"),
            format!("tenants/a-1/tenants/b_2/snapshots/{D}"),
        ] {
            assert!(object_path(&ok).is_some(), "{ok}");
        }
        for bad in [
            "config".to_owned(),
            format!("keys/{D}"),
            format!("tenants/acme/keys/{D}"),
            format!("tenant-keys/{D}"),
            format!("tenants/acme/{D}"),
            format!("tenants/../index/{D}"),
            format!("index/{D}/x"),
            format!("index/{}", &D[..63]),
            format!("index/{}", D.to_uppercase()),
            format!("data/ff/{D}"),
            format!("data/{D}"),
            format!("locks/{D}"),
            format!("tombstones/{D}"),
            format!("/index/{D}"),
        ] {
            assert!(object_path(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn prefixes_stay_inside() {
        assert_eq!(prefix_path("tenants/acme/"), Some("tenants/acme".into()));
        assert_eq!(prefix_path(""), Some(PathBuf::new()));
        for bad in ["..", "tenants/../..", "a//b", "/abs", "tenants/./x"] {
            assert!(prefix_path(bad).is_none(), "{bad}");
        }
    }
}
