//! The stateful target on stable: random operation sequences (backups,
//! restores, reopens, checks, injected backend failures, damaged and lost
//! objects) against the model in `cairn_fuzzing::repo_ops`.
//!
//! `CAIRN_STATEFUL_CASES` sets how many sequences run (default 64, which
//! keeps `cargo test --workspace` short; `.ci/run` sets more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_fuzzing::repo_ops::{self, Op};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("CAIRN_STATEFUL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

#[test]
fn random_operation_sequences_keep_the_model() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let mut total = repo_ops::Report::default();
    let totals = std::cell::RefCell::new(&mut total);
    runner
        .run(&proptest::collection::vec(any::<u8>(), 2..80), |bytes| {
            let r = repo_ops::run(&bytes);
            let mut t = totals.borrow_mut();
            t.ops += r.ops;
            t.backups += r.backups;
            t.backups_failed += r.backups_failed;
            t.restores += r.restores;
            t.restores_failed += r.restores_failed;
            t.damaged += r.damaged;
            t.forgets += r.forgets;
            t.prunes += r.prunes;
            Ok(())
        })
        .unwrap();
    eprintln!("{} sequences: {total:?}", cases());
    // The generator must reach the interesting states, or the test proves little.
    assert!(total.backups > 0 && total.restores > 0, "{total:?}");
    assert!(total.forgets > 0 && total.prunes > 0, "{total:?}");
}

/// A hand-written sequence that must reach every kind of operation: backups
/// under faults, then healthy restores of everything acknowledged.
#[test]
fn crash_then_recover_sequence() {
    let ops = [
        Op::Write { file: 0, seed: 5 },
        Op::Write { file: 1, seed: 4 },
        Op::Backup,
        Op::Write { file: 0, seed: 3 },
        Op::FailAfter { n: 3 },
        Op::Backup,
        Op::Reopen,
        Op::Check,
        Op::Backup,
        Op::Restore { snap: 0 },
        Op::Restore { snap: 1 },
        Op::Remove { file: 1 },
        Op::FailAfter { n: 1 },
        Op::Restore { snap: 0 },
        Op::Backup,
        Op::Forget { keep: 1 },
        Op::Prune,
        Op::Restore { snap: 0 },
        Op::Restore { snap: 1 },
        Op::Lose { object: 0 },
        Op::Restore { snap: 0 },
    ];
    let r = futures::executor::block_on(repo_ops::run_ops(&ops));
    assert_eq!(r.backups, 3, "{r:?}");
    assert_eq!(r.backups_failed, 1, "{r:?}");
    assert!(r.restores >= 2, "{r:?}");
    assert_eq!(r.damaged, 1, "{r:?}");
    assert_eq!((r.forgets, r.prunes), (1, 1), "{r:?}");
}
