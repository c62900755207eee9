//! The erasure layout file: which child locations an object is striped
//! over, and how. The schema of the TOML file the CLI's `-r layout.toml`
//! names (documented in the README); the facade crate `cairn` resolves
//! each child's `location` string to a backend and builds the
//! [`ErasureBackend`](crate::ErasureBackend).
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
//! name = "disk1"                  # optional: shown by health (default: the location)
//! region = "eu-1"                 # optional labels, used for placement and shown by health
//! zone = "a"
//! tier = "hdd"                    # "cold", "archive", "GLACIER", "GLACIER_IR", "DEEP_ARCHIVE":
//!                                 # read only when the hot children cannot supply k shards
//! # storage_class = "STANDARD_IA"  # s3: children only: the class every shard is written
//!                                 # with (default: the tier, when it names an S3 class)
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ErasureConfig, Error, Labels, Result};

/// A parsed layout file (see the module docs for the schema).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// The code and its knobs.
    pub erasure: LayoutCode,
    /// One entry per shard: `data + parity` in all.
    pub backends: Vec<LayoutChild>,
}

/// The `[erasure]` table.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutCode {
    /// Data shards `k`.
    pub data: usize,
    /// Parity shards `m`.
    pub parity: usize,
    /// Shards that must be durable before a write is acknowledged (default `data + 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_quorum: Option<usize>,
    /// At most this many shards of an object in one region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_region: Option<usize>,
    /// Seconds one call to one backend may take (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Milliseconds before a slow read also asks the next backend (default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hedge_after_ms: Option<u64>,
}

/// One `[[backends]]` entry.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutChild {
    /// Where the shards go: a directory (relative paths are taken from the
    /// layout file's directory) or an `s3:` location.
    pub location: String,
    /// Display name (default: the location).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Region label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Zone label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Tier label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The S3 storage class shards are written with (`s3:` children
    /// only); see [`LayoutChild::storage_class`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// The storage classes of S3 (and of the S3-compatible stores that know
/// classes) that a `tier` label may name to set the class of uploads.
pub const S3_STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "GLACIER_IR",
    "DEEP_ARCHIVE",
];

impl Layout {
    /// Parses a layout file's text; `origin` (the file's path) names it in
    /// errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Layout> {
        toml::from_str(text).map_err(|e| Error::InvalidLayout {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })
    }

    /// The layout as TOML.
    pub fn to_toml(&self) -> String {
        // Serialising plain strings and integers cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The [`ErasureConfig`] this layout asks for (children are the
    /// caller's to open).
    pub fn config(&self) -> ErasureConfig {
        let e = &self.erasure;
        let mut config = ErasureConfig::new(e.data, e.parity);
        if let Some(q) = e.write_quorum {
            config = config.write_quorum(q);
        }
        if let Some(m) = e.max_per_region {
            config = config.max_shards_per_region(m);
        }
        if let Some(t) = e.timeout_secs {
            config = config.op_timeout(Some(Duration::from_secs(t)));
        }
        if let Some(h) = e.hedge_after_ms {
            config = config.hedge_after(Some(Duration::from_millis(h)));
        }
        config
    }
}

impl LayoutChild {
    /// A child at `location`, without labels.
    pub fn new(location: impl Into<String>) -> Self {
        LayoutChild {
            location: location.into(),
            name: None,
            region: None,
            zone: None,
            tier: None,
            storage_class: None,
        }
    }

    /// The storage class this child's shards are written with when it is
    /// an S3 location: `storage_class` if set, else the `tier` when it
    /// names one of [`S3_STORAGE_CLASSES`] (in any case; `cold` and
    /// `archive` are labels, not classes), upper-cased. `None`: the
    /// bucket's default class.
    pub fn storage_class(&self) -> Option<String> {
        if let Some(c) = &self.storage_class {
            return Some(c.clone());
        }
        let tier = self.tier.as_deref()?;
        S3_STORAGE_CLASSES
            .iter()
            .find(|c| c.eq_ignore_ascii_case(tier))
            .map(|c| (*c).to_owned())
    }

    /// The display name: `name`, or else the location.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.location)
    }

    /// The child's labels.
    pub fn labels(&self) -> Labels {
        let mut labels = Labels::new();
        if let Some(r) = &self.region {
            labels = labels.region(r);
        }
        if let Some(z) = &self.zone {
            labels = labels.zone(z);
        }
        if let Some(t) = &self.tier {
            labels = labels.tier(t);
        }
        labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_schema_and_round_trips() {
        let text = "[erasure]\ndata = 4\nparity = 2\nwrite_quorum = 5\ntimeout_secs = 9\n\
                    [[backends]]\nlocation = \"/mnt/a\"\nregion = \"eu-1\"\n\
                    [[backends]]\nlocation = \"s3:http://h:1/b/p\"\nname = \"b\"\n";
        let layout = Layout::from_toml("l.toml", text).unwrap();
        assert_eq!(layout.erasure.data, 4);
        assert_eq!(layout.erasure.write_quorum, Some(5));
        assert_eq!(layout.backends[0].labels().region.as_deref(), Some("eu-1"));
        assert_eq!(layout.backends[1].display_name(), "b");
        assert_eq!(layout.config().quorum(), 5);
        let again = Layout::from_toml("again", &layout.to_toml()).unwrap();
        assert_eq!(again, layout);
    }

    #[test]
    fn a_tier_naming_an_s3_class_sets_it_and_an_explicit_class_wins() {
        let child = |tier: Option<&str>, class: Option<&str>| {
            let mut c = LayoutChild::new("s3:http://h:1/b");
            c.tier = tier.map(str::to_owned);
            c.storage_class = class.map(str::to_owned);
            c.storage_class()
        };
        assert_eq!(child(Some("glacier"), None).as_deref(), Some("GLACIER"));
        assert_eq!(
            child(Some("DEEP_ARCHIVE"), None).as_deref(),
            Some("DEEP_ARCHIVE")
        );
        assert_eq!(child(Some("cold"), None), None);
        assert_eq!(child(Some("hdd"), None), None);
        assert_eq!(child(None, None), None);
        let both = child(Some("cold"), Some("STANDARD_IA"));
        assert_eq!(both.as_deref(), Some("STANDARD_IA"));
        let text =
            "[erasure]\ndata = 1\nparity = 1\n[[backends]]\nlocation = \"s3:http://h:1/b\"\n\
                    tier = \"cold\"\nstorage_class = \"GLACIER_IR\"\n";
        let layout = Layout::from_toml("l.toml", text).unwrap();
        assert_eq!(
            layout.backends[0].storage_class().as_deref(),
            Some("GLACIER_IR")
        );
        assert!(layout.backends[0].labels().is_cold());
    }

    #[test]
    fn unknown_fields_and_bad_types_are_typed_errors_naming_the_file() {
        for text in [
            "[erasure]\ndata = 4\nparity = 2\nqorum = 5\nbackends = []\n",
            "[erasure]\ndata = \"four\"\nparity = 2\nbackends = []\n",
            "not toml at all [",
        ] {
            let err = Layout::from_toml("bad.toml", text).unwrap_err();
            assert!(matches!(err, Error::InvalidLayout { .. }), "{err}");
            assert!(err.to_string().contains("bad.toml"), "{err}");
        }
    }
}
