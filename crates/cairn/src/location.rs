//! Repository locations: what a user writes to name a repository.
//!
//! | location                                   | backend |
//! |--------------------------------------------|---------|
//! | `s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]` | S3 (feature `s3`), retried with [`Retrying`](crate::backends::Retrying) |
//! | `PATH.toml`                                | an erasure layout file (feature `erasure`; schema: [`Layout`](crate::erasure::Layout)) |
//! | anything else                              | a local directory ([`LocalBackend`]) |
//!
//! Opening never creates anything: a missing repository directory is
//! [`Error::MissingDirectory`], and a missing child directory of an erasure
//! layout is a *lost child* — every call to it fails, the layout reads from
//! the other shards, and [`OpenedLocation::warnings`] names it so the caller
//! says so loudly. Only [`Location::create`] (for `init`) makes directories:
//! an unmounted `/mnt/disk-a` must never silently become an empty store on
//! the root file system.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use cairn_backends::{Backend, Instrumented, LocalBackend};

use crate::{Error, Result};

/// A parsed location, not yet opened.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on this machine.
    Local(PathBuf),
    /// An S3 bucket (and prefix): the location string as given.
    S3(String),
    /// An erasure layout file.
    Erasure(PathBuf),
}

/// Something the caller should tell the user about an opened location.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationWarning {
    /// A child directory of an erasure layout does not exist: it is treated
    /// as a lost backend (reads use the other shards; writes lack its shard).
    /// Recreate it empty and scrub with repair to refill it.
    MissingChild {
        /// The layout file.
        layout: PathBuf,
        /// The missing directory.
        path: PathBuf,
    },
    /// At `init` of a layout whose children carry regions: losing this
    /// region loses every object, because it holds more shards than the
    /// code has parity. `cairn layout plan` shows the whole tolerance.
    /// (Set `max_per_region` in the layout to refuse such layouts.)
    RegionNotSurvivable {
        /// The layout file.
        layout: PathBuf,
        /// What to change (names the region and its shard count).
        advice: String,
    },
}

impl fmt::Display for LocationWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocationWarning::MissingChild { layout, path } => write!(
                f,
                "erasure child directory {} (in {}) DOES NOT EXIST: treated as a LOST backend. \
                 Reads rebuild from the other shards, and new objects are stored without its \
                 shard (recorded as under-replicated). If its disk is not mounted, mount it; if \
                 it is lost, recreate the directory empty and scrub with repair.",
                path.display(),
                layout.display()
            ),
            LocationWarning::RegionNotSurvivable { layout, advice } => {
                write!(f, "layout {}: {advice}", layout.display())
            }
        }
    }
}

/// An opened location.
#[non_exhaustive]
pub struct OpenedLocation {
    /// The backend to build a repository on.
    pub backend: Arc<dyn Backend>,
    /// The erasure layer, when the location is a layout (for scrub, health).
    #[cfg(feature = "erasure")]
    pub erasure: Option<Arc<cairn_erasure::ErasureBackend>>,
    /// What the caller should tell the user (missing children…).
    pub warnings: Vec<LocationWarning>,
}

impl fmt::Debug for OpenedLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedLocation")
            .field("backend", &self.backend)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl FromStr for Location {
    type Err = Error;
    fn from_str(s: &str) -> Result<Location> {
        Location::parse(s)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) | Location::Erasure(p) => write!(f, "{}", p.display()),
            Location::S3(s) => f.write_str(s),
        }
    }
}

impl Location {
    /// Parses a location string (see the module docs).
    pub fn parse(s: &str) -> Result<Location> {
        if s.is_empty() {
            return Err(Error::InvalidLocation {
                location: s.into(),
                reason: "empty".into(),
            });
        }
        if s.starts_with("s3:") {
            return Ok(Location::S3(s.to_owned()));
        }
        if s.ends_with(".toml") {
            return Ok(Location::Erasure(PathBuf::from(s)));
        }
        Ok(Location::Local(PathBuf::from(s)))
    }

    /// Opens an existing location: nothing is created. Blocking I/O (it
    /// checks directories and reads layout files): call it before entering
    /// async code, or through a blocking pool.
    pub fn open(&self) -> Result<OpenedLocation> {
        self.opened(false)
    }

    /// Opens the location for a new repository, creating missing
    /// directories (the repository's, or every child's of a layout).
    pub fn create(&self) -> Result<OpenedLocation> {
        self.opened(true)
    }

    fn opened(&self, create: bool) -> Result<OpenedLocation> {
        match self {
            Location::Erasure(path) => open_erasure(path, create),
            other => Ok(OpenedLocation {
                backend: Arc::new(Instrumented::new(
                    open_simple(other, create, true, None)?,
                    "repository",
                )),
                #[cfg(feature = "erasure")]
                erasure: None,
                warnings: Vec::new(),
            }),
        }
    }
}

fn local(path: &Path, create: bool) -> Result<LocalBackend> {
    let r = match create {
        true => LocalBackend::create(path),
        false => LocalBackend::open(path),
    };
    r.map_err(|e| match e.is_not_found() {
        true => Error::MissingDirectory { path: path.into() },
        false => e.into(),
    })
}

/// A directory or S3 backend; `retry` wraps S3 in [`Retrying`]
/// (children of a layout are retried by the erasure layer instead);
/// `class` is the storage class of S3 uploads (a layout child's).
fn open_simple(
    location: &Location,
    create: bool,
    retry: bool,
    class: Option<String>,
) -> Result<Arc<dyn Backend>> {
    match location {
        Location::Local(path) => Ok(Arc::new(local(path, create)?)),
        Location::S3(url) => open_s3(url, retry, class),
        Location::Erasure(path) => Err(Error::InvalidLocation {
            location: path.display().to_string(),
            reason: "an erasure layout cannot be a child of another layout".into(),
        }),
    }
}

#[cfg(feature = "s3")]
fn open_s3(url: &str, retry: bool, class: Option<String>) -> Result<Arc<dyn Backend>> {
    use cairn_backends::{ObjectStoreBackend, RetryPolicy, Retrying, S3Config};
    let mut config = S3Config::from_location(url)?;
    if let Some(class) = class {
        config = config.with_storage_class(class);
    }
    let backend = ObjectStoreBackend::s3(config)?;
    Ok(match retry {
        true => Arc::new(Retrying::new(backend, RetryPolicy::new())),
        false => Arc::new(backend),
    })
}

#[cfg(not(feature = "s3"))]
fn open_s3(url: &str, _retry: bool, _class: Option<String>) -> Result<Arc<dyn Backend>> {
    Err(Error::FeatureDisabled {
        location: url.into(),
        feature: "s3",
    })
}

#[cfg(not(feature = "erasure"))]
fn open_erasure(path: &Path, _create: bool) -> Result<OpenedLocation> {
    Err(Error::FeatureDisabled {
        location: path.display().to_string(),
        feature: "erasure",
    })
}

#[cfg(feature = "erasure")]
fn open_erasure(path: &Path, create: bool) -> Result<OpenedLocation> {
    use cairn_erasure::{content_hash_verifier, Child, ErasureBackend};
    let layout = crate::layout_plan::read_layout(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut children = Vec::with_capacity(layout.backends.len());
    let mut warnings = Vec::new();
    for c in &layout.backends {
        let loc = match Location::parse(&c.location)? {
            Location::Local(p) if p.is_relative() => Location::Local(base.join(p)),
            other => other,
        };
        let class = match (&loc, &c.storage_class) {
            (Location::S3(_), _) => c.storage_class(),
            (_, Some(_)) => {
                return Err(Error::InvalidLocation {
                    location: c.location.clone(),
                    reason: format!(
                        "storage_class is set in layout {}, but only s3: children have one",
                        path.display()
                    ),
                })
            }
            // A tier naming an S3 class is only a label on a directory.
            _ => None,
        };
        let backend = match &loc {
            Location::Local(p) if !create && !p.is_dir() => {
                warnings.push(LocationWarning::MissingChild {
                    layout: path.into(),
                    path: p.clone(),
                });
                Arc::new(crate::missing::Missing { path: p.clone() }) as Arc<dyn Backend>
            }
            _ => open_simple(&loc, create, false, class)?,
        };
        let backend = Arc::new(Instrumented::new(backend, c.display_name()));
        children.push(Child::new(c.display_name(), backend).with_labels(c.labels()));
    }
    if create {
        // Checked when the layout is first used, when moving children is
        // still cheap; every open would repeat it to no purpose.
        let labels: Vec<_> = layout.backends.iter().map(|c| c.labels()).collect();
        let tolerance = cairn_durability::Tolerance::of(layout.erasure.parity, &labels);
        warnings.extend(
            tolerance
                .recommendations(labels.len())
                .into_iter()
                .map(|advice| LocationWarning::RegionNotSurvivable {
                    layout: path.into(),
                    advice,
                }),
        );
    }
    // Cairn's object names are content hashes: scrub may overwrite shards of
    // a forged or stale version, never the genuine one.
    let store = ErasureBackend::new(children, layout.config())?;
    let erasure = Arc::new(store.with_verifier(content_hash_verifier()));
    Ok(OpenedLocation {
        backend: erasure.clone(),
        erasure: Some(erasure),
        warnings,
    })
}
