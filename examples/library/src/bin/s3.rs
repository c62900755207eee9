//! A repository on S3 or an S3-compatible store (SeaweedFS, MinIO, Ceph,
//! Garage): credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`,
//! region from `AWS_REGION`.
//! `cargo run -p cairn-examples --bin s3 -- s3:http://127.0.0.1:8333/bucket/prefix SOURCE`
use std::sync::Arc;

use cairn::{BackupOptions, InitOptions, Location, NoProgress, Repository};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, source] = args.as_slice() else {
        return Err("usage: s3 s3:http://HOST:PORT/BUCKET/PREFIX SOURCE".into());
    };
    let password = std::env::var("CAIRN_PASSWORD").unwrap_or_else(|_| "example".into());
    cairn::block_on(async {
        let location: Location = url.parse()?;
        // Open if it exists, else create.
        let repo = match Repository::open(&location, password.as_bytes()).await {
            Ok(repo) => repo,
            Err(e)
                if matches!(
                    e.find::<cairn::cas::Error>(),
                    Some(cairn::cas::Error::NotARepository { .. })
                ) =>
            {
                Repository::init(&location, password.as_bytes(), InitOptions::default()).await?
            }
            Err(e) => return Err(e.into()),
        };
        let done = repo
            .backup(
                &[source.into()],
                &BackupOptions::default(),
                Arc::new(NoProgress),
            )
            .await?;
        let s = &done.snapshot.summary;
        println!(
            "snapshot {}: {} files, {} bytes stored",
            done.snapshot_id.as_deref().unwrap_or("-"),
            s.files_new,
            s.bytes_added_stored
        );
        Ok(())
    })
}
