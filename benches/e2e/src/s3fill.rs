//! `step s3-fill`: the repositories `run --s3-snapshots` lists (see
//! `s3snap`), filled through the library in one process each.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use cairn_archiver::{backup, BackupOptions, NoProgress};
use cairn_backends::{ObjectStoreBackend, S3Config};
use cairn_cas_core::{InitOptions, Repository};
use cairn_crypto::KdfParams;
use serde_json::{json, Value};

use crate::step::PASSWORD;

/// 20 directories of 10 small files; version `v` changes one file.
fn write_tree(src: &Path, v: usize) -> Result<()> {
    for d in 0..20 {
        let dir = src.join(format!("dir{d:02}"));
        std::fs::create_dir_all(&dir)?;
        for f in 0..10 {
            if v == 0 || (d * 10 + f) == v % 200 {
                let text = format!("file {d}/{f}, version {v}\n").repeat(40);
                std::fs::write(dir.join(format!("file{f}.txt")), text)?;
            }
        }
    }
    Ok(())
}

/// `step s3-fill`: creates the repository at `url` and makes `snapshots`
/// backups of a small tree under `src`, one process, one handle.
pub(crate) fn fill(url: &str, src: &Path, snapshots: usize, minimal_kdf: bool) -> Result<Value> {
    let backend = Arc::new(ObjectStoreBackend::s3(S3Config::from_location(url)?)?);
    let kdf = if minimal_kdf {
        KdfParams::insecure_for_tests()
    } else {
        KdfParams::default()
    };
    futures::executor::block_on(async {
        Repository::init(
            backend.clone(),
            PASSWORD.as_bytes(),
            InitOptions::default().kdf(kdf),
        )
        .await?;
        let repo = Repository::open(backend, PASSWORD.as_bytes()).await?;
        let opts = BackupOptions::default().host("bench");
        for v in 0..snapshots {
            write_tree(src, v)?;
            backup(&repo, &[src.to_owned()], &opts, Arc::new(NoProgress)).await?;
        }
        Ok(json!({ "snapshots": snapshots }))
    })
}
