//! [`ObjectStoreOptions`]: how an [`ObjectStoreBackend`](super::ObjectStoreBackend) uses its store.

use object_store::path::Path;

use super::MIN_PART_SIZE;
use crate::{validate_key, Error, Result};

/// How an [`ObjectStoreBackend`](super::ObjectStoreBackend) uses its store.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStoreOptions {
    /// Keys are stored under `prefix/` in the store (`""`: at its root).
    /// Checked like a key, so no empty, `.` or `..` segments.
    pub prefix: String,
    /// Whether the store supports conditional writes (S3 `If-None-Match: *`,
    /// `object_store`'s `PutMode::Create`). Default `true`: AWS S3, SeaweedFS,
    /// MinIO, R2 and Ceph do. When `false`, a create-only put first asks
    /// whether the key exists and then writes: **not atomic** — two concurrent
    /// create-only puts of one key may both succeed, the later one winning.
    pub conditional_put: bool,
    /// Objects larger than this are uploaded in parts (multipart upload) when
    /// that keeps the put's guarantees: always for
    /// [`PutMode::Overwrite`](crate::PutMode::Overwrite), and for
    /// [`PutMode::CreateOnly`](crate::PutMode::CreateOnly) only when
    /// `conditional_put` is `false` or the object exceeds S3's single-`PUT`
    /// limit (5 GiB), because an `object_store` multipart upload cannot be
    /// made conditional. Default 16 MiB.
    pub multipart_threshold: u64,
    /// The size of each part of a multipart upload. Default 8 MiB; at least
    /// 5 MiB (S3's minimum).
    pub part_size: usize,
    /// How many parts of one object are uploaded at once. Default 4.
    pub multipart_concurrency: usize,
    /// The storage class every object is written with (S3
    /// `x-amz-storage-class`, through `object_store`'s
    /// `Attribute::StorageClass`), on single and multipart puts alike:
    /// `STANDARD_IA`, `GLACIER`, `DEEP_ARCHIVE`... `None` (the default):
    /// the bucket's default class. Upper-case letters, digits and `_`
    /// only, as S3 spells its classes; the store decides whether it knows
    /// the class (AWS refuses unknown ones on the put). Stores without
    /// storage classes (the local file system) refuse every put with a
    /// class set.
    pub storage_class: Option<String>,
}

impl Default for ObjectStoreOptions {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            conditional_put: true,
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            multipart_concurrency: 4,
            storage_class: None,
        }
    }
}

impl ObjectStoreOptions {
    /// Sets [`prefix`](Self::prefix).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// Sets [`conditional_put`](Self::conditional_put).
    pub fn with_conditional_put(mut self, conditional_put: bool) -> Self {
        self.conditional_put = conditional_put;
        self
    }
    /// Sets [`multipart_threshold`](Self::multipart_threshold).
    pub fn with_multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes;
        self
    }
    /// Sets [`part_size`](Self::part_size).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes;
        self
    }
    /// Sets [`multipart_concurrency`](Self::multipart_concurrency).
    pub fn with_multipart_concurrency(mut self, parts: usize) -> Self {
        self.multipart_concurrency = parts;
        self
    }

    /// Sets [`storage_class`](Self::storage_class).
    pub fn with_storage_class(mut self, class: impl Into<String>) -> Self {
        self.storage_class = Some(class.into());
        self
    }

    pub(super) fn validate(&self) -> Result<()> {
        let refuse = |reason| {
            Err(Error::InvalidKey {
                key: self.prefix.clone(),
                reason,
            })
        };
        if !self.prefix.is_empty() {
            validate_key(&self.prefix)?;
            if Path::parse(&self.prefix).is_err() {
                return refuse("prefix is not a valid object store path");
            }
        }
        if self.part_size < MIN_PART_SIZE {
            return refuse("part_size is below S3's 5 MiB minimum");
        }
        if self.multipart_concurrency == 0 {
            return refuse("multipart_concurrency must be at least 1");
        }
        if let Some(class) = &self.storage_class {
            // It becomes an HTTP header value: nothing that could break one.
            let ok = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
            if class.is_empty() || class.len() > 64 || !class.chars().all(ok) {
                return Err(Error::InvalidKey {
                    key: class.clone(),
                    reason: "storage class must be 1-64 upper-case letters, digits or '_' \
                             (e.g. STANDARD_IA, GLACIER)",
                });
            }
        }
        Ok(())
    }
}
