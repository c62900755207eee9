//! Erasure layouts on the facade (feature `erasure`): scrub, health,
//! healing. Scrub and health work on an [`OpenedLocation`] — shards carry
//! their own checksums, so no password is needed; healing after a backup
//! works on the [`Repository`].

use cairn_erasure::{Degraded, HealReport, HealthReport, ScrubOptions, ScrubReport};

use crate::metrics::{self as m, timed};
use crate::{Error, OpenedLocation, Repository, Result};

/// The state of an erasure layout's redundancy after
/// [`Repository::heal`]: what was healed, what is still under-replicated.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Redundancy {
    /// Objects whose missing shards were rewritten now.
    pub heal: HealReport,
    /// What remains: objects under-replicated, children unreachable.
    pub degraded: Degraded,
}

impl OpenedLocation {
    /// Whether the location is an erasure layout.
    pub fn is_erasure(&self) -> bool {
        self.erasure.is_some()
    }

    /// Verifies every shard (and with [`ScrubOptions::repair`], rewrites
    /// missing, corrupt or stale ones). Operation `scrub`; sets the erasure
    /// gauges. [`Error::NotErasure`] on another kind of location.
    pub async fn scrub(&self, opts: ScrubOptions) -> Result<ScrubReport> {
        let store = self.erasure.as_ref().ok_or(Error::NotErasure)?;
        let span = tracing::info_span!("cairn.scrub", repair = opts.repair);
        let report = timed("scrub", span, store.scrub(opts)).await?;
        let degraded = store.degraded().await;
        m::erasure(store, degraded.objects);
        Ok(report)
    }

    /// Objects written while a child was down and not yet healed, and the
    /// children unreachable now. [`Error::NotErasure`] on another kind of
    /// location.
    pub async fn degraded(&self) -> Result<Degraded> {
        let store = self.erasure.as_ref().ok_or(Error::NotErasure)?;
        Ok(store.degraded().await)
    }

    /// Each child's state (circuit breaker, successes, failures, latency),
    /// after one call to every child so that there is something to say.
    /// [`Error::NotErasure`] on another kind of location.
    pub async fn health(&self) -> Result<HealthReport> {
        let store = self.erasure.as_ref().ok_or(Error::NotErasure)?;
        // A failure here is what the report is about, not an error.
        let _ = store.scrub(ScrubOptions::new().limit(1)).await;
        Ok(store.health_report())
    }
}

impl Repository {
    /// On an erasure layout: heals what can be healed now (objects
    /// recorded as under-replicated whose children are back; nothing is
    /// read for children still down), counts what remains, and sets the
    /// erasure gauges. `None` on another kind of location. Run it after a
    /// backup (the CLI does).
    pub async fn heal(&self) -> Option<Redundancy> {
        let store = self.erasure.as_ref()?;
        let heal =
            tracing::Instrument::instrument(store.heal(), tracing::info_span!("cairn.heal")).await;
        let degraded = store.degraded().await;
        m::erasure(store, degraded.objects);
        Some(Redundancy { heal, degraded })
    }
}
