//! The spans an embedder's tracing subscriber sees for a backup and a
//! restore, and the metrics a recorder receives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_testkit::facade_backup;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cairn::{InitOptions, KdfParams, NoProgress, Repository, RestoreOptions};
use futures::executor::block_on;
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// A span's name and its fields' names.
type Seen = (String, Vec<String>);

/// Records every span created.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Seen>>>);

impl<S: tracing::Subscriber> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let fields = attrs.fields().iter().map(|f| f.name().to_owned()).collect();
        self.0
            .lock()
            .unwrap()
            .push((attrs.metadata().name().to_owned(), fields));
    }
}

#[test]
fn a_backup_and_a_restore_trace_their_operation_and_every_backend_call() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), vec![3u8; 100_000]).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        block_on(async {
            let loc = dir.path().join("repo").to_str().unwrap().parse().unwrap();
            let init = InitOptions::default().kdf(KdfParams::insecure_for_tests());
            let repo = Repository::init(&loc, b"pw", init).await.unwrap();
            let done = facade_backup(&repo, &src).await;
            let opts = RestoreOptions::new(dir.path().join("out"));
            let plan = repo.plan_restore(&done.snapshot, &opts).await.unwrap();
            repo.restore(&plan, &opts, Arc::new(NoProgress))
                .await
                .unwrap();
        })
    });
    let seen = spans.0.lock().unwrap().clone();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in &seen {
        *count.entry(name.as_str()).or_default() += 1;
    }
    assert_eq!(count.get("cairn.backup"), Some(&1), "{count:?}");
    assert_eq!(count.get("cairn.restore"), Some(&1), "{count:?}");
    // init, the backup's pack, index and snapshot, the restore's reads.
    assert!(
        count.get("cairn.backend").copied().unwrap_or(0) >= 5,
        "{count:?}"
    );
    let backend = seen
        .iter()
        .find(|(n, f)| n == "cairn.backend" && f.iter().any(|f| f == "micros"))
        .expect("a put or get span");
    for field in ["backend", "op", "key", "bytes", "outcome", "micros"] {
        assert!(backend.1.iter().any(|f| f == field), "{field}: {backend:?}");
    }
}
