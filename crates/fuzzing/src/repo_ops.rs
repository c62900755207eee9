//! The stateful target: random sequences of repository operations over a
//! fault-injecting backend, checked against a model (redb's `fuzz_redb.rs`
//! is the pattern).
//!
//! The model is the source tree as it was at each acknowledged backup. The
//! invariants checked after every operation:
//!
//! - **No damage injected yet**: on a healthy backend every operation
//!   succeeds, every acknowledged snapshot restores byte-identical, reopen
//!   works and `check --read-data` is clean. An operation run with
//!   [`Op::FailAfter`] may fail (with an error, never a panic), and
//!   afterwards all of the above holds again (crash safety).
//! - **After damage** ([`Op::Corrupt`], [`Op::Lose`] of data, index or
//!   snapshot objects, never of the config or key files): nothing panics, and
//!   a restore that reports success produced exactly the acknowledged bytes
//!   (never silently wrong data); otherwise it is an error.
//!
//! Forget and prune run with every time margin at zero; after them, every
//! snapshot still acknowledged (not forgotten) must restore identical.
//!
//! Operations are decoded from bytes (two per operation) so that cargo-fuzz
//! and proptest drive the same code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use cairn_archiver::{backup, BackupOptions, NoProgress};
use cairn_backends::testing::{pattern, FailAfter};
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_cas_core::{InitOptions, Repository, Snapshot};
use cairn_chunking::ChunkerConfig;
use cairn_crypto::KdfParams;
use cairn_lifecycle::prune::{forget, prune, prune_plan, PruneOptions, SnapshotFilter};
use cairn_lifecycle::retention::{KeepPolicy, PlanOptions};
use cairn_recovery::{check, plan_restore, restore, CheckOptions, RestoreOptions};
use futures::executor::block_on;
use futures::TryStreamExt;

const PW: &[u8] = b"fuzz password";
const FILES: u8 = 6;
/// File sizes: empty, tiny, around the chunker's minimum, several chunks.
const SIZES: [usize; 6] = [0, 1, 700, 16 << 10, 70_000, 300_000];

/// One operation of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Writes source file `file` with seeded contents of size class `size`.
    Write {
        /// Which file (modulo the file count).
        file: u8,
        /// Seed and size class.
        seed: u8,
    },
    /// Removes source file `file`.
    Remove {
        /// Which file.
        file: u8,
    },
    /// Backs the source up.
    Backup,
    /// Restores acknowledged snapshot `snap` (modulo their count) and
    /// compares it with the model.
    Restore {
        /// Which snapshot.
        snap: u8,
    },
    /// Drops the repository and opens it again.
    Reopen,
    /// Runs `check` reading all data.
    Check,
    /// The next operation's backend fails after `n` calls (then heals).
    FailAfter {
        /// Calls that pass.
        n: u8,
    },
    /// Flips one byte of a stored object (data, index or snapshot).
    Corrupt {
        /// Which object (modulo their count) and which byte.
        object: u8,
    },
    /// Deletes a stored object (data, index or snapshot).
    Lose {
        /// Which object.
        object: u8,
    },
    /// Forgets all but the newest `keep % 3 + 1` snapshots.
    Forget {
        /// How many to keep (modulo 3, plus 1).
        keep: u8,
    },
    /// Prunes (every margin at zero), then checks that every snapshot
    /// still acknowledged is whole.
    Prune,
}

/// Decodes two bytes per operation; a trailing odd byte is ignored.
pub fn decode_ops(data: &[u8]) -> Vec<Op> {
    data.chunks_exact(2)
        .map(|p| {
            let (tag, arg) = (p[0], p[1]);
            // Damage is rare (1 in 16) so most sequences also test the
            // healthy and crash-recovery invariants for a while.
            match tag % 32 {
                0..=7 => Op::Write {
                    file: arg % FILES,
                    seed: arg / FILES,
                },
                8..=9 => Op::Remove { file: arg % FILES },
                10..=15 => Op::Backup,
                16..=21 => Op::Restore { snap: arg },
                22..=23 => Op::Reopen,
                24..=25 => Op::Check,
                26..=27 => Op::FailAfter { n: arg % 64 },
                28 => Op::Forget { keep: arg },
                29 => Op::Prune,
                30 => Op::Corrupt { object: arg },
                _ => Op::Lose { object: arg },
            }
        })
        .collect()
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Operations run.
    pub ops: usize,
    /// Backups acknowledged.
    pub backups: usize,
    /// Backups that failed (under injected faults or damage).
    pub backups_failed: usize,
    /// Restores compared identical with the model.
    pub restores: usize,
    /// Restores that failed with an error (under faults or damage).
    pub restores_failed: usize,
    /// Objects damaged or lost.
    pub damaged: usize,
    /// Forgets that succeeded.
    pub forgets: usize,
    /// Prunes that succeeded.
    pub prunes: usize,
}

type Files = BTreeMap<String, Bytes>;

struct State {
    store: Arc<FailAfter<MemoryBackend>>,
    repo: Repository,
    src: tempfile::TempDir,
    files: Files,
    acked: Vec<(Snapshot, Files)>,
    fail_next: Option<u64>,
    damaged: bool,
    report: Report,
}

/// Runs the operations encoded in `data`; panics when an invariant breaks.
pub fn run(data: &[u8]) -> Report {
    block_on(run_ops(&decode_ops(data)))
}

/// Runs `ops`; panics when an invariant breaks.
pub async fn run_ops(ops: &[Op]) -> Report {
    let mut s = State::new().await;
    for (i, op) in ops.iter().enumerate() {
        s.report.ops += 1;
        s.step(i, *op).await;
    }
    s.report
}

fn init_options() -> InitOptions {
    let chunker = ChunkerConfig::new(4 << 10, 16 << 10, 64 << 10);
    let opts = InitOptions::default()
        .kdf(KdfParams::insecure_for_tests())
        .pack_size(1 << 20);
    match chunker {
        Ok(c) => opts.chunker(c),
        Err(e) => panic!("fixed chunker sizes rejected: {e}"),
    }
}

impl State {
    async fn new() -> State {
        let store = Arc::new(FailAfter::new(MemoryBackend::new(), u64::MAX));
        let repo = Repository::init(store.clone(), PW, init_options())
            .await
            .unwrap_or_else(|e| panic!("init on a healthy backend failed: {e}"));
        let src = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
        State {
            store,
            repo,
            src,
            files: Files::new(),
            acked: Vec::new(),
            fail_next: None,
            damaged: false,
            report: Report::default(),
        }
    }

    /// Whether this operation must succeed: a healthy backend, no damage.
    fn must_succeed(&self) -> bool {
        self.fail_next.is_none() && !self.damaged
    }

    async fn step(&mut self, i: usize, op: Op) {
        match op {
            Op::Write { file, seed } => self.write(file, seed),
            Op::Remove { file } => self.remove(file),
            Op::FailAfter { n } => self.fail_next = Some(u64::from(n)),
            Op::Corrupt { object } => self.damage(object, false).await,
            Op::Lose { object } => self.damage(object, true).await,
            _ => {
                if let Some(n) = self.fail_next {
                    self.store.reset(n);
                }
                match op {
                    Op::Backup => self.backup(i).await,
                    Op::Restore { snap } => self.restore(i, snap).await,
                    Op::Reopen => self.reopen(i).await,
                    Op::Forget { keep } => self.forget(i, keep).await,
                    Op::Prune => self.prune(i).await,
                    _ => self.check(i).await,
                }
                self.store.heal();
                self.fail_next = None;
            }
        }
    }

    fn write(&mut self, file: u8, seed: u8) {
        let size = SIZES[usize::from(seed) % SIZES.len()];
        let bytes = pattern(u64::from(seed) * 31 + u64::from(file), size);
        let name = format!("f{file}");
        std::fs::write(self.src.path().join(&name), &bytes)
            .unwrap_or_else(|e| panic!("writing the source failed: {e}"));
        self.files.insert(name, bytes);
    }

    fn remove(&mut self, file: u8) {
        let name = format!("f{file}");
        if self.files.remove(&name).is_some() {
            std::fs::remove_file(self.src.path().join(&name))
                .unwrap_or_else(|e| panic!("removing from the source failed: {e}"));
        }
    }

    async fn backup(&mut self, i: usize) {
        let opts = BackupOptions::default().workers(1).host("fuzz");
        let paths = [self.src.path().to_owned()];
        match backup(&self.repo, &paths, &opts, Arc::new(NoProgress)).await {
            Ok(done) => {
                self.report.backups += 1;
                self.acked.push((done.snapshot, self.files.clone()));
            }
            Err(e) if !self.must_succeed() => {
                assert!(!e.to_string().is_empty());
                self.report.backups_failed += 1;
            }
            Err(e) => panic!("op {i}: backup on a healthy repository failed: {e}"),
        }
    }

    async fn restore(&mut self, i: usize, snap: u8) {
        if self.acked.is_empty() {
            return;
        }
        let (snapshot, want) = &self.acked[usize::from(snap) % self.acked.len()];
        let target = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
        let opts = RestoreOptions::new(target.path());
        let result = match plan_restore(&self.repo, snapshot, &opts).await {
            Ok(plan) => restore(
                &self.repo,
                &plan,
                &opts,
                Arc::new(cairn_recovery::NoProgress),
            )
            .await
            .map(drop),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                let got = read_restored(&restored_root(target.path(), self.src.path()));
                assert!(
                    &got == want,
                    "op {i}: a restore reported success with other bytes than were backed up \
                     (got {:?}, want {:?})",
                    got.keys().collect::<Vec<_>>(),
                    want.keys().collect::<Vec<_>>(),
                );
                self.report.restores += 1;
            }
            Err(e) if !self.must_succeed() => {
                assert!(!e.to_string().is_empty());
                self.report.restores_failed += 1;
            }
            Err(e) => panic!("op {i}: restore from a healthy repository failed: {e}"),
        }
    }

    async fn reopen(&mut self, i: usize) {
        match Repository::open(self.store.clone(), PW).await {
            Ok(repo) => self.repo = repo,
            Err(e) if !self.must_succeed() => assert!(!e.to_string().is_empty()),
            Err(e) => panic!("op {i}: reopen of a healthy repository failed: {e}"),
        }
    }

    async fn check(&mut self, i: usize) {
        match check(&self.repo, &CheckOptions::default().read_data(1.0)).await {
            Ok(report) if self.must_succeed() => {
                assert!(
                    report.is_ok(),
                    "op {i}: check found errors: {:?}",
                    report.errors
                );
            }
            Ok(_) => {}
            Err(e) if !self.must_succeed() => assert!(!e.to_string().is_empty()),
            Err(e) => panic!("op {i}: check of a healthy repository failed: {e}"),
        }
    }

    async fn forget(&mut self, i: usize, keep: u8) {
        let policy = KeepPolicy::default().last(u32::from(keep % 3) + 1);
        let r = forget(
            &self.repo,
            &policy,
            &PlanOptions::default(),
            &SnapshotFilter::default(),
            false,
        )
        .await;
        match r {
            Ok(_) => self.report.forgets += 1,
            Err(e) if !self.must_succeed() => assert!(!e.to_string().is_empty()),
            Err(e) => panic!("op {i}: forget on a healthy repository failed: {e}"),
        }
        self.store.heal();
        self.sync_forgotten(i).await;
    }

    /// Drops from the model the snapshots whose records are gone (a forget
    /// that failed part-way may have removed some).
    async fn sync_forgotten(&mut self, i: usize) {
        let present = match self.repo.readable_snapshots().await {
            Ok((all, _)) => all,
            Err(e) if !self.must_succeed() => {
                assert!(!e.to_string().is_empty());
                return;
            }
            Err(e) => panic!("op {i}: listing snapshots failed: {e}"),
        };
        self.acked.retain(|(snap, _)| {
            present
                .iter()
                .any(|(_, s)| s.time == snap.time && s.tree == snap.tree)
        });
    }

    async fn prune(&mut self, i: usize) {
        let opts = PruneOptions::default();
        let r = match prune_plan(&self.repo, &opts).await {
            Ok(plan) => prune(&self.repo, &opts, plan).await.map(drop),
            Err(e) => Err(e),
        };
        match r {
            Ok(()) => self.report.prunes += 1,
            Err(e) if !self.must_succeed() => assert!(!e.to_string().is_empty()),
            Err(e) => panic!("op {i}: prune of a healthy repository failed: {e}"),
        }
    }

    /// Damages a data, index or snapshot object, straight on the inner
    /// store (the attacker does not go through Cairn).
    async fn damage(&mut self, object: u8, lose: bool) {
        let inner = self.store.inner();
        let keys: Vec<String> = match inner.list("").map_ok(|m| m.key).try_collect().await {
            Ok(keys) => keys,
            Err(e) => panic!("listing the memory backend failed: {e}"),
        };
        let victims: Vec<&String> = keys
            .iter()
            .filter(|k| {
                ["data/", "index/", "snapshots/"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .collect();
        let Some(key) = victims.get(usize::from(object) % victims.len().max(1)) else {
            return;
        };
        let done = if lose {
            inner.delete(key).await
        } else {
            match inner.get(key).await {
                Ok(bytes) if !bytes.is_empty() => {
                    let mut b = bytes.to_vec();
                    let at = usize::from(object) * 7919 % b.len();
                    b[at] ^= 0x20;
                    inner.put(key, Bytes::from(b), PutMode::Overwrite).await
                }
                other => other.map(drop),
            }
        };
        if let Err(e) = done {
            panic!("damaging {key} failed: {e}");
        }
        self.damaged = true;
        self.report.damaged += 1;
    }
}

/// Where restore puts the snapshot path `src` under `target`.
fn restored_root(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").unwrap_or(src))
}

/// The regular files directly under `dir` (the model's source is flat).
fn read_restored(dir: &Path) -> Files {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Files::new();
    };
    entries
        .map(|e| {
            let e = e.unwrap_or_else(|e| panic!("reading the restore failed: {e}"));
            let bytes = std::fs::read(e.path())
                .unwrap_or_else(|err| panic!("reading {:?} failed: {err}", e.path()));
            (
                e.file_name().to_string_lossy().into_owned(),
                Bytes::from(bytes),
            )
        })
        .collect()
}
