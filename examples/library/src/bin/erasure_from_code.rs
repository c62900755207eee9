//! An erasure-coded repository built in code: 4 data + 2 parity shards over
//! six directories (in a real deployment: six disks, buckets or regions),
//! then two of them lost, and the backup still restores.
//! `cargo run -p cairn-examples --bin erasure_from_code -- SOURCE WORKDIR`
use std::sync::Arc;

use cairn::backends::LocalBackend;
use cairn::erasure::{Child, ErasureBackend, ErasureConfig, Labels};
use cairn::{BackupOptions, InitOptions, NoProgress, Repository, RestoreOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, work] = args.as_slice() else {
        return Err("usage: erasure_from_code SOURCE WORKDIR".into());
    };
    let work = std::path::Path::new(work);
    let mut children = Vec::new();
    for i in 0..6 {
        let dir = LocalBackend::create(work.join(format!("disk{i}")))?;
        let labels = Labels::new().region(format!("region-{}", i % 3));
        children.push(Child::new(format!("disk{i}"), Arc::new(dir)).with_labels(labels));
    }
    // At most two shards of an object per region: losing a region loses at most m.
    let config = ErasureConfig::new(4, 2).max_shards_per_region(2);
    let store = Arc::new(ErasureBackend::new(children, config)?);
    cairn::block_on(async {
        let repo = Repository::init_on(store, b"example", InitOptions::default()).await?;
        let done = repo
            .backup(
                &[source.into()],
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await?;
        drop(repo);
        // Two disks gone.
        std::fs::remove_dir_all(work.join("disk1"))?;
        std::fs::remove_dir_all(work.join("disk4"))?;
        let layout = work.join("layout.toml");
        let mut text = String::from("[erasure]\ndata = 4\nparity = 2\n");
        for i in 0..6 {
            text += &format!(
                "[[backends]]\nlocation = \"disk{i}\"\nregion = \"region-{}\"\n",
                i % 3
            );
        }
        std::fs::write(&layout, text)?;
        // The same layout, now from a file, as the CLI's `-r layout.toml` opens it.
        let repo = Repository::open(&layout.to_str().ok_or("path")?.parse()?, b"example").await?;
        for w in repo.warnings() {
            println!("warning: {w}");
        }
        let target = work.join("restored");
        let opts = RestoreOptions::new(&target);
        let plan = repo.plan_restore(&done.snapshot, &opts).await?;
        repo.restore(&plan, &opts, Arc::new(NoProgress)).await?;
        let report = repo.verify(&done.snapshot, &target).await?;
        println!(
            "restored with two of six disks lost: identical = {}",
            report.is_ok()
        );
        Ok(())
    })
}
