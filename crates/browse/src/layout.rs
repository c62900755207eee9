//! The fixed part of a [`SnapshotFs`](super::SnapshotFs): the directories
//! above the snapshots (restic's layout), built once from the snapshot list.
//!
//! ```text
//! /snapshots/<name>/…        every snapshot, and `latest`, a link to the newest
//! /hosts/<host>/<name>/…     the snapshots of each host, and its `latest`
//! /tags/<tag>/<name>/…       the snapshots with each tag, and its `latest`
//! ```
//!
//! `<name>`: the time in UTC to the second (names sort by time) or the short
//! id ([`SnapshotNames`]); a name taken gets the short id appended. Hosts and
//! tags that are no file name (`/`, NUL, empty, `.`, `..`) get `_`s.

use std::collections::BTreeMap;
use std::time::SystemTime;

use cairn_cas_core::{Snapshot, SnapshotId};
use cairn_crypto::ChunkId;

use super::{Attr, EntryKind};

/// How the snapshot directories are named.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SnapshotNames {
    /// The snapshot's time in UTC, to the second (restic's habit).
    #[default]
    Time,
    /// The snapshot's short id (8 hex digits).
    ShortId,
}

#[derive(Debug)]
pub(crate) enum Fixed {
    /// A directory of the layout: its entries, sorted by name.
    Dir(Vec<(Box<[u8]>, u64)>),
    /// A snapshot's root: the tree's entries are its children.
    Snapshot { tree: ChunkId },
    /// A `latest` link: its target's name and inode.
    Link { target: Box<[u8]>, to: u64 },
}

#[derive(Debug)]
pub(crate) struct FixedEntry {
    pub(crate) attr: Attr,
    pub(crate) body: Fixed,
}

/// The layout's entries; entry `i` has inode `i + 1` (the root is 1).
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub(crate) entries: Vec<FixedEntry>,
    pub(crate) snapshots: usize,
}

type Groups<'a> = BTreeMap<Vec<u8>, Vec<&'a (SnapshotId, Snapshot)>>;

fn time_of(s: &Snapshot) -> SystemTime {
    super::system_time(cairn_cas_core::Timestamp {
        sec: s.time.as_second(),
        nsec: u32::try_from(s.time.subsec_nanosecond()).unwrap_or(0),
    })
}

impl Layout {
    /// The layout of `snaps` (oldest first). `replaced` snapshots (those
    /// another one was repaired from) are listed but never `latest`.
    pub(crate) fn build(snaps: &[(SnapshotId, Snapshot)], names: SnapshotNames) -> Layout {
        let newest = snaps
            .last()
            .map_or(SystemTime::UNIX_EPOCH, |s| time_of(&s.1));
        let mut l = Layout {
            entries: Vec::new(),
            snapshots: snaps.len(),
        };
        let root = l.dir(0, b"", newest);
        let all: Vec<&(SnapshotId, Snapshot)> = snaps.iter().collect();
        let dir = l.dir(root, b"snapshots", newest);
        l.group(dir, &all, names);
        let (mut hosts, mut tags) = (Groups::new(), Groups::new());
        for s in snaps {
            hosts.entry(file_name(&s.1.hostname)).or_default().push(s);
            for t in &s.1.tags {
                let list = tags.entry(file_name(t)).or_default();
                // A tag given twice (or two tags that sanitize alike).
                if list.last().is_none_or(|l| l.0 != s.0) {
                    list.push(s);
                }
            }
        }
        for (top, groups) in [(&b"hosts"[..], hosts), (&b"tags"[..], tags)] {
            let dir = l.dir(root, top, newest);
            for (name, list) in groups {
                let t = list.iter().map(|(_, s)| time_of(s)).max().unwrap_or(newest);
                let g = l.dir(dir, &name, t);
                l.group(g, &list, names);
            }
        }
        for e in &mut l.entries {
            if let Fixed::Dir(children) = &mut e.body {
                children.sort();
            }
        }
        l
    }

    /// The entry of inode `ino`.
    pub(crate) fn get(&self, ino: u64) -> Option<&FixedEntry> {
        let i = usize::try_from(ino.checked_sub(1)?).ok()?;
        self.entries.get(i)
    }

    /// The first inode after the layout's.
    pub(crate) fn end(&self) -> u64 {
        self.entries.len() as u64 + 1
    }

    /// Adds an entry (to `parent`'s children, if it is a directory).
    fn child(
        &mut self,
        parent: u64,
        name: &[u8],
        kind: EntryKind,
        t: SystemTime,
        body: Fixed,
    ) -> u64 {
        let ino = self.end();
        let perm = match kind {
            EntryKind::Symlink => 0o777,
            _ => 0o555,
        };
        let mut attr = Attr::synthetic(ino, kind, perm, t);
        if let Fixed::Link { target, .. } = &body {
            attr.size = target.len() as u64;
        }
        self.entries.push(FixedEntry { attr, body });
        let i = usize::try_from(parent.wrapping_sub(1)).unwrap_or(usize::MAX);
        if let Some(Fixed::Dir(children)) = self.entries.get_mut(i).map(|e| &mut e.body) {
            children.push((Box::from(name), ino));
        }
        ino
    }

    fn dir(&mut self, parent: u64, name: &[u8], t: SystemTime) -> u64 {
        self.child(parent, name, EntryKind::Dir, t, Fixed::Dir(Vec::new()))
    }

    /// One directory per snapshot of `list` (oldest first) in `dir`, and a
    /// `latest` link to the newest.
    fn group(&mut self, dir: u64, list: &[&(SnapshotId, Snapshot)], names: SnapshotNames) {
        let replaced: Vec<SnapshotId> = list.iter().filter_map(|(_, s)| s.original).collect();
        let mut used = std::collections::HashSet::new();
        let mut latest = None;
        for (id, s) in list {
            let mut name = match names {
                SnapshotNames::Time => format!("{:.0}", s.time),
                SnapshotNames::ShortId => id.short().to_owned(),
            };
            if !used.insert(name.clone()) {
                name = format!("{name}-{}", id.short());
                used.insert(name.clone());
            }
            let body = Fixed::Snapshot {
                tree: s.tree.chunk_id(),
            };
            let to = self.child(dir, name.as_bytes(), EntryKind::Dir, time_of(s), body);
            if !replaced.contains(id) {
                latest = Some((name, to, time_of(s)));
            }
        }
        if let Some((name, to, t)) = latest {
            let target = Fixed::Link {
                target: Box::from(name.as_bytes()),
                to,
            };
            self.child(dir, b"latest", EntryKind::Symlink, t, target);
        }
    }
}

/// `s` as one file name: `/` and NUL become `_`; an empty name, `.` and
/// `..` get a `_` in front.
fn file_name(s: &str) -> Vec<u8> {
    let mut name: Vec<u8> = s
        .bytes()
        .map(|b| if b == b'/' || b == 0 { b'_' } else { b })
        .collect();
    if name.is_empty() || name == b"." || name == b".." {
        name.insert(0, b'_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_host_and_tag_names_become_file_names() {
        assert_eq!(file_name("a/b"), b"a_b");
        assert_eq!(file_name(""), b"_");
        assert_eq!(file_name(".."), b"_..");
        assert_eq!(file_name("x\0"), b"x_");
    }
}
