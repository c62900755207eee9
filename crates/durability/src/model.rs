//! The model's input: the layout, how often its parts fail, how long a
//! lost shard takes to come back.

use std::time::Duration;

use cairn_erasure::{Labels, Layout};

use crate::{Error, Result};

/// Seconds in the (Julian) year that annual rates are quoted over.
pub(crate) const YEAR_SECS: f64 = 365.25 * 24.0 * 3600.0;

/// How long a failed child stays failed: the time until the healing path
/// notices it, plus the time to rebuild its shards.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealTiming {
    /// From the failure until a heal or repairing scrub acts on it.
    pub detect: Duration,
    /// From then until every shard the child held is rewritten.
    pub rebuild: Duration,
}

impl HealTiming {
    /// A failed child is back `detect + rebuild` after it failed.
    pub fn new(detect: Duration, rebuild: Duration) -> Self {
        HealTiming { detect, rebuild }
    }

    /// Timing derived from the healing path's own parameters.
    ///
    /// - `heal_interval`: how often [`ErasureBackend::heal`](cairn_erasure::ErasureBackend::heal)
    ///   or `scrub --repair` runs. A failure lands uniformly within an
    ///   interval, so it waits half of one on average before it is seen
    ///   (`detect = heal_interval / 2`).
    /// - `bytes_per_child`: the bytes one child holds (stored bytes / k:
    ///   every object has one shard, `1/k` of its size, on every child).
    /// - `rebuild_bytes_per_sec`: the rate a repair rewrites one child's
    ///   shards. Repair reads `k` shards per shard rebuilt, so this is
    ///   usually the slowest of the children's read bandwidth / `k` and the
    ///   new child's write bandwidth; the codec itself reconstructs at about
    ///   1 GiB/s (see the crate's performance table), rarely the limit.
    pub fn from_heal_path(
        heal_interval: Duration,
        bytes_per_child: u64,
        rebuild_bytes_per_sec: f64,
    ) -> Result<Self> {
        if !(rebuild_bytes_per_sec.is_finite() && rebuild_bytes_per_sec > 0.0) {
            return Err(invalid(format!(
                "rebuild rate {rebuild_bytes_per_sec} bytes/s must be positive"
            )));
        }
        let rebuild = bytes_per_child as f64 / rebuild_bytes_per_sec;
        let rebuild = Duration::try_from_secs_f64(rebuild)
            .map_err(|e| invalid(format!("rebuild time of {rebuild} s: {e}")))?;
        Ok(HealTiming::new(heal_interval / 2, rebuild))
    }

    /// Mean time to repair one child, in years.
    pub fn mttr_years(&self) -> f64 {
        (self.detect + self.rebuild).as_secs_f64() / YEAR_SECS
    }
}

/// Everything the durability model needs to know about a layout.
///
/// Annual failure rates (AFR) are probabilities that a part fails within a
/// year; the model turns each into a constant hazard `λ = -ln(1 - AFR)`
/// per year (so an AFR of 2% is λ = 0.0202/year).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct DurabilityModel {
    /// Data shards.
    pub k: usize,
    /// Parity shards.
    pub m: usize,
    /// Every child's labels, in shard order (region, zone, tier).
    pub children: Vec<Labels>,
    /// Every child's AFR: the child loses every shard it holds.
    pub afr: Vec<f64>,
    /// AFR of a whole region (every child labelled with it fails at once:
    /// a fire, a provider's region lost). 0: no correlated failures.
    pub region_afr: f64,
    /// AFR of a whole zone (children with the same region and zone).
    pub zone_afr: f64,
    /// How long a failed child stays failed.
    pub heal: HealTiming,
    /// Object bytes stored in the layout (for expected bytes lost and cost).
    pub stored_bytes: u64,
}

impl DurabilityModel {
    /// A `k + m` layout over `children`, each with annual failure rate
    /// `afr`, no correlated failures, nothing stored yet.
    pub fn new(
        k: usize,
        m: usize,
        children: Vec<Labels>,
        afr: f64,
        heal: HealTiming,
    ) -> Result<Self> {
        let model = DurabilityModel {
            k,
            m,
            afr: vec![afr; children.len()],
            children,
            region_afr: 0.0,
            zone_afr: 0.0,
            heal,
            stored_bytes: 0,
        };
        model.validate()?;
        Ok(model)
    }

    /// The model of a parsed layout file.
    pub fn from_layout(layout: &Layout, afr: f64, heal: HealTiming) -> Result<Self> {
        let children = layout.backends.iter().map(|c| c.labels()).collect();
        Self::new(
            layout.erasure.data,
            layout.erasure.parity,
            children,
            afr,
            heal,
        )
    }

    /// Sets child `index`'s AFR.
    pub fn child_afr(mut self, index: usize, afr: f64) -> Result<Self> {
        let n = self.afr.len();
        let slot = self
            .afr
            .get_mut(index)
            .ok_or_else(|| invalid(format!("no child {index}: there are {n}")))?;
        *slot = afr;
        self.validate()?;
        Ok(self)
    }

    /// Sets [`region_afr`](Self::region_afr).
    pub fn region_afr(mut self, afr: f64) -> Result<Self> {
        self.region_afr = afr;
        self.validate()?;
        Ok(self)
    }

    /// Sets [`zone_afr`](Self::zone_afr).
    pub fn zone_afr(mut self, afr: f64) -> Result<Self> {
        self.zone_afr = afr;
        self.validate()?;
        Ok(self)
    }

    /// Sets [`stored_bytes`](Self::stored_bytes).
    pub fn stored_bytes(mut self, bytes: u64) -> Self {
        self.stored_bytes = bytes;
        self
    }

    /// Children in all.
    pub fn n(&self) -> usize {
        self.k + self.m
    }

    /// Raw bytes stored per object byte: `(k + m) / k`.
    pub fn overhead(&self) -> f64 {
        self.n() as f64 / self.k as f64
    }

    /// Child `i`'s failure hazard per year.
    pub(crate) fn lambda(&self, i: usize) -> f64 {
        hazard(self.afr[i])
    }

    /// Repairs per year of one failed child.
    pub(crate) fn mu(&self) -> f64 {
        1.0 / self.heal.mttr_years()
    }

    fn validate(&self) -> Result<()> {
        cairn_erasure::Codec::new(self.k, self.m)?;
        if self.children.len() != self.n() {
            return Err(invalid(format!(
                "{} children given, a {}+{} code needs exactly {}",
                self.children.len(),
                self.k,
                self.m,
                self.n()
            )));
        }
        for (what, p) in self
            .afr
            .iter()
            .map(|&p| ("child AFR", p))
            .chain([("region AFR", self.region_afr), ("zone AFR", self.zone_afr)])
        {
            if !(0.0..1.0).contains(&p) {
                return Err(invalid(format!("{what} {p} outside [0, 1)")));
            }
        }
        if self.heal.mttr_years() <= 0.0 {
            return Err(invalid("time to heal must be positive".into()));
        }
        Ok(())
    }
}

/// The constant hazard (events per year) of an annual probability.
pub(crate) fn hazard(annual_probability: f64) -> f64 {
    -(-annual_probability).ln_1p()
}

/// The annual probability of a hazard (events per year): `1 - e^-λ`,
/// computed without cancellation for tiny rates.
pub(crate) fn annual(rate: f64) -> f64 {
    -(-rate).exp_m1()
}

pub(crate) fn invalid(reason: String) -> Error {
    Error::InvalidModel { reason }
}
