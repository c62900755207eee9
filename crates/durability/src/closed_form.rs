//! Closed forms: the Markov chain of a `k + m` code with repair, and the
//! rebuild-window model.

use serde::Serialize;

use super::model::{annual, DurabilityModel, YEAR_SECS};

/// What a model predicts for one layout.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean time to data loss, years (from a layout with every child whole).
    pub mttdl_years: f64,
    /// Probability of losing any object within a year.
    pub annual_loss_probability: f64,
    /// `-log10` of that probability ("11 nines" is 1e-11).
    pub nines: f64,
    /// Expected object bytes lost per year: see [`expected_bytes_lost`].
    pub expected_bytes_lost_per_year: f64,
}

impl Estimate {
    pub(crate) fn from_rate(model: &DurabilityModel, rate_per_year: f64) -> Estimate {
        let p = annual(rate_per_year);
        Estimate {
            mttdl_years: 1.0 / rate_per_year,
            annual_loss_probability: p,
            nines: nines(p),
            expected_bytes_lost_per_year: expected_bytes_lost(model, rate_per_year),
        }
    }
}

/// `-log10(p)`: the number of nines of `1 - p` (infinite for `p = 0`).
pub fn nines(p: f64) -> f64 {
    -p.log10()
}

/// Expected object bytes lost per year at `loss_rate` loss events per year.
///
/// Placement is fixed (shard `i` of every object on child `i`), so the
/// `m + 1` children whose overlapping failures make one object
/// unreadable make *every* object unreadable that was not yet rebuilt on
/// the earlier-failed ones. The figure counts all stored bytes per event:
/// an upper bound, since a rebuild in progress has saved part of them.
/// Greenan et al. argue for such a magnitude-of-loss figure next to (or
/// instead of) MTTDL ("Mean time to meaningless", HotStorage 2010: NOMDL).
pub fn expected_bytes_lost(model: &DurabilityModel, loss_rate: f64) -> f64 {
    loss_rate * model.stored_bytes as f64
}

/// Mean time to data loss, in years, of `n` children of which any `m` may
/// be failed at once, each failing at `lambda` per year and each failed
/// one repaired at `mu` per year independently (repairs run in parallel,
/// as a heal pass rewrites every reachable missing shard at once).
///
/// The birth-death Markov chain of the number of failed children
/// (states `0..=m`, `m + 1` absorbing: data lost), as in Greenan et al.,
/// "Mean time to meaningless" (HotStorage 2010), §2. With
/// `T_i` the expected time to go from `i` failed children to `i + 1`:
/// `T_0 = 1 / (nλ)` and `T_i = (1 + iμ·T_{i-1}) / ((n - i)λ)`, and
/// `MTTDL = Σ T_i`. Exact for exponential failure and repair times; for
/// `μ ≫ λ` it tends to the classic `m! μ^m / (λ^{m+1} n(n-1)…(n-m))`
/// (Patterson, Gibson & Katz 1988 for `m = 1` with one repair at a time).
pub fn mttdl_years(n: usize, m: usize, lambda: f64, mu: f64) -> f64 {
    if lambda <= 0.0 || m >= n {
        return f64::INFINITY;
    }
    let mut total = 0.0;
    let mut previous = 0.0;
    for i in 0..=m {
        let up = (n - i) as f64 * lambda;
        let t = (1.0 + i as f64 * mu * previous) / up;
        total += t;
        previous = t;
    }
    total
}

/// The Markov chain's estimate for `model`'s independent failures (the
/// children's mean hazard; region and zone failures are not in it — see
/// [`simulate`](super::simulate) for those).
pub fn markov(model: &DurabilityModel) -> Estimate {
    let n = model.n();
    let lambda = (0..n).map(|i| model.lambda(i)).sum::<f64>() / n as f64;
    let mttdl = mttdl_years(n, model.m, lambda, model.mu());
    Estimate::from_rate(model, 1.0 / mttdl)
}

/// The probability that more than `m` of `n` children fail within one
/// window of `window_years` (the time one failure takes to heal), each
/// failing with hazard `lambda`: the binomial tail
/// `Σ_{j>m} C(n,j) p^j (1-p)^(n-j)` with `p = 1 - e^(-λw)`. This is the
/// durability arithmetic of Storj's whitepaper (v3, 2018, §3.4: a piece
/// survives a period with probability `p`, an object while `k` of its `n`
/// pieces do).
pub fn window_binomial(n: usize, m: usize, lambda: f64, window_years: f64) -> f64 {
    let p = annual(lambda * window_years);
    (m + 1..=n)
        .map(|j| choose(n, j) * p.powi(j as i32) * (1.0 - p).powi((n - j) as i32))
        .sum()
}

/// As [`window_binomial`] with Backblaze's Poisson approximation: the
/// number of failures among `n` children in the window is Poisson with
/// mean `nλw` ("Backblaze Durability Calculates at 99.999999999%",
/// B. Wilson, Backblaze blog, 2018-07-17). The tail is summed upwards
/// from `m + 1`, not taken as `1 - Σ_{j≤m}`, which would cancel to 0.
pub fn window_poisson(n: usize, m: usize, lambda: f64, window_years: f64) -> f64 {
    let mean = n as f64 * lambda * window_years;
    let mut term = (-mean).exp();
    for j in 1..=m + 1 {
        term *= mean / j as f64;
    }
    let mut sum = 0.0;
    let mut j = m + 1;
    while term > sum * 1e-17 && j < m + 1000 {
        sum += term;
        j += 1;
        term *= mean / j as f64;
    }
    sum
}

/// The annual loss probability of a per-window loss probability: one
/// year holds `1 / window_years` independent windows.
pub fn annual_from_window(p_window: f64, window_years: f64) -> f64 {
    -((-p_window).ln_1p() / window_years).exp_m1()
}

/// The window of `model`'s heal timing, in years.
pub fn heal_window_years(model: &DurabilityModel) -> f64 {
    (model.heal.detect + model.heal.rebuild).as_secs_f64() / YEAR_SECS
}

fn choose(n: usize, j: usize) -> f64 {
    (0..j).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}
