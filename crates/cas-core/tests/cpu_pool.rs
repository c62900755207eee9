//! A host's own CPU pool: a handle opened (or created) with
//! `OpenOptions::cpu_pool` runs its CPU-heavy work — the key file's
//! derivation, blob opening for reads, `spawn_blocking` — on the host's
//! threads, not on rayon's global pool.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::backup_dir;
use std::sync::{Arc, Mutex};

use cairn::cas::{rayon, BackupOptions, CpuPool, InitOptions, NodeKind, OpenOptions, Repository};
use cairn_backends::MemoryBackend;
use cairn_crypto::KdfParams;
use futures::TryStreamExt;

fn host_pool() -> CpuPool {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .thread_name(|i| format!("host-cpu-{i}"))
        .build()
        .unwrap();
    CpuPool::new(Arc::new(pool))
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn a_handle_given_a_pool_runs_its_cpu_work_there() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let pool = host_pool();
        let init = InitOptions::default()
            .kdf(KdfParams::insecure_for_tests())
            .cpu_pool(pool.clone());
        let repo = Repository::init(store.clone(), b"pw", init).await.unwrap();
        assert!(repo
            .spawn_blocking(thread_name)
            .await
            .unwrap()
            .starts_with("host-cpu-"));

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![7u8; 300_000]).unwrap();
        let done = backup_dir(&repo, dir.path(), &BackupOptions::default()).await;

        // Opened again with the pool: reads open their blobs on it.
        let opts = OpenOptions::default().cpu_pool(pool);
        let repo = Repository::open_with(store.clone(), b"pw", opts)
            .await
            .unwrap();
        let nodes: Vec<_> = repo
            .walk_nodes(done.snapshot.tree)
            .try_collect()
            .await
            .unwrap();
        let chunks = nodes
            .iter()
            .find_map(|(_, n)| match &n.kind {
                NodeKind::File { chunks } => Some(chunks.clone()),
                _ => None,
            })
            .expect("the file");
        let loc = repo.locate(&chunks[..1])[0].expect("indexed");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        repo.read_blobs(loc.pack, vec![loc.entry], move |_, plain: &[u8]| {
            s.lock().unwrap().push((thread_name(), plain.len()));
            Ok::<_, cairn::cas::Error>(())
        })
        .await
        .unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].0.starts_with("host-cpu-"), "{seen:?}");
        assert_eq!(seen[0].1 as u32, loc.entry.raw_length);

        // A handle opened without one stays on the global pool.
        let plain = Repository::open(store, b"pw").await.unwrap();
        let name = plain.spawn_blocking(thread_name).await.unwrap();
        assert!(!name.starts_with("host-cpu-"), "{name}");
    });
}
