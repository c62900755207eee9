//! Shared by the key and role tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use cairn_backends::{Backend, MemoryBackend, PutMode};
use cairn_cas_core::Role;
use cairn_crypto::KdfParams;
use futures::TryStreamExt;

/// What a compromised backup host can do: it knows the master key (from
/// its own key file), so it writes an admin key file under an authority of
/// its own. Returns the planted file's name.
pub(crate) async fn planted_admin(store: &Arc<MemoryBackend>, backup_pw: &[u8]) -> String {
    use cairn_crypto::{AdminKey, AnyKeyFile, KeyFileV2, KeyMeta};
    let names: Vec<String> = store
        .list("keys/")
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    let mut master = None;
    for n in &names {
        let bytes = store.get(n).await.unwrap();
        if let Ok(opened) = AnyKeyFile::from_bytes(&bytes).unwrap().open(backup_pw) {
            master = Some(opened.master);
        }
    }
    let master = master.expect("the backup password opens a key file");
    let meta = KeyMeta {
        role: Role::Admin,
        created: 0,
        label: "evil@host".into(),
    };
    let forged = KeyFileV2::create(
        &master,
        &AdminKey::generate().unwrap(),
        &meta,
        b"evil",
        KdfParams::insecure_for_tests(),
    )
    .unwrap()
    .to_bytes();
    let name = format!("keys/{}", blake3::hash(&forged).to_hex());
    store
        .put(&name, Bytes::from(forged), PutMode::CreateOnly)
        .await
        .unwrap();
    name
}
