//! `layout plan`: everything the model says about one layout, as a value
//! to print or serialise.

use std::fmt;

use serde::Serialize;

use super::closed_form::{self, nines, Estimate};
use super::cost::{self, CostEstimate, Prices};
use super::model::{annual, hazard, DurabilityModel};
use super::tolerance::{DomainKind, Tolerance};

/// The durability, tolerance and cost of one layout.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayoutPlan {
    /// Data shards.
    pub data: usize,
    /// Parity shards.
    pub parity: usize,
    /// Raw bytes per object byte, `(k + m) / k` (1.5 for 4+2).
    pub overhead: f64,
    /// Probability of losing any object within a year: independent child
    /// failures (the Markov chain) and, with a region or zone AFR, the
    /// loss of a region or zone that holds more than `m` shards. Not in
    /// it: a survivable domain's loss followed by further failures while
    /// it heals (run the simulation for those).
    pub annual_loss_probability: f64,
    /// `-log10(annual_loss_probability)`.
    pub nines: f64,
    /// The Markov chain alone (independent failures).
    pub independent: Estimate,
    /// Backblaze's window arithmetic for the same inputs (more than `m`
    /// failures within one heal window), for comparison.
    pub window_annual_loss_probability: f64,
    /// Annual probability that a region or zone whose loss is fatal is lost.
    pub fatal_domain_probability: f64,
    /// Expected object bytes lost per year (an upper bound, see
    /// [`expected_bytes_lost`](super::expected_bytes_lost)).
    pub expected_bytes_lost_per_year: f64,
    /// Mean time to repair one child, hours.
    pub heal_hours: f64,
    /// What can be lost.
    pub tolerance: Tolerance,
    /// What to change.
    pub recommendations: Vec<String>,
    /// What it costs.
    pub cost: CostEstimate,
}

/// The plan of `model` priced with `prices`.
pub fn plan(model: &DurabilityModel, prices: &Prices) -> LayoutPlan {
    let independent = closed_form::markov(model);
    let tolerance = Tolerance::of(model.m, &model.children);
    let fatal_rate: f64 = tolerance
        .domains
        .iter()
        .filter(|d| !d.survivable)
        .map(|d| match d.kind {
            DomainKind::Region => hazard(model.region_afr),
            DomainKind::Zone => hazard(model.zone_afr),
        })
        // A fold from +0: an empty float sum is -0, printed "-0".
        .fold(0.0, |a, b| a + b);
    let n = model.n();
    let lambda = (0..n).map(|i| model.lambda(i)).sum::<f64>() / n as f64;
    let window = closed_form::heal_window_years(model);
    let p_window = closed_form::window_poisson(n, model.m, lambda, window);
    let total_rate = 1.0 / independent.mttdl_years + fatal_rate;
    let p = annual(total_rate);
    LayoutPlan {
        data: model.k,
        parity: model.m,
        overhead: model.overhead(),
        annual_loss_probability: p,
        nines: nines(p),
        window_annual_loss_probability: closed_form::annual_from_window(p_window, window),
        fatal_domain_probability: annual(fatal_rate),
        expected_bytes_lost_per_year: closed_form::expected_bytes_lost(model, total_rate),
        heal_hours: model.heal.mttr_years() * super::model::YEAR_SECS / 3600.0,
        recommendations: tolerance.recommendations(n),
        tolerance,
        independent,
        cost: cost::estimate(model.k, &model.children, model.stored_bytes, prices),
    }
}

impl fmt::Display for LayoutPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "code: {}+{} over {} children, storage overhead {:.2}x",
            self.data,
            self.parity,
            self.data + self.parity,
            self.overhead
        )?;
        writeln!(
            f,
            "annual loss probability: {:.3e} ({:.1} nines); independent failures alone {:.3e} \
             (Markov, MTTDL {:.3e} years; window model {:.3e}); fatal region/zone {:.3e}",
            self.annual_loss_probability,
            self.nines,
            self.independent.annual_loss_probability,
            self.independent.mttdl_years,
            self.window_annual_loss_probability,
            self.fatal_domain_probability
        )?;
        writeln!(
            f,
            "heal time {:.1} h; expected bytes lost per year <= {:.3e}",
            self.heal_hours, self.expected_bytes_lost_per_year
        )?;
        write!(f, "{}", self.tolerance)?;
        for r in &self.recommendations {
            writeln!(f, "recommendation: {r}")?;
        }
        let c = &self.cost;
        writeln!(
            f,
            "cost ({}): storage {:.2}/month",
            c.currency, c.storage_per_month
        )?;
        for t in &c.tiers {
            writeln!(
                f,
                "  {} (children {:?}): {:.2}/month",
                t.tier, t.children, t.per_month
            )?;
        }
        writeln!(
            f,
            "  write 1000 objects {:.4}; read 1000 objects {:.4}; restore per GB healthy {:.4}, \
             degraded {:.4}",
            c.write_per_1000_objects,
            c.read_per_1000_objects,
            c.healthy_restore_per_gb,
            c.degraded_restore_per_gb
        )?;
        if !c.needs_restore.is_empty() {
            writeln!(
                f,
                "  children {:?} need a restore request before a degraded read",
                c.needs_restore
            )?;
        }
        Ok(())
    }
}
