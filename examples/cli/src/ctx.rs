//! What every command needs: the repository location, the password, output mode.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use cairn_backends::{AppendOnly, RateLimited, RateLimits};
use cairn_cas_core::{CacheOptions, OpenOptions, Repository};
use cairn_crypto::KdfParams;
use zeroize::Zeroizing;

use crate::location::{self, Opened};

/// The global options.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) repo: Option<String>,
    pub(crate) password_file: Option<PathBuf>,
    pub(crate) json: bool,
    pub(crate) quiet: bool,
    /// `--limit-upload`, `--limit-download`.
    pub(crate) limits: RateLimits,
    /// `--append-only`: never delete or overwrite (backup hosts).
    pub(crate) append_only: bool,
    /// `--tenant T`: work inside tenant T of the repository.
    pub(crate) tenant: Option<String>,
    /// The metadata cache (`--no-cache`: none; `--cache-dir`).
    pub(crate) cache: Option<CacheOptions>,
}

/// The metadata cache the flags ask for: on by default, in the platform's
/// cache directory unless `--cache-dir` names one.
pub(crate) fn cache(no_cache: bool, dir: Option<PathBuf>) -> Option<CacheOptions> {
    match (no_cache, dir) {
        (true, _) => None,
        (false, None) => Some(CacheOptions::default()),
        (false, Some(d)) => Some(CacheOptions::default().dir(d)),
    }
}

/// The rate limits of `--limit-upload`/`--limit-download` (KiB/s, 0: none).
pub(crate) fn limits(upload_kib: u64, download_kib: u64) -> RateLimits {
    RateLimits::new()
        .with_upload(upload_kib.saturating_mul(1024))
        .with_download(download_kib.saturating_mul(1024))
}

/// A secret read from the environment or a file; wiped on drop.
pub(crate) struct Password(Zeroizing<Vec<u8>>);

impl Password {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Reads a password: the first line of `file` if given, else the variable
/// `env`. Errors name both sources when neither is there.
pub(crate) fn read_password(file: Option<&PathBuf>, env: &str, flag: &str) -> Result<Password> {
    if let Some(path) = file {
        // The whole file is secret too (the password is its first line).
        let text = Zeroizing::new(
            std::fs::read(path)
                .with_context(|| format!("reading password file {}", path.display()))?,
        );
        let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            bail!("password file {} is empty", path.display());
        }
        return Ok(Password(Zeroizing::new(line.to_vec())));
    }
    match std::env::var_os(env) {
        Some(v) if !v.is_empty() => {
            use std::os::unix::ffi::OsStringExt;
            Ok(Password(Zeroizing::new(v.into_vec())))
        }
        _ => Err(anyhow!("no password given: set {env} or pass {flag} FILE")),
    }
}

/// The KDF for new key files.
///
/// Only a binary built with the `insecure-test-kdf` feature (which the
/// package's own tests enable, see Cargo.toml) reads
/// `CAIRN_INSECURE_TEST_KDF=1`, selecting a deliberately weak KDF so the
/// tests run fast: a repository made with it falls to a password guesser in
/// no time. Release and installed binaries ignore the variable.
pub(crate) fn new_key_kdf() -> KdfParams {
    if cfg!(feature = "insecure-test-kdf")
        && std::env::var("CAIRN_INSECURE_TEST_KDF").is_ok_and(|v| v == "1")
    {
        KdfParams::insecure_for_tests()
    } else {
        KdfParams::default()
    }
}

impl Ctx {
    pub(crate) fn location(&self) -> Result<&str> {
        self.repo
            .as_deref()
            .ok_or_else(|| anyhow!("no repository given: pass -r/--repo or set CAIRN_REPOSITORY"))
    }

    pub(crate) fn password(&self) -> Result<Password> {
        read_password(
            self.password_file.as_ref(),
            "CAIRN_PASSWORD",
            "--password-file",
        )
    }

    pub(crate) fn backend(&self) -> Result<Opened> {
        let loc = self.location()?;
        Ok(self.limited(location::open(loc, false)?))
    }

    /// The repository's traffic held to the rate limits. For an erasure
    /// layout they apply to the objects, before they become shards (so
    /// the children together move (k + m) / k times as much); a scrub,
    /// which works on the shards, is not limited.
    fn limited(&self, mut opened: Opened) -> Opened {
        if self.append_only {
            let inner = Arc::clone(&opened.backend);
            opened.backend = Arc::new(AppendOnly::new(inner));
        }
        if !self.limits.is_unlimited() {
            let inner = Arc::clone(&opened.backend);
            opened.backend = Arc::new(RateLimited::new(inner, self.limits.clone()));
        }
        opened
    }

    /// Opens the repository (password, keys, index); with `--tenant T`,
    /// tenant T's view of it (its namespace, its keys, its index).
    pub(crate) async fn open(&self) -> Result<(Repository, Opened)> {
        let (repo, opened) = self.open_whole().await?;
        match &self.tenant {
            None => Ok((repo, opened)),
            Some(t) => {
                let view = repo.open_tenant(t).await.with_context(|| {
                    format!("opening tenant {t:?} (an admin creates it with `cairn tenant create`)")
                })?;
                Ok((view, opened))
            }
        }
    }

    /// Opens the whole repository, whatever `--tenant` says (tenant
    /// management and shredding).
    pub(crate) async fn open_whole(&self) -> Result<(Repository, Opened)> {
        self.open_at(self.location()?, &self.password()?).await
    }

    /// Opens the repository without the metadata cache, for the commands
    /// that judge the stored objects themselves (`check`, `repair`): a
    /// cached copy of a tree pack lost from the storage must not make it
    /// look intact.
    pub(crate) async fn open_uncached(&self) -> Result<(Repository, Opened)> {
        let ctx = Ctx {
            cache: None,
            repo: self.repo.clone(),
            password_file: self.password_file.clone(),
            limits: self.limits.clone(),
            tenant: self.tenant.clone(),
            ..*self
        };
        ctx.open().await
    }

    /// Opens the repository at `loc` with `password` (held to the rate
    /// limits), printing what opening found on stderr.
    pub(crate) async fn open_at(
        &self,
        loc: &str,
        password: &Password,
    ) -> Result<(Repository, Opened)> {
        if let location::Location::Local(p) = location::Location::parse(loc)? {
            // Say plainly it is not there (opening creates nothing).
            if !p.exists() {
                bail!(
                    "repository {} does not exist (create it with `cairn init`)",
                    p.display()
                );
            }
        }
        let opened = self.limited(location::open(loc, false)?);
        let opts = OpenOptions::default().cache(self.cache.clone());
        let repo = Repository::open_with(Arc::clone(&opened.backend), password.bytes(), opts)
            .await
            .with_context(|| format!("opening repository {loc}"))?;
        // On stderr in every mode: stdout may be JSON for a script, and a
        // damaged object must be seen even with --quiet.
        for w in repo.open_warnings() {
            eprintln!("warning: {loc}: {w}");
        }
        Ok((repo, opened))
    }

    /// Whether to print human text (not JSON, not quiet).
    pub(crate) fn chatty(&self) -> bool {
        !self.json && !self.quiet
    }
}
