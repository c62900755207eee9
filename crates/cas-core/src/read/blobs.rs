//! Verified blobs of a pack: a run of them read with one request, or the
//! whole pack checked.

use bytes::Bytes;

use crate::format::open_blob;
use crate::pack::read_pack_header;
use crate::{Error, PackEntry, PackId, Repository, Result, MAX_PACK_SIZE};

impl Repository {
    /// Reads the blobs `run` of `pack` with one ranged read (from the first
    /// blob's offset to the end of the last: the gaps between them are read
    /// too), then, on the CPU pool, opens each blob in order — AEAD tag,
    /// decompression, chunk id of the plaintext — and hands its plaintext to
    /// `visit`. Returns the bytes fetched.
    ///
    /// `run` is sorted by offset and each `B` names its entry (a
    /// [`PackEntry`], or a caller's type carrying one and what to do with
    /// the blob, so `visit` needs no lookup). The first blob that fails to
    /// verify stops the run with an error naming the pack
    /// ([`Error::Authentication`], [`Error::ChunkIdMismatch`],
    /// [`Error::Corrupt`]); `visit` never sees its bytes. An error of
    /// `visit` stops the run too and is returned as is.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use cairn_backends::MemoryBackend;
    /// use cairn_archiver::{backup, BackupOptions, NoProgress};
    /// use cairn_cas_core::{Error, InitOptions, NodeKind, Repository};
    /// use cairn_crypto::KdfParams;
    /// use futures::TryStreamExt;
    ///
    /// # futures::executor::block_on(async {
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("note"), b"read me back")?;
    /// let opts = InitOptions::default().kdf(KdfParams::insecure_for_tests());
    /// let repo = Repository::init(Arc::new(MemoryBackend::new()), b"pw", opts).await?;
    /// let done = backup(&repo, &[dir.path().to_owned()], &BackupOptions::default(), Arc::new(NoProgress)).await?;
    ///
    /// // Find the file's chunks, then where they are.
    /// let nodes: Vec<_> = repo.walk_nodes(done.snapshot.tree).try_collect().await?;
    /// let (_, note) = nodes.iter().find(|(p, _)| p.ends_with("note")).unwrap();
    /// let NodeKind::File { chunks } = &note.kind else { unreachable!() };
    /// let loc = repo.locate(chunks)[0].unwrap();
    ///
    /// let out = Arc::new(Mutex::new(Vec::new()));
    /// let sink = out.clone();
    /// repo.read_blobs(loc.pack, vec![loc.entry], move |_, plain| {
    ///     sink.lock().unwrap().extend_from_slice(plain);
    ///     Ok::<_, Error>(())
    /// })
    /// .await?;
    /// assert_eq!(*out.lock().unwrap(), b"read me back");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn read_blobs<B, E, F>(
        &self,
        pack: PackId,
        run: Vec<B>,
        mut visit: F,
    ) -> std::result::Result<u64, E>
    where
        B: AsRef<PackEntry> + Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnMut(&B, &[u8]) -> std::result::Result<(), E> + Send + 'static,
    {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return Ok(0);
        };
        let (first, last) = (first.as_ref(), last.as_ref());
        let start = u64::from(first.offset);
        let end = u64::from(last.offset) + u64::from(last.length);
        let key = pack.key();
        if end < start {
            return Err(not_sorted(&key, last).into());
        }
        let bytes = self
            .backend()
            .get_range(&key, start..end)
            .await
            .map_err(Error::from)?;
        if bytes.len() as u64 != end - start {
            let reason = format!("short read: {} of {} bytes", bytes.len(), end - start);
            return Err(Error::corrupt(&key, reason).into());
        }
        let fetched = bytes.len() as u64;
        let keys = self.keys();
        self.cpu()
            .spawn(move || {
                for b in &run {
                    let e = b.as_ref();
                    let plain = {
                        let sealed =
                            sealed_at(&bytes, start, e).ok_or_else(|| not_sorted(&key, e))?;
                        open_blob(&keys, &key, e, sealed)?
                    };
                    visit(b, &plain)?;
                }
                Ok(fetched)
            })
            .await
            .map_err(E::from)?
    }

    /// Reads the whole pack `pack` back and checks it: its bytes hash to its
    /// name, its header authenticates and parses, and every blob the header
    /// lists opens and matches its id. Returns the header's entries (to
    /// compare with the index). At most [`MAX_PACK_SIZE`] bytes are read: a
    /// larger object is refused, whatever a listing said of its size.
    pub async fn verify_pack(&self, pack: PackId) -> Result<Vec<PackEntry>> {
        let key = pack.key();
        let max = MAX_PACK_SIZE as u64;
        // The ranged read bounds what the backend hands back.
        let bytes = self.backend().get_range(&key, 0..max + 1).await?;
        if bytes.len() as u64 > max {
            return Err(Error::corrupt(
                &key,
                format!("larger than any pack ({max} bytes)"),
            ));
        }
        let keys = self.keys();
        self.cpu()
            .spawn(move || {
                if PackId::of(&bytes) != pack {
                    return Err(Error::corrupt(&key, "contents do not match the name"));
                }
                let entries = read_pack_header(&keys, &key, &bytes)?;
                for e in &entries {
                    let sealed = sealed_at(&bytes, 0, e).ok_or_else(|| {
                        Error::corrupt(&key, format!("blob {} lies outside the pack", e.id))
                    })?;
                    open_blob(&keys, &key, e, sealed)?;
                }
                Ok(entries)
            })
            .await?
    }
}

/// The sealed bytes of `e` in `bytes`, which start at pack offset `start`;
/// `None` if they are not all there. In u64: offset + length can exceed u32
/// in a forged entry.
fn sealed_at<'b>(bytes: &'b Bytes, start: u64, e: &PackEntry) -> Option<&'b [u8]> {
    let from = u64::from(e.offset).checked_sub(start)?;
    let to = from + u64::from(e.length);
    bytes.get(usize::try_from(from).ok()?..usize::try_from(to).ok()?)
}

fn not_sorted(object: &str, e: &PackEntry) -> Error {
    Error::InvalidOption {
        what: format!(
            "blob {} of {object} lies outside the run read: a run must be sorted by offset",
            e.id
        ),
    }
}
