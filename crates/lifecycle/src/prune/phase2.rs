//! Phase 2: deciding when a condemned record's wait is over, declaring dead
//! sessions, and deleting (with the index consolidated first).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use super::gc::{chunked, now_string, scan, PendingRecord, PruneOptions, PruneReport, Scan};
use super::records::{
    delete_quiet, list_names, load_condemned, read_listed_doc, write_at, write_hashed, Killed,
    Wait, CONDEMNED, KILLED, KILLED_MAGIC, SESSIONS, WAITS, WAIT_MAGIC,
};
use super::session::{live_sessions, Session};
use super::strays;
use crate::pack::PackId;
use crate::{Error, Repository, Result};

fn wait_prefix(record: &str) -> String {
    format!("{WAITS}{}.", record.trim_start_matches(CONDEMNED))
}

async fn observations(repo: &Repository, record: &str, all: &[String]) -> Result<Vec<Wait>> {
    let prefix = wait_prefix(record);
    let mut out = Vec::new();
    for key in all.iter().filter(|k| k.starts_with(&prefix)) {
        if let Some(w) = read_listed_doc(repo, WAIT_MAGIC, WAITS, key).await? {
            out.push(w);
        }
    }
    Ok(out)
}

fn elapsed_since(time: &str) -> Option<std::time::Duration> {
    let t = humantime::parse_rfc3339_weak(time).ok()?;
    SystemTime::now().duration_since(t).ok()
}

/// Records condemned earlier and whom they wait for (read-only).
pub(crate) async fn pending(repo: &Repository, scan: &Scan) -> Result<Vec<PendingRecord>> {
    let waits = list_names(repo, WAITS).await?;
    let live = live_sessions(repo).await?;
    let mut out = Vec::new();
    for (key, rec) in &scan.condemned {
        let obs = observations(repo, key, &waits).await?;
        let waiting_for = obs
            .iter()
            .map(|o| {
                o.sessions
                    .keys()
                    .filter(|s| live.contains_key(*s))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .min_by_key(Vec::len)
            .unwrap_or_else(|| live.keys().cloned().collect());
        out.push(PendingRecord {
            name: key.clone(),
            packs: rec.packs.len(),
            waiting_for,
        });
    }
    Ok(out)
}

/// Observes every condemned record, declares stale sessions dead, and
/// finishes the records whose wait is over.
pub(crate) async fn advance(
    repo: &Repository,
    opts: &PruneOptions,
    me: &Session,
    report: &mut PruneReport,
) -> Result<()> {
    let records = load_condemned(repo).await?;
    let waits = list_names(repo, WAITS).await?;
    let mut live = live_sessions(repo).await?;
    live.remove(me.id());
    let mut all_obs = Vec::new();
    for (key, _) in &records {
        all_obs.push(observations(repo, key, &waits).await?);
    }
    // A session's counter is the same whatever record observed it: every
    // observation counts towards declaring it dead.
    let flat: Vec<Wait> = all_obs.iter().flatten().cloned().collect();
    kill_stale(repo, opts, me, &flat, &mut live, report).await?;
    remove_kill_markers(repo, &flat, report).await?;
    let mut ready = Vec::new();
    for ((key, rec), mut obs) in records.iter().zip(all_obs) {
        let new_obs = Wait {
            condemned: key.clone(),
            run: me.id().to_owned(),
            sessions: live.clone(),
            time: now_string(),
        };
        if obs.is_empty() {
            // Any listing made after the record is visible is a valid wait set.
            write_hashed(repo, WAIT_MAGIC, &wait_prefix(key), &new_obs).await?;
            obs.push(new_obs.clone());
        }
        let old_enough =
            opts.grace.is_zero() || elapsed_since(&rec.time).is_some_and(|e| e >= opts.grace);
        let drained = obs
            .iter()
            .any(|o| o.sessions.keys().all(|s| !live.contains_key(s)));
        if old_enough && drained {
            ready.push(key.clone());
        } else {
            if !obs.iter().any(|o| o.run == me.id()) {
                // Counters seen by this run: the logical clock of staleness.
                let mut o = new_obs;
                o.sessions = live.clone();
                write_hashed(repo, WAIT_MAGIC, &wait_prefix(key), &o).await?;
            }
            report.still_pending += 1;
        }
    }
    finish(repo, opts, me, ready, report).await
}

/// Declares dead every live session that earlier runs (at least
/// `stale_runs` different ones) saw with the counter it still has.
async fn kill_stale(
    repo: &Repository,
    opts: &PruneOptions,
    me: &Session,
    obs: &[Wait],
    live: &mut BTreeMap<String, u64>,
    report: &mut PruneReport,
) -> Result<()> {
    let candidates: Vec<(String, u64)> = live.iter().map(|(s, c)| (s.clone(), *c)).collect();
    for (s, counter) in candidates {
        let same: Vec<&Wait> = obs
            .iter()
            .filter(|o| o.run != me.id() && o.sessions.get(&s) == Some(&counter))
            .collect();
        let runs: HashSet<&str> = same.iter().map(|o| o.run.as_str()).collect();
        let long_enough = opts.stale_after.is_zero()
            || same
                .iter()
                .filter_map(|o| elapsed_since(&o.time))
                .any(|e| e >= opts.stale_after);
        if runs.len() >= opts.stale_runs.max(1) as usize && long_enough {
            let mark = Killed {
                session: s.clone(),
                counter,
            };
            let key = format!("{KILLED}{s}");
            match write_at(repo, KILLED_MAGIC, &key, &mark, Default::default()).await {
                Err(Error::Backend(e)) if e.is_already_exists() => {}
                r => r?,
            }
            live.remove(&s);
            report.sessions_killed.push(s);
        }
    }
    Ok(())
}

/// Removes the kill markers of sessions that have ended: whose lease is
/// gone, and that no wait observation read by this run names.
///
/// Why that is safe: a marker is read by two parties. The writer checks
/// its own marker after writing its snapshot record and before deleting
/// its lease (its last act), so once the lease is gone the writer will
/// never check again. Pruners count a session live when its lease exists
/// and no marker does: with the lease gone the session is not live,
/// marker or not. Lease first, marker second is therefore the only order
/// that holds; removing the marker of a session whose lease is still there
/// (a crashed writer's, which nobody deletes) could let a writer that was
/// merely suspended commit after all — so those markers stay, one small
/// object per crashed writer, next to its lease. The observations are
/// checked as well, although a session whose lease is gone counts as ended
/// whatever they say: a marker outlives every record that waited for its
/// session, which keeps `pending` and the reports explainable.
async fn remove_kill_markers(
    repo: &Repository,
    observations: &[Wait],
    report: &mut PruneReport,
) -> Result<()> {
    let markers = list_names(repo, KILLED).await?;
    if markers.is_empty() {
        return Ok(());
    }
    // Listed after the markers: a lease seen gone here was gone when the
    // marker was seen.
    let leases: HashSet<String> = list_names(repo, SESSIONS)
        .await?
        .into_iter()
        .map(|k| k.trim_start_matches(SESSIONS).to_owned())
        .collect();
    for key in markers {
        let id = key.trim_start_matches(KILLED);
        if leases.contains(id) || observations.iter().any(|o| o.sessions.contains_key(id)) {
            continue;
        }
        delete_quiet(repo, &key).await?;
        report.kill_markers_removed += 1;
    }
    Ok(())
}

/// Deletes the packs of `ready` records: re-check references, consolidate
/// the index, delete replaced index objects, delete packs, delete records.
async fn finish(
    repo: &Repository,
    opts: &PruneOptions,
    me: &Session,
    ready: Vec<String>,
    report: &mut PruneReport,
) -> Result<()> {
    let scan = scan(repo).await?;
    let ready: HashSet<String> = ready.into_iter().collect();
    let mut records: HashMap<&str, Vec<PackId>> = HashMap::new();
    for (k, c) in &scan.condemned {
        records.insert(k.as_str(), c.pack_ids(k)?);
    }
    let mut finishing: HashSet<&str> = records
        .keys()
        .copied()
        .filter(|k| ready.contains(*k))
        .collect();
    // Index objects that mention a pack still condemned are kept; a pack
    // they mention cannot be deleted now (it would leave a dangling entry),
    // so its record waits: repeat until nothing changes.
    let (to_delete, still, keep_objects) = loop {
        let still: HashSet<PackId> = records
            .iter()
            .filter(|(k, _)| !finishing.contains(*k))
            .flat_map(|(_, ps)| ps.iter().copied())
            .collect();
        let to_delete: HashSet<PackId> = finishing
            .iter()
            .flat_map(|k| records[k].iter().copied())
            .filter(|p| !still.contains(p))
            .collect();
        let keep_objects: HashSet<&str> = scan
            .index_objects
            .iter()
            .filter(|(_, ps)| ps.iter().any(|(p, _)| still.contains(p)))
            .map(|(n, _)| n.as_str())
            .collect();
        let blocked: HashSet<PackId> = scan
            .index_objects
            .iter()
            .filter(|(n, _)| keep_objects.contains(n.as_str()))
            .flat_map(|(_, ps)| ps.iter().map(|(p, _)| *p))
            .filter(|p| to_delete.contains(p))
            .collect();
        let before = finishing.len();
        finishing.retain(|k| !records[k].iter().any(|p| blocked.contains(p)));
        if finishing.len() == before {
            break (to_delete, still, keep_objects);
        }
    };
    report.still_pending += ready.len().saturating_sub(finishing.len());
    // Observations of records that no longer exist (written by a prune that
    // loaded the record just before another one finished it). Removing an
    // observation can only make a record wait longer, never shorter, so a
    // record written after the scan losing its observation is harmless.
    for w in list_names(repo, WAITS).await? {
        if !records.keys().any(|k| w.starts_with(&wait_prefix(k))) {
            delete_quiet(repo, &w).await?;
        }
    }
    // Re-check: a pack holding a referenced blob with no other surviving
    // copy is un-condemned (a snapshot written since needs it).
    let mut doomed = to_delete.clone();
    for p in &to_delete {
        let needed = scan.entries.get(p).into_iter().flatten().any(|e| {
            scan.referenced.contains(&e.id)
                && !scan.holders.get(&e.id).into_iter().flatten().any(|q| {
                    !to_delete.contains(q) && !still.contains(q) && scan.listed.contains_key(q)
                })
        });
        if needed {
            doomed.remove(p);
            report.packs_kept += 1;
        }
    }
    let replaceable: Vec<&str> = scan
        .index_objects
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !keep_objects.contains(n))
        .collect();
    if finishing.is_empty() && replaceable.len() <= 1 && !scan.old_index {
        return repo.reload_index().await;
    }
    let strays: Vec<String> = scan
        .condemned
        .iter()
        .filter(|(k, _)| finishing.contains(k.as_str()))
        .flat_map(|(_, c)| c.strays.iter().cloned())
        .collect();
    let live_packs: BTreeMap<PackId, Vec<crate::PackEntry>> = scan
        .entries
        .iter()
        .filter(|(p, _)| !doomed.contains(p) && !still.contains(p))
        .map(|(p, e)| (*p, e.clone()))
        .collect();
    let mut written = HashSet::new();
    for chunk in chunked(live_packs) {
        // One call may write several objects (each kept under the index
        // object size cap).
        for name in repo.write_index(&chunk).await? {
            written.insert(name);
            report.index_written += 1;
        }
    }
    // A consolidated object whose put was in flight when another prune
    // declared this one dead may have lost shards to its stray removal:
    // replace nothing then.
    me.ensure_alive(repo).await?;
    for name in replaceable {
        if !written.contains(name) {
            delete_quiet(repo, name).await?;
            report.index_deleted += 1;
        }
    }
    for p in &doomed {
        delete_quiet(repo, &p.key()).await?;
        report.packs_deleted += 1;
        report.bytes_deleted += scan.listed.get(p).copied().unwrap_or(0);
    }
    strays::delete(opts, strays, report).await;
    let waits = list_names(repo, WAITS).await?;
    for k in &finishing {
        let prefix = wait_prefix(k);
        for w in waits.iter().filter(|w| w.starts_with(&prefix)) {
            delete_quiet(repo, w).await?;
        }
        delete_quiet(repo, k).await?;
    }
    repo.reload_index().await
}
