//! Forgetting data safely: prune and garbage collection without an exclusive
//! lock, while any number of backups run from any number of machines.
//!
//! # The invariant
//!
//! **A snapshot that a backup acknowledged, and that was not forgotten,
//! never loses a byte**, whatever backups, forgets and prunes run at the
//! same time and wherever any of them crashes. Deletion is decided by the
//! protocol below; no decision that deletes depends on a clock. The only
//! primitives used are create-only puts, gets, listings (which must be
//! complete or fail), overwrites of a writer's own lease, and deletes — no
//! compare-and-swap and no lock.
//!
//! # Objects (formats in the `records` module)
//!
//! - `sessions/<id>`: a lease; every writer (backup *and* prune) holds one
//!   while it runs, and bumps its counter now and then.
//! - `condemned/<hash>`: packs a prune found unreferenced (or repacked).
//! - `waits/<condemned>.<hash>`: the live sessions a prune listed *after* a
//!   condemned record was visible, with their counters.
//! - `killed/<session>`: a session a prune declared dead (removed once the
//!   session's lease is gone, see below).
//!
//! # The protocol
//!
//! Writer (backup):
//! 1. write its lease `S`;
//! 2. read every condemned record, and load the index *without* the
//!    condemned packs (it never deduplicates against condemned data);
//! 3. upload packs and index objects;
//! 4. commit: re-read the condemned records; every blob the new snapshot
//!    references that now sits in a pack condemned since step 2 is read back
//!    and stored again in a new pack (the old pack still exists: the writer
//!    is alive and prunes wait for it; if it does not, the backup fails);
//! 5. write the snapshot record; then, if `killed/S` exists, delete the
//!    record again and fail (`SessionExpired`) — never acknowledge;
//! 6. delete `S`.
//!
//! Prune (phase 1, condemn): with its own lease, load every snapshot and
//! walk every tree, list `data/`, load every index object; packs holding no
//! referenced blob are condemned, partly used packs are repacked (their used
//! blobs copied into new packs and indexed first) and condemned; the record
//! `condemned/K` is written, then the live sessions are listed and stored as
//! the first wait observation of `K`.
//!
//! Prune (phase 2, delete), in the same run or a later one, for a record
//! `K` whose first observation's sessions have all ended (lease gone or
//! killed), and whose age by the pruner's clock is at least `--grace`:
//! re-read the condemned records, list `data/`, reload every index object,
//! reload every snapshot and walk every tree; a pack of `K` that holds a
//! referenced blob found in no other surviving pack is *un-condemned*
//! (kept). Then: write the consolidated index (every surviving pack, except
//! packs still condemned by records not being finished), delete the index
//! objects it replaces (not those that mention a still-condemned pack),
//! delete the packs, and last delete `K` and its observations.
//!
//! # Why it holds
//!
//! Let `t` be the moment `K` became visible, and `W` any writer that
//! references a blob `b` found only in a pack `P` of `K`.
//! - If `W` read the condemned records at step 2 after `t`, it never
//!   deduplicated against `P`: `b` was uploaded by `W` into a new pack.
//! - Otherwise `W`'s lease existed at `t` (it is written before step 2 and
//!   removed after step 5). The first observation is listed after `t`, so it
//!   names `W` unless `W` had already finished — and then `W`'s snapshot was
//!   visible before the observation, hence before phase 2's snapshot listing,
//!   which un-condemns `P`. If it names `W`, phase 2 waits for `W` to end; its
//!   snapshot, written before its lease is deleted, is then seen by phase 2's
//!   listing, and `P` is un-condemned (or `W` re-stored `b` at step 4).
//! - A writer declared dead: the prune writes `killed/W` *before* its phase-2
//!   listing. If `W`'s check at step 5 missed the marker, `W`'s snapshot was
//!   written before the marker, so phase 2 sees it. If it saw the marker, the
//!   snapshot is withdrawn and the backup fails.
//! - Two prunes: each is also a writer holding a lease, so each one's phase 2
//!   waits for the other (no index object written by a prune that did not see
//!   `K` survives phase 2's reload), and each phase 2 reads the condemned
//!   records after its own record is visible, so of two prunes condemning
//!   the two copies of a blob at least one sees both records and keeps its
//!   copy. A prune never writes a condemned pack's entries into a
//!   consolidated index, and never deletes an index object that still
//!   describes a condemned pack, so deleted packs leave no index entries.
//! - Crashes: every step is create-before-delete. A crash after `K` before
//!   its observation: the next run observes (any listing after `t` is a valid
//!   first observation). A crash during phase 2: `K` still exists; the next run
//!   redoes phase 2 (deletes are idempotent; missing packs count as gone).
//!   Packs uploaded by a crashed backup or repack are garbage for a later run.
//!
//! # Stray pieces (erasure layouts)
//!
//! An erasure layout stores an object as `k + m` shards; a delete that
//! fails on some children, or a write that crashes half-way, leaves shards
//! under a key that holds fewer than `k` — no object, invisible to listings
//! and so to everything above. With `PruneOptions::partial` (the CLI
//! passes the layout's `ErasureBackend`, through
//! [`cairn_backends::PartialObjects`]; the erasure crate only lists and
//! deletes, this module decides), they go through the same two phases as
//! packs:
//!
//! 1. Phase 1 lists the stray keys under `data/` and `index/` from a
//!    listing of *every* child (one child unheard and nothing is listed:
//!    a key seen on `k - 1` children might be whole) and writes them into
//!    the run's condemned record (`strays`), before observing sessions.
//! 2. Phase 2, once the record's wait is over, lists the strays again and
//!    removes, child by child, the pieces of the keys that are stray
//!    *still*. Keys that became whole objects meanwhile are kept.
//!
//! Why a key that a writer is storing right now is not lost: stray keys
//! are limited to prefixes whose writers all hold a session (backups,
//! copies and prunes write packs and index objects; leases are written
//! before their session is visible, keys and the config without one, so
//! those prefixes are left alone). A writer storing key `X` when phase 1
//! listed it wrote its lease first, so the observation made after the
//! record names it, unless it had ended. Phase 2 runs only after every
//! observed session ended or was declared dead. A writer that ended has
//! finished every put: `X` is whole (kept) or its put failed (garbage). A
//! writer declared dead may still be inside the put of `X` while phase 2
//! removes its shards; its put may then report success with shards
//! missing. So every writer checks its kill marker
//! ([`Session::ensure_alive`]) after its uploads and before making them
//! count — before writing the index object that names new packs, and (a
//! prune) before deleting the index objects a consolidated one replaces.
//! The marker was written before phase 2's listing, and a put still in
//! flight then returns after it, so the check sees it and the writer fails
//! without indexing `X`; its snapshot is withdrawn as for any dead writer.
//! An index object that lost shards this way is either whole or invisible;
//! an invisible one only makes a blob's pack unknown, which phase 2's
//! re-check treats as a missing copy (it keeps the old pack).
//! (`repair` writes packs and index objects without a session, so a stray
//! removal could cut short a write of its that is in flight: do not run it
//! while a prune runs.)
//! Strays elsewhere (leases, records: a few hundred bytes each) are left;
//! a removal that fails is reported and found again by the next prune.
//!
//! # Dead writers, without a clock
//!
//! A crashed backup leaves its lease, which would block phase 2 forever. A
//! session in the first observation that is still live counts as dead when
//! its counter has not moved across `PruneOptions::stale_runs` earlier
//! observations by *different* prune runs (logical time: "two of my runs
//! saw no progress") and, measured by the pruner's clock, at least
//! `PruneOptions::stale_after` (default 1 hour) passed since the first of
//! them. Neither decides safety: a writer wrongly declared dead fails at
//! commit (below); they decide how soon a crashed writer stops blocking
//! deletion, and that a tight prune loop does not fail slow backups.
//! The prune then writes `killed/<id>`. The trade-off: a writer suspended
//! (or working without refreshing) across that many prune runs is killed;
//! it then *fails* at commit (step 5) — it never commits a snapshot that
//! references deleted data. Backups bump their lease every time they write
//! an index object (every `BackupOptions::index_every`
//! packs) and at commit; a backup that reads for long without uploading
//! (a large unchanged tree) does not, so schedule prunes further apart than
//! that, or set `grace` above it, to avoid failed backups.
//!
//! Kill markers are removed by a later prune once the session's lease is
//! gone and no wait observation names it. The writer reads its marker last
//! after writing its snapshot record, before deleting its lease, so with
//! the lease gone it never reads it again; pruners count a session live
//! only while its lease exists. Removing the marker of a session whose
//! lease is still there would let a merely suspended writer commit after
//! all, so a crashed writer's marker stays beside its lease (one small
//! object each; nothing removes a lease but its writer).
//!
//! # Where others lost data, and what this design does about it
//!
//! - kopia #1949 and duplicacy #377: a backup that ran longer than the time
//!   margin referenced data a GC had already deleted. Here deletion waits
//!   for every session visible after condemnation, not for a duration.
//! - rustic v0.12.0: packs were deleted while an index still pointed at them.
//!   Here index objects describing a pack are deleted before the pack, and
//!   condemned packs never enter a consolidated index.
//! - Listings: a listing that cannot prove completeness must fail (the
//!   erasure backend reports it); every decision here is taken on complete
//!   listings or not at all.
//!
//! # Which defence does what
//!
//! The interleaving test (`crates/recovery/tests/interleave.rs`: a seeded
//! scheduler over backups, forget and prunes, with crashes and slow actors)
//! fails within a few hundred seeds if any one of these is removed: writers
//! excluding condemned packs from deduplication, phase 2 waiting for the
//! sessions it observed, phase 2's re-check of references. Commit-time
//! re-validation is not needed for safety (the re-check keeps what a new
//! snapshot needs, the kill marker covers writers declared dead); it is what
//! lets condemned packs actually be deleted while backups keep referencing
//! their contents. Its shard-by-shard variant (every child operation of a
//! 4+2 layout one step, so crashes leave stray shards, which its prunes
//! remove) fails at seed 742 if writers do not check their kill marker
//! before indexing what they uploaded.
//!
//! # Roles: who may remove a snapshot
//!
//! Forget does not merely delete a record: it first writes
//! `tombstones/<snapshot id>`, signed by the admin authority (see the crate
//! docs, *Roles*). Snapshot listings — and so a prune's scan — hide a
//! record only under a tombstone that verifies with the authority named by
//! the reader's own key file; other tombstones are reported
//! (`PrunePlan::ignored_tombstones`) and the snapshot is kept. A prune
//! deletes the records still stored under valid tombstones. Forget,
//! prune and repair refuse backup keys ([`Error::NotAdmin`](crate::Error)).
//!
//! What a compromised backup host (it knows the master key) can still do,
//! and why it does not cost history:
//! - plant tombstones, or forge an admin key file under an authority of its
//!   own and "forget" through it: ignored (test `borg_1689_…` in
//!   `tests/roles.rs`);
//! - plant condemned records: phase 2 re-checks every reference before
//!   deleting, so live data is un-condemned; backups merely stop
//!   deduplicating against those packs;
//! - plant kill or end markers: the backup they name fails at commit
//!   (never acknowledged); nothing is deleted that a snapshot needs;
//! - delete snapshot records, if the storage lets it: this cannot be told
//!   from "never existed" by the repository alone (the audit journal's
//!   pinned head is what detects it), and a host that may delete records
//!   may delete packs as well. So the storage must refuse deletes to backup
//!   hosts: [`AppendOnly`](cairn_backends::AppendOnly) and the S3 recipe in
//!   its docs. This is a documented requirement, not something Cairn can
//!   repair after the fact.
//!
//! Known limit: a prune trusts index objects to say which pack holds a blob.
//! A host could plant an index object claiming a referenced blob lives in
//! another pack, so the pack really holding it looks unused. Closing this
//! needs prune to confirm holders from the (authenticated) pack headers
//! before condemning; not built yet.
//!
//! # Cost
//!
//! Every backup loads a second, deduplication-only index after writing its
//! lease (without condemned packs; an index loaded before the lease might
//! name packs deleted before it), and walks its own tree at commit only if
//! a condemned record appeared while it ran. A prune walks every snapshot's
//! trees twice (plan, then the re-check before deleting) and reads each
//! repacked pack once.

// The writer's side of the protocol lives here, under the repository:
// every backup and copy holds a session lease, dedups against an index
// without condemned packs and re-validates at commit. The deleting side
// (forget, the prune phases, strays) is `cairn-lifecycle`'s `prune`.
#[doc(hidden)]
pub mod records;
#[doc(hidden)]
pub mod repack;
#[doc(hidden)]
pub mod replay;
#[doc(hidden)]
pub mod session;

pub use records::Lease;
pub use session::Session;
#[doc(hidden)]
pub use session::{revalidate, writer_start, WriterStart};
