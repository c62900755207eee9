#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The backends conformance suite over ErasureBackends.

mod common;

use std::sync::Arc;

use cairn_backends::testing::{run_conformance, Capabilities, FailAfter};
use cairn_backends::{Backend, LocalBackend, MemoryBackend};
use cairn_erasure::{BreakerState, ErasureBackend};
use common::{children, config, mem_children, stores};

fn caps() -> Capabilities {
    Capabilities::default()
        .with_list_count(400)
        .with_large_object_size(3 << 20)
}

#[test]
fn conformance_4_2_memory() {
    let s = stores(6);
    let e = ErasureBackend::new(mem_children(&s), config(4, 2)).unwrap();
    futures::executor::block_on(run_conformance(&e, &caps()));
    assert!(s.iter().all(MemoryBackend::is_empty), "shards left behind");
    assert!(e.needs_repair().is_empty(), "{:?}", e.needs_repair());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_4_2_local_dirs_under_tokio() {
    let dirs: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    let backends = dirs
        .iter()
        .map(|d| Arc::new(LocalBackend::new(d.path()).unwrap()) as Arc<dyn Backend>)
        .collect();
    let e = ErasureBackend::new(children(backends), config(4, 2)).unwrap();
    run_conformance(&e, &caps().with_list_count(150)).await;
}

#[test]
fn conformance_with_two_children_failing_every_call() {
    let s = stores(6);
    // Children 0 and 3 fail every call; 0 is where create-only puts would
    // normally take their leader shard. Four shards are all that can be
    // written, so the write quorum is k.
    let backends: Vec<Arc<dyn Backend>> = s
        .iter()
        .enumerate()
        .map(|(i, m)| match i {
            0 | 3 => Arc::new(FailAfter::new(m.clone(), 0)) as Arc<dyn Backend>,
            _ => Arc::new(m.clone()) as Arc<dyn Backend>,
        })
        .collect();
    let e = ErasureBackend::new(children(backends), config(4, 2).write_quorum(4)).unwrap();
    futures::executor::block_on(run_conformance(&e, &caps()));
    let report = e.health_report();
    for (i, c) in report.children.iter().enumerate() {
        match i {
            0 | 3 => {
                assert!(c.times_opened >= 1, "{report}");
                assert_eq!(c.successes, 0, "{report}");
            }
            _ => assert_eq!((c.state, c.failures), (BreakerState::Closed, 0), "{report}"),
        }
    }
    assert!(s[0].is_empty() && s[3].is_empty());
}
