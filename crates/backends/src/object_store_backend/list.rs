//! Streamed listing through the runtime.

use std::sync::Arc;

use futures::channel::mpsc;
use futures::stream::{self, BoxStream};
use futures::{SinkExt, StreamExt};

use super::errors::Op;
use super::runtime::AbortOnDrop;
use super::{ObjectStoreBackend, LIST_CHANNEL};
use crate::{Error, ObjectMeta, Result};

impl ObjectStoreBackend {
    /// Starts a listing task on the runtime; entries reach the caller through
    /// a bounded channel, so a slow consumer pauses the listing (no full
    /// collection) and dropping the stream stops it.
    pub(super) fn start_list<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Result<BoxStream<'a, Result<ObjectMeta>>> {
        // `object_store` lists whole path segments; the trait lists by string
        // prefix. So list the deepest directory the prefix names in full
        // ("data/ab" -> "data/") and filter by the prefix.
        let dir = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let list_path = match (&self.base, dir.is_empty()) {
            (base, true) => base.clone(),
            (_, false) => Some(self.path(dir).map_err(|e| match e {
                Error::InvalidKey { reason, .. } => Error::InvalidKey {
                    key: prefix.to_owned(),
                    reason,
                },
                other => other,
            })?),
        };
        let strip = self
            .base
            .as_ref()
            .map(|b| format!("{b}/"))
            .unwrap_or_default();
        let want = prefix.to_owned();
        let err = self.err(prefix, Op::List);
        let (mut tx, rx) = mpsc::channel(LIST_CHANNEL);
        let store = Arc::clone(&self.store);
        let handle = self.handle()?.spawn(async move {
            let mut listing = store.list(list_path.as_ref());
            while let Some(item) = listing.next().await {
                let entry = match item {
                    Ok(meta) => {
                        let location = meta.location.as_ref();
                        match location.strip_prefix(&strip) {
                            Some(key) if key.starts_with(&want) => {
                                Ok(ObjectMeta::new(key, meta.size))
                            }
                            _ => continue,
                        }
                    }
                    Err(e) => Err(err(e)),
                };
                let failed = entry.is_err();
                // A send error means the caller dropped the stream: stop.
                if tx.send(entry).await.is_err() || failed {
                    break;
                }
            }
        });
        let abort = AbortOnDrop(handle.abort_handle());
        Ok(stream::unfold((rx, abort), |(mut rx, abort)| async move {
            rx.next().await.map(|entry| (entry, (rx, abort)))
        })
        .boxed())
    }
}
