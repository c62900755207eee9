//! The Cairn repository: deduplicated, compressed, encrypted, content-addressed.
//!
//! ```
//! use std::sync::Arc;
//! use cairn_backends::MemoryBackend;
//! use cairn_archiver::{backup, BackupOptions, NoProgress};
//! use cairn_cas_core::{InitOptions, Repository, SnapshotQuery};
//! use cairn_crypto::KdfParams;
//!
//! # futures::executor::block_on(async {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("hello.txt"), b"hello, cairn")?;
//!
//! let store = Arc::new(MemoryBackend::new());
//! let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
//! let repo = Repository::init(store.clone(), b"secret", opts).await?;
//! let done = backup(&repo, &[dir.path().to_owned()], &BackupOptions::default(), Arc::new(NoProgress)).await?;
//! assert_eq!(done.snapshot.summary.files_new, 1);
//!
//! // Anyone with the password can open it and find the snapshot.
//! let repo = Repository::open(store, b"secret").await?;
//! let (id, snapshot) = repo.find_snapshot(&SnapshotQuery::latest()).await?;
//! assert_eq!(Some(id), done.snapshot_id);
//! assert_eq!(snapshot.tree, done.snapshot.tree);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # What this crate owns
//!
//! The repository itself: `init` and `open` (config, key files, size caps),
//! keys, roles and key epochs, the index's load and write, snapshot records
//! and tombstones, the read API of the crates above (locate, verified blob
//! reads, tree walks), the audit journal, tenants, and the *writer's side*
//! of the deletion protocol (session leases, the dedup index without
//! condemned packs, re-validation at commit) that every backup must follow.
//! The formats, ids and the error type are one floor down in
//! `cairn-format` (re-exported here); the archiver (`cairn-archiver`) and
//! retention, forget, prune, repair and copy (`cairn-lifecycle`) are built
//! on this crate. `ARCHITECTURE.md` at the workspace root has the map.
//!
//! # Repository layout
//!
//! | key | what | format |
//! |-----|------|--------|
//! | `config` | settings fixed at init, sealed | [`snapshot`](crate::Snapshot) module docs (`CRNC`) |
//! | `keys/<hex>` | key files: the master key wrapped under a password; version 2 adds role, label, created and the admin authority | `cairn_crypto::KeyFile` (v1), `cairn_crypto::KeyFileV2` (v2, v3 adds an X25519 key) |
//! | `epochs/<n>` | a key epoch: its root granted to each remaining key file, signed by the admin authority | `repo::epochs` (`CREP`) |
//! | `grants/<n>/<key id>` | a key epoch granted to a key file added later | `repo::epochs` (`CRGT`) |
//! | `authorities/<n>` | a new admin authority (an admin's removal): signed by the old and the new one, its seed granted to the remaining admins, the hashes of what the old one signed that stays valid | `repo::authority` (`CRNA`) |
//! | `data/<2 hex>/<hex>` | packs of sealed blobs, named by the BLAKE3 of their bytes | `pack` module docs |
//! | `index/<hex>` | where each blob is: pack, offset, lengths | `index` module docs |
//! | `snapshots/<hex>` | snapshot records (time, host, paths, tags, parent, root tree) | `CRNR` |
//! | `sessions/<id>` | leases of running backups and prunes | [`prune`] module docs (`CRNS`) |
//! | `condemned/<hex>` | packs a prune condemned, deleted once no writer can need them | `CRNK` |
//! | `waits/<hex>.<hex>` | sessions a prune saw after condemning | `CRNW` |
//! | `killed/<id>` | sessions a prune declared dead | `CRNX` |
//! | `journal/<hex>` | the audit journal: one entry per change, hash-linked | [`journal`] module docs (`CRNJ`) |
//! | `tombstones/<snapshot id>` | a forget, signed by the admin authority | `repo::signed` (`CRNT`) |
//! | `revoked/<key id>` | a key removal, signed by the admin authority | `repo::signed` (`CRNV`) |
//! | `tenant-keys/<tenant id>/<hex>` | a tenant's random keys, wrapped under the repository's | `cairn_crypto::tenant_key` (`CRTK`) |
//! | `tenant-shreds/<tenant id>/<namespace>` | a shredded tenant, signed by the admin authority | `repo::signed` (`CRTS`) |
//! | `tenants/<namespace>/…` | a tenant's whole repository (the rows above, under its keys) | [`tenant`] module docs |
//!
//! Every object but a lease is written create-only and never modified (on
//! an append-only store, leases too: see the [`prune::Session`] docs). A
//! backup writes packs, then index objects, then its snapshot record: a
//! snapshot is only ever visible once everything it references is stored.
//! Deletion (forget, prune) follows the protocol of the [`prune`] module,
//! which needs no lock and no clock; `cairn_lifecycle::retention` plans what to forget.
//!
//! # Damaged objects
//!
//! One bad object does not lock the repository out. [`Repository::open`]
//! skips key files that are malformed, cost more to derive than
//! [`OpenOptions`] allows, or whose master key does not authenticate the
//! config, and index objects that cannot be read; each is named in
//! [`Repository::open_warnings`]. Whole objects are read with size caps
//! ([`MAX_CONFIG_SIZE`] and friends) before anything is allocated.
//! `cairn_lifecycle::repair::rebuild_index` rebuilds the index from the pack
//! headers, and `repair_snapshots` rewrites snapshots that reference lost data.
//!
//! # Local metadata cache
//!
//! With [`OpenOptions::cache`], index objects, snapshot records and tree
//! packs are kept on this machine (see the [`cache`] module: MAC-checked
//! and authenticated again on every use, bounded, shared by processes, safe
//! to delete, never holding key material), so a remote repository does not
//! send them again. Listings still come from the storage. `check` and
//! `repair`, which judge the stored objects, read through
//! [`Repository::without_cache`].
//!
//! # Keys
//!
//! The master key (random) is stored only wrapped in key files. From it,
//! HKDF derives the chunk-id key (keyed BLAKE3: plaintext hashes never leave
//! the process unkeyed), the data key (chunk blobs), the metadata key
//! (trees, pack headers, indexes, snapshots, config) and the journal key
//! ([`journal`] entries).
//!
//! [`Repository::rotate_keys`] starts a new *key epoch*: a fresh random root
//! granted to every remaining key file (version 3 key files carry an X25519
//! key for this), from which new data, metadata and journal keys derive;
//! removing a key starts one too. Every sealed message names its epoch, so
//! old data stays readable; prune re-encrypts packs of older epochs, and
//! [`Repository::epoch_usage`] shows what is left under each. See the
//! `repo::epochs` module docs (in the source) for formats and limits.
//!
//! # Roles
//!
//! A version 2 key file is an `admin` or a `backup` key ([`Role`]). Every
//! key holder knows the master key, so roles are not about reading: they
//! are about destroying history. Admin key files also carry the secret of
//! the repository's *admin authority* (ed25519); every version 2 file
//! carries its public key, authenticated under its password. Forget writes
//! tombstones signed by the authority, key removal writes signed
//! revocations, and listings and prunes honour only removals that verify —
//! so a backup host (role `backup`, or even one that forged an admin key
//! file of its own) cannot make an admin's prune delete anything. The
//! library also refuses forget, prune, repair and key management to backup
//! keys ([`Error::NotAdmin`]). Pair it with storage that refuses deletes to
//! backup hosts (`cairn_backends::AppendOnly`, S3 without
//! `s3:DeleteObject`): a host allowed to delete could delete packs too. See
//! the [`prune`] module docs (*Roles*) for what is and is not covered. Version 1 key files open as
//! admins without an authority (they cannot sign; `change_password`
//! upgrades them).
//!
//! # Tenants and crypto-shredding
//!
//! [`Repository::create_tenant`] / [`Repository::open_tenant`] give a
//! tenant's view: a `Repository` over its own namespace, with its own
//! random keys (not derived from the master key), so nothing is deduplicated
//! across tenants and its trees and snapshot records are sealed under its
//! keys. [`Repository::shred_tenant`] destroys every copy of those keys,
//! confirms it, forgets the tenant's snapshots and returns a signed
//! [`tenant::Receipt`]; the next prune deletes the namespace. See the
//! [`tenant`] module.
//!
//! # Threat model
//!
//! Who can do what, and what still holds against them (after issue 20).
//! "Plant" means write any object under any name; every such object is
//! verified before use and a bad one is named in a warning or report, never
//! trusted.
//!
//! - **Storage attacker without keys.** Can delete, replay, corrupt or plant
//!   objects and withhold listings. Cannot read anything or make Cairn use a
//!   planted object: key files must be named by the hash of their bytes;
//!   configs, index objects, trees and records are sealed; removals
//!   (tombstones, revocations, shred records) and key epochs carry the admin
//!   authority's signature, authority links carry two (junk is skipped), and
//!   junk at `epochs/<n+1>` is skipped by the next rotation. Replayed index
//!   objects of pruned packs are harmless: a backup dedups, and its commit
//!   check trusts, only entries of packs a listing shows; where a blob is
//!   indexed in several packs, readers use the copy whose pack exists and
//!   `open` names the stale object ([`OpenWarning::StaleIndex`]); `check`
//!   names every index object that names a missing pack; prune drops them.
//!   Deleting a snapshot record the journal added and never forgot, or
//!   bringing back a forgotten one (tombstone deleted, record stored again),
//!   is reported by `audit verify` and `check` (`journal::JournalIssue`).
//!   Still can: destroy data (erasure layouts and storage that refuses
//!   deletes are the answer), hide objects, delete newer `epochs/` so clients
//!   seal under an older epoch again (see `repo::epochs`), and delete the
//!   newest journal entries with the records they added (caught against a
//!   pin from `audit verify --pin`, not without one).
//! - **Backup key holder** (knows the master key, not the authority). Can add
//!   snapshots and plant anything a master key can seal — key files it cannot
//!   get endorsed, tenant key objects, index objects, journal entries. Cannot
//!   remove or forget anything (removals need the authority's signature),
//!   cannot get another tenant's namespace shredded by planting a key object
//!   that names it (a shred signs, and prune reclaims, only namespaces no
//!   other tenant's key object claims), and cannot make a version 1 admin's
//!   prune delete a namespace (that admin cannot verify shred records). With
//!   delete access to the storage it is a storage attacker too (above): the
//!   journal names what it deletes. Still can: read everything of epoch 0
//!   and of the epochs it was granted, unwrap every tenant key object
//!   (wrapped under the current epoch), and block reclamation of a shredded
//!   namespace by planting a key object that claims it (reported by prune).
//! - **Removed key** (a key file an admin removed; its holder kept the file and
//!   the secrets in it). Its file, stored again under any name, does not open,
//!   is listed as revoked or as misnamed, and receives no grant at the next
//!   rotation: revocation is keyed on the file's id *and* on its identity (a
//!   hash of the endorsement), which a copy sealed again under another
//!   password keeps. The removal starts a key epoch it is not granted, before
//!   anything is revoked. Still can: read what was written before the removal
//!   until prune re-encrypts it (snapshot records and journal entries keep
//!   their epoch), confirm a known plaintext is stored (chunk ids keep epoch
//!   0's key), and read tenant data with any tenant secret it unwrapped before
//!   the removal — data written before the removal and, until the tenant is
//!   rekeyed or shredded, after it. Tenant key objects are re-wrapped under
//!   the new epoch at the rotation and the old ones deleted, so it opens none
//!   written after it, and no tenant created afterwards.
//!   A rekey (`cairn_lifecycle::tenant::rekey_tenant`) gives a tenant a fresh key generation:
//!   nothing written afterwards can it read or recognise by chunk id (new
//!   ids are keyed by the new generation), and the version 2 key object is
//!   signed by the authority, so it cannot plant a "newer" one of its own.
//! - **Removed admin.** Everything a removed key can, and it kept the seed
//!   of the admin authority it was removed from — which no longer signs
//!   anything clients accept. The removal retires that authority
//!   (`repo::authority`): a new one is granted to the remaining admin key
//!   files only, and a link `authorities/<n>` signed by both pins the hashes
//!   of what the old one signed that stays valid. Every client walks the
//!   chain from the authority its own key file names and refuses whatever
//!   the old authority signs afterwards — tombstones (so `snapshots`,
//!   `forget` and `prune` ignore them), revocations, shred records, epochs,
//!   grants, key endorsements — and links it writes from that authority (a
//!   fork from behind). Still can: fool a client that never saw the chain
//!   *if* it can rewrite storage (delete the link, write its own from the
//!   old authority; pair with storage that refuses overwrites and deletes);
//!   a handle opened before the removal verifies under the old authority
//!   until it refreshes its chain (open, a snapshot listing, or the start of
//!   a backup, prune or rotation). Erasure receipts it signed before its
//!   removal no longer verify against the repository.
//! - **Other local user of the restore target.** Restoring as root into a tree
//!   another user can write never hands them privilege: whenever ownership is
//!   not restored, set-user-id and set-group-id bits are cleared; in-place
//!   updates (`--overwrite if-changed`) write a fresh private file and rename
//!   it into place, so a descriptor opened on the old file never sees restored
//!   data; a directory owned by another user that the restore writes into is
//!   reported. Still can: see names and sizes in directories they own, and
//!   delay or disturb a restore into them (reported, never followed, never
//!   written outside the target).
//! - **Other local user of the metadata cache.** The cache is a copy of
//!   verified objects, re-verified when read (see [`cache`]): a planted or
//!   altered cache file is never used as data. A cache directory that is a
//!   link, owned by another user or writable by group or others is refused
//!   (`Error::UnsafeCache` naming it; the repository opens without a cache
//!   and warns); cache files are opened without following links or blocking
//!   on FIFOs, and one that is not a regular file of ours is replaced. Still
//!   can: with write access to a parent directory, make this machine run
//!   without a cache (slower, never wrong).
//!
//! # Reading for restore, verify and check
//!
//! Crates built on this one (`cairn-recovery`) read through a small API of
//! [`Repository`] and need neither keys, nor the index's lock, nor the pack
//! format: [`Repository::locate`] (where blobs are, a batch under one short
//! lock), [`Repository::read_blobs`] (a run of one pack's blobs fetched with
//! one ranged read, each plaintext verified — AEAD tag, then chunk id —
//! before the caller's closure sees it on the CPU pool),
//! [`Repository::verify_pack`] (a whole pack read back: name, header, every
//! blob), [`Repository::stored_packs`], [`Repository::indexed_packs`] and
//! [`Repository::indexed_entries`] (what the storage and the index hold),
//! [`Repository::walk_trees`] / [`Repository::walk_nodes`] (a snapshot's
//! tree as a `Stream`), [`Repository::chunk_hasher`] (ids of local data)
//! and [`Repository::spawn_blocking`] (the CPU pool, for blocking work). A
//! blob that fails verification is an error naming its pack, never data.
//!
//! # Index memory
//!
//! The in-memory index costs 52 bytes per blob in its sorted table plus
//! about 2.4 bytes of Bloom filter (see [`Index::resident_bytes`]); restic
//! needs about 350 and borg about 106.

pub use cairn_format::CpuPool;

pub mod journal;
#[doc(hidden)]
pub mod open;
pub mod prune;
mod read;
#[doc(hidden)]
pub mod repo;
pub mod tenant;

// The vocabulary below this crate, under the module names its files use.
pub use cairn_format::cache;
use cairn_format::{blob, index, pack, snapshot, tree};

pub use cairn_crypto::Role;
pub use cairn_format::blob::{BlobKind, Compression, MAX_BLOB_SIZE};
pub use cairn_format::cache::{default_cache_dir, CacheOptions, CacheStats, MetaCache};
pub use cairn_format::cancel::{CancelToken, Cancelled};
pub use cairn_format::error::{Error, Result};
pub use cairn_format::filter::{parse_size, Filter, Patterns, CACHEDIR_TAG_SIGNATURE};
pub use cairn_format::id::{IdPrefix, SnapshotId, TreeId};
pub use cairn_format::index::{BlobLocation, Index};
/// The time type of the API (snapshot times, query bounds).
pub use cairn_format::jiff;
pub use cairn_format::pack::{FinishedPack, PackEntry, PackId, MAX_PACK_SIZE};
pub use cairn_format::query::SnapshotQuery;
/// The thread pool crate a host builds a [`CpuPool`] from.
pub use cairn_format::rayon;
pub use open::{
    OpenOptions, OpenWarning, MAX_CONFIG_SIZE, MAX_INDEX_SIZE, MAX_KEY_FILE_SIZE, MAX_SNAPSHOT_SIZE,
};
pub use read::{ChunkHasher, WalkedTree};

/// Format internals: the decoders of untrusted pack and index bytes and the
/// blob opener, public only for the fuzz targets (`crates/fuzzing`) and for
/// tests that inspect stored objects. Not a stable API; the formats are
/// documented in the `pack`, `index` and `blob` modules. Readers use the
/// verified reads of [`Repository`] instead ([`Repository::read_blobs`],
/// [`Repository::verify_pack`]).
#[doc(hidden)]
pub mod format {
    pub use crate::index::{decode_index, encode_index, index_key};
    pub use crate::pack::{parse_header, parse_trailer, read_pack_header, TRAILER_LEN};

    /// Opens a blob's sealed bytes read from the pack `object`: decrypt,
    /// decompress, and check the plaintext hashes to the entry's id.
    pub fn open_blob(
        keys: &cairn_crypto::KeySet,
        object: &str,
        entry: &crate::PackEntry,
        sealed: &[u8],
    ) -> crate::Result<Vec<u8>> {
        crate::blob::open_blob(
            keys,
            object,
            entry.kind,
            &entry.id,
            entry.compression,
            entry.raw_length,
            sealed,
        )
    }
}
pub use cairn_format::snapshot::{snapshot_key, BackupSummary, RepoConfig, Snapshot};
pub use cairn_format::tree::{Node, NodeKind, Timestamp, Tree};
pub use repo::{
    AuthorityChain, AuthorityReport, EpochReport, EpochUsage, InitOptions, KeyInfo, NewKey,
    RemoveOptions, RemoveReport, Repository, RotateOptions, RotateReport, Tombstones,
    DEFAULT_PACK_SIZE,
};
