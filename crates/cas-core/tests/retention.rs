//! The retention planner against restic's documented examples and calendar
//! edge cases (ISO weeks, year ends, daylight saving, equal times), and the
//! property that adding a rule never removes a kept snapshot.
#![allow(clippy::unwrap_used)]

use cairn::cas::retention::{
    plan_retention, Anchor, Bucket, GroupBy, KeepPolicy, PlanOptions, RetentionDuration,
    RetentionPlan,
};
use cairn::cas::{Error, Snapshot, SnapshotId};
use cairn_crypto::ChunkId;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::prelude::*;

fn snap(time: &str, host: &str, tags: &[&str]) -> Snapshot {
    let mut s = Snapshot::new(
        time.parse().unwrap(),
        host.into(),
        vec!["/home/user/work".into()],
        ChunkId::from_bytes([0; 32]),
    );
    s.tags = tags.iter().map(|t| t.to_string()).collect();
    s
}

/// A snapshot id that spells `name` (its bytes in hex, zero-padded), so
/// tests can name snapshots by their time and read the names back.
fn id(name: &str) -> SnapshotId {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0<64}").parse().unwrap()
}

/// The name [`id`] spelled.
fn name(id: &SnapshotId) -> String {
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap())
        .take_while(|b| *b != 0)
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// Snapshots named by their time (id spells the time), one host.
fn at(times: &[&str]) -> Vec<(SnapshotId, Snapshot)> {
    times
        .iter()
        .map(|t| (id(t), snap(t, "mopped", &[])))
        .collect()
}

fn kept(plan: &RetentionPlan) -> Vec<String> {
    let mut k: Vec<String> = plan.keep().iter().map(name).collect();
    k.sort();
    k
}

fn reasons(plan: &RetentionPlan, n: &str) -> Vec<String> {
    plan.decisions()
        .find(|d| name(&d.id) == n)
        .map(|d| d.reasons.clone())
        .unwrap_or_default()
}

fn dur(s: &str) -> RetentionDuration {
    s.parse().unwrap()
}

/// restic doc/060_forget.rst: one backup every Sunday for 12 weeks.
const SUNDAYS: [&str; 12] = [
    "2019-09-01T11:00:00Z",
    "2019-09-08T11:00:00Z",
    "2019-09-15T11:00:00Z",
    "2019-09-22T11:00:00Z",
    "2019-09-29T11:00:00Z",
    "2019-10-06T11:00:00Z",
    "2019-10-13T11:00:00Z",
    "2019-10-20T11:00:00Z",
    "2019-10-27T11:00:00Z",
    "2019-11-03T11:00:00Z",
    "2019-11-10T11:00:00Z",
    "2019-11-17T11:00:00Z",
];

#[test]
fn restic_walkthrough_keep_daily_4_keeps_the_last_four_sundays() {
    let plan = plan_retention(
        &at(&SUNDAYS),
        &KeepPolicy::default().daily(4),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(kept(&plan), SUNDAYS[8..].to_vec());
    assert_eq!(plan.remove().len(), 8);
    assert_eq!(
        reasons(&plan, "2019-11-17T11:00:00Z"),
        vec!["daily 2019-11-17"]
    );
}

#[test]
fn table_of_policies_over_the_sundays() {
    let cases: Vec<(KeepPolicy, Vec<&str>)> = vec![
        (KeepPolicy::default().last(2), SUNDAYS[10..].to_vec()),
        // The newest Sunday of each of the last 3 months.
        (
            KeepPolicy::default().monthly(3),
            vec![SUNDAYS[4], SUNDAYS[8], SUNDAYS[11]],
        ),
        // Budget left after the walk: the oldest is kept too.
        (
            KeepPolicy::default().monthly(5),
            vec![SUNDAYS[0], SUNDAYS[4], SUNDAYS[8], SUNDAYS[11]],
        ),
        // Weekly: every Sunday is its own ISO week.
        (KeepPolicy::default().weekly(3), SUNDAYS[9..].to_vec()),
        // Within is strict: the snapshot exactly 14 days before is not kept.
        (
            KeepPolicy::default().within(dur("14d")),
            SUNDAYS[10..].to_vec(),
        ),
        (
            KeepPolicy::default().within(dur("1m")),
            // 2019-10-17T11:00 < 10-20 ...: 10-20, 10-27, 11-03, 11-10, 11-17
            SUNDAYS[7..].to_vec(),
        ),
        // Union: last 1 plus monthly 2.
        (
            KeepPolicy::default().last(1).monthly(2),
            vec![SUNDAYS[8], SUNDAYS[11]],
        ),
        // Within-monthly 2m: the newest of each month newer than 2019-09-17.
        (
            KeepPolicy::default().within_bucket(Bucket::Monthly, dur("2m")),
            vec![SUNDAYS[4], SUNDAYS[8], SUNDAYS[11]],
        ),
    ];
    for (policy, want) in cases {
        let plan = plan_retention(&at(&SUNDAYS), &policy, &PlanOptions::default()).unwrap();
        assert_eq!(kept(&plan), want, "{policy:?}");
    }
    let plan = plan_retention(
        &at(&SUNDAYS),
        &KeepPolicy::default().monthly(5),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(
        reasons(&plan, SUNDAYS[0]),
        vec!["oldest monthly 2019-09"],
        "restic marks the extra keep as oldest"
    );
}

#[test]
fn restic_daily_for_years_example_counts() {
    // "one backup every day ... --keep-daily 7 --keep-weekly 5 --keep-monthly
    // 12 --keep-yearly 75": 7 dailies, 4 more weeklies, 11 or 12 more
    // monthlies, and the yearlies (here 3 years of data: 3 buckets + oldest).
    let start: Timestamp = "2020-01-01T12:00:00Z".parse().unwrap();
    let snaps: Vec<(SnapshotId, Snapshot)> = (0..3 * 365)
        .map(|d| {
            let t = start
                .checked_add(jiff::SignedDuration::from_hours(24 * d))
                .unwrap();
            (id(&t.to_string()), snap(&t.to_string(), "h", &[]))
        })
        .collect();
    let policy = KeepPolicy::default()
        .daily(7)
        .weekly(5)
        .monthly(12)
        .yearly(75);
    let plan = plan_retention(&snaps, &policy, &PlanOptions::default()).unwrap();
    let with = |rule: &str| {
        plan.decisions()
            .filter(|d| d.reasons.iter().any(|r| r.starts_with(rule)))
            .count()
    };
    assert_eq!(with("daily"), 7);
    assert_eq!(with("weekly"), 5);
    assert_eq!(with("monthly"), 12);
    // Weeklies beyond the 7 dailies: 3 or 4 (the dailies hold 1 or 2 week
    // ends), monthlies beyond both: 10 to 12.
    let weekly_only = plan
        .decisions()
        .filter(|d| d.reasons.iter().any(|r| r.starts_with("weekly")))
        .filter(|d| !d.reasons.iter().any(|r| r.starts_with("daily")))
        .count();
    assert!((3..=4).contains(&weekly_only), "{weekly_only}");
    // Three calendar years hold snapshots (2020, 2021, 2022), plus the
    // oldest because the yearly budget is not used up.
    let yearly: Vec<_> = plan
        .decisions()
        .filter(|d| d.reasons.iter().any(|r| r.contains("yearly")))
        .map(|d| name(&d.id))
        .collect();
    assert_eq!(yearly.len(), 4, "{yearly:?}");
    assert!(yearly.contains(&"2020-01-01T12:00:00Z".to_string()));
}

#[test]
fn iso_weeks_and_calendar_years_at_the_year_boundary() {
    // 2020-12-31 is a Thursday of ISO week 2020-W53, so is Sunday 2021-01-03;
    // Monday 2021-01-04 starts 2021-W01.
    let snaps = at(&[
        "2020-12-31T10:00:00Z",
        "2021-01-03T10:00:00Z",
        "2021-01-04T10:00:00Z",
    ]);
    let weekly = plan_retention(
        &snaps,
        &KeepPolicy::default().weekly(2),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(
        kept(&weekly),
        vec!["2021-01-03T10:00:00Z", "2021-01-04T10:00:00Z"]
    );
    assert_eq!(
        reasons(&weekly, "2021-01-03T10:00:00Z"),
        vec!["weekly 2020-W53"]
    );
    // Yearly buckets are calendar years, not ISO years.
    let yearly = plan_retention(
        &snaps,
        &KeepPolicy::default().yearly(2),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(
        kept(&yearly),
        vec!["2020-12-31T10:00:00Z", "2021-01-04T10:00:00Z"]
    );
    // 2026-12-28 (Mon) is in ISO week 2026-W53; 2027-01-01 (Fri) too.
    let snaps = at(&[
        "2026-12-27T10:00:00Z",
        "2026-12-28T10:00:00Z",
        "2027-01-01T10:00:00Z",
    ]);
    let weekly = plan_retention(
        &snaps,
        &KeepPolicy::default().weekly(1),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(kept(&weekly), vec!["2027-01-01T10:00:00Z"]);
    assert_eq!(
        reasons(&weekly, "2027-01-01T10:00:00Z"),
        vec!["weekly 2026-W53"]
    );
}

#[test]
fn buckets_follow_the_stated_zone_across_daylight_saving() {
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    // Autumn 2026: at 01:00Z clocks go from 03:00 CEST back to 02:00 CET, so
    // 00:30Z and 01:30Z are both 02:30 local: one hourly bucket in Berlin,
    // two in UTC.
    let snaps = at(&[
        "2026-10-24T23:30:00Z",
        "2026-10-25T00:30:00Z",
        "2026-10-25T01:30:00Z",
    ]);
    let hourly = KeepPolicy::default().hourly(2);
    let local = plan_retention(
        &snaps,
        &hourly,
        &PlanOptions::default().time_zone(berlin.clone()),
    )
    .unwrap();
    assert_eq!(
        kept(&local),
        vec!["2026-10-24T23:30:00Z", "2026-10-25T01:30:00Z"]
    );
    assert_eq!(
        reasons(&local, "2026-10-25T01:30:00Z"),
        vec!["hourly 2026-10-25 02h"]
    );
    let utc = plan_retention(&snaps, &hourly, &PlanOptions::default()).unwrap();
    assert_eq!(
        kept(&utc),
        vec!["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"]
    );
    // Daily buckets: 2026-10-24T22:30Z is already the 25th in Berlin.
    let snaps = at(&["2026-10-24T21:30:00Z", "2026-10-24T22:30:00Z"]);
    let daily = KeepPolicy::default().daily(1);
    let local = plan_retention(
        &snaps,
        &daily,
        &PlanOptions::default().time_zone(berlin.clone()),
    )
    .unwrap();
    assert_eq!(
        reasons(&local, "2026-10-24T22:30:00Z"),
        vec!["daily 2026-10-25"]
    );
    // Spring 2026 (March 29) has 23 hours in Berlin: "within 1d" of local
    // midnight March 30 reaches back to local midnight March 29 = 23:00Z.
    let anchor: Timestamp = "2026-03-29T22:00:00Z".parse().unwrap();
    let snaps = at(&["2026-03-28T22:30:00Z", "2026-03-28T23:30:00Z"]);
    let within = KeepPolicy::default().within(dur("1d"));
    let opts = PlanOptions::default()
        .anchor(Anchor::At(anchor))
        .allow_remove_all(true);
    let local = plan_retention(&snaps, &within, &opts.clone().time_zone(berlin)).unwrap();
    assert_eq!(kept(&local), vec!["2026-03-28T23:30:00Z"]);
    let utc = plan_retention(&snaps, &within, &opts).unwrap();
    assert_eq!(utc.keep().len(), 2, "24 hours in UTC");
}

#[test]
fn equal_times_are_ordered_by_id_whatever_the_input_order() {
    let t = "2026-11-28T12:00:00Z";
    let mut snaps = vec![
        (id("bbbb"), snap(t, "h", &[])),
        (id("aaaa"), snap(t, "h", &[])),
        (id("cccc"), snap(t, "h", &[])),
    ];
    let policy = KeepPolicy::default().last(1).daily(1);
    let a = plan_retention(&snaps, &policy, &PlanOptions::default()).unwrap();
    snaps.reverse();
    let b = plan_retention(&snaps, &policy, &PlanOptions::default()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.keep(), vec![id("aaaa")]);
    assert_eq!(reasons(&a, "aaaa"), vec!["last #1", "daily 2026-11-28"]);
}

#[test]
fn empty_policies_and_plans_that_keep_nothing_are_refused_unless_allowed() {
    let snaps = at(&SUNDAYS);
    let err = plan_retention(&snaps, &KeepPolicy::default(), &PlanOptions::default());
    assert!(
        matches!(err, Err(Error::RemovesEverything { .. })),
        "{err:?}"
    );
    let tag_only = KeepPolicy::default().tag(["release"]);
    let err = plan_retention(&snaps, &tag_only, &PlanOptions::default());
    assert!(
        matches!(&err, Err(Error::RemovesEverything { group }) if group.contains("mopped")),
        "{err:?}"
    );
    let all = plan_retention(
        &snaps,
        &KeepPolicy::default(),
        &PlanOptions::default().allow_remove_all(true),
    )
    .unwrap();
    assert_eq!(all.remove().len(), 12);
    // Anchored at now, nothing of 2019 is within 7 days: refused too.
    let now = Anchor::At("2026-11-29T00:00:00Z".parse().unwrap());
    let err = plan_retention(
        &snaps,
        &KeepPolicy::default().within(dur("7d")),
        &PlanOptions::default().anchor(now),
    );
    assert!(matches!(err, Err(Error::RemovesEverything { .. })));
}

#[test]
fn tags_groups_and_reasons() {
    let snaps = vec![
        (id("a"), snap("2026-11-01T00:00:00Z", "h1", &["release"])),
        (id("b"), snap("2026-11-02T00:00:00Z", "h1", &[])),
        (id("c"), snap("2026-11-03T00:00:00Z", "h2", &["x", "y"])),
        (id("d"), snap("2026-11-04T00:00:00Z", "h2", &[])),
    ];
    let policy = KeepPolicy::default()
        .last(1)
        .tag(["release"])
        .tag(["x", "y"]);
    let plan = plan_retention(&snaps, &policy, &PlanOptions::default()).unwrap();
    assert_eq!(plan.groups.len(), 2);
    assert_eq!(kept(&plan), vec!["a", "b", "c", "d"]);
    assert_eq!(reasons(&plan, "a"), vec!["tag release"]);
    assert_eq!(reasons(&plan, "c"), vec!["tag x,y"]);
    let one_group = PlanOptions::default().group_by("".parse().unwrap());
    let plan = plan_retention(&snaps, &KeepPolicy::default().last(1), &one_group).unwrap();
    assert_eq!(plan.groups.len(), 1);
    assert_eq!(kept(&plan), vec!["d"]);
    let by_tags: GroupBy = "tags".parse().unwrap();
    assert!(by_tags.tags && !by_tags.host);
    assert!("hosts".parse::<GroupBy>().is_err());
}

#[test]
fn durations_parse_and_reject_garbage() {
    assert_eq!(dur("1y2m3d4h"), RetentionDuration::new(1, 2, 3, 4));
    assert_eq!(dur("7d").to_string(), "7d");
    for bad in ["", "7", "d", "1w", "1d1d", "99999999999d", "-1d"] {
        assert!(bad.parse::<RetentionDuration>().is_err(), "{bad:?}");
    }
}

fn policy_strategy() -> impl Strategy<Value = KeepPolicy> {
    let n = || prop_oneof![Just(0u32), 1u32..6, Just(u32::MAX)];
    let d = || proptest::option::of((0u32..2, 0u32..3, 0u32..20, 0u32..30));
    (
        (n(), n(), n(), n(), n(), n()),
        (d(), d(), d()),
        proptest::option::of(prop_oneof![Just("a"), Just("b")]),
    )
        .prop_map(|((l, h, dd, w, m, y), (wi, wd, wm), tag)| {
            let mk = |x: Option<(u32, u32, u32, u32)>| {
                x.map(|(y, m, d, h)| RetentionDuration::new(y, m, d, h))
            };
            let mut p = KeepPolicy::default()
                .last(l)
                .hourly(h)
                .daily(dd)
                .weekly(w)
                .monthly(m)
                .yearly(y);
            p.within = mk(wi);
            p.within_daily = mk(wd);
            p.within_monthly = mk(wm);
            if let Some(t) = tag {
                p = p.tag([t]);
            }
            p
        })
}

fn snapshots_strategy() -> impl Strategy<Value = Vec<(SnapshotId, Snapshot)>> {
    proptest::collection::vec((0i64..3 * 365 * 24, 0usize..3, 0usize..2), 0..60).prop_map(|v| {
        let base: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        v.into_iter()
            .enumerate()
            .map(|(i, (hours, tag, host))| {
                let t = base
                    .checked_add(jiff::SignedDuration::from_hours(hours))
                    .unwrap();
                let tags: &[&str] = [&[][..], &["a"][..], &["b"][..]][tag];
                (
                    id(&format!("{i:04}")),
                    snap(&t.to_string(), ["h1", "h2"][host], tags),
                )
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Keeping is monotone: whatever rule is added, every snapshot kept
    /// before is still kept.
    #[test]
    fn adding_a_rule_never_removes_a_kept_snapshot(
        snaps in snapshots_strategy(),
        base in policy_strategy(),
        extra in policy_strategy(),
        zone in prop_oneof![Just("UTC"), Just("Europe/Berlin"), Just("America/New_York")],
    ) {
        let mut union = base.clone();
        union.last = base.last.max(extra.last);
        union.hourly = base.hourly.max(extra.hourly);
        union.daily = base.daily.max(extra.daily);
        union.weekly = base.weekly.max(extra.weekly);
        union.monthly = base.monthly.max(extra.monthly);
        union.yearly = base.yearly.max(extra.yearly);
        union.within = base.within.or(extra.within);
        union.within_daily = base.within_daily.or(extra.within_daily);
        union.within_monthly = base.within_monthly.or(extra.within_monthly);
        union.tags.extend(extra.tags.iter().cloned());
        let opts = PlanOptions::default()
            .allow_remove_all(true)
            .time_zone(TimeZone::get(zone).unwrap());
        let before = plan_retention(&snaps, &base, &opts).unwrap();
        let after = plan_retention(&snaps, &union, &opts).unwrap();
        for id in before.keep() {
            prop_assert!(after.keep().contains(&id), "{id} dropped");
        }
        // Every snapshot is decided exactly once.
        prop_assert_eq!(after.decisions().count(), snaps.len());
    }
}
