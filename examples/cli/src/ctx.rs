//! What every command needs: the repository location, the password, output mode.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use cairn::{CacheOptions, KdfParams, Location, OpenOptions, RateLimits, Repository};
use zeroize::Zeroizing;

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

    /// Opens the repository (password, keys, index); with `--tenant T`,
    /// tenant T's view of it (its namespace, its keys, its index).
    pub(crate) async fn open(&self) -> Result<Repository> {
        let repo = self.open_whole().await?;
        match &self.tenant {
            None => Ok(repo),
            Some(t) => repo.open_tenant(t).await.flat().with_context(|| {
                format!("opening tenant {t:?} (an admin creates it with `cairn tenant create`)")
            }),
        }
    }

    /// Opens the whole repository, whatever `--tenant` says (tenant
    /// management and shredding).
    pub(crate) async fn open_whole(&self) -> Result<Repository> {
        self.open_at(self.location()?, &self.password()?).await
    }

    /// Opens the repository without the metadata cache, for the commands
    /// that judge the stored objects themselves (`check`, `repair`): a
    /// cached copy of a tree pack lost from the storage must not make it
    /// look intact.
    pub(crate) async fn open_uncached(&self) -> Result<Repository> {
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

    /// Opens the repository at `loc` with `password`, held to the rate
    /// limits (for an erasure layout they apply to the objects, before
    /// they become shards), printing what opening found on stderr.
    pub(crate) async fn open_at(&self, loc: &str, password: &Password) -> Result<Repository> {
        let location = Location::parse(loc).flat()?;
        if let Location::Local(p) = &location {
            // Say plainly it is not there (opening creates nothing).
            if !p.exists() {
                bail!(
                    "repository {} does not exist (create it with `cairn init`)",
                    p.display()
                );
            }
        }
        let at = crate::location::open(&location, loc, false)?;
        let opts = OpenOptions::default()
            .cache(self.cache.clone())
            .rate_limits(self.limits.clone())
            .append_only(self.append_only);
        let repo = Repository::open_in(at, password.bytes(), opts)
            .await
            .flat()
            .with_context(|| format!("opening repository {loc}"))?;
        // On stderr in every mode: stdout may be JSON for a script, and a
        // damaged object must be seen even with --quiet.
        for w in repo.open_warnings() {
            eprintln!("warning: {loc}: {w}");
        }
        Ok(repo)
    }

    /// Whether to print human text (not JSON, not quiet).
    pub(crate) fn chatty(&self) -> bool {
        !self.json && !self.quiet
    }
}

/// Facade errors as `anyhow` errors without their message twice (see
/// [`cairn::Error::into_layer`]).
pub(crate) trait Flat<T> {
    /// The result with the layer's error.
    fn flat(self) -> Result<T>;
}

impl<T> Flat<T> for std::result::Result<T, cairn::Error> {
    fn flat(self) -> Result<T> {
        self.map_err(|e| anyhow::Error::from_boxed(e.into_layer()))
    }
}
