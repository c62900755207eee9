//! Key files: listing, adding with a role, removing, changing a password.
//!
//! Every key file wraps the one master key (`cairn_crypto::keyfile2`), so
//! removing a key stops its *password* from opening the repository; a holder
//! who kept the master key itself could still read — which is why removal
//! also starts a new key epoch (see `epochs`), whose root the removed
//! holder never sees.
//! Removal writes revocations signed by the admin authority before the file
//! is deleted, so a copy of the file stored again does not open (version 2
//! files; a version 1 file names no authority to check a revocation with):
//!
//! - A key file must be named `keys/<BLAKE3 of its bytes>` (every name Cairn
//!   ever wrote is), so a copy under another name is refused outright
//!   (`open::read_key_file`).
//! - `revoked/<file id>` covers the file itself (what older versions wrote
//!   and check), and `revoked/<identity>` — the identity is a hash of the
//!   endorsement (`KeyFileV2::identity`) — covers every copy its holder
//!   could make by sealing the same endorsed header again under another
//!   password, which has other bytes and so another name. Same record
//!   layout (`repo::signed`), its `key` field holding the identity.
//!
//! "Usable admin": a version 2 admin key file endorsed by this handle's
//! authority and not revoked (for a handle opened with a version 1 file,
//! which has no authority: any admin file). The last one cannot be removed:
//! without it nobody could sign a forget again.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cairn_backends::{Backend, PutMode};
use cairn_crypto::{
    AdminKey, AnyKeyFile, ExchangeSecret, KdfParams, KeyFileV2, KeyMeta, MasterKey, Role,
};
use serde::Serialize;
use zeroize::Zeroizing;

use super::signed::{encode_signed, Revocation, MAX_SIGNED_SIZE, REVOCATION_MAGIC, REVOKED};
use super::{crypto_err, key_file_name, Repository};
use crate::journal;
use crate::open::{get_capped, read_key_file};
use crate::prune::records::{delete_quiet, list_names};
use crate::{CpuPool, Error, Result};

/// A key file to add: its role, label and KDF cost.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct NewKey {
    /// What the key may do.
    pub role: Role,
    /// Label (default `user@host` of this process).
    pub label: Option<String>,
    /// Argon2id parameters.
    pub kdf: KdfParams,
}

impl NewKey {
    /// A key with `role` and default label and KDF.
    pub fn new(role: Role) -> Self {
        NewKey {
            role,
            label: None,
            kdf: KdfParams::default(),
        }
    }
    /// An admin key.
    pub fn admin() -> Self {
        Self::new(Role::Admin)
    }
    /// A backup key.
    pub fn backup() -> Self {
        Self::new(Role::Backup)
    }
    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    /// Sets the KDF parameters.
    pub fn kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }
}

/// One key file, as [`Repository::list_keys`] reports it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The id `key remove` takes (the hex after `keys/`).
    pub id: String,
    /// Key file format version (1 or 2); 0 if unreadable.
    pub version: u8,
    /// `admin` or `backup` (version 1 files are admins); none if unreadable.
    #[serde(serialize_with = "role_str")]
    pub role: Option<Role>,
    /// Creation time (RFC 3339), version 2 only.
    pub created: Option<String>,
    /// Label, version 2 only.
    pub label: Option<String>,
    /// Argon2id memory (KiB), passes and lanes.
    pub kdf: Option<[u32; 3]>,
    /// Whether this handle's admin authority endorsed the file (so its role
    /// and label are what an admin wrote); none when it cannot tell (a
    /// version 1 file, or a handle without an authority).
    pub endorsed: Option<bool>,
    /// An admin revoked it (its file was stored again after removal).
    pub revoked: bool,
    /// It opened this handle.
    pub current: bool,
    /// Why it could not be read, if it could not.
    pub problem: Option<String>,
}

impl KeyInfo {
    /// The object name.
    pub fn object(&self) -> String {
        format!("keys/{}", self.id)
    }

    pub(crate) fn usable_admin(&self, with_authority: bool) -> bool {
        self.role == Some(Role::Admin)
            && !self.revoked
            && match with_authority {
                true => self.endorsed == Some(true),
                false => self.problem.is_none(),
            }
    }
}

fn role_str<S: serde::Serializer>(role: &Option<Role>, s: S) -> Result<S::Ok, S::Error> {
    match role {
        Some(r) => s.serialize_some(r.as_str()),
        None => s.serialize_none(),
    }
}

/// `user@host` of this process: the default key label.
pub(crate) fn default_label() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let mut label = format!("{user}@{host}");
    while label.len() > 255 {
        label.pop();
    }
    label
}

/// A version 3 key file's bytes and its key-exchange secret (the KDF runs
/// on the CPU pool).
pub(crate) async fn wrap(
    cpu: &CpuPool,
    master: &Arc<MasterKey>,
    authority: &Arc<AdminKey>,
    new: &NewKey,
    password: &[u8],
) -> Result<(Vec<u8>, ExchangeSecret)> {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let meta = KeyMeta {
        role: new.role,
        created,
        label: new.label.clone().unwrap_or_else(default_label),
    };
    let (master, authority) = (master.clone(), authority.clone());
    let password = Zeroizing::new(password.to_vec());
    let kdf = new.kdf;
    let (file, exchange) = cpu
        .spawn(move || {
            let file = KeyFileV2::create(&master, &authority, &meta, &password, kdf)?;
            let opened = file.open(&password)?;
            Ok::<_, cairn_crypto::Error>((file, opened.exchange))
        })
        .await?
        .map_err(crypto_err("new key file"))?;
    let exchange = exchange.ok_or_else(|| Error::Internal {
        what: "a new key file has no key-exchange key".into(),
    })?;
    Ok((file.to_bytes(), exchange))
}

/// The identity of a key (hex of [`KeyFileV2::identity`]): the same for
/// every re-sealed copy of it. `None` for version 1 files, which carry no
/// authority to check a revocation with.
pub(crate) fn key_identity(file: &AnyKeyFile) -> Option<String> {
    match file {
        AnyKeyFile::V2(f) => Some(hex::encode(f.identity())),
        _ => None,
    }
}

/// Whether a valid revocation (signed by `authority`) of key file `name`
/// with contents `file` is stored: under the file's id (what removals wrote
/// before key identities) or under its identity (which also covers copies
/// of the key sealed again into other bytes, so stored under other names).
/// A revocation that does not verify is ignored (planted).
pub(crate) async fn is_revoked(
    backend: &dyn Backend,
    authority: &super::AuthorityChain,
    repo_id: &str,
    name: &str,
    file: &AnyKeyFile,
) -> Result<bool> {
    let mut objects = vec![revocation_name(name)];
    objects.extend(key_identity(file).map(|i| format!("{REVOKED}{i}")));
    for object in objects {
        let stored = fetch_revocation(backend, &object).await?;
        if revoked_by(authority, repo_id, &object, stored.as_ref()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The stored revocation object `object` (`revoked/<id or identity>`),
/// unverified: `None` when there is none (or it cannot be read, e.g. too
/// large: treated as absent, as a planted one would be). Needs no key, so
/// `open` reads it side by side with the key file itself.
pub(crate) async fn fetch_revocation(backend: &dyn Backend, object: &str) -> Result<Option<Bytes>> {
    match get_capped(backend, object, MAX_SIGNED_SIZE).await {
        Ok(b) => Ok(Some(b)),
        Err(Error::Backend(e)) if e.is_not_found() => Ok(None),
        Err(e) if e.is_backend_failure() => Err(e),
        Err(_) => Ok(None),
    }
}

/// Whether `stored` (from [`fetch_revocation`] of `object`) is a valid
/// revocation under the chain `authority` naming what `object` names.
pub(crate) fn revoked_by(
    authority: &super::AuthorityChain,
    repo_id: &str,
    object: &str,
    stored: Option<&Bytes>,
) -> bool {
    let Some(bytes) = stored else { return false };
    let id = object.trim_start_matches(REVOKED);
    authority
        .decode::<Revocation>(REVOCATION_MAGIC, repo_id, object, bytes)
        .is_ok_and(|r| r.key == id)
}

/// `revoked/<file id>` for key file `keys/<file id>`.
pub(crate) fn revocation_name(key_name: &str) -> String {
    format!("{REVOKED}{}", key_name.trim_start_matches("keys/"))
}

impl Repository {
    /// Every key file: id, version, role, created, label, KDF cost, whether
    /// this handle's authority endorsed it. Unreadable files are listed with
    /// the problem.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        let mut names = list_names(self, "keys/").await?;
        names.sort();
        for name in names {
            let id = name.trim_start_matches("keys/").to_owned();
            let mut info = KeyInfo {
                id,
                version: 0,
                role: None,
                created: None,
                label: None,
                kdf: None,
                endorsed: None,
                revoked: false,
                current: name == self.key_name,
                problem: None,
            };
            let file = match read_key_file(&*self.backend, &name).await {
                Ok(f) => f,
                Err(e) if e.is_backend_failure() => return Err(e),
                Err(e) => {
                    info.problem = Some(e.to_string());
                    out.push(info);
                    continue;
                }
            };
            let p = file.params();
            info.version = file.version();
            info.role = Some(file.role());
            info.kdf = Some([p.m_cost_kib, p.t_cost, p.p_cost]);
            if let AnyKeyFile::V2(f) = &file {
                let t = UNIX_EPOCH + Duration::from_secs(f.created().min(1 << 40));
                info.created = Some(humantime::format_rfc3339_seconds(t).to_string());
                info.label = Some(f.label().to_owned());
                if let Some(a) = self.authority_chain() {
                    let a = &*a;
                    info.endorsed = Some(a.endorses(f, &name));
                    let id = &self.config.id;
                    info.revoked = is_revoked(&*self.backend, a, id, &name, &file).await?;
                }
            }
            out.push(info);
        }
        Ok(out)
    }

    /// The key file `query` names: a full id or an unambiguous prefix.
    pub async fn find_key(&self, query: &str) -> Result<KeyInfo> {
        let query = query.trim_start_matches("keys/");
        let mut matches: Vec<KeyInfo> = self
            .list_keys()
            .await?
            .into_iter()
            .filter(|k| k.id.starts_with(query))
            .collect();
        match (matches.len(), query.is_empty()) {
            (1, false) => Ok(matches.remove(0)),
            (0, _) | (_, true) => Err(Error::KeyNotFound {
                query: query.to_owned(),
            }),
            (count, false) => match matches.iter().position(|k| k.id == query) {
                Some(i) => Ok(matches.remove(i)),
                None => Err(Error::AmbiguousKey {
                    prefix: query.to_owned(),
                    count,
                }),
            },
        }
    }

    /// Adds an admin key file for `password`; returns its object name.
    pub async fn add_key(&self, password: &[u8], kdf: KdfParams) -> Result<String> {
        self.add_key_with(password, &NewKey::admin().kdf(kdf)).await
    }

    /// Adds a key file for `password` with `new`'s role and label, endorsed
    /// by the admin authority; returns its object name. Admins only.
    pub async fn add_key_with(&self, password: &[u8], new: &NewKey) -> Result<String> {
        self.require_whole("key management")?;
        self.refresh_authority().await?;
        let admin = self.admin_key("add a key")?;
        let (bytes, exchange) = wrap(&self.cpu, &self.master, &admin, new, password).await?;
        let name = key_file_name(&bytes);
        // The grant first: a key file without it could not open the
        // current epoch.
        super::epochs::grant_current(self, &admin, &name, &exchange.public()).await?;
        self.backend
            .put(&name, Bytes::from(bytes), PutMode::CreateOnly)
            .await?;
        let op = journal::Operation::KeyAdd { key: name.clone() };
        let added = journal::counts([("keys", 1)]);
        journal::record_after(self, op, added, Default::default()).await?;
        Ok(name)
    }

    /// Replaces the key file this repository was opened with by one for
    /// `new_password` (same role and label), revokes and removes the old
    /// one; returns the new name. The new file is written first, so a crash
    /// leaves both passwords working, never neither. A version 1 file
    /// becomes a version 2 admin file with a new admin authority (do this
    /// before adding other keys: keys endorsed by another authority are not
    /// trusted by this one). A backup key cannot re-endorse itself: an admin
    /// adds a new backup key and removes the old one.
    pub async fn change_password(&mut self, new_password: &[u8], kdf: KdfParams) -> Result<String> {
        self.require_whole("key management")?;
        const OP: &str =
            "change a backup key's password (an admin adds a new key and removes this one)";
        self.require_admin(OP)?;
        let old = self.key_name.clone();
        let label = match read_key_file(&*self.backend, &old).await {
            Ok(AnyKeyFile::V2(f)) => Some(f.label().to_owned()),
            _ => None,
        };
        self.refresh_authority().await?;
        let current = self.admin.read().unwrap_or_else(|e| e.into_inner()).clone();
        let admin = match (current, self.authority_chain()) {
            (Some(a), _) => a,
            (None, None) => Arc::new(AdminKey::generate().map_err(crypto_err("admin authority"))?),
            // An admin whose key file was not granted the current
            // authority (being removed) cannot re-endorse itself.
            (None, Some(_)) => return Err(Error::NoAuthority { operation: OP }),
        };
        let new = NewKey {
            role: self.role,
            label,
            kdf,
        };
        let (bytes, exchange) = wrap(&self.cpu, &self.master, &admin, &new, new_password).await?;
        let name = key_file_name(&bytes);
        super::epochs::grant_current(self, &admin, &name, &exchange.public()).await?;
        self.backend
            .put(&name, Bytes::from(bytes), PutMode::CreateOnly)
            .await?;
        let chain = match self.authority_chain() {
            Some(c) => super::AuthorityChain::clone(&c),
            None => super::AuthorityChain::single(admin.public()),
        };
        self.set_authority(chain, Some(admin));
        self.exchange = Some(Arc::new(exchange));
        // Between the two writes: if the entry cannot be written, the old
        // key file is not removed (both passwords keep working).
        let op = journal::Operation::KeyPasswd {
            old: old.clone(),
            new: name.clone(),
        };
        let one = journal::counts([("keys", 1)]);
        journal::record_after(self, op, one.clone(), one).await?;
        self.revoke(old.trim_start_matches("keys/")).await?;
        delete_quiet(self, &old).await?;
        self.key_name = name.clone();
        Ok(name)
    }

    /// Writes `revoked/<id>` and `revoked/<identity>` (see [`is_revoked`])
    /// for key file `keys/<id>` when this handle can sign (a version 1
    /// admin cannot: its removals are plain deletes). Call it while the file
    /// is still stored: its identity is read from it.
    pub(crate) async fn revoke(&self, id: &str) -> Result<()> {
        let Some(admin) = self.admin.read().unwrap_or_else(|e| e.into_inner()).clone() else {
            return Ok(());
        };
        let mut names = vec![id.to_owned()];
        match read_key_file(&*self.backend, &format!("keys/{id}")).await {
            Ok(f) => names.extend(key_identity(&f)),
            Err(e) if e.is_backend_failure() => return Err(e),
            // Gone or unreadable: there is no identity to revoke.
            Err(_) => {}
        }
        for name in names {
            self.put_revocation(&admin, &name).await?;
        }
        Ok(())
    }

    async fn put_revocation(&self, admin: &AdminKey, id: &str) -> Result<()> {
        let record = Revocation {
            key: id.to_owned(),
            time: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            by: self.key_name.trim_start_matches("keys/").to_owned(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        };
        let bytes = encode_signed(admin, REVOCATION_MAGIC, &self.config.id, &record)?;
        let object = format!("{REVOKED}{id}");
        match self
            .backend
            .put(&object, Bytes::from(bytes.clone()), PutMode::CreateOnly)
            .await
        {
            // One planted there first (it does not verify): replace it.
            Err(e) if e.is_already_exists() => {
                let stored = fetch_revocation(&*self.backend, &object).await?;
                let mine = super::AuthorityChain::single(admin.public());
                if !revoked_by(&mine, &self.config.id, &object, stored.as_ref()) {
                    self.backend
                        .put(&object, Bytes::from(bytes), PutMode::Overwrite)
                        .await?;
                }
                Ok(())
            }
            r => Ok(r?),
        }
    }
}
