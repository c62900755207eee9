//! Repository locations: what `-r/--repo` (or `CAIRN_REPOSITORY`) names.
//!
//! | location                               | backend |
//! |----------------------------------------|---------|
//! | `s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]` | S3 (feature `s3`), wrapped in [`Retrying`] |
//! | `PATH.toml`                            | an erasure layout file (see below) |
//! | anything else                          | a local directory ([`LocalBackend`]) |
//!
//! An erasure layout file stripes every object over `data + parity` child
//! locations (local paths or S3; relative paths are taken from the file's
//! directory):
//!
//! ```toml
//! [erasure]
//! data = 4
//! parity = 2
//! # write_quorum = 5        # shards durable before a write is acknowledged (default data+1)
//! # max_per_region = 2      # refuse layouts where a region would hold more shards
//! # timeout_secs = 60       # per call to one backend
//! # hedge_after_ms = 500    # a slow read also asks the next backend after this
//!
//! [[backends]]
//! location = "/mnt/disk1/cairn"   # or "s3:http://host:8333/bucket/prefix"
//! region = "eu-1"                 # optional labels, shown by `cairn health`
//! zone = "a"
//! tier = "hdd"
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use cairn_backends::{Backend, LocalBackend};
use cairn_erasure::{content_hash_verifier, Child, ErasureBackend, ErasureConfig, Labels};
use serde::Deserialize;

/// A parsed location, not yet opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A directory on this machine.
    Local(PathBuf),
    /// An S3 bucket (and prefix), the location string as given.
    S3(String),
    /// An erasure layout file.
    Erasure(PathBuf),
}

impl Location {
    pub(crate) fn parse(s: &str) -> Result<Location> {
        if s.is_empty() {
            bail!("empty repository location");
        }
        if s.starts_with("s3:") {
            return Ok(Location::S3(s.to_owned()));
        }
        if s.ends_with(".toml") {
            return Ok(Location::Erasure(PathBuf::from(s)));
        }
        Ok(Location::Local(PathBuf::from(s)))
    }
}

/// An opened location: the backend, and the erasure layer when there is one
/// (for `scrub` and `health`).
pub(crate) struct Opened {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) erasure: Option<Arc<ErasureBackend>>,
}

/// Opens the location `s`. With `create` (for `init`), missing local
/// directories are created; otherwise a missing child directory of an
/// erasure layout is a lost child (see [`crate::missing`]).
pub(crate) fn open(s: &str, create: bool) -> Result<Opened> {
    match Location::parse(s)? {
        Location::Erasure(path) => {
            let erasure = Arc::new(open_layout(&path, create)?);
            Ok(Opened {
                backend: erasure.clone(),
                erasure: Some(erasure),
            })
        }
        other => Ok(Opened {
            backend: open_simple(&other, true)?,
            erasure: None,
        }),
    }
}

fn open_simple(location: &Location, retry: bool) -> Result<Arc<dyn Backend>> {
    match location {
        Location::Local(path) => {
            let b = LocalBackend::new(path)
                .with_context(|| format!("opening local repository {}", path.display()))?;
            Ok(Arc::new(b))
        }
        Location::S3(url) => open_s3(url, retry),
        Location::Erasure(path) => bail!(
            "{}: an erasure layout cannot be a child of another layout",
            path.display()
        ),
    }
}

#[cfg(feature = "s3")]
fn open_s3(url: &str, retry: bool) -> Result<Arc<dyn Backend>> {
    use cairn_backends::{ObjectStoreBackend, RetryPolicy, Retrying, S3Config};
    let config = S3Config::from_location(url).with_context(|| format!("parsing {url}"))?;
    let backend = ObjectStoreBackend::s3(config).with_context(|| format!("opening {url}"))?;
    // Children of an erasure layout are retried by the erasure layer itself.
    if retry {
        Ok(Arc::new(Retrying::new(backend, RetryPolicy::new())))
    } else {
        Ok(Arc::new(backend))
    }
}

#[cfg(not(feature = "s3"))]
fn open_s3(url: &str, _retry: bool) -> Result<Arc<dyn Backend>> {
    bail!("{url}: this build of cairn has no S3 support (build with the `s3` feature)")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layout {
    erasure: ErasureSection,
    backends: Vec<ChildSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErasureSection {
    data: usize,
    parity: usize,
    /// Shards that must be durable before a write is acknowledged (default data+1).
    write_quorum: Option<usize>,
    /// At most this many shards of an object in one region.
    max_per_region: Option<usize>,
    /// Seconds one call to one backend may take (default 60).
    timeout_secs: Option<u64>,
    /// Milliseconds before a slow read also asks the next backend (default off).
    hedge_after_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChildSection {
    location: String,
    name: Option<String>,
    region: Option<String>,
    zone: Option<String>,
    tier: Option<String>,
}

fn open_layout(path: &Path, create: bool) -> Result<ErasureBackend> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading erasure layout {}", path.display()))?;
    let layout: Layout = toml::from_str(&text)
        .with_context(|| format!("parsing erasure layout {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut children = Vec::with_capacity(layout.backends.len());
    for c in layout.backends {
        let mut loc = Location::parse(&c.location)?;
        if let Location::Local(p) = &loc {
            if p.is_relative() {
                loc = Location::Local(base.join(p));
            }
        }
        let backend = match &loc {
            Location::Local(p) if !create && !p.is_dir() => {
                eprintln!(
                    "WARNING: erasure child {} of {}: directory {} DOES NOT EXIST.\n  \
                     Treated as a lost backend: reads rebuild from the other shards, and new \
                     objects are stored without its shard (recorded as under-replicated).\n  \
                     If its disk is not mounted, mount it. If it is lost, recreate the directory \
                     empty and run `cairn scrub --repair`.",
                    children.len(),
                    path.display(),
                    p.display()
                );
                Arc::new(crate::missing::Missing { path: p.clone() }) as Arc<dyn Backend>
            }
            _ => open_simple(&loc, false)
                .with_context(|| format!("in erasure layout {}", path.display()))?,
        };
        let mut labels = Labels::new();
        if let Some(r) = c.region {
            labels = labels.region(r);
        }
        if let Some(z) = c.zone {
            labels = labels.zone(z);
        }
        if let Some(t) = c.tier {
            labels = labels.tier(t);
        }
        let name = c.name.unwrap_or(c.location);
        children.push(Child::new(name, backend).with_labels(labels));
    }
    let e = &layout.erasure;
    let mut config = ErasureConfig::new(e.data, e.parity);
    if let Some(q) = e.write_quorum {
        config = config.write_quorum(q);
    }
    if let Some(m) = e.max_per_region {
        config = config.max_shards_per_region(m);
    }
    if let Some(t) = e.timeout_secs {
        config = config.op_timeout(Some(std::time::Duration::from_secs(t)));
    }
    if let Some(h) = e.hedge_after_ms {
        config = config.hedge_after(Some(std::time::Duration::from_millis(h)));
    }
    // Cairn's object names are content hashes: scrub may then overwrite
    // shards of a forged or stale version, never the genuine one.
    let store = ErasureBackend::new(children, config)
        .with_context(|| format!("erasure layout {}", path.display()))?;
    Ok(store.with_verifier(content_hash_verifier()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds() {
        assert_eq!(
            Location::parse("/srv/repo").unwrap(),
            Location::Local("/srv/repo".into())
        );
        assert_eq!(
            Location::parse("s3:http://h:1/b/p").unwrap(),
            Location::S3("s3:http://h:1/b/p".into())
        );
        assert_eq!(
            Location::parse("layout.toml").unwrap(),
            Location::Erasure("layout.toml".into())
        );
        assert!(Location::parse("").is_err());
    }

    #[test]
    fn layout_with_relative_children_opens_and_rejects_bad_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("[erasure]\ndata = 2\nparity = 1\n");
        for i in 0..3 {
            text.push_str(&format!(
                "[[backends]]\nlocation = \"d{i}\"\nregion = \"r{i}\"\n"
            ));
        }
        let good = dir.path().join("good.toml");
        std::fs::write(&good, &text).unwrap();
        let opened = open(good.to_str().unwrap(), true).unwrap();
        assert!(opened.erasure.is_some());
        assert!(dir.path().join("d2").is_dir());

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, text.replace("parity = 1", "parity = 2")).unwrap();
        let err = open(bad.to_str().unwrap(), true).err().unwrap();
        assert!(format!("{err:#}").contains("bad.toml"), "{err:#}");
    }

    #[test]
    fn huge_timeouts_in_a_layout_are_refused_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        for (field, value) in [
            ("timeout_secs", i64::MAX as u64),
            ("hedge_after_ms", i64::MAX as u64),
            ("timeout_secs", 40 * 24 * 3600),
        ] {
            let mut text = format!("[erasure]\ndata = 2\nparity = 1\n{field} = {value}\n");
            for i in 0..3 {
                text.push_str(&format!("[[backends]]\nlocation = \"d{i}\"\n"));
            }
            let file = dir.path().join("huge.toml");
            std::fs::write(&file, text).unwrap();
            let err = open(file.to_str().unwrap(), true).err().unwrap();
            let msg = format!("{err:#}");
            assert!(
                msg.contains("huge.toml") && msg.contains("longer than"),
                "{msg}"
            );
        }
    }
}
