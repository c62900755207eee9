//! Concurrent writes that all find a planted link where a cache directory
//! should be: exactly one replaces it, and no write deletes the directory
//! (and the files) another one just made. CI once saw a listing of two
//! snapshot records leave one file in the cache: the second write had
//! removed the directory the first had put in place of the link.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use cairn_format::{CacheOptions, MetaCache};
use zeroize::Zeroizing;

const WRITERS: usize = 8;

fn name(i: usize) -> String {
    format!("snapshots/{}", hex::encode([i as u8; 32]))
}

#[test]
fn racing_writes_through_a_planted_link_all_land() {
    for round in 0..40 {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let opts = CacheOptions::default().dir(root.path());
        let key = Zeroizing::new([7u8; 32]);
        let cache = Arc::new(MetaCache::open(&opts, "ab", key).unwrap());
        let snaps = cache.dir().join("snapshots");
        std::os::unix::fs::symlink(elsewhere.path(), &snaps).unwrap();

        let start = Arc::new(Barrier::new(WRITERS));
        let threads: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (cache, start) = (cache.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    cache.put(&name(i), format!("record {i}").as_bytes());
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }

        let meta = std::fs::symlink_metadata(&snaps).unwrap();
        assert!(meta.is_dir(), "round {round}: the link was replaced");
        for i in 0..WRITERS {
            let got = cache.get(&name(i), 1 << 10);
            assert_eq!(
                got.as_deref(),
                Some(format!("record {i}").as_bytes()),
                "round {round}: write {i} was lost"
            );
        }
        let outside = std::fs::read_dir(elsewhere.path()).unwrap().count();
        assert_eq!(
            outside, 0,
            "round {round}: nothing written through the link"
        );
    }
}
