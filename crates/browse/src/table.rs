//! The bounded inode table of a [`SnapshotFs`](super::SnapshotFs): entries
//! inside snapshots. `lookup` holds one (FUSE's reference counts), `forget`
//! lets go; idle entries are evicted least recently used first once the
//! table is over its cap. Inode numbers are never reused.

use std::collections::{BTreeMap, HashMap};

use cairn_crypto::ChunkId;

use super::Attr;

/// What an entry stands for, compactly: a file keeps where its node is
/// (its directory's tree and its index there), not its chunk list, so an
/// entry is small whatever the file's size.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Dir { subtree: ChunkId },
    File { tree: ChunkId, index: u32 },
    Symlink { target: Box<[u8]> },
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) parent: u64,
    pub(crate) name: Box<[u8]>,
    pub(crate) attr: Attr,
    pub(crate) body: Body,
    refs: u64,
    tick: u64,
}

/// Entries by inode, with an index by (parent, name) and two recency
/// orders: idle entries (evictable) and held ones.
#[derive(Debug)]
pub(crate) struct Table {
    cap: usize,
    next: u64,
    tick: u64,
    entries: HashMap<u64, Entry>,
    by_name: HashMap<(u64, Box<[u8]>), u64>,
    idle: BTreeMap<u64, u64>,
    held: BTreeMap<u64, u64>,
    evicted: u64,
}

impl Table {
    /// A table whose inode numbers start at `first`, holding at most `cap`
    /// entries (at least 1), more only while more than that are held.
    pub(crate) fn new(first: u64, cap: usize) -> Table {
        Table {
            cap: cap.max(1),
            next: first,
            tick: 0,
            entries: HashMap::new(),
            by_name: HashMap::new(),
            idle: BTreeMap::new(),
            held: BTreeMap::new(),
            evicted: 0,
        }
    }

    /// The entry `ino`, marked as used now.
    pub(crate) fn get(&mut self, ino: u64) -> Option<&Entry> {
        self.touch(ino);
        self.entries.get(&ino)
    }

    /// The entry `name` of `parent`, if the table has it; `hold` adds a
    /// reference.
    pub(crate) fn find(&mut self, parent: u64, name: &[u8], hold: bool) -> Option<Attr> {
        let ino = *self.by_name.get(&(parent, Box::from(name)))?;
        self.touch(ino);
        if hold {
            self.hold(ino, 1);
        }
        self.entries.get(&ino).map(|e| e.attr.clone())
    }

    /// Adds `name` of `parent` (or finds it) and returns its inode, with
    /// `attr.ino` set; `hold` adds a reference.
    pub(crate) fn insert(
        &mut self,
        parent: u64,
        name: &[u8],
        mut attr: Attr,
        body: Body,
        hold: bool,
    ) -> Attr {
        if let Some(known) = self.find(parent, name, hold) {
            return known;
        }
        let ino = self.next;
        self.next += 1;
        self.tick += 1;
        attr.ino = ino;
        let name: Box<[u8]> = Box::from(name);
        self.by_name.insert((parent, name.clone()), ino);
        self.idle.insert(self.tick, ino);
        let entry = Entry {
            parent,
            name,
            attr: attr.clone(),
            body,
            refs: 0,
            tick: self.tick,
        };
        self.entries.insert(ino, entry);
        if hold {
            self.hold(ino, 1);
        }
        self.evict();
        attr
    }

    /// Takes `n` references of `ino` away (the kernel forgot it).
    pub(crate) fn forget(&mut self, ino: u64, n: u64) {
        let Some(e) = self.entries.get_mut(&ino) else {
            return;
        };
        let was = e.refs;
        e.refs = e.refs.saturating_sub(n);
        if was > 0 && e.refs == 0 {
            self.held.remove(&e.tick);
            self.idle.insert(e.tick, ino);
            self.evict();
        }
    }

    /// Entries (held and idle), held, the cap, evicted so far.
    pub(crate) fn figures(&self) -> (usize, usize, usize, u64) {
        (self.entries.len(), self.held.len(), self.cap, self.evicted)
    }

    /// Up to `n` of the least recently used held entries, as (parent,
    /// name), when more than `cap` are held: what a FUSE mount asks the
    /// kernel to forget (`notify_inval_entry`) to bring the table back
    /// under its cap.
    pub(crate) fn over_cap(&self, n: usize) -> Vec<(u64, Vec<u8>)> {
        let over = self.held.len().saturating_sub(self.cap);
        self.held
            .values()
            .take(over.min(n))
            .filter_map(|ino| self.entries.get(ino))
            .map(|e| (e.parent, e.name.to_vec()))
            .collect()
    }

    fn hold(&mut self, ino: u64, n: u64) {
        let Some(e) = self.entries.get_mut(&ino) else {
            return;
        };
        if e.refs == 0 {
            self.idle.remove(&e.tick);
            self.held.insert(e.tick, ino);
        }
        e.refs = e.refs.saturating_add(n);
    }

    fn touch(&mut self, ino: u64) {
        let Some(e) = self.entries.get_mut(&ino) else {
            return;
        };
        self.tick += 1;
        let order = if e.refs == 0 {
            &mut self.idle
        } else {
            &mut self.held
        };
        order.remove(&e.tick);
        order.insert(self.tick, ino);
        e.tick = self.tick;
    }

    /// Evicts idle entries, oldest first, until the table is at its cap or
    /// nothing idle is left.
    fn evict(&mut self) {
        while self.entries.len() > self.cap {
            let Some((_, ino)) = self.idle.pop_first() else {
                return;
            };
            if let Some(e) = self.entries.remove(&ino) {
                self.by_name.remove(&(e.parent, e.name));
                self.evicted += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntryKind;

    fn attr() -> Attr {
        Attr::synthetic(0, EntryKind::File, 0o644, std::time::UNIX_EPOCH)
    }

    fn body() -> Body {
        Body::Symlink {
            target: Box::from(&b"x"[..]),
        }
    }

    #[test]
    fn idle_entries_are_evicted_oldest_first_and_held_ones_stay() {
        let mut t = Table::new(100, 3);
        let a = t.insert(1, b"a", attr(), body(), true).ino;
        for i in 0..10u8 {
            t.insert(1, &[b'0' + i], attr(), body(), false);
        }
        assert_eq!(t.figures().0, 3);
        assert!(t.entries.contains_key(&a), "a held entry is never evicted");
        assert_eq!(t.find(1, b"9", false).map(|e| e.ino), Some(a + 10));
        assert!(t.find(1, b"0", false).is_none());
        t.forget(a, 1);
        t.insert(1, b"new", attr(), body(), false);
        assert_eq!(t.figures().0, 3);
        assert!(!t.entries.contains_key(&a), "forgotten and oldest: evicted");
        assert_eq!(t.figures().3, 9);
    }

    #[test]
    fn the_same_name_gets_the_same_inode_while_it_is_known() {
        let mut t = Table::new(10, 8);
        let x = t.insert(1, b"x", attr(), body(), true).ino;
        assert_eq!(t.insert(1, b"x", attr(), body(), true).ino, x);
        assert_ne!(t.insert(2, b"x", attr(), body(), false).ino, x);
        t.forget(x, 1);
        assert_eq!(t.figures().1, 1, "two lookups need two forgets");
        t.forget(x, 1);
        assert_eq!(t.figures().1, 0);
    }

    #[test]
    fn held_entries_over_the_cap_are_named_for_the_kernel_to_forget() {
        let mut t = Table::new(10, 2);
        for n in [b"a", b"b", b"c", b"d"] {
            t.insert(7, n, attr(), body(), true);
        }
        assert_eq!(t.figures().0, 4);
        assert_eq!(t.over_cap(10), vec![(7, b"a".to_vec()), (7, b"b".to_vec())]);
        assert_eq!(t.over_cap(1).len(), 1);
    }
}
