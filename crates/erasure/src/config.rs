//! Configuration of an [`ErasureBackend`](crate::ErasureBackend): the children,
//! their labels, the code, quorum, placement, health and retry settings.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use cairn_backends::Backend;

use crate::{Error, Result};

/// Where a child backend lives: used by placement rules and shown in health
/// reports. Unset labels are `None`.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// Region, e.g. `eu-west`.
    pub region: Option<String>,
    /// Zone or site within the region, e.g. `eu-west-1b`.
    pub zone: Option<String>,
    /// Storage tier, e.g. `ssd`, `hdd`, `archive`.
    pub tier: Option<String>,
}

impl Labels {
    /// No labels.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
    /// Sets the zone.
    pub fn zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }
    /// Sets the tier.
    pub fn tier(mut self, tier: impl Into<String>) -> Self {
        self.tier = Some(tier.into());
        self
    }

    /// Whether the tier is a cold one: `cold`, `archive`, or an S3 archive
    /// storage class (`GLACIER`, `GLACIER_IR`, `DEEP_ARCHIVE`), matched
    /// without regard to case. Reads use cold children only when the hot
    /// ones cannot supply `k` shards (a degraded read), because a cold
    /// read costs a retrieval fee or a restore delay: put parity shards
    /// there and healthy reads never touch them.
    pub fn is_cold(&self) -> bool {
        self.tier.as_deref().is_some_and(|t| {
            ["cold", "archive", "glacier", "glacier_ir", "deep_archive"]
                .iter()
                .any(|c| t.eq_ignore_ascii_case(c))
        })
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        write!(
            f,
            "{}/{}/{}",
            show(&self.region),
            show(&self.zone),
            show(&self.tier)
        )
    }
}

/// One child backend of an [`ErasureBackend`](crate::ErasureBackend): a name
/// for reports, its labels, and the store itself.
#[derive(Debug, Clone)]
pub struct Child {
    /// A name for reports and errors (e.g. the location's path or URL).
    pub name: String,
    /// Where it lives.
    pub labels: Labels,
    /// The store.
    pub backend: Arc<dyn Backend>,
    /// Restore requests, for a cold child whose objects must be thawed
    /// before a read (see [`ErasureBackend::thaw_for_degraded_read`](crate::ErasureBackend::thaw_for_degraded_read)).
    pub thaw: Option<Arc<dyn crate::Thaw>>,
}

impl Child {
    /// A child named `name` with no labels.
    pub fn new(name: impl Into<String>, backend: Arc<dyn Backend>) -> Self {
        Child {
            name: name.into(),
            labels: Labels::default(),
            backend,
            thaw: None,
        }
    }

    /// The same child with restore requests through `thaw`.
    pub fn with_thaw(mut self, thaw: Arc<dyn crate::Thaw>) -> Self {
        self.thaw = Some(thaw);
        self
    }

    /// The same child with `labels`.
    pub fn with_labels(mut self, labels: Labels) -> Self {
        self.labels = labels;
        self
    }
}

/// Circuit-breaker and latency-tracking settings.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// Consecutive failures that open a child's circuit. Default 5.
    pub failure_threshold: u32,
    /// How long an open circuit refuses calls before letting probes through
    /// (half-open). Default 30 s.
    pub cool_down: Duration,
    /// Calls let through at once while half-open. Default 1.
    pub half_open_probes: u32,
    /// Weight of the newest sample in the latency moving average, in (0, 1].
    /// Default 0.2.
    pub latency_alpha: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
            half_open_probes: 1,
            latency_alpha: 0.2,
        }
    }
}

/// How calls to one child are retried after transient errors.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in all, including the first. Default 3.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time. Default 20 ms.
    pub initial_backoff: Duration,
    /// Longest delay between attempts. Default 1 s.
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(1),
        }
    }
}

impl RetryConfig {
    /// Sets [`max_attempts`](Self::max_attempts) (at least 1: the first
    /// attempt is always made).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

/// Settings of an [`ErasureBackend`](crate::ErasureBackend). Start from
/// [`ErasureConfig::new`] and adjust with the setters.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct ErasureConfig {
    /// Data shards per object. Default 4.
    pub k: usize,
    /// Parity shards per object. Default 2.
    pub m: usize,
    /// Shards that must be durable before a put is acknowledged, in `k..=k+m`;
    /// `None` means `k + 1` (capped at `k + m`).
    pub write_quorum: Option<usize>,
    /// At most this many shards of an object in one region (children's
    /// `region` label, which every child must then carry). With a value `<= m`
    /// losing a whole region loses no object.
    pub max_shards_per_region: Option<usize>,
    /// Time allowed for one call to one child (each retry gets its own).
    /// Default 60 s; `None` waits forever. A listing may run longer in
    /// total, but fails once a child goes this long without a next entry.
    pub op_timeout: Option<Duration>,
    /// Hedged reads: when a read has waited this long for a shard, it also
    /// asks the next child, and again after each further wait, so one hung
    /// child costs this delay rather than `op_timeout`. Default `None` (off);
    /// a few times the children's usual latency is a good value.
    pub hedge_after: Option<Duration>,
    /// Retries of transient child errors.
    pub retry: RetryConfig,
    /// Circuit breaker and latency tracking.
    pub health: HealthConfig,
    /// Shard headers read at once when listing (to learn object sizes). Default 16.
    pub list_concurrency: usize,
    /// Largest number of entries kept in the needs-repair set; past it new
    /// entries are dropped (a scrub finds them anyway). Default 100 000.
    pub max_repair_hints: usize,
    /// Puts of large objects (256 KiB and more) that encode and store
    /// their shards at once; further ones wait. Each holds one buffer of
    /// `object size × (k + m) / k` (24 MiB for a 16 MiB pack in 4+2) until
    /// its children have the shards, and that many buffers are kept for
    /// reuse rather than freed (freeing them per put made glibc keep
    /// arenas of them: a backup into 4+2 peaked at 2.3–2.5× a plain
    /// backup's RSS). Set it to the caller's upload concurrency (Cairn's
    /// `BackupOptions::uploads`, default 2): with 1, a backup into a local
    /// 4+2 layout measured 25–40% slower (its puts, six `fsync`s each, no
    /// longer overlap) for no lower peak. 0: no bound and no reuse (a fresh
    /// buffer per put, the old behaviour). Default 2.
    pub encode_buffers: usize,
    /// Degraded reads that wait for thaws: when a read finds too few
    /// shards because cold children refused theirs (archived objects), the
    /// children's [`Thaw`](crate::Thaw)s are asked to restore the shards
    /// it needs ([`ErasureBackend::thaw_for_degraded_read`](crate::ErasureBackend::thaw_for_degraded_read)),
    /// and the read asks them again every [`thaw_poll`](Self::thaw_poll)
    /// until the restores are done (then it reads and decodes), or fails
    /// with [`Error::ThawPending`] once this long has passed (at once for
    /// zero). S3 restores take minutes (expedited) to 12 hours
    /// (`DEEP_ARCHIVE`, standard). Default `None`: reads never issue
    /// restore requests and fail with [`Error::ColdShardsUnreadable`]
    /// naming the cold children (the caller thaws, then reads again).
    pub thaw_wait: Option<Duration>,
    /// How often a read waiting for thaws asks again. Default 60 s.
    pub thaw_poll: Duration,
}

impl Default for ErasureConfig {
    fn default() -> Self {
        ErasureConfig {
            k: 4,
            m: 2,
            write_quorum: None,
            max_shards_per_region: None,
            op_timeout: Some(Duration::from_secs(60)),
            hedge_after: None,
            retry: RetryConfig::default(),
            health: HealthConfig::default(),
            list_concurrency: 16,
            max_repair_hints: 100_000,
            encode_buffers: 2,
            thaw_wait: None,
            thaw_poll: Duration::from_secs(60),
        }
    }
}

impl ErasureConfig {
    /// Defaults with `k` data and `m` parity shards.
    pub fn new(k: usize, m: usize) -> Self {
        ErasureConfig {
            k,
            m,
            ..Self::default()
        }
    }
    /// Sets [`write_quorum`](Self::write_quorum).
    pub fn write_quorum(mut self, quorum: usize) -> Self {
        self.write_quorum = Some(quorum);
        self
    }
    /// Sets [`max_shards_per_region`](Self::max_shards_per_region).
    pub fn max_shards_per_region(mut self, max: usize) -> Self {
        self.max_shards_per_region = Some(max);
        self
    }
    /// Sets [`op_timeout`](Self::op_timeout).
    pub fn op_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.op_timeout = timeout;
        self
    }
    /// Sets [`hedge_after`](Self::hedge_after).
    pub fn hedge_after(mut self, after: Option<Duration>) -> Self {
        self.hedge_after = after;
        self
    }
    /// Sets [`list_concurrency`](Self::list_concurrency).
    pub fn list_concurrency(mut self, n: usize) -> Self {
        self.list_concurrency = n;
        self
    }
    /// Sets [`encode_buffers`](Self::encode_buffers).
    pub fn encode_buffers(mut self, n: usize) -> Self {
        self.encode_buffers = n;
        self
    }
    /// Sets [`thaw_wait`](Self::thaw_wait).
    pub fn thaw_wait(mut self, wait: Option<Duration>) -> Self {
        self.thaw_wait = wait;
        self
    }
    /// Sets [`thaw_poll`](Self::thaw_poll).
    pub fn thaw_poll(mut self, poll: Duration) -> Self {
        self.thaw_poll = poll;
        self
    }
    /// Sets [`retry`](Self::retry).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }
    /// Sets [`health`](Self::health).
    pub fn health(mut self, health: HealthConfig) -> Self {
        self.health = health;
        self
    }

    /// The effective write quorum.
    pub fn quorum(&self) -> usize {
        self.write_quorum
            .unwrap_or((self.k + 1).min(self.k + self.m))
    }

    /// Checks everything but the children.
    pub(crate) fn validate(&self) -> Result<()> {
        let refuse = |reason: String| Err(Error::InvalidConfig { reason });
        let q = self.quorum();
        if q < self.k || q > self.k + self.m {
            return refuse(format!(
                "write quorum {q} outside k..=k+m ({}..={})",
                self.k,
                self.k + self.m
            ));
        }
        if self.retry.max_attempts == 0 {
            return refuse("retry.max_attempts must be at least 1".into());
        }
        if self.health.failure_threshold == 0 || self.health.half_open_probes == 0 {
            return refuse("failure_threshold and half_open_probes must be at least 1".into());
        }
        let a = self.health.latency_alpha;
        if !(a > 0.0 && a <= 1.0) {
            return refuse(format!("latency_alpha {a} outside (0, 1]"));
        }
        if self.list_concurrency == 0 {
            return refuse("list_concurrency must be at least 1".into());
        }
        if self.thaw_poll.is_zero() {
            return refuse("thaw_poll must be longer than zero".into());
        }
        self.check_waits()
    }

    /// Refuses waits longer than [`MAX_WAIT`]: timers add them to
    /// `Instant::now()`, which panics on overflow, and a layout file can ask
    /// for `u64::MAX` seconds.
    fn check_waits(&self) -> Result<()> {
        let waits = [
            ("op_timeout", self.op_timeout),
            ("hedge_after", self.hedge_after),
            ("health.cool_down", Some(self.health.cool_down)),
            ("retry.initial_backoff", Some(self.retry.initial_backoff)),
            ("retry.max_backoff", Some(self.retry.max_backoff)),
            ("thaw_wait", self.thaw_wait),
            ("thaw_poll", Some(self.thaw_poll)),
        ];
        for (name, wait) in waits {
            if let Some(d) = wait.filter(|d| *d > MAX_WAIT) {
                return Err(Error::InvalidConfig {
                    reason: format!(
                        "{name} of {} s is longer than the {} s allowed",
                        d.as_secs(),
                        MAX_WAIT.as_secs()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The longest timeout, hedge delay, cool-down, backoff or thaw wait an
/// [`ErasureConfig`] accepts: 30 days. (Use `op_timeout(None)` to wait
/// forever.)
pub const MAX_WAIT: Duration = Duration::from_secs(30 * 24 * 3600);

/// Checks that `children` fit the code and placement rules: one child per
/// shard (shard `i` of every object lives on child `i`), no more than
/// `max_shards_per_region` per region.
pub(crate) fn check_layout(config: &ErasureConfig, children: &[Child]) -> Result<()> {
    let total = config.k + config.m;
    if children.len() != total {
        return Err(Error::InvalidConfig {
            reason: format!(
                "{} children given, a {}+{} code needs exactly {total}",
                children.len(),
                config.k,
                config.m
            ),
        });
    }
    let Some(max) = config.max_shards_per_region else {
        return Ok(());
    };
    let mut per_region: BTreeMap<&str, usize> = BTreeMap::new();
    for c in children {
        let Some(region) = c.labels.region.as_deref() else {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "child {:?} has no region label, but max_shards_per_region is set",
                    c.name
                ),
            });
        };
        *per_region.entry(region).or_default() += 1;
    }
    match per_region.into_iter().find(|&(_, n)| n > max) {
        Some((region, shards)) => Err(Error::PlacementImpossible {
            region: region.to_owned(),
            shards,
            max,
        }),
        None => Ok(()),
    }
}
