//! Back up a directory and restore it, with nothing but `cairn`:
//! `cargo run -p cairn-examples --bin backup_restore -- SOURCE REPO TARGET`
use std::sync::Arc;

use cairn::{BackupOptions, InitOptions, Location, NoProgress, Repository, RestoreOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, repo, target] = args.as_slice() else {
        return Err("usage: backup_restore SOURCE REPO TARGET".into());
    };
    let password = std::env::var("CAIRN_PASSWORD").unwrap_or_else(|_| "example".into());
    cairn::block_on(async {
        let location: Location = repo.parse()?;
        let repo = Repository::init(&location, password.as_bytes(), InitOptions::default()).await?;
        let done = repo
            .backup(
                &[source.into()],
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await?;
        let opts = RestoreOptions::new(target);
        let plan = repo.plan_restore(&done.snapshot, &opts).await?;
        repo.restore(&plan, &opts, Arc::new(NoProgress)).await?;
        println!(
            "snapshot {} restored to {target}",
            done.snapshot_id.as_deref().unwrap_or("-")
        );
        Ok(())
    })
}
