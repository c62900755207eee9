//! Which losses a layout survives: any `m` children, and whole regions or
//! zones when they hold at most `m` shards.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use cairn_erasure::Labels;

/// A failure domain: what one event takes down at once.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainKind {
    /// Every child with one region label.
    Region,
    /// Every child with one (region, zone) pair.
    Zone,
}

/// One failure domain of a layout and whether losing it loses data.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Domain {
    /// Region or zone.
    pub kind: DomainKind,
    /// Its name (`region` or `region/zone`).
    pub name: String,
    /// The children (shard indexes) in it.
    pub children: Vec<usize>,
    /// Whether every object survives losing all of them (`children <= m`).
    pub survivable: bool,
}

/// What a `k + m` layout survives.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tolerance {
    /// Any set of this many children (`m`) may be lost at once; no set of
    /// more can (every object has one shard on every child).
    pub any_children: usize,
    /// Every labelled region and zone. Children without a region label
    /// are in no domain.
    pub domains: Vec<Domain>,
    /// Whether every child carries a region label.
    pub all_regions_labelled: bool,
}

impl Tolerance {
    /// The tolerance of `m` parity shards over children labelled `labels`.
    pub fn of(m: usize, labels: &[Labels]) -> Tolerance {
        let mut groups: BTreeMap<(DomainKind, String), Vec<usize>> = BTreeMap::new();
        for (i, l) in labels.iter().enumerate() {
            let Some(region) = &l.region else { continue };
            groups
                .entry((DomainKind::Region, region.clone()))
                .or_default()
                .push(i);
            if let Some(zone) = &l.zone {
                groups
                    .entry((DomainKind::Zone, format!("{region}/{zone}")))
                    .or_default()
                    .push(i);
            }
        }
        Tolerance {
            any_children: m,
            domains: groups
                .into_iter()
                .map(|((kind, name), children)| Domain {
                    kind,
                    survivable: children.len() <= m,
                    name,
                    children,
                })
                .collect(),
            all_regions_labelled: !labels.is_empty() && labels.iter().all(|l| l.region.is_some()),
        }
    }

    /// Whether losing any one whole region loses no object (false when
    /// some child has no region: nothing is known about where it is).
    pub fn survives_any_region(&self) -> bool {
        self.all_regions_labelled
            && self
                .domains
                .iter()
                .filter(|d| d.kind == DomainKind::Region)
                .all(|d| d.survivable)
    }

    /// The regions whose loss loses data.
    pub fn fatal_regions(&self) -> impl Iterator<Item = &Domain> {
        self.domains
            .iter()
            .filter(|d| d.kind == DomainKind::Region && !d.survivable)
    }

    /// What to change, one sentence each: a region that holds more than
    /// `m` shards, and how many regions a layout of `n` children needs so
    /// that none does.
    pub fn recommendations(&self, n: usize) -> Vec<String> {
        let m = self.any_children;
        let regions = self
            .domains
            .iter()
            .filter(|d| d.kind == DomainKind::Region)
            .count();
        let needed = n.div_ceil(m.max(1));
        self.fatal_regions()
            .map(|d| {
                let fix = if regions >= needed {
                    format!("move children so that each of the {regions} regions holds at most {m}")
                } else {
                    format!(
                        "spread the {n} children over at least {needed} regions with at most {m} each"
                    )
                };
                format!(
                    "region {} holds {} shards, more than the {m} parity shards: losing it \
                     loses every object; {fix}",
                    d.name,
                    d.children.len()
                )
            })
            .collect()
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tolerates: any {} children lost at once",
            self.any_children
        )?;
        for d in &self.domains {
            let kind = match d.kind {
                DomainKind::Region => "region",
                DomainKind::Zone => "zone",
            };
            writeln!(
                f,
                "  {kind} {} (children {:?}): {}",
                d.name,
                d.children,
                if d.survivable {
                    "can be lost"
                } else {
                    "CANNOT be lost"
                }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(names: &[&str]) -> Vec<Labels> {
        names.iter().map(|r| Labels::new().region(*r)).collect()
    }

    #[test]
    fn four_plus_two_over_three_regions_of_two_survives_a_region() {
        let t = Tolerance::of(2, &regions(&["a", "a", "b", "b", "c", "c"]));
        assert_eq!(t.any_children, 2);
        assert!(t.survives_any_region());
        assert!(t.recommendations(6).is_empty());
    }

    #[test]
    fn a_region_with_three_of_six_shards_is_fatal_and_said_so() {
        let t = Tolerance::of(2, &regions(&["a", "a", "a", "b", "b", "b"]));
        assert!(!t.survives_any_region());
        let fatal: Vec<_> = t.fatal_regions().map(|d| d.name.as_str()).collect();
        assert_eq!(fatal, ["a", "b"]);
        let advice = t.recommendations(6);
        assert_eq!(advice.len(), 2);
        assert!(advice[0].contains("at least 3 regions"), "{advice:?}");
    }

    #[test]
    fn an_unlabelled_child_means_region_loss_is_not_known_survivable() {
        let mut labels = regions(&["a", "a", "b", "b", "c"]);
        labels.push(Labels::new());
        let t = Tolerance::of(2, &labels);
        assert!(!t.survives_any_region());
        assert!(t.fatal_regions().next().is_none());
    }
}
