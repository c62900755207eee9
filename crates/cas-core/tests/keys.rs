//! Key lifecycle: add with a role, list, change a password, remove; the
//! last admin key stays; version 1 key files still open (as admins).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use cairn_backends::{Backend, LocalBackend, MemoryBackend, PutMode};
use cairn_cas_core::{Error, InitOptions, NewKey, Repository, Role};
use cairn_crypto::KdfParams;
use futures::TryStreamExt;

mod support;
use support::planted_admin;

fn kdf() -> KdfParams {
    KdfParams::insecure_for_tests()
}

async fn init(store: &Arc<MemoryBackend>) -> Repository {
    let opts = InitOptions::default().kdf(kdf()).label("admin@laptop");
    Repository::init(store.clone(), b"admin", opts)
        .await
        .unwrap()
}

async fn opens(store: &Arc<MemoryBackend>, pw: &[u8]) -> Result<Repository, Error> {
    Repository::open(store.clone(), pw).await
}

#[test]
fn add_list_passwd_remove() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        let admin2 = repo
            .add_key_with(b"admin2", &NewKey::admin().kdf(kdf()).label("bob@desk"))
            .await
            .unwrap();
        let backup = repo
            .add_key_with(b"backup", &NewKey::backup().kdf(kdf()).label("root@web1"))
            .await
            .unwrap();

        let keys = repo.list_keys().await.unwrap();
        assert_eq!(keys.len(), 3);
        let by = |obj: &str| keys.iter().find(|k| k.object() == obj).unwrap().clone();
        let (me, a2, b) = (by(repo.key_name()), by(&admin2), by(&backup));
        assert!(me.current && !a2.current && !b.current);
        assert_eq!(
            (me.role, a2.role, b.role),
            (Some(Role::Admin), Some(Role::Admin), Some(Role::Backup))
        );
        assert_eq!(b.label.as_deref(), Some("root@web1"));
        assert_eq!(me.label.as_deref(), Some("admin@laptop"));
        assert!(keys.iter().all(|k| k.version == 3
            && k.endorsed == Some(true)
            && !k.revoked
            && k.created.is_some()
            && k.kdf == Some([kdf().m_cost_kib, kdf().t_cost, kdf().p_cost])));
        assert_eq!(opens(&store, b"backup").await.unwrap().role(), Role::Backup);

        // passwd: the new password opens with the same role and label; the
        // old one no longer does.
        let mut bob = opens(&store, b"admin2").await.unwrap();
        let renamed = bob.change_password(b"admin2-new", kdf()).await.unwrap();
        assert_eq!(bob.key_name(), renamed);
        assert!(matches!(
            opens(&store, b"admin2").await,
            Err(Error::WrongPassword)
        ));
        let bob = opens(&store, b"admin2-new").await.unwrap();
        assert_eq!(bob.role(), Role::Admin);
        let info = bob.find_key(&renamed[5..15]).await.unwrap();
        assert_eq!(info.label.as_deref(), Some("bob@desk"));

        // remove, by an unambiguous prefix: the password no longer opens,
        // even when the holder stores a copy of the file again.
        let file_bytes = store.get(&backup).await.unwrap();
        let removed = repo.remove_key(&b.id[..12]).await.unwrap();
        assert_eq!(removed, backup);
        assert!(matches!(
            opens(&store, b"backup").await,
            Err(Error::WrongPassword)
        ));
        store
            .put(&backup, file_bytes, PutMode::CreateOnly)
            .await
            .unwrap();
        let replayed = opens(&store, b"backup").await.unwrap_err();
        assert!(
            matches!(&replayed, Error::NoUsableKeyFile { skipped }
                if skipped.iter().any(|s| s.contains("revoked"))),
            "{replayed:?}"
        );
        let listed = repo.list_keys().await.unwrap();
        assert!(listed.iter().any(|k| k.object() == backup && k.revoked));

        // Unknown and ambiguous ids are typed errors.
        assert!(matches!(
            repo.remove_key("zzzz").await,
            Err(Error::KeyNotFound { .. })
        ));
        assert!(matches!(
            repo.remove_key("").await,
            Err(Error::KeyNotFound { .. })
        ));
    })
}

#[test]
fn the_last_admin_key_cannot_be_removed() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        let own = repo.key_name().to_owned();
        assert!(matches!(
            repo.remove_key(&own).await,
            Err(Error::LastAdminKey { key }) if key == own
        ));
        // A backup key does not count as an admin.
        repo.add_key_with(b"backup", &NewKey::backup().kdf(kdf()))
            .await
            .unwrap();
        assert!(matches!(
            repo.remove_key(&own).await,
            Err(Error::LastAdminKey { .. })
        ));
        // With a second admin, the key that opened this handle may go...
        let second = repo.add_key(b"admin2", kdf()).await.unwrap();
        assert_eq!(repo.remove_key(&own).await.unwrap(), own);
        assert!(opens(&store, b"admin").await.is_err());
        // ...but not the second one, now the last.
        let other = opens(&store, b"admin2").await.unwrap();
        assert!(matches!(
            other.remove_key(&second).await,
            Err(Error::LastAdminKey { .. })
        ));
        // A planted admin key file (no endorsement) is no admin to count
        // on: removing the real one is still refused.
        let planted = planted_admin(&store, b"backup").await;
        assert!(matches!(
            other.remove_key(&second).await,
            Err(Error::LastAdminKey { .. })
        ));
        let listed = other.find_key(&planted).await.unwrap();
        assert_eq!(
            (listed.role, listed.endorsed),
            (Some(Role::Admin), Some(false))
        );
    })
}

#[test]
fn backup_keys_cannot_manage_keys() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        repo.add_key_with(b"backup", &NewKey::backup().kdf(kdf()))
            .await
            .unwrap();
        let mut host = opens(&store, b"backup").await.unwrap();
        let refused = |r: Result<String, Error>| {
            matches!(
                r,
                Err(Error::NotAdmin {
                    role: Role::Backup,
                    ..
                })
            )
        };
        assert!(refused(host.add_key(b"x", kdf()).await));
        assert!(refused(host.remove_key(repo.key_name()).await));
        assert!(refused(host.change_password(b"x", kdf()).await));
        assert_eq!(repo.list_keys().await.unwrap().len(), 2);
    })
}

/// The committed version 1 repository opens with its version 1 key file as
/// an admin without an authority; `passwd` upgrades it to version 2.
#[test]
fn version_1_key_files_open_as_admin_and_upgrade() {
    futures::executor::block_on(async {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repo-v1");
        let from: Arc<dyn Backend> = Arc::new(LocalBackend::new(&fixture).unwrap());
        let store = Arc::new(MemoryBackend::new());
        let all: Vec<String> = from.list("").map_ok(|m| m.key).try_collect().await.unwrap();
        for k in all {
            let b = from.get(&k).await.unwrap();
            store.put(&k, b, PutMode::CreateOnly).await.unwrap();
        }
        let mut repo = opens(&store, b"golden fixture").await.unwrap();
        assert_eq!(repo.role(), Role::Admin);
        assert!(repo.authority().is_none());
        let keys = repo.list_keys().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0].version, keys[0].role), (1, Some(Role::Admin)));
        assert!(matches!(
            repo.add_key(b"x", kdf()).await,
            Err(Error::NoAuthority { .. })
        ));
        repo.change_password(b"upgraded", kdf()).await.unwrap();
        assert!(repo.authority().is_some());
        let up = opens(&store, b"upgraded").await.unwrap();
        assert_eq!(up.authority(), repo.authority());
        let keys = up.list_keys().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0].version, keys[0].endorsed), (3, Some(true)));
        up.add_key_with(b"backup", &NewKey::backup().kdf(kdf()))
            .await
            .unwrap();
        assert_eq!(up.snapshots().await.unwrap().len(), 1);
    })
}

/// A removal revokes the key's identity too (`revoked/<identity>`, the
/// same for every re-sealed copy of the key): with the revocation by file
/// id deleted, the file stored again is still refused by `open`, listed as
/// revoked, and left out of the next rotation.
#[test]
fn a_revocation_by_identity_holds_without_the_one_by_name() {
    futures::executor::block_on(async {
        let store = Arc::new(MemoryBackend::new());
        let repo = init(&store).await;
        let backup = repo
            .add_key_with(b"bk", &NewKey::backup().kdf(kdf()))
            .await
            .unwrap();
        let kept = store.get(&backup).await.unwrap();
        repo.remove_key(&backup).await.unwrap();
        let id = backup.trim_start_matches("keys/");
        let revoked: Vec<String> = store
            .list("revoked/")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(revoked.len(), 2, "{revoked:?}");
        store.delete(&format!("revoked/{id}")).await.unwrap();
        store.put(&backup, kept, PutMode::CreateOnly).await.unwrap();

        let err = opens(&store, b"bk").await.unwrap_err();
        assert!(
            matches!(&err, Error::NoUsableKeyFile { skipped }
                if skipped.iter().any(|s| s.contains("revoked by an admin"))),
            "{err:?}"
        );
        let info = repo.find_key(id).await.unwrap();
        assert!(info.revoked, "{info:?}");
        let r = repo.rotate_keys(&Default::default()).await.unwrap();
        assert!(!r.granted.iter().any(|g| g == id), "{r:?}");
    })
}
