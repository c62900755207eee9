//! Monte-Carlo simulation over simulated time, driving the real erasure
//! layer: an [`ErasureBackend`] over in-memory children holds an object;
//! a failed child is swapped for one that cannot be reached
//! ([`ErasureBackend::replace_child`], as an operator's dead disk); the
//! decision whether the object survived is the repair path's own
//! (`scrub_object`: the shards it can read, the version it can decode);
//! a healed child is swapped for an empty store and a repairing scrub
//! decides what to rebuild and writes it there.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use cairn_backends::{Backend, Error as BError, MemoryBackend, ObjectMeta, PutMode};
use futures::stream::{self, BoxStream, StreamExt};
use serde::Serialize;

use super::closed_form::Estimate;
use super::model::{hazard, invalid, DurabilityModel};
use super::rng::SplitMix64;
use super::tolerance::{DomainKind, Tolerance};
use cairn_erasure::{Child, ErasureBackend, ErasureConfig, RetryConfig};

use crate::Result;

/// The object every simulated history stores. With fixed placement every
/// object has the same fate, so one stands for all of them.
const KEY: &str = "durability/sim-object";

/// How long a failed child stays failed in the simulation.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairTimes {
    /// Exponentially distributed with the heal timing's mean: the Markov
    /// chain's assumption, to check the closed form against.
    Exponential,
    /// Exactly `detect + rebuild`: closer to a periodic heal.
    Fixed,
}

/// Settings of [`simulate`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimOptions {
    /// Seed of the random stream: one seed, one history.
    pub seed: u64,
    /// Simulated years to run at most.
    pub years: f64,
    /// Stop after this many losses (enough for a tight interval).
    pub max_losses: u64,
    /// Repair time distribution.
    pub repair: RepairTimes,
}

impl SimOptions {
    /// `years` of simulated time from `seed`, exponential repairs, no
    /// limit on losses.
    pub fn new(seed: u64, years: f64) -> Self {
        SimOptions {
            seed,
            years,
            max_losses: u64::MAX,
            repair: RepairTimes::Exponential,
        }
    }
    /// Sets [`max_losses`](Self::max_losses).
    pub fn max_losses(mut self, n: u64) -> Self {
        self.max_losses = n;
        self
    }
    /// Sets [`repair`](Self::repair).
    pub fn repair(mut self, repair: RepairTimes) -> Self {
        self.repair = repair;
        self
    }
}

/// What a simulation observed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// Simulated time, years.
    pub simulated_years: f64,
    /// Times the object became unrecoverable (the layout is then restored
    /// whole and the history goes on: a renewal process, so
    /// losses / years estimates 1 / MTTDL).
    pub losses: u64,
    /// Independent child failures.
    pub child_failures: u64,
    /// Region and zone failures.
    pub domain_failures: u64,
    /// Shards the repairing scrub rewrote.
    pub shards_rebuilt: u64,
    /// Losses per year, with its 95% interval (normal approximation of
    /// the Poisson count; `[0, 3.69/T]` when there was none).
    pub loss_rate_ci95: [f64; 2],
    /// The estimate from the observed loss rate.
    pub estimate: Estimate,
    /// The 95% interval of the annual loss probability.
    pub annual_loss_ci95: [f64; 2],
}

/// A child that has failed: every call fails as if it could not be
/// reached (a transient error, as a dead disk or a lost region gives).
#[derive(Debug)]
struct Failed;

fn unreachable(key: &str) -> BError {
    BError::Timeout {
        key: key.to_owned(),
        millis: 0,
    }
}

#[async_trait]
impl Backend for Failed {
    async fn put(&self, key: &str, _: Bytes, _: PutMode) -> cairn_backends::Result<()> {
        Err(unreachable(key))
    }
    async fn get(&self, key: &str) -> cairn_backends::Result<Bytes> {
        Err(unreachable(key))
    }
    async fn get_range(&self, key: &str, _: Range<u64>) -> cairn_backends::Result<Bytes> {
        Err(unreachable(key))
    }
    async fn stat(&self, key: &str) -> cairn_backends::Result<ObjectMeta> {
        Err(unreachable(key))
    }
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, cairn_backends::Result<ObjectMeta>> {
        stream::once(async move { Err(unreachable(prefix)) }).boxed()
    }
    async fn delete(&self, key: &str) -> cairn_backends::Result<()> {
        Err(unreachable(key))
    }
}

/// One simulated history's state.
struct World<'a> {
    model: &'a DurabilityModel,
    opts: &'a SimOptions,
    rng: SplitMix64,
    store: ErasureBackend,
    /// Absolute time (years) of each child's next failure; infinite while failed.
    fails_at: Vec<f64>,
    /// Absolute time of each failed child's return; infinite while up.
    back_at: Vec<f64>,
    /// Each failure domain: its children, hazard, next failure.
    domains: Vec<(Vec<usize>, f64, f64)>,
    report: SimReport,
}

enum Event {
    ChildFails(usize),
    DomainFails(usize),
    ChildBack(usize),
}

/// Simulates `model` over `opts.years` of simulated time (or until
/// `opts.max_losses` losses): independent child failures and, with
/// [`region_afr`](DurabilityModel::region_afr) / [`zone_afr`](DurabilityModel::zone_afr),
/// whole regions and zones failing at once. Deterministic for one seed.
///
/// Every failure and every return runs the erasure layer's repair code
/// on a real object (see the module docs), so what counts as lost and
/// what gets rebuilt where is what Cairn would do, including its
/// placement (shard `i` on child `i`). The cost is a few scrubs of a
/// 4 KiB object per simulated failure: pick rates that make losses
/// frequent enough to count (a history with a loss per decade needs a
/// few thousand years for a tight interval).
pub async fn simulate(model: &DurabilityModel, opts: &SimOptions) -> Result<SimReport> {
    if !(opts.years.is_finite() && opts.years > 0.0) {
        return Err(invalid(format!(
            "simulated years {} must be positive",
            opts.years
        )));
    }
    let mut world = World::new(model, opts).await?;
    world.run().await?;
    Ok(world.finish())
}

impl<'a> World<'a> {
    async fn new(model: &'a DurabilityModel, opts: &'a SimOptions) -> Result<World<'a>> {
        let tolerance = Tolerance::of(model.m, &model.children);
        let domains = tolerance
            .domains
            .into_iter()
            .map(|d| {
                let afr = match d.kind {
                    DomainKind::Region => model.region_afr,
                    DomainKind::Zone => model.zone_afr,
                };
                (d.children, hazard(afr), 0.0)
            })
            .collect();
        let mut world = World {
            model,
            opts,
            rng: SplitMix64::new(opts.seed),
            store: fresh_store(model).await?,
            fails_at: Vec::new(),
            back_at: Vec::new(),
            domains,
            report: SimReport {
                simulated_years: 0.0,
                losses: 0,
                child_failures: 0,
                domain_failures: 0,
                shards_rebuilt: 0,
                loss_rate_ci95: [0.0; 2],
                estimate: Estimate::from_rate(model, 0.0),
                annual_loss_ci95: [0.0; 2],
            },
        };
        world.restart(0.0);
        for d in 0..world.domains.len() {
            let rate = world.domains[d].1;
            world.domains[d].2 = world.rng.exponential(rate);
        }
        Ok(world)
    }

    /// Every child whole again, failure clocks drawn from `now`.
    fn restart(&mut self, now: f64) {
        let n = self.model.n();
        self.fails_at = (0..n)
            .map(|i| now + self.rng.exponential(self.model.lambda(i)))
            .collect();
        self.back_at = vec![f64::INFINITY; n];
    }

    fn next_event(&self) -> (f64, Event) {
        let mut best = (f64::INFINITY, Event::ChildFails(0));
        let mut consider = |t: f64, e: Event| {
            if t < best.0 {
                best = (t, e);
            }
        };
        for (i, &t) in self.fails_at.iter().enumerate() {
            consider(t, Event::ChildFails(i));
        }
        for (i, &t) in self.back_at.iter().enumerate() {
            consider(t, Event::ChildBack(i));
        }
        for (d, &(_, _, t)) in self.domains.iter().enumerate() {
            consider(t, Event::DomainFails(d));
        }
        best
    }

    async fn run(&mut self) -> Result<()> {
        loop {
            let (now, event) = self.next_event();
            if now > self.opts.years {
                self.report.simulated_years = self.opts.years;
                return Ok(());
            }
            self.report.simulated_years = now;
            match event {
                Event::ChildFails(i) => {
                    self.report.child_failures += 1;
                    self.fail(i, now)?;
                }
                Event::DomainFails(d) => {
                    self.report.domain_failures += 1;
                    let (children, rate, _) = self.domains[d].clone();
                    for i in children {
                        if self.back_at[i].is_infinite() {
                            self.fail(i, now)?;
                        }
                    }
                    self.domains[d].2 = now + self.rng.exponential(rate);
                }
                Event::ChildBack(i) => {
                    self.back_at[i] = f64::INFINITY;
                    self.fails_at[i] = now + self.rng.exponential(self.model.lambda(i));
                    let empty = Arc::new(MemoryBackend::new());
                    self.store.replace_child(i, child(self.model, i, empty))?;
                    let scrub = self.store.scrub_object(KEY, true).await;
                    self.report.shards_rebuilt += scrub.shards_repaired;
                    if scrub.unrecoverable.is_empty() {
                        continue;
                    }
                }
            }
            // After a failure (or a return that found the object gone):
            // may the repair path still rebuild it?
            let scrub = self.store.scrub_object(KEY, false).await;
            if !scrub.unrecoverable.is_empty() {
                self.report.losses += 1;
                if self.report.losses >= self.opts.max_losses {
                    return Ok(());
                }
                self.store = fresh_store(self.model).await?;
                self.restart(now);
            }
        }
    }

    fn fail(&mut self, i: usize, now: f64) -> Result<()> {
        self.fails_at[i] = f64::INFINITY;
        let mttr = self.model.heal.mttr_years();
        self.back_at[i] = now
            + match self.opts.repair {
                RepairTimes::Exponential => self.rng.exponential(1.0 / mttr),
                RepairTimes::Fixed => mttr,
            };
        self.store
            .replace_child(i, child(self.model, i, Arc::new(Failed)))?;
        Ok(())
    }

    fn finish(mut self) -> SimReport {
        let r = &mut self.report;
        let years = r.simulated_years.max(f64::MIN_POSITIVE);
        let losses = r.losses as f64;
        let rate = losses / years;
        r.loss_rate_ci95 = if r.losses == 0 {
            // -ln(0.025): the count whose Poisson probability of 0 is 2.5%.
            [0.0, 3.689 / years]
        } else {
            let half = 1.96 * losses.sqrt() / years;
            [(rate - half).max(0.0), rate + half]
        };
        r.estimate = Estimate::from_rate(self.model, rate);
        r.annual_loss_ci95 = r.loss_rate_ci95.map(super::model::annual);
        self.report
    }
}

fn child(model: &DurabilityModel, i: usize, backend: Arc<dyn Backend>) -> Child {
    Child::new(format!("sim{i}"), backend).with_labels(model.children[i].clone())
}

/// The layout with every child whole and the object stored.
async fn fresh_store(model: &DurabilityModel) -> Result<ErasureBackend> {
    let children = (0..model.n())
        .map(|i| child(model, i, Arc::new(MemoryBackend::new())))
        .collect();
    // One attempt per call and no timers: a failed child answers at once,
    // and simulated time must not wait on real time.
    let retry = RetryConfig::default().max_attempts(1);
    let config = ErasureConfig::new(model.k, model.m)
        .retry(retry)
        .op_timeout(None)
        .encode_buffers(0);
    let store = ErasureBackend::new(children, config)?;
    let object: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    store
        .put_object(KEY, Bytes::from(object), PutMode::CreateOnly)
        .await?;
    Ok(store)
}
