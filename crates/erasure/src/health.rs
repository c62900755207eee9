//! Health of each child: counters, a latency moving average and a circuit
//! breaker (closed → open after N consecutive failures → half-open after a
//! cool-down, letting a few probe calls through → closed on a success, open
//! again on a failure).

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::{HealthConfig, Labels};

/// State of a child's circuit breaker.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow normally.
    Closed,
    /// Too many consecutive failures: calls are refused until the cool-down ends
    /// (reads still use the child as a last resort).
    Open,
    /// The cool-down ended: a few probe calls decide whether to close or reopen.
    HalfOpen,
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        })
    }
}

/// Counters and state of one child, as [`HealthReport`] shows them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChildHealth {
    /// The child's position (it holds shard `index` of every object).
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: Labels,
    /// Its breaker state.
    pub state: BreakerState,
    /// Calls that succeeded (a "not found" answer counts: the child answered).
    pub successes: u64,
    /// Calls that failed (errors, timeouts, corrupt shards).
    pub failures: u64,
    /// Of the failures, how many were timeouts.
    pub timeouts: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Times the breaker opened.
    pub times_opened: u64,
    /// Moving average of successful call latency, once one was measured.
    pub latency: Option<Duration>,
}

/// Health of every child of an [`ErasureBackend`](crate::ErasureBackend).
/// `Display` prints a table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthReport {
    /// One entry per child, in shard order.
    pub children: Vec<ChildHealth>,
}

impl fmt::Display for HealthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>3}  {:<20} {:<24} {:<9} {:>9} {:>8} {:>8} {:>10}",
            "#", "name", "region/zone/tier", "state", "ok", "failed", "timeouts", "latency"
        )?;
        for c in &self.children {
            let latency = c
                .latency
                .map_or_else(|| "-".into(), |d| format!("{:.1}ms", d.as_secs_f64() * 1e3));
            writeln!(
                f,
                "{:>3}  {:<20} {:<24} {:<9} {:>9} {:>8} {:>8} {:>10}",
                c.index,
                c.name,
                c.labels.to_string(),
                c.state.to_string(),
                c.successes,
                c.failures,
                c.timeouts,
                latency
            )?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct State {
    breaker: BreakerState,
    opened_at: Option<Instant>,
    probes: u32,
    successes: u64,
    failures: u64,
    timeouts: u64,
    consecutive: u32,
    times_opened: u64,
    latency_secs: Option<f64>,
}

/// The mutable health record of one child.
#[derive(Debug)]
pub(crate) struct Health {
    config: HealthConfig,
    state: Mutex<State>,
}

/// Whether a call may go to a child now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Yes (closed, or as a half-open probe).
    Yes,
    /// The circuit is open: only as a last resort.
    Open,
}

impl Health {
    pub(crate) fn new(config: HealthConfig) -> Self {
        Health {
            config,
            state: Mutex::new(State {
                breaker: BreakerState::Closed,
                opened_at: None,
                probes: 0,
                successes: 0,
                failures: 0,
                timeouts: 0,
                consecutive: 0,
                times_opened: 0,
                latency_secs: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the record consistent, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks to send a call; moves an open breaker whose cool-down has ended to
    /// half-open and counts probes in flight.
    pub(crate) fn admit(&self) -> Admit {
        let mut s = self.lock();
        match s.breaker {
            BreakerState::Closed => Admit::Yes,
            BreakerState::Open => {
                let cooled = s
                    .opened_at
                    .is_none_or(|t| t.elapsed() >= self.config.cool_down);
                if cooled {
                    s.breaker = BreakerState::HalfOpen;
                    s.probes = 1;
                    Admit::Yes
                } else {
                    Admit::Open
                }
            }
            BreakerState::HalfOpen if s.probes < self.config.half_open_probes => {
                s.probes += 1;
                Admit::Yes
            }
            BreakerState::HalfOpen => Admit::Open,
        }
    }

    /// How reads should rank the child, without admitting a call: breaker
    /// class (closed, half-open, open), then latency average.
    pub(crate) fn rank(&self) -> (u8, f64) {
        let s = self.lock();
        let class = match s.breaker {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        };
        (class, s.latency_secs.unwrap_or(0.0))
    }

    /// Records a call that the child answered (successfully, or "not found").
    pub(crate) fn success(&self, latency: Duration) {
        let mut s = self.lock();
        s.successes += 1;
        s.consecutive = 0;
        s.breaker = BreakerState::Closed;
        s.opened_at = None;
        s.probes = 0;
        let sample = latency.as_secs_f64();
        let a = self.config.latency_alpha;
        s.latency_secs = Some(match s.latency_secs {
            Some(avg) => avg + a * (sample - avg),
            None => sample,
        });
    }

    /// Records a failed call (error, timeout or corrupt data).
    pub(crate) fn failure(&self, timeout: bool) {
        let mut s = self.lock();
        s.failures += 1;
        s.timeouts += u64::from(timeout);
        s.consecutive = s.consecutive.saturating_add(1);
        let reopen = match s.breaker {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => s.consecutive >= self.config.failure_threshold,
            BreakerState::Open => false,
        };
        if reopen {
            s.breaker = BreakerState::Open;
            s.opened_at = Some(Instant::now());
            s.probes = 0;
            s.times_opened += 1;
        }
    }

    pub(crate) fn report(&self, index: usize, name: &str, labels: &Labels) -> ChildHealth {
        let s = self.lock();
        ChildHealth {
            index,
            name: name.to_owned(),
            labels: labels.clone(),
            state: s.breaker,
            successes: s.successes,
            failures: s.failures,
            timeouts: s.timeouts,
            consecutive_failures: s.consecutive,
            times_opened: s.times_opened,
            latency: s.latency_secs.map(Duration::from_secs_f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(cool_down: Duration) -> HealthConfig {
        HealthConfig {
            failure_threshold: 3,
            cool_down,
            half_open_probes: 1,
            latency_alpha: 0.5,
        }
    }

    #[test]
    fn breaker_opens_probes_and_closes() {
        let h = Health::new(cfg(Duration::ZERO));
        for _ in 0..2 {
            h.failure(false);
        }
        assert_eq!(h.report(0, "a", &Labels::new()).state, BreakerState::Closed);
        h.failure(true);
        let r = h.report(0, "a", &Labels::new());
        assert_eq!(
            (r.state, r.timeouts, r.times_opened),
            (BreakerState::Open, 1, 1)
        );
        // Cool-down of zero: the next call is a probe, the one after waits.
        assert_eq!(h.admit(), Admit::Yes);
        assert_eq!(h.admit(), Admit::Open);
        h.failure(false);
        assert_eq!(h.report(0, "a", &Labels::new()).state, BreakerState::Open);
        assert_eq!(h.admit(), Admit::Yes);
        h.success(Duration::from_millis(10));
        assert_eq!(h.report(0, "a", &Labels::new()).state, BreakerState::Closed);
    }

    #[test]
    fn open_breaker_refuses_during_cool_down_and_latency_averages() {
        let h = Health::new(cfg(Duration::from_secs(3600)));
        for _ in 0..3 {
            h.failure(false);
        }
        assert_eq!(h.admit(), Admit::Open);
        let h = Health::new(cfg(Duration::ZERO));
        h.success(Duration::from_millis(10));
        h.success(Duration::from_millis(30));
        let l = h.report(0, "a", &Labels::new()).latency.unwrap();
        assert_eq!(l.as_millis(), 20);
    }
}
