#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The durability model: closed forms against a published figure and an
//! independent solution of the same chain; the simulation (which drives
//! the real repair path) against the closed form on independent
//! failures; and a correlated case the closed form cannot see.

use std::time::Duration;

use cairn_durability::{
    annual_from_window, markov, mttdl_years, plan, simulate, window_binomial, window_poisson,
    DurabilityModel, HealTiming, Prices, SimOptions,
};
use cairn_erasure::Labels;
use futures::executor::block_on;

const HOUR: u64 = 3600;
const YEAR_HOURS: f64 = 365.25 * 24.0;

fn hazard(afr: f64) -> f64 {
    -(-afr).ln_1p()
}

fn heal_hours(h: f64) -> HealTiming {
    HealTiming::new(Duration::ZERO, Duration::from_secs_f64(h * 3600.0))
}

fn unlabelled(n: usize) -> Vec<Labels> {
    vec![Labels::new(); n]
}

fn regions(names: &[&str]) -> Vec<Labels> {
    names.iter().map(|r| Labels::new().region(*r)).collect()
}

/// Mean time to absorption of the same birth-death chain, by solving the
/// generator's linear system `Q t = -1` with Gaussian elimination: a
/// reference computed a different way from the library's recurrence.
#[allow(clippy::needless_range_loop)] // row operations read clearest indexed
fn mttdl_by_linear_solve(n: usize, m: usize, lambda: f64, mu: f64) -> f64 {
    let s = m + 1;
    let mut a = vec![vec![0.0f64; s + 1]; s];
    for i in 0..s {
        let up = (n - i) as f64 * lambda;
        let down = i as f64 * mu;
        a[i][i] = -(up + down);
        if i + 1 < s {
            a[i][i + 1] = up;
        }
        if i > 0 {
            a[i][i - 1] = down;
        }
        a[i][s] = -1.0;
    }
    for c in 0..s {
        let p = (c..s)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, p);
        for r in 0..s {
            if r != c {
                let f = a[r][c] / a[c][c];
                for j in c..=s {
                    a[r][j] -= f * a[c][j];
                }
            }
        }
    }
    a[0][s] / a[0][0]
}

#[test]
fn backblaze_published_17_plus_3_is_eleven_nines() {
    // "Backblaze Durability Calculates at 99.999999999%" (Backblaze blog,
    // 2018-07-17): a 17+3 Vault, drive AFR 0.41%, 6.5 days to rebuild a
    // drive, Poisson arithmetic over rebuild windows: 11 nines.
    let window = 6.5 / 365.25;
    let p_window = window_poisson(20, 3, hazard(0.0041), window);
    let p = annual_from_window(p_window, window);
    let nines = -p.log10();
    assert!((10.5..11.5).contains(&nines), "{p:e} is {nines} nines");
    // The exact binomial form (Storj's) is lower: Poisson lets one drive
    // fail twice in a window. The leading terms differ by
    // C(20,4) 4! / 20^4 = 0.727.
    let b = annual_from_window(window_binomial(20, 3, hazard(0.0041), window), window);
    assert!((0.70..0.75).contains(&(b / p)), "{b:e} vs {p:e}");
    assert!((10.5..11.5).contains(&-b.log10()), "{b:e}");
    // The Markov chain on the same inputs has the same order of magnitude
    // (it counts overlapping repairs exactly instead of whole windows).
    let mttdl = mttdl_years(20, 3, hazard(0.0041), 365.25 / 6.5);
    let chain = -(-1.0 / mttdl).exp_m1();
    assert!(
        (chain / p) > 0.3 && (chain / p) < 10.0,
        "{chain:e} vs {p:e}"
    );
}

#[test]
fn chain_matches_patterson_raid5_formula_and_an_independent_solution() {
    // Patterson, Gibson & Katz (SIGMOD 1988): MTTDL of one parity over N
    // disks = MTTF^2 / (N (N-1) MTTR) when MTTR << MTTF.
    let (mttf_h, mttr_h, n) = (1.0e6, 24.0, 8);
    let lambda = YEAR_HOURS / mttf_h;
    let mu = YEAR_HOURS / mttr_h;
    let formula = mttf_h * mttf_h / (n as f64 * (n - 1) as f64 * mttr_h) / YEAR_HOURS;
    let chain = mttdl_years(n, 1, lambda, mu);
    assert!((chain / formula - 1.0).abs() < 1e-3, "{chain} vs {formula}");
    // 3 copies (1+2) and 6+3, against a linear solve of the generator.
    for (n, m) in [(3, 2), (9, 3), (6, 2)] {
        for (lambda, mu) in [(0.02, 365.0), (1.0, 10.0), (0.5, 0.5)] {
            let a = mttdl_years(n, m, lambda, mu);
            let b = mttdl_by_linear_solve(n, m, lambda, mu);
            // Elimination loses digits when rates span 4 orders of
            // magnitude; the recurrence does not.
            assert!(
                (a / b - 1.0).abs() < 1e-4,
                "{n} {m} {lambda} {mu}: {a} vs {b}"
            );
        }
    }
    // Replication's textbook approximation with parallel repair:
    // MTTDL ~ m! mu^m / (lambda^(m+1) n!/(n-m-1)!) for mu >> lambda.
    let (lambda, mu) = (0.02f64, 365.0f64);
    let approx = 2.0 * mu * mu / (lambda.powi(3) * 6.0);
    let exact = mttdl_years(3, 2, lambda, mu);
    assert!((exact / approx - 1.0).abs() < 0.01, "{exact} vs {approx}");
}

#[test]
fn simulation_of_the_real_repair_path_agrees_with_the_chain() {
    // Failures frequent enough to count in a second: one per child-year,
    // a tenth of a year to heal. Repairs exponential, as the chain assumes.
    let afr = 1.0 - (-1.0f64).exp();
    for (k, m) in [(4, 2), (1, 2)] {
        let model =
            DurabilityModel::new(k, m, unlabelled(k + m), afr, heal_hours(0.1 * YEAR_HOURS))
                .unwrap();
        let closed = markov(&model);
        let r = block_on(simulate(&model, &SimOptions::new(42, 1e6).max_losses(300))).unwrap();
        let rate = 1.0 / closed.mttdl_years;
        eprintln!("{k}+{m}: chain {rate}/year, simulation {r:?}");
        assert_eq!(r.losses, 300);
        assert!(r.shards_rebuilt > r.losses, "{r:?}");
        assert!(
            r.loss_rate_ci95[0] <= rate && rate <= r.loss_rate_ci95[1],
            "{k}+{m}: chain {rate} outside the simulation's {:?}",
            r.loss_rate_ci95
        );
        // Deterministic: the same seed gives the same history.
        let again = block_on(simulate(&model, &SimOptions::new(42, 1e6).max_losses(300))).unwrap();
        assert_eq!(again, r);
    }
}

#[test]
fn a_region_holding_three_of_six_shards_is_what_the_chain_misses() {
    let heal = heal_hours(24.0 * 7.0);
    let region_afr = 0.05;
    let two = DurabilityModel::new(4, 2, regions(&["a", "a", "a", "b", "b", "b"]), 0.02, heal)
        .unwrap()
        .region_afr(region_afr)
        .unwrap();
    let three = DurabilityModel::new(4, 2, regions(&["a", "a", "b", "b", "c", "c"]), 0.02, heal)
        .unwrap()
        .region_afr(region_afr)
        .unwrap();
    // The chain sees only independent failures: the same for both.
    let chain = markov(&two);
    assert_eq!(chain, markov(&three));
    assert!(chain.annual_loss_probability < 1e-6, "{chain:?}");

    let opts = SimOptions::new(7, 400.0);
    let r2 = block_on(simulate(&two, &opts)).unwrap();
    let r3 = block_on(simulate(&three, &opts)).unwrap();
    eprintln!("chain {chain:?}\n2 regions: {r2:?}\n3 regions: {r3:?}");
    // Two regions of three: every region loss loses the data, about
    // 2 x 0.0513 per year, which the chain puts at < 1e-6.
    let region_rate = 2.0 * hazard(region_afr);
    assert!(
        r2.loss_rate_ci95[0] <= region_rate && region_rate <= r2.loss_rate_ci95[1],
        "{r2:?}"
    );
    assert!(
        r2.loss_rate_ci95[0] > 1e4 * (1.0 / chain.mttdl_years),
        "{r2:?}"
    );
    // Three regions of two survive a region: far fewer losses, and the
    // plan says so.
    assert!(
        r3.domain_failures > 10 && r3.losses * 10 < r2.losses,
        "{r3:?} vs {r2:?}"
    );
    let p2 = plan(&two, &Prices::default());
    let p3 = plan(&three, &Prices::default());
    assert!(!p2.tolerance.survives_any_region() && !p2.recommendations.is_empty());
    assert!(p3.tolerance.survives_any_region() && p3.recommendations.is_empty());
    assert!(p2.annual_loss_probability > 0.09, "{p2:?}");
}

#[test]
fn heal_timing_comes_from_the_heal_interval_and_rebuild_rate() {
    // Heal every 24 h (a failure waits 12 h on average), 1 TB per child
    // rebuilt at 100 MB/s (10 000 s).
    let t =
        HealTiming::from_heal_path(Duration::from_secs(24 * HOUR), 1_000_000_000_000, 1e8).unwrap();
    assert_eq!(t.detect, Duration::from_secs(12 * HOUR));
    assert_eq!(t.rebuild, Duration::from_secs(10_000));
    assert!(HealTiming::from_heal_path(Duration::ZERO, 1, 0.0).is_err());
    assert!(DurabilityModel::new(4, 2, unlabelled(6), 1.5, t).is_err());
    assert!(DurabilityModel::new(4, 2, unlabelled(5), 0.02, t).is_err());
}
