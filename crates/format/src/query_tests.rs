//! The query selects as the two filters it replaces did: the old code's
//! `matches` functions are kept here as references and compared over every
//! combination of a small set of snapshots and conditions.

use std::time::{Duration, SystemTime};

use cairn_crypto::ChunkId;
use jiff::Timestamp;

use super::*;

fn snap(secs: i64, host: &str, paths: &[&str], tags: &[&str]) -> Snapshot {
    let mut s = Snapshot::new(
        Timestamp::from_second(secs).unwrap(),
        host.to_owned(),
        paths.iter().map(|p| p.to_string()).collect(),
        ChunkId::from_hex(&"00".repeat(32)).unwrap(),
    );
    s.tags = tags.iter().map(|t| t.to_string()).collect();
    s
}

fn snapshots() -> Vec<Snapshot> {
    vec![
        snap(100, "alpha", &["/srv"], &["daily"]),
        snap(200, "beta", &["/srv/www", "/etc"], &[]),
        snap(300, "alpha", &["/"], &["daily", "db"]),
        snap(400, "gamma", &["/srv2"], &["db"]),
        snap(500, "beta", &["/etc"], &["weekly", "daily"]),
    ]
}

/// `cairn_recovery::SnapshotFilter::matches` before this type replaced it.
fn old_select(
    as_of: Option<SystemTime>,
    host: Option<&str>,
    path: Option<&str>,
    tags: &[&str],
    s: &Snapshot,
) -> bool {
    as_of.is_none_or(|t| s.system_time() <= t)
        && host.is_none_or(|h| s.hostname == h)
        && path.is_none_or(|p| {
            s.paths.iter().any(|sp| {
                p == sp
                    || p.strip_prefix(sp.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
                    || sp == "/"
            })
        })
        && tags.iter().all(|t| s.tags.iter().any(|st| st == t))
}

/// `cairn_cas_core::prune::SnapshotFilter::matches` before.
fn old_forget(hosts: &[&str], tags: &[Vec<&str>], paths: &[&str], s: &Snapshot) -> bool {
    (hosts.is_empty() || hosts.contains(&s.hostname.as_str()))
        && (tags.is_empty()
            || tags
                .iter()
                .any(|l| l.iter().all(|t| s.tags.iter().any(|st| st == t))))
        && paths.iter().all(|p| s.paths.iter().any(|sp| sp == p))
}

fn id() -> SnapshotId {
    "ab".repeat(32).parse().unwrap()
}

#[test]
fn selects_as_the_old_restore_filter_did() {
    let times = [None, Some(50), Some(200), Some(299), Some(300), Some(1000)];
    let hosts = [None, Some("alpha"), Some("beta"), Some("nobody")];
    let paths = [
        None,
        Some("/srv"),
        Some("/srv/www/x"),
        Some("/srv2"),
        Some("/etc"),
        Some("/sr"),
    ];
    let tagsets: [&[&str]; 4] = [&[], &["daily"], &["daily", "db"], &["none"]];
    let mut compared = 0;
    for t in times {
        for h in hosts {
            for p in paths {
                for tags in tagsets {
                    let mut q = SnapshotQuery::latest();
                    let sys = t.map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs(t));
                    if let Some(t) = t {
                        q = q.as_of(Timestamp::from_second(t as i64).unwrap());
                    }
                    if let Some(h) = h {
                        q = q.host(h);
                    }
                    if let Some(p) = p {
                        q = q.covering(p);
                    }
                    for tag in tags {
                        q = q.tag(*tag);
                    }
                    for s in snapshots() {
                        assert_eq!(
                            q.matches(&id(), &s),
                            old_select(sys, h, p, tags, &s),
                            "{q} on {s:?}"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 6 * 4 * 6 * 4 * 5);
}

#[test]
fn selects_as_the_old_forget_filter_did() {
    let hostsets: [&[&str]; 3] = [&[], &["alpha"], &["beta", "gamma"]];
    let taggroups: [Vec<Vec<&str>>; 4] = [
        vec![],
        vec![vec!["daily"]],
        vec![vec!["daily", "db"], vec!["weekly"]],
        vec![vec![]],
    ];
    let pathsets: [&[&str]; 4] = [&[], &["/etc"], &["/srv/www", "/etc"], &["/srv/www/x"]];
    for hosts in hostsets {
        for groups in &taggroups {
            for paths in pathsets {
                let mut q = SnapshotQuery::latest();
                for h in hosts {
                    q = q.host(*h);
                }
                for g in groups {
                    q = q.tag_group(g.iter().copied());
                }
                for p in paths {
                    q = q.path(*p);
                }
                for s in snapshots() {
                    assert_eq!(
                        q.matches(&id(), &s),
                        old_forget(hosts, groups, paths, &s),
                        "{q} on {s:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn ids_and_time_windows_select_too() {
    let s = snap(300, "alpha", &["/"], &[]);
    let at = |t| Timestamp::from_second(t).unwrap();
    assert!(SnapshotQuery::from(id()).matches(&id(), &s));
    assert!("AB".parse::<SnapshotQuery>().unwrap().matches(&id(), &s));
    assert!(!"abc".parse::<SnapshotQuery>().unwrap().matches(&id(), &s));
    assert!(SnapshotQuery::latest().after(at(300)).matches(&id(), &s));
    assert!(!SnapshotQuery::latest().after(at(301)).matches(&id(), &s));
    assert!(SnapshotQuery::latest()
        .after(at(1))
        .as_of(at(300))
        .matches(&id(), &s));
    assert!(!SnapshotQuery::latest().has_filters());
    assert!(!SnapshotQuery::from(id()).has_filters());
    assert!(SnapshotQuery::latest().host("a").has_filters());
}

#[test]
fn command_line_forms_parse_or_are_refused() {
    assert_eq!(
        "latest".parse::<SnapshotQuery>().unwrap(),
        SnapshotQuery::latest()
    );
    assert_eq!(
        "latest".parse::<SnapshotQuery>().unwrap().to_string(),
        "latest"
    );
    let q: SnapshotQuery = "3FA2".parse().unwrap();
    assert_eq!(q.to_string(), "3fa2");
    for bad in ["", "Latest", "3fa2/..", "zz"] {
        assert!(
            matches!(bad.parse::<SnapshotQuery>(), Err(Error::InvalidId { .. })),
            "{bad:?}"
        );
    }
}
