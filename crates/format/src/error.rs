//! The one error type of `cairn-cas-core`.
//!
//! Rules: one `#[non_exhaustive]` enum for the crate; variants about a
//! stored object name it (`object`: its backend key), variants about a path
//! name the path; errors from the crates below (backends, crypto, chunking,
//! I/O) are kept whole as `source()` (`#[from]`/`#[source]`) so a caller can
//! downcast through the chain; cryptographic failures stay opaque
//! ([`Error::Authentication`] does not say why); [`Error::is_transient`] says
//! whether retrying may help. Bad input — from disk, the network or a
//! command line ([`Error::InvalidId`]) — is one of these, never a panic.

use std::path::PathBuf;

use cairn_crypto::ChunkId;

/// What can go wrong in a repository.
///
/// Variants that concern a stored object carry its name (its backend key), so
/// a report always says *which* pack, index or snapshot is at fault.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage backend failed (the error names the key).
    #[error(transparent)]
    Backend(#[from] cairn_backends::Error),
    /// No key file of the repository opens with the password given.
    #[error("wrong password: no key file of the repository opens with it")]
    WrongPassword,
    /// The backend holds no repository (no config or no key files).
    #[error("no repository here: {reason}")]
    NotARepository {
        /// What is missing.
        reason: String,
    },
    /// `init` found a repository already there.
    #[error("a repository already exists here (found {object})")]
    AlreadyInitialized {
        /// The object found.
        object: String,
    },
    /// An object failed authentication (AEAD tag): it was corrupted or forged.
    #[error("{object} failed authentication: corrupted or tampered with")]
    Authentication {
        /// The object's name.
        object: String,
    },
    /// An object decrypted but its contents are malformed.
    #[error("{object} is malformed: {reason}")]
    Corrupt {
        /// The object's name.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An object of a format version this build does not read.
    #[error("{object} has unsupported format version {found}")]
    UnsupportedVersion {
        /// The object's name.
        object: String,
        /// The version found.
        found: u8,
    },
    /// A blob's contents do not hash to the id it is stored under.
    #[error("blob {id} in {object} does not match its id")]
    ChunkIdMismatch {
        /// The pack holding the blob.
        object: String,
        /// The id it claims.
        id: ChunkId,
    },
    /// A blob the repository needs is in no index.
    #[error("blob {id} is not in the index")]
    MissingBlob {
        /// The blob's id.
        id: ChunkId,
    },
    /// A key error from `cairn-crypto` other than a failed authentication.
    #[error("key error on {object}: {source}")]
    Crypto {
        /// The object concerned.
        object: String,
        /// The underlying error.
        #[source]
        source: cairn_crypto::Error,
    },
    /// A file-system error on the machine being backed up or restored to.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Chunking a file failed.
    #[error("chunking {}: {source}", path.display())]
    Chunking {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: cairn_chunking::Error,
    },
    /// No snapshot matches.
    #[error("no snapshot matches {query:?}")]
    SnapshotNotFound {
        /// What was asked for.
        query: String,
    },
    /// An id prefix matches several snapshots.
    #[error("snapshot id prefix {prefix:?} is ambiguous ({count} matches)")]
    AmbiguousSnapshot {
        /// The prefix given.
        prefix: String,
        /// How many snapshots it matches.
        count: usize,
    },
    /// A snapshot id, tree id or id prefix that is not hex of the right
    /// length (from a command line, a listing or a record).
    #[error("invalid {what} {input:?}: {reason}")]
    InvalidId {
        /// Which kind of id (`snapshot id`, `tree id`, `snapshot id prefix`).
        what: &'static str,
        /// The text refused (its first 80 characters).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The operation was cancelled through its [`crate::CancelToken`]; what
    /// it had stored is kept for the next run to reuse.
    #[error("cancelled")]
    Cancelled,
    /// An option or argument is out of range.
    #[error("invalid option: {what}")]
    InvalidOption {
        /// What is wrong.
        what: String,
    },
    /// An object is larger than Cairn ever writes one of its kind; it was
    /// not read (a hostile or damaged object must not exhaust memory).
    #[error("{object} is larger than {max} bytes, the most Cairn writes for it")]
    TooLarge {
        /// The object's name.
        object: String,
        /// The cap for its kind.
        max: u64,
    },
    /// A create-only write found an object already stored under a
    /// content-addressed name, but its bytes are not the content the name
    /// promises (damaged or planted). It is not overwritten: objects are
    /// create-only, and replacing one is `repair`'s decision, not a backup's.
    #[error("{object} is already stored but damaged: {reason}")]
    StoredObjectMismatch {
        /// The object's name.
        object: String,
        /// What is wrong with the stored copy.
        reason: String,
    },
    /// No key file could be used: some were skipped (see each reason) and
    /// none of the others opens with the password.
    #[error("no usable key file for this password; skipped: {}", skipped.join("; "))]
    NoUsableKeyFile {
        /// Each skipped key file and why.
        skipped: Vec<String>,
    },
    /// A retention plan would remove every snapshot of a group (or the
    /// policy has no rule) and that was not explicitly allowed.
    #[error("the retention policy keeps no snapshot of {group}; refusing (allow it explicitly to remove them all)")]
    RemovesEverything {
        /// The group concerned.
        group: String,
    },
    /// A prune declared this backup's session dead (its lease stopped moving
    /// across several prune runs) and may have deleted data it relied on:
    /// the snapshot was withdrawn. Run the backup again.
    #[error("session {session} was declared dead by a prune; the snapshot was not kept, run the backup again")]
    SessionExpired {
        /// The session id.
        session: String,
    },
    /// The operation completed (its effect stands), but its audit journal
    /// entry could not be written: the change is not recorded, and
    /// `journal::verify` may report it.
    #[error("{operation} completed, but its journal entry could not be written: {source}")]
    JournalWrite {
        /// The operation (`prune`, `copy`, …).
        operation: String,
        /// Why the entry could not be written.
        #[source]
        source: Box<Error>,
    },
    /// The repository was opened with a key whose role does not allow the
    /// operation (a `backup` key cannot forget, prune, or manage keys).
    #[error("{operation} needs an admin key; this repository was opened with a {role} key")]
    NotAdmin {
        /// What was refused.
        operation: &'static str,
        /// The role of the key that opened the repository.
        role: cairn_crypto::Role,
    },
    /// The key that opened the repository carries no admin authority (a
    /// version 1 key file): it cannot sign removals or endorse new keys.
    /// Change its password (`key passwd`) to upgrade it to version 2.
    #[error("{operation} needs a version 2 admin key file (upgrade this one with `key passwd`)")]
    NoAuthority {
        /// What was refused.
        operation: &'static str,
    },
    /// A removal record (tombstone, revocation) whose admin signature does
    /// not verify: forged, planted by a key holder without the authority,
    /// or damaged. It is ignored.
    #[error("{object} carries no valid admin signature")]
    NotAuthorised {
        /// The record.
        object: String,
    },
    /// Removing this key would leave no usable admin key.
    #[error("{key} is the last usable admin key; add another admin key before removing it")]
    LastAdminKey {
        /// The key file.
        key: String,
    },
    /// A key rotation would have to leave out key files that cannot receive
    /// the new epoch's root (version 1 or 2 files carry no key-exchange
    /// key). Upgrade them (`key passwd` with each password) or drop them
    /// (they are removed and can no longer open the repository).
    #[error("cannot rotate: key files {keys:?} cannot receive the new epoch (version 1/2: change their passwords to upgrade them, or drop them)")]
    RotationBlocked {
        /// The key files (ids) that cannot receive a grant.
        keys: Vec<String>,
    },
    /// The repository's newest key epoch holds no grant for this key file
    /// (it was dropped or removed by a rotation, or is a version 1/2 file).
    #[error("key epoch {epoch} grants nothing to {key}: this key was left out of a key rotation")]
    EpochNotGranted {
        /// The newest valid epoch.
        epoch: u32,
        /// The key file.
        key: String,
    },
    /// Another rotation created this epoch first: reopen and retry.
    #[error("key epoch {epoch} was created concurrently; reopen the repository and retry")]
    EpochExists {
        /// The epoch number.
        epoch: u32,
    },
    /// Another admin retired the same admin authority first (its link
    /// holds this number): reopen and retry.
    #[error(
        "admin authority link {link} was created concurrently; reopen the repository and retry"
    )]
    AuthorityExists {
        /// The link number.
        link: u32,
    },
    /// No key file matches the id or prefix given.
    #[error("no key file matches {query:?}")]
    KeyNotFound {
        /// What was asked for.
        query: String,
    },
    /// A key id prefix matches several key files.
    #[error("key id prefix {prefix:?} is ambiguous ({count} matches)")]
    AmbiguousKey {
        /// The prefix given.
        prefix: String,
        /// How many key files it matches.
        count: usize,
    },
    /// No tenant of that name exists (no key object; or shredded).
    #[error("no tenant {tenant:?} in this repository")]
    TenantNotFound {
        /// The name asked for.
        tenant: String,
    },
    /// A tenant of that name exists already.
    #[error("tenant {tenant:?} exists already")]
    TenantExists {
        /// The name.
        tenant: String,
    },
    /// The tenant was shredded: its keys are destroyed and nothing may be
    /// written into its namespace or acknowledged from it any more.
    #[error("tenant namespace {namespace} was shredded")]
    TenantShredded {
        /// The namespace (hex), not the name.
        namespace: String,
    },
    /// This operation needs the whole repository, not a tenant's view.
    #[error("{operation} is not available on a tenant's view of the repository")]
    NotOnTenant {
        /// What was refused.
        operation: &'static str,
    },
    /// A shred could not confirm that an object is gone from a store.
    #[error("shred could not confirm {object} is gone from {store}: {reason}")]
    ShredUnconfirmed {
        /// The object.
        object: String,
        /// The store asked (the repository's backend, or an erasure child).
        store: String,
        /// What the store answered.
        reason: String,
    },
    /// An erasure receipt that does not verify (altered, or signed by
    /// another authority).
    #[error("erasure receipt invalid: {reason}")]
    ReceiptInvalid {
        /// Why.
        reason: String,
    },
    /// A local metadata cache directory another local user could steer: a
    /// symbolic link, not a directory, owned by another user, or writable
    /// by group or others. The cache is not used (nothing is followed).
    #[error("metadata cache directory {}: {reason}", path.display())]
    UnsafeCache {
        /// The directory refused.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The snapshot is on hold: forget (by id), tag's replacement or
    /// rewrite's `--forget` may not remove it until the hold is released
    /// or expires.
    #[error("snapshot {snapshot} is on hold ({reason}); release it first")]
    Held {
        /// The snapshot's id.
        snapshot: String,
        /// The hold's reason (and end, if it has one).
        reason: String,
    },
    /// A worker thread stopped unexpectedly (a bug; the operation was abandoned).
    #[error("internal error: {what}")]
    Internal {
        /// What happened.
        what: String,
    },
}

impl Error {
    pub fn corrupt(object: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            object: object.into(),
            reason: reason.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether the same call may succeed if tried again (a transient backend error).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Backend(e) if e.is_transient())
    }

    /// Whether the storage failed, as opposed to an object being missing,
    /// unreadable or damaged: an I/O error, a timeout, a refused request.
    /// Such an error says nothing about the object, so it must stop an
    /// operation instead of marking the object damaged (open would load a
    /// partial index, a repair would drop good packs). An erasure layout's
    /// own errors (too few shards, bad shards) do describe the object.
    pub fn is_backend_failure(&self) -> bool {
        matches!(
            self,
            Error::Backend(e)
                if !e.is_not_found() && !matches!(e, cairn_backends::Error::Wrapped { .. })
        )
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
