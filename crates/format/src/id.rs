//! Typed ids: [`SnapshotId`], [`TreeId`] and [`IdPrefix`].
//!
//! All three print and parse as lowercase hex and serialize as hex strings,
//! so records, JSON output and command lines carry the same text they did
//! when ids were `String`s. Parsing is where garbage is refused (a typed
//! [`Error::InvalidId`]), so a value of these types is always well formed.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use cairn_crypto::ChunkId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// Hex digits of a 32-byte id.
const HEX_LEN: usize = 64;

/// The most of a refused input an error repeats (a hostile name or argument
/// may be long).
const SHOWN: usize = 80;

fn invalid(what: &'static str, input: &str, reason: &'static str) -> Error {
    let mut shown: String = input.chars().take(SHOWN).collect();
    if shown.len() < input.len() {
        shown.push('…');
    }
    Error::InvalidId {
        what,
        input: shown,
        reason,
    }
}

/// Lowercase hex of `s`, if it is 1..=64 hex digits.
fn lower_hex(what: &'static str, s: &str) -> Result<[u8; HEX_LEN]> {
    if s.is_empty() {
        return Err(invalid(what, s, "empty"));
    }
    if s.len() > HEX_LEN {
        return Err(invalid(what, s, "longer than 64 hex digits"));
    }
    let mut out = [0u8; HEX_LEN];
    for (o, b) in out.iter_mut().zip(s.bytes()) {
        if !b.is_ascii_hexdigit() {
            return Err(invalid(what, s, "not hexadecimal"));
        }
        *o = b.to_ascii_lowercase();
    }
    Ok(out)
}

/// A snapshot's id: the BLAKE3 hash of its stored record object, as the 64
/// lowercase hex digits that name it (`snapshots/<id>`).
///
/// It reads as a `&str` (`Deref`), so it formats, compares and slices like
/// the hex string it is.
///
/// ```
/// use cairn_format::SnapshotId;
/// let hex = "3fa2".repeat(16);
/// let id: SnapshotId = hex.to_uppercase().parse()?;
/// assert_eq!(id.to_string(), hex);
/// assert_eq!(id.short(), "3fa23fa2");
/// assert!("not an id".parse::<SnapshotId>().is_err());
/// # Ok::<(), cairn_format::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotId([u8; HEX_LEN]);

/// Hashed as its `str` (not as a byte array): it is `Borrow<str>`, so a
/// `HashSet<SnapshotId>` must find an id looked up by `&str`.
impl std::hash::Hash for SnapshotId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl SnapshotId {
    /// The id of a record stored as `object` (its BLAKE3 hash).
    pub fn of(object: &[u8]) -> Self {
        let mut out = [0u8; HEX_LEN];
        out.copy_from_slice(blake3::hash(object).to_hex().as_bytes());
        SnapshotId(out)
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored (see the constructors).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The first 8 hex digits, as listings show them.
    pub fn short(&self) -> &str {
        &self.as_str()[..8]
    }

    /// Whether `prefix` is a prefix of this id.
    pub fn starts_with(&self, prefix: &IdPrefix) -> bool {
        self.as_str().starts_with(prefix.as_str())
    }
}

impl FromStr for SnapshotId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let hex = lower_hex("snapshot id", s)?;
        if s.len() != HEX_LEN {
            return Err(invalid("snapshot id", s, "not 64 hex digits"));
        }
        Ok(SnapshotId(hex))
    }
}

impl std::ops::Deref for SnapshotId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SnapshotId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SnapshotId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for SnapshotId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SnapshotId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SnapshotId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<SnapshotId> for String {
    fn eq(&self, other: &SnapshotId) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<SnapshotId> for &str {
    fn eq(&self, other: &SnapshotId) -> bool {
        *self == other.as_str()
    }
}

impl From<SnapshotId> for String {
    fn from(id: SnapshotId) -> String {
        id.as_str().to_owned()
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotId({})", self.as_str())
    }
}

impl Serialize for SnapshotId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SnapshotId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A tree's id: the keyed BLAKE3 id of the tree blob (a [`ChunkId`]), as
/// 64 hex digits in records. It dereferences to the [`ChunkId`], so
/// `repo.load_tree(&snapshot.tree)` works.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TreeId(ChunkId);

impl TreeId {
    /// The tree blob's chunk id.
    pub fn chunk_id(&self) -> ChunkId {
        self.0
    }
}

impl From<ChunkId> for TreeId {
    fn from(id: ChunkId) -> Self {
        TreeId(id)
    }
}

impl From<TreeId> for ChunkId {
    fn from(id: TreeId) -> Self {
        id.0
    }
}

impl std::ops::Deref for TreeId {
    type Target = ChunkId;
    fn deref(&self) -> &ChunkId {
        &self.0
    }
}

impl FromStr for TreeId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let hex = lower_hex("tree id", s)?;
        if s.len() != HEX_LEN {
            return Err(invalid("tree id", s, "not 64 hex digits"));
        }
        let hex = std::str::from_utf8(&hex).unwrap_or_default();
        ChunkId::from_hex(hex)
            .map(TreeId)
            .map_err(|_| invalid("tree id", s, "not hexadecimal"))
    }
}

impl fmt::Display for TreeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0.to_hex())
    }
}

impl fmt::Debug for TreeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TreeId({})", self.0.to_hex())
    }
}

impl Serialize for TreeId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_hex())
    }
}

impl<'de> Deserialize<'de> for TreeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The leading hex digits of a snapshot id (1 to 64), as a user types
/// them; [`resolve`](IdPrefix::resolve) finds the one id it names.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdPrefix {
    hex: [u8; HEX_LEN],
    len: u8,
}

impl IdPrefix {
    /// The hex digits given (lowercased).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.hex[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The one id among `ids` that starts with this prefix:
    /// [`Error::SnapshotNotFound`] if none does, [`Error::AmbiguousSnapshot`]
    /// if several do (an id listed twice counts once).
    pub fn resolve<'a>(&self, ids: impl IntoIterator<Item = &'a SnapshotId>) -> Result<SnapshotId> {
        let mut found: Option<SnapshotId> = None;
        let mut others = std::collections::BTreeSet::new();
        for id in ids.into_iter().filter(|id| id.starts_with(self)) {
            match found {
                None => found = Some(*id),
                Some(f) if f != *id => {
                    others.insert(*id);
                }
                Some(_) => {}
            }
        }
        match (found, others.len()) {
            (None, _) => Err(Error::SnapshotNotFound {
                query: self.as_str().to_owned(),
            }),
            (Some(id), 0) => Ok(id),
            (Some(_), n) => Err(Error::AmbiguousSnapshot {
                prefix: self.as_str().to_owned(),
                count: n + 1,
            }),
        }
    }
}

impl FromStr for IdPrefix {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let hex = lower_hex("snapshot id prefix", s)?;
        Ok(IdPrefix {
            hex,
            // At most 64, checked by `lower_hex`.
            len: s.len() as u8,
        })
    }
}

impl From<SnapshotId> for IdPrefix {
    fn from(id: SnapshotId) -> Self {
        IdPrefix {
            hex: id.0,
            len: HEX_LEN as u8,
        }
    }
}

impl fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdPrefix({})", self.as_str())
    }
}

#[cfg(test)]
#[path = "id_tests.rs"]
mod tests;
