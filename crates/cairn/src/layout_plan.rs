//! Planning an erasure layout's durability and cost (feature `erasure`):
//! what `cairn layout plan` prints. The model is
//! [`cairn_durability`]; this module turns a layout file, or a
//! code and a list of regions, into its input.

use std::path::Path;
use std::time::Duration;

use cairn_durability::{plan, DurabilityModel, HealTiming, LayoutPlan, Prices};
use cairn_erasure::{Labels, Layout};

use crate::{Error, Result};

/// The layout to plan.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum LayoutToPlan<'a> {
    /// A layout file (`*.toml`, [`Layout`]'s schema): its code and labels.
    File(&'a Path),
    /// A `data + parity` code over children with these labels.
    Code {
        /// Data shards.
        data: usize,
        /// Parity shards.
        parity: usize,
        /// One entry per child (`data + parity` in all).
        children: Vec<Labels>,
    },
}

/// How the layout's parts fail and heal, and what it stores.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct LayoutPlanOptions {
    /// Every child's annual failure rate. Default 0.02 (2%, about what
    /// large disk fleets publish).
    pub afr: f64,
    /// Annual failure rate of a whole region. Default 0.
    pub region_afr: f64,
    /// Annual failure rate of a whole zone. Default 0.
    pub zone_afr: f64,
    /// Time to heal a failed child; `None` derives it from
    /// `heal_interval`, the bytes per child and `rebuild_bytes_per_sec`
    /// ([`HealTiming::from_heal_path`]). Default `None`.
    pub heal: Option<Duration>,
    /// How often heal / `scrub --repair` runs. Default 24 h.
    pub heal_interval: Duration,
    /// Bytes per second a repair rewrites one child at. Default 100 MB/s.
    pub rebuild_bytes_per_sec: f64,
    /// Object bytes stored (for rebuild time, bytes lost and cost).
    /// Default 1 TB.
    pub stored_bytes: u64,
    /// Prices for the cost model. Default [`Prices::default`].
    pub prices: Prices,
}

impl Default for LayoutPlanOptions {
    fn default() -> Self {
        LayoutPlanOptions {
            afr: 0.02,
            region_afr: 0.0,
            zone_afr: 0.0,
            heal: None,
            heal_interval: Duration::from_secs(24 * 3600),
            rebuild_bytes_per_sec: 1e8,
            stored_bytes: 1_000_000_000_000,
            prices: Prices::default(),
        }
    }
}

impl LayoutPlanOptions {
    /// Sets [`afr`](Self::afr).
    pub fn afr(mut self, afr: f64) -> Self {
        self.afr = afr;
        self
    }
    /// Sets [`region_afr`](Self::region_afr).
    pub fn region_afr(mut self, afr: f64) -> Self {
        self.region_afr = afr;
        self
    }
    /// Sets [`zone_afr`](Self::zone_afr).
    pub fn zone_afr(mut self, afr: f64) -> Self {
        self.zone_afr = afr;
        self
    }
    /// Sets [`heal`](Self::heal).
    pub fn heal(mut self, heal: Option<Duration>) -> Self {
        self.heal = heal;
        self
    }
    /// Sets [`heal_interval`](Self::heal_interval).
    pub fn heal_interval(mut self, interval: Duration) -> Self {
        self.heal_interval = interval;
        self
    }
    /// Sets [`rebuild_bytes_per_sec`](Self::rebuild_bytes_per_sec).
    pub fn rebuild_bytes_per_sec(mut self, rate: f64) -> Self {
        self.rebuild_bytes_per_sec = rate;
        self
    }
    /// Sets [`stored_bytes`](Self::stored_bytes).
    pub fn stored_bytes(mut self, bytes: u64) -> Self {
        self.stored_bytes = bytes;
        self
    }
    /// Sets [`prices`](Self::prices).
    pub fn prices(mut self, prices: Prices) -> Self {
        self.prices = prices;
        self
    }
}

/// The durability, tolerance and cost plan of a layout.
/// [`Error::Durability`] (with [`cairn_durability::Error::InvalidModel`],
/// or the erasure layer's `InvalidParameters`) for impossible inputs, [`Error::LayoutFile`] for
/// an unreadable file.
pub fn plan_layout(layout: LayoutToPlan<'_>, opts: &LayoutPlanOptions) -> Result<LayoutPlan> {
    let (data, parity, children) = match layout {
        LayoutToPlan::File(path) => {
            let l = read_layout(path)?;
            let labels = l.backends.iter().map(|c| c.labels()).collect();
            (l.erasure.data, l.erasure.parity, labels)
        }
        LayoutToPlan::Code {
            data,
            parity,
            children,
        } => (data, parity, children),
    };
    let heal = match opts.heal {
        Some(h) => HealTiming::new(Duration::ZERO, h),
        None => HealTiming::from_heal_path(
            opts.heal_interval,
            opts.stored_bytes / data.max(1) as u64,
            opts.rebuild_bytes_per_sec,
        )?,
    };
    let model = DurabilityModel::new(data, parity, children, opts.afr, heal)?
        .region_afr(opts.region_afr)?
        .zone_afr(opts.zone_afr)?
        .stored_bytes(opts.stored_bytes);
    Ok(plan(&model, &opts.prices))
}

/// Reads and parses a layout file.
pub(crate) fn read_layout(path: &Path) -> Result<Layout> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::LayoutFile {
        path: path.into(),
        source,
    })?;
    Ok(Layout::from_toml(&path.display().to_string(), &text)?)
}

/// Labels for `n` children over `regions`: one per child when as many
/// are given, else dealt round-robin (`a,b,c` over 6 children: `a,b,c,a,b,c`,
/// two each). No regions: unlabelled children.
pub fn round_robin_regions(n: usize, regions: &[String]) -> Vec<Labels> {
    (0..n)
        .map(|i| match regions.len() {
            0 => Labels::new(),
            r => Labels::new().region(&regions[i % r]),
        })
        .collect()
}
