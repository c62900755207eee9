//! Snapshot holds: admin-signed records (`holds/<snapshot id>`, format in
//! `signed.rs`) that keep a snapshot from forget and prune. What a hold
//! protects, and when it expires, is `cairn-lifecycle`'s (`hold.rs`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::Bytes;
use cairn_backends::PutMode;
use futures::{StreamExt, TryStreamExt};

use super::signed::{encode_hold, Hold, HOLDS, HOLD_MAGIC, MAX_SIGNED_SIZE};
use super::{Repository, LOAD_CONCURRENCY};
use crate::open::get_capped;
use crate::{Error, Result};

/// What [`Repository::holds`] found.
#[non_exhaustive]
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Holds {
    /// Holds whose signature verifies, by snapshot id.
    pub valid: BTreeMap<String, Hold>,
    /// Hold objects ignored: not signed by this handle's authority
    /// (planted by a key holder without it), damaged, or naming another
    /// snapshot than their object name.
    pub ignored: Vec<String>,
}

impl Repository {
    /// Writes (or replaces) the admin-signed hold on snapshot `id`.
    #[doc(hidden)]
    pub async fn write_hold(&self, id: &str, until: Option<String>, reason: &str) -> Result<Hold> {
        let admin = self.admin_key("hold snapshots")?;
        let hold = Hold {
            snapshot: id.to_owned(),
            until,
            reason: reason.to_owned(),
            time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            key: self.key_name.trim_start_matches("keys/").to_owned(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        };
        let bytes = encode_hold(&admin, &self.config.id, &hold)?;
        let object = format!("{HOLDS}{id}");
        let put = self
            .backend
            .put(&object, Bytes::from(bytes), PutMode::Overwrite);
        put.await?;
        Ok(hold)
    }

    /// Every hold stored, checked against the authority chain. The listing
    /// must be complete (a hold missed would let a forget remove what it
    /// protects), so any listing error fails the call.
    pub async fn holds(&self) -> Result<Holds> {
        self.refresh_authority().await?;
        let names: Vec<String> = self
            .backend
            .list(HOLDS)
            .map_ok(|m| m.key)
            .try_collect()
            .await?;
        let mut out = Holds::default();
        let Some(chain) = self.authority_chain() else {
            out.ignored = names;
            return Ok(out);
        };
        let mut read = futures::stream::iter(names)
            .map(|object| async move {
                let bytes = get_capped(&*self.backend, &object, MAX_SIGNED_SIZE).await;
                (object, bytes)
            })
            .buffer_unordered(LOAD_CONCURRENCY);
        while let Some((object, bytes)) = read.next().await {
            let bytes = match bytes {
                Err(Error::Backend(e)) if e.is_not_found() => continue,
                Err(e) if e.is_backend_failure() => return Err(e),
                Err(_) => {
                    out.ignored.push(object);
                    continue;
                }
                Ok(b) => b,
            };
            let id = object.trim_start_matches(HOLDS);
            match chain.decode::<Hold>(HOLD_MAGIC, &self.config.id, &object, &bytes) {
                Ok(h) if h.snapshot == id => {
                    out.valid.insert(h.snapshot.clone(), h);
                }
                _ => out.ignored.push(object),
            }
        }
        out.ignored.sort();
        Ok(out)
    }
}
