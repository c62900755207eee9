//! Argon2id parameters and password-based key derivation.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Argon2id cost parameters for deriving a key-file wrapping key from a password.
///
/// Built with [`KdfParams::new`] (validated), [`Default`] (interactive strength) or
/// [`KdfParams::insecure_for_tests`]. The fields are public to read; the struct is
/// `#[non_exhaustive]` so it can only be built through the validating constructor.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB (Argon2 `m`).
    pub m_cost_kib: u32,
    /// Passes over the memory (Argon2 `t`).
    pub t_cost: u32,
    /// Lanes (Argon2 `p`). The argon2 crate computes lanes one after another, so
    /// more lanes cost time here without adding parallel speed.
    pub p_cost: u32,
}

impl KdfParams {
    /// Largest accepted memory cost: 4 GiB. Key files are read from storage an
    /// attacker may control; without a bound a forged file could make `open` try to
    /// allocate up to 4 TiB. Callers opening untrusted key files on small machines can
    /// inspect [`KeyFile::params`](crate::KeyFile::params) first.
    pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
    /// Largest accepted number of passes (bounds CPU time a forged key file can cost).
    pub const MAX_T_COST: u32 = 64;
    /// Largest accepted number of lanes.
    pub const MAX_P_COST: u32 = 64;

    /// Validated parameters.
    ///
    /// # Errors
    /// [`Error::InvalidKdfParams`] unless `1 ≤ t_cost ≤ 64`, `1 ≤ p_cost ≤ 64` and
    /// `8 × p_cost ≤ m_cost_kib ≤ 4 GiB` (the lower bound is Argon2's own minimum).
    /// No memory is allocated here or by [`KeyFile::from_bytes`](crate::KeyFile::from_bytes),
    /// which applies the same checks.
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self> {
        let bad = |reason| Error::InvalidKdfParams {
            m_cost_kib,
            t_cost,
            p_cost,
            reason,
        };
        if t_cost == 0 {
            return Err(bad("t_cost must be at least 1"));
        }
        if t_cost > Self::MAX_T_COST {
            return Err(bad("t_cost above 64"));
        }
        if p_cost == 0 {
            return Err(bad("p_cost must be at least 1"));
        }
        if p_cost > Self::MAX_P_COST {
            return Err(bad("p_cost above 64"));
        }
        if m_cost_kib > Self::MAX_M_COST_KIB {
            return Err(bad("m_cost_kib above 4 GiB"));
        }
        if u64::from(m_cost_kib) < 8 * u64::from(p_cost) {
            return Err(bad("m_cost_kib below 8 KiB per lane"));
        }
        Ok(Self {
            m_cost_kib,
            t_cost,
            p_cost,
        })
    }

    /// Tiny parameters (8 KiB, 1 pass, 1 lane) that make tests fast. They give a
    /// password almost no protection: for tests and examples only.
    pub fn insecure_for_tests() -> Self {
        Self {
            m_cost_kib: 8,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// Argon2id(password, salt) → 32-byte key, with these parameters.
    ///
    /// The memory is allocated with `try_reserve`, so an allocation failure is an
    /// error rather than an abort, and it is wiped afterwards.
    pub(crate) fn derive_key(&self, password: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let kdf_err = |e: argon2::Error| Error::Kdf {
            message: e.to_string(),
        };
        let params =
            Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32)).map_err(kdf_err)?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let count = params.block_count();
        let mut blocks: Vec<Block> = Vec::new();
        blocks.try_reserve_exact(count).map_err(|_| Error::Kdf {
            message: format!("cannot allocate {} KiB for Argon2", count),
        })?;
        blocks.resize(count, Block::default());
        let mut out = Zeroizing::new([0u8; 32]);
        let result =
            argon.hash_password_into_with_memory(password, salt, &mut out[..], &mut blocks);
        blocks.iter_mut().for_each(Zeroize::zeroize);
        result.map_err(kdf_err)?;
        Ok(out)
    }
}

/// Interactive strength: Argon2id, 64 MiB, 3 passes, 1 lane — RFC 9106 §4's second
/// recommended option (64 MiB, t = 3) with one lane, because the argon2 crate runs
/// lanes sequentially. Opening a key file took 0.36 s (criterion mean, range
/// 0.33–0.39 s) on the 2-core development machine under heavy load from parallel
/// builds (`benches/crypto.rs`, `argon2/default_open`); expect less on an idle machine.
impl Default for KdfParams {
    fn default() -> Self {
        Self {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}
