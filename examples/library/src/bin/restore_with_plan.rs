//! Restore the newest snapshot matching a host/path filter, showing the plan
//! (what will be fetched, an estimate) before running it:
//! `cargo run -p cairn-examples --bin restore_with_plan -- REPO TARGET [HOST]`
use std::sync::Arc;

use cairn::{Location, NoProgress, Repository, RestoreOptions, SnapshotQuery};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (repo, target, host) = match args.as_slice() {
        [r, t] => (r, t, None),
        [r, t, h] => (r, t, Some(h.clone())),
        _ => return Err("usage: restore_with_plan REPO TARGET [HOST]".into()),
    };
    let password = std::env::var("CAIRN_PASSWORD").unwrap_or_else(|_| "example".into());
    cairn::block_on(async {
        let repo = Repository::open(&repo.parse::<Location>()?, password.as_bytes()).await?;
        for w in repo.warnings() {
            eprintln!("warning: {w}");
        }
        let mut query = SnapshotQuery::latest();
        if let Some(h) = host {
            query = query.host(h);
        }
        let (id, snapshot) = repo.snapshot(&query).await?;
        let opts = RestoreOptions::new(target);
        let plan = repo.plan_restore(&snapshot, &opts).await?;
        println!(
            "snapshot {id}: {} files, {} bytes; fetching {} bytes from {} packs (~{:.1?} at 100 MB/s)",
            plan.files.len(),
            plan.total_bytes(),
            plan.fetch_bytes(),
            plan.packs.len(),
            plan.estimate(100e6),
        );
        let summary = repo.restore(&plan, &opts, Arc::new(NoProgress)).await?;
        println!(
            "restored {} files, {} bytes",
            summary.files, summary.bytes_written
        );
        Ok(())
    })
}
