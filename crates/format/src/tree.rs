//! Trees: one directory's listing, stored as a blob and deduplicated like data.
//!
//! # Tree blob format (versions 1 and 2) — do not change; add a new version instead
//!
//! ```text
//! tree  := "CRNT" version:u8 count:u32 node*count      (nodes sorted by name, names unique)
//! node  := name_len:u16 name:[u8] kind:u8 mode:u32 uid:u32 gid:u32
//!          mtime_sec:i64 mtime_nsec:u32 ctime_sec:i64 ctime_nsec:u32 inode:u64 size:u64
//!          [v2 only: dev:u64 nlink:u32 xattr_count:u16 xattr*xattr_count] body
//! xattr := name_len:u16 name:[u8] value_len:u32 value:[u8]     (v2; sorted by name)
//! body  := kind 0 (file):    count:u32 chunk_id:[u8;32]*count
//!        | kind 1 (dir):     subtree_id:[u8;32]
//!        | kind 2 (symlink): len:u32 target:[u8]
//! ```
//!
//! Version 2 (written since hard links and extended attributes are kept) adds
//! the device and link count, so files with several links can be restored as
//! links to one another, and the extended attributes (POSIX ACLs included:
//! Linux stores them as `system.posix_acl_*` attributes). Version 1 trees
//! still decode, with `dev` 0, `nlink` 0 (unknown) and no attributes.
//!
//! Names and link targets are the raw bytes of the Unix file name. `ctime`
//! and `inode` are kept only so the next backup can tell a file unchanged
//! without reading it. A tree's id is the keyed hash of these bytes.

use cairn_crypto::ChunkId;

use crate::bytes_io::{Put, Reader};
use crate::Result;

const MAGIC: &[u8; 4] = b"CRNT";
/// The version written; [`Tree::decode`] reads 1 and 2.
const VERSION: u8 = 2;

/// A timestamp: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub sec: i64,
    /// Nanoseconds, 0..1e9.
    pub nsec: u32,
}

/// What a node is, with what it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file: its contents are these chunks in order.
    File {
        /// The chunk ids.
        chunks: Vec<ChunkId>,
    },
    /// A directory: its listing is this tree.
    Dir {
        /// The subtree's id.
        subtree: ChunkId,
    },
    /// A symbolic link.
    Symlink {
        /// The raw bytes of the link's target.
        target: Vec<u8>,
    },
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The raw bytes of the file name (no `/`, not empty, not `.` or `..`).
    pub name: Vec<u8>,
    /// What it is.
    pub kind: NodeKind,
    /// Unix permission bits (and file-type bits as `lstat` gives them).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Last modification.
    pub mtime: Timestamp,
    /// Last status change (for change detection only).
    pub ctime: Timestamp,
    /// Inode number (for change detection only).
    pub inode: u64,
    /// Size in bytes (files: the bytes stored).
    pub size: u64,
    /// Device (with `inode`, identifies hard links). 0 in version 1 trees.
    pub dev: u64,
    /// Number of hard links when backed up. 0 in version 1 trees (unknown).
    pub nlink: u32,
    /// Extended attributes (name, value), sorted by name.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Node {
    /// The name as a path component (Unix: the bytes as they were).
    #[cfg(unix)]
    pub fn name_os(&self) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(&self.name)
    }

    /// The name as a path component on any platform: the bytes as they
    /// were on Unix; elsewhere UTF-8 when they are, else lossily (a name
    /// from a Unix tree need not be valid on the platform reading it).
    pub fn name_path(&self) -> std::borrow::Cow<'_, std::ffi::OsStr> {
        #[cfg(unix)]
        return std::borrow::Cow::Borrowed(self.name_os());
        #[cfg(not(unix))]
        match String::from_utf8_lossy(&self.name) {
            std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(std::ffi::OsStr::new(s)),
            std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.into()),
        }
    }
}

/// A directory listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// The entries, sorted by name.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The entry called `name`, if any.
    pub fn find(&self, name: &[u8]) -> Option<&Node> {
        self.nodes
            .binary_search_by(|n| n.name.as_slice().cmp(name))
            .ok()
            .map(|i| &self.nodes[i])
    }

    /// Sorts the entries by name (encode requires sorted, unique names).
    pub fn sort(&mut self) {
        self.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// The tree blob's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.nodes.len() * 128);
        out.extend_from_slice(MAGIC);
        out.put_u8(VERSION);
        out.put_u32(self.nodes.len() as u32);
        for n in &self.nodes {
            out.put_u16(n.name.len() as u16);
            out.extend_from_slice(&n.name);
            out.put_u8(match n.kind {
                NodeKind::File { .. } => 0,
                NodeKind::Dir { .. } => 1,
                NodeKind::Symlink { .. } => 2,
            });
            out.put_u32(n.mode);
            out.put_u32(n.uid);
            out.put_u32(n.gid);
            out.put_i64(n.mtime.sec);
            out.put_u32(n.mtime.nsec);
            out.put_i64(n.ctime.sec);
            out.put_u32(n.ctime.nsec);
            out.put_u64(n.inode);
            out.put_u64(n.size);
            out.put_u64(n.dev);
            out.put_u32(n.nlink);
            out.put_u16(n.xattrs.len() as u16);
            for (name, value) in &n.xattrs {
                out.put_u16(name.len() as u16);
                out.extend_from_slice(name);
                out.put_u32(value.len() as u32);
                out.extend_from_slice(value);
            }
            match &n.kind {
                NodeKind::File { chunks } => {
                    out.put_u32(chunks.len() as u32);
                    for c in chunks {
                        out.extend_from_slice(c.as_bytes());
                    }
                }
                NodeKind::Dir { subtree } => out.extend_from_slice(subtree.as_bytes()),
                NodeKind::Symlink { target } => {
                    out.put_u32(target.len() as u32);
                    out.extend_from_slice(target);
                }
            }
        }
        out
    }

    /// Parses a tree blob read from `object`, checking names are valid,
    /// sorted and unique (a restore must not be steered outside its target).
    pub fn decode(object: &str, bytes: &[u8]) -> Result<Tree> {
        let mut r = Reader::new(object, bytes);
        let version = r.header(MAGIC, &[1, 2])?;
        let n = r.count(59)?;
        let mut nodes: Vec<Node> = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u16()? as usize;
            let name = r.take(len)?.to_vec();
            if name.is_empty()
                || name == b"."
                || name == b".."
                || name.contains(&b'/')
                || name.contains(&0)
            {
                return Err(r.err(format!(
                    "invalid file name {:?}",
                    String::from_utf8_lossy(&name)
                )));
            }
            if let Some(prev) = nodes.last() {
                if prev.name >= name {
                    return Err(r.err("names not sorted and unique"));
                }
            }
            let kind = r.u8()?;
            let mode = r.u32()?;
            let uid = r.u32()?;
            let gid = r.u32()?;
            let mtime = Timestamp {
                sec: r.i64()?,
                nsec: r.u32()?,
            };
            let ctime = Timestamp {
                sec: r.i64()?,
                nsec: r.u32()?,
            };
            let inode = r.u64()?;
            let size = r.u64()?;
            let (mut dev, mut nlink, mut xattrs) = (0, 0, Vec::new());
            if version >= 2 {
                dev = r.u64()?;
                nlink = r.u32()?;
                let count = r.u16()? as usize;
                for _ in 0..count {
                    let len = r.u16()? as usize;
                    let name = r.take(len)?.to_vec();
                    let len = r.count(1)?;
                    xattrs.push((name, r.take(len)?.to_vec()));
                }
            }
            let kind = match kind {
                0 => {
                    let count = r.count(32)?;
                    let mut chunks = Vec::with_capacity(count);
                    for _ in 0..count {
                        chunks.push(r.id()?);
                    }
                    NodeKind::File { chunks }
                }
                1 => NodeKind::Dir { subtree: r.id()? },
                2 => {
                    let len = r.count(1)?;
                    NodeKind::Symlink {
                        target: r.take(len)?.to_vec(),
                    }
                }
                k => return Err(r.err(format!("node kind {k}"))),
            };
            nodes.push(Node {
                name,
                kind,
                mode,
                uid,
                gid,
                mtime,
                ctime,
                inode,
                size,
                dev,
                nlink,
                xattrs,
            });
        }
        r.finish()?;
        Ok(Tree { nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tree {
        Tree {
            nodes: vec![Node {
                name: b"f".to_vec(),
                kind: NodeKind::Symlink {
                    target: b"t".to_vec(),
                },
                mode: 0o120777,
                uid: 1,
                gid: 2,
                mtime: Timestamp { sec: 3, nsec: 4 },
                ctime: Timestamp { sec: 5, nsec: 6 },
                inode: 7,
                size: 1,
                dev: 8,
                nlink: 2,
                xattrs: vec![(b"user.k".to_vec(), b"v".to_vec())],
            }],
        }
    }

    /// Version 2's bytes, pinned: a change here is a format change.
    #[test]
    fn v2_golden_bytes() {
        let hex: String = sample()
            .encode()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, GOLDEN_V2);
        assert_eq!(Tree::decode("t", &sample().encode()).unwrap(), sample());
    }

    const GOLDEN_V2: &str = concat!(
        "43524e54020100000001006602ffa10000010000000200000003000000000000000400",
        "0000050000000000000006000000070000000000000001000000000000000800000000",
        "0000000200000001000600757365722e6b01000000760100000074"
    );

    #[test]
    fn truncated_v2_is_an_error() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(Tree::decode("t", &bytes[..n]).is_err(), "{n}");
        }
    }
}
