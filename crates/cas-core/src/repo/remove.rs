//! [`Repository::remove_key`]: removing a key file, and starting a key
//! epoch its holder never sees.

use super::epochs::{recipients, RotateOptions, RotateReport};
use super::Repository;
use crate::prune::records::delete_quiet;
use crate::{journal, Error, Result};

/// How [`Repository::remove_key_with`] removes a key.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RemoveOptions {
    /// Start a new key epoch without the removed key (default: yes). Its
    /// holder may have kept a copy of the master key; without a rotation
    /// they could still read everything written later.
    pub rotate: bool,
    /// Passed to the rotation: drop key files that cannot receive the new
    /// epoch instead of refusing.
    pub drop_old_keys: bool,
}

impl Default for RemoveOptions {
    fn default() -> Self {
        RemoveOptions {
            rotate: true,
            drop_old_keys: false,
        }
    }
}

impl RemoveOptions {
    /// Sets `rotate`.
    pub fn rotate(mut self, yes: bool) -> Self {
        self.rotate = yes;
        self
    }
    /// Sets `drop_old_keys`.
    pub fn drop_old_keys(mut self, yes: bool) -> Self {
        self.drop_old_keys = yes;
        self
    }
}

/// What [`Repository::remove_key_with`] did.
#[non_exhaustive]
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoveReport {
    /// The key file removed.
    pub key: String,
    /// The key epoch started without it (none when not asked for, or when
    /// this handle cannot sign: a version 1 admin).
    pub rotation: Option<RotateReport>,
    /// The admin authority started without it (an admin key's removal by
    /// a handle that can sign; see the `repo::authority` module docs).
    pub authority: Option<super::AuthorityReport>,
}

impl Repository {
    /// Removes the key file `query` names and starts a new key epoch
    /// without it: [`remove_key_with`](Self::remove_key_with) with the
    /// default [`RemoveOptions`]. Returns the object name.
    pub async fn remove_key(&self, query: &str) -> Result<String> {
        Ok(self
            .remove_key_with(query, &RemoveOptions::default())
            .await?
            .key)
    }

    /// Removes the key file `query` names (full id or unambiguous prefix):
    /// starts (unless `opts.rotate` is off) a new key epoch the removed
    /// holder gets no grant for, then writes a signed revocation and deletes
    /// the file. A rotation that fails leaves the key in place. Admins only; the last usable admin key is refused with
    /// [`Error::LastAdminKey`]. The key that opened this handle may go if
    /// another admin remains (this handle keeps working until dropped).
    ///
    /// A rotation that would be blocked by old key files
    /// ([`Error::RotationBlocked`]) is refused before anything is removed.
    /// A handle without an authority (version 1 key file) cannot sign, so
    /// it removes without rotating.
    ///
    /// Removing an admin key also retires the admin authority (after the
    /// epoch rotation): a new one is granted to the remaining admin key
    /// files, and whatever the old one signs from now on is refused (see
    /// the `repo::authority` module docs).
    pub async fn remove_key_with(&self, query: &str, opts: &RemoveOptions) -> Result<RemoveReport> {
        self.require_whole("key management")?;
        self.require_admin("remove a key")?;
        let target = self.find_key(query).await?;
        // Removals by another handle since this one opened count.
        self.refresh_authority().await?;
        let with_authority = self.authority_chain().is_some();
        let others = self
            .list_keys()
            .await?
            .into_iter()
            .filter(|k| k.id != target.id && k.usable_admin(with_authority))
            .count();
        if target.usable_admin(with_authority) && others == 0 {
            return Err(Error::LastAdminKey {
                key: target.object(),
            });
        }
        let exclude = [target.id.clone()];
        let can_sign = self.admin_key("remove a key").is_ok();
        let rotate = opts.rotate && can_sign;
        if let (true, Some(authority)) = (rotate, self.authority_chain()) {
            let r = recipients(self, &authority, &exclude).await?;
            let own = self.key_name.trim_start_matches("keys/");
            let own_lacks = r.lacking.iter().any(|k| k == own);
            if own_lacks || (!opts.drop_old_keys && !r.lacking.is_empty()) {
                return Err(Error::RotationBlocked { keys: r.lacking });
            }
        }
        // The rotation first (it leaves the target out): a rotation that
        // cannot happen fails the removal before anything is revoked or
        // deleted, instead of leaving a removed key and no new epoch.
        let rotation = match rotate {
            true => {
                let ro = RotateOptions::default().drop_old_keys(opts.drop_old_keys);
                Some(self.rotate_excluding(&ro, &exclude).await?)
            }
            false => None,
        };
        // An admin held the authority's seed: retire it for one the
        // removed holder never sees (after the epoch, so the epoch record is
        // among what the old authority signed and the link pins). From the
        // link on, the target's file is no longer endorsed, so a crash
        // after it leaves the key powerless even before its revocation.
        let authority = match target.role == Some(cairn_crypto::Role::Admin) && can_sign {
            true => Some(self.rotate_authority(&exclude).await?),
            false => None,
        };
        // Recorded before anything is removed: no removal goes unjournaled.
        let op = journal::Operation::KeyRemove {
            key: target.object(),
        };
        let added = journal::counts([("authorities", u64::from(authority.is_some()))]);
        journal::record(self, op, added, journal::counts([("keys", 1)])).await?;
        // Signed by the new authority, if there is one.
        self.revoke(&target.id).await?;
        delete_quiet(self, &target.object()).await?;
        Ok(RemoveReport {
            key: target.object(),
            rotation,
            authority,
        })
    }
}
