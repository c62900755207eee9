//! What a layout costs: storage per month by tier, and the requests and
//! retrievals of writing and restoring.

use serde::Serialize;

use cairn_erasure::Labels;

/// Prices of one storage tier (one currency for a whole table).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierPrice {
    /// The tier's name as children's `tier` labels give it (matched
    /// without regard to case).
    pub name: String,
    /// Storage per GB (10^9 bytes) and month.
    pub gb_month: f64,
    /// Per 1000 writes (PUT).
    pub put_per_1000: f64,
    /// Per 1000 reads (GET).
    pub get_per_1000: f64,
    /// Retrieval per GB read.
    pub retrieval_per_gb: f64,
    /// Whether objects must be restored (thawed) before they can be read.
    pub needs_restore: bool,
}

impl TierPrice {
    /// A tier with these prices.
    pub fn new(
        name: impl Into<String>,
        gb_month: f64,
        put_per_1000: f64,
        get_per_1000: f64,
        retrieval_per_gb: f64,
        needs_restore: bool,
    ) -> Self {
        TierPrice {
            name: name.into(),
            gb_month,
            put_per_1000,
            get_per_1000,
            retrieval_per_gb,
            needs_restore,
        }
    }
}

/// A price table: the first tier is the one unlabelled children (and
/// tiers not in the table) are priced at.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prices {
    /// Currency of every figure.
    pub currency: String,
    /// The tiers; the first is the default.
    pub tiers: Vec<TierPrice>,
}

impl Default for Prices {
    /// Amazon S3 list prices in USD for us-east-1, first 50 TB band, as
    /// published on aws.amazon.com/s3/pricing at the time of writing:
    /// illustrative only: pass your provider's. `hot`, `ssd` and `hdd`
    /// price as STANDARD, `cold` as GLACIER_IR, `archive` as DEEP_ARCHIVE.
    fn default() -> Self {
        let t = TierPrice::new;
        Prices {
            currency: "USD".into(),
            tiers: vec![
                t("STANDARD", 0.023, 0.005, 0.0004, 0.0, false),
                t("STANDARD_IA", 0.0125, 0.01, 0.001, 0.01, false),
                t("GLACIER_IR", 0.004, 0.02, 0.01, 0.03, false),
                t("GLACIER", 0.0036, 0.03, 0.0004, 0.01, true),
                t("DEEP_ARCHIVE", 0.00099, 0.05, 0.0004, 0.02, true),
            ],
        }
    }
}

impl Prices {
    /// The price of a child labelled `labels`.
    pub fn of(&self, labels: &Labels) -> Option<&TierPrice> {
        let name = labels.tier.as_deref().map(alias);
        name.and_then(|n| self.tiers.iter().find(|t| t.name.eq_ignore_ascii_case(n)))
            .or(self.tiers.first())
    }
}

/// Label aliases of the default table's tiers.
fn alias(tier: &str) -> &str {
    match tier.to_ascii_lowercase().as_str() {
        "hot" | "ssd" | "hdd" => "STANDARD",
        "cold" => "GLACIER_IR",
        "archive" => "DEEP_ARCHIVE",
        _ => tier,
    }
}

/// Storage cost of the children in one tier.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierCost {
    /// The tier's name in the price table.
    pub tier: String,
    /// Its children (shard indexes).
    pub children: Vec<usize>,
    /// Cost per month of the shards they hold.
    pub per_month: f64,
}

/// What a layout costs to keep, write and restore.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostEstimate {
    /// Currency of every figure.
    pub currency: String,
    /// Storage per month of every shard of the stored bytes.
    pub storage_per_month: f64,
    /// The same, by tier.
    pub tiers: Vec<TierCost>,
    /// Requests to write 1000 objects (one PUT per shard).
    pub write_per_1000_objects: f64,
    /// Reading 1 GB of objects with every child healthy: the read path
    /// takes the `k` data shards (children `0..k`): their retrieval fees
    /// (request fees are in `read_per_1000_objects`).
    pub healthy_restore_per_gb: f64,
    /// The same with data shard 0 lost: children `1..=k`, so the first
    /// parity child's tier is read too.
    pub degraded_restore_per_gb: f64,
    /// Requests to read 1000 objects whole, healthy (`k` GETs each).
    pub read_per_1000_objects: f64,
    /// Children whose tier must be restored (thawed) before a read.
    pub needs_restore: Vec<usize>,
}

/// The cost of `stored_bytes` of objects in a `k`-of-`children` layout.
pub fn estimate(k: usize, children: &[Labels], stored_bytes: u64, prices: &Prices) -> CostEstimate {
    let tier = |i: usize| prices.of(&children[i]);
    let shard_gb = stored_bytes as f64 / k as f64 / 1e9;
    let mut tiers: Vec<TierCost> = Vec::new();
    for i in 0..children.len() {
        let Some(t) = tier(i) else { continue };
        let cost = shard_gb * t.gb_month;
        match tiers.iter_mut().find(|c| c.tier == t.name) {
            Some(c) => {
                c.children.push(i);
                c.per_month += cost;
            }
            None => tiers.push(TierCost {
                tier: t.name.clone(),
                children: vec![i],
                per_month: cost,
            }),
        }
    }
    let sum = |range: std::ops::Range<usize>, f: &dyn Fn(&TierPrice) -> f64| -> f64 {
        range.filter_map(tier).map(f).sum()
    };
    let n = children.len();
    let per_shard_gb = |t: &TierPrice| t.retrieval_per_gb / k as f64;
    CostEstimate {
        currency: prices.currency.clone(),
        storage_per_month: tiers.iter().map(|t| t.per_month).sum(),
        tiers,
        write_per_1000_objects: sum(0..n, &|t| t.put_per_1000),
        healthy_restore_per_gb: sum(0..k, &per_shard_gb),
        degraded_restore_per_gb: sum(1..(k + 1).min(n), &per_shard_gb),
        read_per_1000_objects: sum(0..k, &|t| t.get_per_1000),
        needs_restore: (0..n)
            .filter(|&i| tier(i).is_some_and(|t| t.needs_restore))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_on_archive_costs_less_and_healthy_restores_pay_no_retrieval() {
        let mut labels: Vec<Labels> = (0..4).map(|_| Labels::new().tier("hot")).collect();
        labels.extend((0..2).map(|_| Labels::new().tier("archive")));
        let c = estimate(4, &labels, 4_000_000_000_000, &Prices::default());
        // 1 TB per child: 4 x 23 USD hot + 2 x 0.99 USD deep archive.
        assert!(
            (c.storage_per_month - (4.0 * 23.0 + 2.0 * 0.99)).abs() < 1e-6,
            "{c:?}"
        );
        assert_eq!(c.tiers.len(), 2);
        assert_eq!(c.healthy_restore_per_gb, 0.0);
        assert!((c.degraded_restore_per_gb - 0.02 / 4.0).abs() < 1e-12);
        assert_eq!(c.needs_restore, [4, 5]);
    }
}
