//! What `cairn::OpenOptions` adds to opening (append-only), and erasure
//! scrub and health on an opened location, without a password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use cairn::{
    BackupOptions, InitOptions, KdfParams, KeepPolicy, Location, NoProgress, OpenOptions,
    PlanOptions, PruneOptions, Repository, SnapshotQuery,
};
use futures::executor::block_on;

const PW: &[u8] = b"options test";

fn loc(p: &Path) -> Location {
    p.to_str().unwrap().parse().unwrap()
}

fn init_opts() -> InitOptions {
    InitOptions::default().kdf(KdfParams::insecure_for_tests())
}

#[test]
fn an_append_only_handle_backs_up_but_cannot_prune() {
    let dir = tempfile::tempdir().unwrap();
    let (repo_dir, src) = (dir.path().join("repo"), dir.path().join("src"));
    std::fs::create_dir_all(&src).unwrap();
    let data: Vec<u8> = (0..600_000u32).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(src.join("f"), &data).unwrap();
    block_on(async {
        let admin = Repository::init(&loc(&repo_dir), PW, init_opts())
            .await
            .unwrap();
        let opts = OpenOptions::default().append_only(true);
        let host = Repository::open_with(&loc(&repo_dir), PW, opts)
            .await
            .unwrap();
        let bopts = BackupOptions::default();
        let backup = || host.backup(std::slice::from_ref(&src), &bopts, Arc::new(NoProgress));
        backup().await.unwrap();
        std::fs::write(src.join("f"), b"replaced").unwrap();
        backup().await.unwrap();
        admin
            .forget(
                &KeepPolicy::default().last(1),
                &PlanOptions::default(),
                &SnapshotQuery::latest(),
                false,
            )
            .await
            .unwrap();
        let prune = async {
            let plan = host.prune_plan(&PruneOptions::default()).await?;
            assert!(!plan.packs_to_delete.is_empty());
            host.prune(&PruneOptions::default(), plan).await
        };
        let err = prune.await.expect_err("an append-only handle pruned");
        assert!(
            err.find::<cairn::backends::Error>()
                .is_some_and(|e| e.is_not_permitted()),
            "{err}"
        );
        let plan = admin.prune_plan(&PruneOptions::default()).await.unwrap();
        let done = admin.prune(&PruneOptions::default(), plan).await.unwrap();
        assert!(done.packs_deleted > 0, "{done:?}");
    });
}

#[cfg(feature = "erasure")]
#[test]
fn scrub_and_health_need_no_password_and_find_a_lost_shard() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[erasure]\ndata = 2\nparity = 1\n");
    for i in 0..3 {
        text.push_str(&format!("[[backends]]\nlocation = \"d{i}\"\n"));
    }
    let layout = dir.path().join("layout.toml");
    std::fs::write(&layout, text).unwrap();
    block_on(async {
        use cairn::ScrubOptions;
        Repository::init(&loc(&layout), PW, init_opts())
            .await
            .unwrap();
        let opened = loc(&layout).open().unwrap();
        assert!(opened.is_erasure());
        let clean = opened.scrub(ScrubOptions::new()).await.unwrap();
        assert!(clean.objects_scanned > 0);
        assert_eq!(clean.shards_missing, 0);
        // Lose the shard of `config` on one child.
        std::fs::remove_file(dir.path().join("d1/config")).unwrap();
        let found = opened.scrub(ScrubOptions::new()).await.unwrap();
        assert_eq!(found.shards_missing, 1, "{found}");
        let fixed = opened
            .scrub(ScrubOptions::new().repair(true))
            .await
            .unwrap();
        assert_eq!(fixed.shards_repaired, 1, "{fixed}");
        assert!(dir.path().join("d1/config").is_file());
        assert_eq!(opened.health().await.unwrap().children.len(), 3);
        assert_eq!(opened.degraded().await.unwrap().objects, 0);

        let plain = dir.path().join("plain");
        Repository::init(&loc(&plain), PW, init_opts())
            .await
            .unwrap();
        let err = loc(&plain).open().unwrap().scrub(ScrubOptions::new()).await;
        assert!(matches!(err, Err(cairn::Error::NotErasure)));
    });
}
