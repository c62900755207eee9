//! What is particular to `LocalBackend`: files on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use bytes::Bytes;
use cairn_backends::testing::{check_concurrent_create_only, Capabilities};
use cairn_backends::{Backend, Error, LocalBackend, PutMode};
use futures::executor::block_on;
use futures::TryStreamExt;

/// Every file and directory under `dir`, relative, with `/` separators.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            if path.is_dir() {
                stack.push(path);
                out.push(format!("{rel}/"));
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

async fn keys(store: &LocalBackend, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = store
        .list(prefix)
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

fn x() -> Bytes {
    Bytes::from_static(b"x")
}

#[test]
fn puts_leave_exactly_the_objects_and_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(dir.path()).unwrap();
    block_on(async {
        store.put("a/b/c", x(), PutMode::CreateOnly).await.unwrap();
        store
            .put("a/b/c", x(), PutMode::CreateOnly)
            .await
            .unwrap_err();
        store
            .put("a/b/c", Bytes::from_static(b"yy"), PutMode::Overwrite)
            .await
            .unwrap();
        store
            .put("d", Bytes::new(), PutMode::CreateOnly)
            .await
            .unwrap();
        store
            .put("a/b", x(), PutMode::CreateOnly)
            .await
            .unwrap_err();
        store
            .put("../x", x(), PutMode::CreateOnly)
            .await
            .unwrap_err();
    });
    assert_eq!(tree(dir.path()), ["a/", "a/b/", "a/b/c", "d"]);
    assert_eq!(std::fs::read(dir.path().join("a/b/c")).unwrap(), b"yy");
}

#[test]
fn keys_cannot_escape_the_root() {
    let outer = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(outer.path().join("root")).unwrap();
    std::fs::write(outer.path().join("secret"), b"s").unwrap();
    block_on(async {
        for key in [
            "../secret",
            "a/../../secret",
            "/etc/passwd",
            "..",
            "a/./b",
            "a\\..\\..\\secret",
        ] {
            let e = store.get(key).await.unwrap_err();
            assert!(matches!(e, Error::InvalidKey { .. }), "{key}: {e}");
            let e = store.put(key, x(), PutMode::Overwrite).await.unwrap_err();
            assert!(matches!(e, Error::InvalidKey { .. }), "{key}: {e}");
        }
        assert!(keys(&store, "../").await.is_empty());
        assert!(keys(&store, "..").await.is_empty());
        assert!(keys(&store, "/").await.is_empty());
    });
    assert_eq!(tree(outer.path()), ["root/", "secret"]);
    assert_eq!(std::fs::read(outer.path().join("secret")).unwrap(), b"s");
}

/// A crash between writing the temporary file and moving it into place
/// leaves a `.cairn-tmp-*` file: no read or listing sees it, and later puts
/// work.
#[test]
fn leftover_temporary_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(dir.path()).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join(".cairn-tmp-0123456789abcdef"), b"partial").unwrap();
    std::fs::write(
        dir.path().join("data/.cairn-tmp-fedcba9876543210"),
        b"partial",
    )
    .unwrap();
    block_on(async {
        assert!(keys(&store, "").await.is_empty());
        assert!(keys(&store, "data/.cairn").await.is_empty());
        let e = store
            .get("data/.cairn-tmp-fedcba9876543210")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidKey { .. }), "{e}");
        store
            .put("data/obj", x(), PutMode::CreateOnly)
            .await
            .unwrap();
        assert_eq!(keys(&store, "").await, ["data/obj"]);
        assert_eq!(store.get("data/obj").await.unwrap(), x());
    });
}

#[test]
fn files_that_are_not_keys_are_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(dir.path()).unwrap();
    std::fs::write(dir.path().join("back\\slash"), b"foreign").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"not-utf8-\xff");
        std::fs::write(dir.path().join(name), b"foreign").unwrap();
    }
    block_on(async {
        store.put("ok", x(), PutMode::CreateOnly).await.unwrap();
        assert_eq!(keys(&store, "").await, ["ok"]);
    });
}

#[test]
fn a_key_and_a_key_below_it_conflict_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(dir.path()).unwrap();
    block_on(async {
        store.put("a/b", x(), PutMode::CreateOnly).await.unwrap();
        for mode in [PutMode::CreateOnly, PutMode::Overwrite] {
            let e = store.put("a", x(), mode).await.unwrap_err();
            assert!(
                matches!(&e, Error::KeyConflict { key, .. } if key == "a"),
                "{e}"
            );
        }
        // "a" is a directory of keys, not an object.
        assert!(store.get("a").await.unwrap_err().is_not_found());
        assert!(store.get_range("a", 0..1).await.unwrap_err().is_not_found());
        assert!(store.stat("a").await.unwrap_err().is_not_found());
        assert!(store.delete("a").await.unwrap_err().is_not_found());
        // Below an object.
        let e = store
            .put("a/b/c", x(), PutMode::CreateOnly)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::KeyConflict { key, .. } if key == "a/b/c"),
            "{e}"
        );
        assert!(store.get("a/b/c").await.unwrap_err().is_not_found());
        assert!(store.stat("a/b/c").await.unwrap_err().is_not_found());
        assert!(store.delete("a/b/c").await.unwrap_err().is_not_found());
        // Once "a/b" is gone, "a" can be an object (its empty directory goes).
        store.delete("a/b").await.unwrap();
        store
            .put("a", Bytes::from_static(b"now a file"), PutMode::CreateOnly)
            .await
            .unwrap();
        assert_eq!(
            store.get("a").await.unwrap(),
            Bytes::from_static(b"now a file")
        );
        assert_eq!(keys(&store, "").await, ["a"]);
    });
}

#[test]
fn objects_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let store = LocalBackend::new(dir.path()).unwrap();
        store
            .put("x/y", Bytes::from_static(b"kept"), PutMode::CreateOnly)
            .await
            .unwrap();
        drop(store);
        let store = LocalBackend::new(dir.path()).unwrap();
        assert_eq!(store.get("x/y").await.unwrap(), Bytes::from_static(b"kept"));
        assert_eq!(store.root(), std::fs::canonicalize(dir.path()).unwrap());
    });
}

#[test]
fn a_root_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let e = LocalBackend::new(&file).unwrap_err();
    assert!(
        matches!(&e, Error::Io { key, .. } if key.contains("file")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_create_only_puts_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBackend::new(dir.path()).unwrap();
    let caps = Capabilities::default().with_racers(32);
    for _ in 0..5 {
        check_concurrent_create_only(&store, &caps).await;
    }
    assert!(!tree(dir.path()).iter().any(|p| p.contains(".cairn-tmp")));
}

/// "Crash at operation N, reopen, check": through `FailAfter`, the puts
/// before the crash are all there after reopening, the rest not at all.
#[test]
fn crash_at_every_operation_then_reopen() {
    use cairn_backends::testing::FailAfter;
    let names: Vec<String> = (0..6).map(|i| format!("data/{i:02}/obj{i}")).collect();
    for n in 0..=names.len() as u64 {
        let dir = tempfile::tempdir().unwrap();
        block_on(async {
            let store = FailAfter::new(LocalBackend::new(dir.path()).unwrap(), n);
            for key in &names {
                if store
                    .put(key, Bytes::from(key.clone()), PutMode::CreateOnly)
                    .await
                    .is_err()
                {
                    break;
                }
            }
            drop(store);
            let reopened = LocalBackend::new(dir.path()).unwrap();
            let n = n as usize;
            let mut expected = names[..n].to_vec();
            expected.sort();
            assert_eq!(keys(&reopened, "").await, expected, "crash after {n}");
            for key in &names[..n] {
                assert_eq!(reopened.get(key).await.unwrap(), Bytes::from(key.clone()));
            }
            // Backing up again after the crash completes the set.
            for key in &names[n..] {
                reopened
                    .put(key, Bytes::from(key.clone()), PutMode::CreateOnly)
                    .await
                    .unwrap();
            }
            assert_eq!(keys(&reopened, "").await.len(), 6);
        });
        assert!(!tree(dir.path()).iter().any(|p| p.contains(".cairn-tmp")));
    }
}

/// `open` never creates: a missing root (an unmounted disk) is NotFound
/// naming it, and nothing appears on disk; `create` makes it.
#[test]
fn open_refuses_a_missing_root_and_create_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mnt/disk-a");
    let err = LocalBackend::open(&root).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("disk-a"), "{err}");
    assert!(!dir.path().join("mnt").exists());
    LocalBackend::create(&root).unwrap();
    assert!(root.is_dir());
    LocalBackend::open(&root).unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    assert!(LocalBackend::open(dir.path().join("file")).is_err());
}
