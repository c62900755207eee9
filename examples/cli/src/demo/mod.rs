//! `cairn demo`: the whole product in one command, on generated data.
//!
//! Generate a tree, back it up, change it, back it up again, restore both
//! snapshots, compare each restored tree with a manifest of the source taken
//! at backup time (contents, modes, file mtimes, symlink targets), check the
//! repository, and report what it cost.

mod data;
mod manifest;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use cairn::{
    BackupOptions, BackupResult, CheckOptions, InitOptions, Location, NoProgress, Repository,
    RestoreOptions, RestoreSummary, Snapshot,
};
use clap::Args;

use crate::ctx::{Ctx, Flat};
use crate::ui::{bytes, mib_per_sec};
use manifest::Manifest;

/// The demo repository's password (the demo needs none from the user).
const DEMO_PASSWORD: &[u8] = b"cairn demo password";
const SEED: u64 = 0xca1e_2026;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the temporary directories (data, repository, restores) and print where.
    #[arg(long)]
    keep: bool,
    /// Approximate size of the sample data in MiB (for tests).
    #[arg(long, default_value_t = 128, hide = true)]
    size_mib: usize,
}

struct Timed<T> {
    value: T,
    secs: f64,
}

async fn timed<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<Timed<T>> {
    let t = Instant::now();
    let value = f.await?;
    Ok(Timed {
        value,
        secs: t.elapsed().as_secs_f64(),
    })
}

fn step(ctx: &Ctx, what: &str) {
    if !ctx.json && !ctx.quiet {
        eprintln!("… {what}");
    }
}

async fn restore_to(
    repo: &Repository,
    snap: &Snapshot,
    target: &Path,
) -> Result<Timed<RestoreSummary>> {
    timed(async {
        let opts = RestoreOptions::new(target);
        let plan = repo
            .plan_restore(snap, &opts)
            .await
            .flat()
            .context("planning a restore")?;
        repo.restore(&plan, &opts, Arc::new(NoProgress))
            .await
            .flat()
            .with_context(|| format!("restoring to {}", target.display()))
    })
    .await
}

/// Where snapshot path `src` lands under `target` (restic's layout).
fn restored_root(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").unwrap_or(src))
}

pub(crate) async fn run(ctx: &Ctx, a: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let base = tempfile::Builder::new()
        .prefix("cairn-demo-")
        .tempdir()
        .context("creating a temporary directory")?;
    let root = base.path().to_owned();
    let src = root.join("data");
    let repo_dir = root.join("repo");

    step(
        ctx,
        &format!("generating about {} MiB of sample data", a.size_mib),
    );
    let t = Instant::now();
    let generated = data::generate(&src, a.size_mib, SEED)?;
    let gen_secs = t.elapsed().as_secs_f64();
    let v1 = Manifest::of(&src)?;

    step(ctx, "creating a repository");
    let location = Location::Local(repo_dir.clone());
    let repo = Repository::init(&location, DEMO_PASSWORD, InitOptions::default())
        .await
        .flat()
        .context("creating the demo repository")?;

    step(ctx, "backup 1");
    let opts = BackupOptions::default().tag("demo");
    let b1: Timed<BackupResult> = timed(async {
        repo.backup(std::slice::from_ref(&src), &opts, Arc::new(NoProgress))
            .await
            .flat()
            .context("backup 1")
    })
    .await?;

    step(ctx, "changing a few files");
    let changes = data::change(&src, &generated, SEED)?;
    let v2 = Manifest::of(&src)?;

    step(ctx, "backup 2");
    let b2 = timed(async {
        repo.backup(std::slice::from_ref(&src), &opts, Arc::new(NoProgress))
            .await
            .flat()
            .context("backup 2")
    })
    .await?;
    for w in b1.value.warnings.iter().chain(&b2.value.warnings) {
        eprintln!("warning: {w}");
    }

    step(ctx, "restoring both snapshots");
    let r1_dir = root.join("restore-1");
    let r2_dir = root.join("restore-2");
    let r1 = restore_to(&repo, &b1.value.snapshot, &r1_dir).await?;
    let r2 = restore_to(&repo, &b2.value.snapshot, &r2_dir).await?;

    step(ctx, "comparing the restored trees with the source");
    let diff1 = Manifest::of(&restored_root(&r1_dir, &src))?.diff(&v1);
    let diff2 = Manifest::of(&restored_root(&r2_dir, &src))?.diff(&v2);

    step(ctx, "checking the repository (reading every pack back)");
    let checked = timed(async {
        repo.check(&CheckOptions::default().read_data(1.0))
            .await
            .flat()
            .context("checking the demo repository")
    })
    .await?;

    let stats = repo
        .stats()
        .await
        .flat()
        .context("counting the demo repository")?;
    let repo_bytes = stats.repository_bytes;
    let (blobs, packs, resident) = (stats.blobs, stats.packs, stats.index_resident_bytes);

    let s1 = &b1.value.snapshot.summary;
    let s2 = &b2.value.snapshot.summary;
    let logical = s1.total_bytes + s2.total_bytes;
    let ok = diff1.is_empty() && diff2.is_empty() && checked.value.is_ok();
    let per_blob = resident as f64 / blobs.max(1) as f64;
    let kept = if a.keep { Some(base.keep()) } else { None };

    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "ok": ok,
                "data_bytes": v1.bytes(), "files": v1.files(), "dirs": v1.dirs(), "symlinks": v1.symlinks(),
                "backup1": {"secs": b1.secs, "bytes_read": s1.bytes_read, "added_raw": s1.bytes_added_raw, "added_stored": s1.bytes_added_stored},
                "backup2": {"secs": b2.secs, "bytes_read": s2.bytes_read, "files_unchanged": s2.files_unchanged,
                            "files_changed": s2.files_changed, "files_new": s2.files_new,
                            "added_raw": s2.bytes_added_raw, "added_stored": s2.bytes_added_stored},
                "restore1": {"secs": r1.secs, "bytes": r1.value.bytes_written},
                "restore2": {"secs": r2.secs, "bytes": r2.value.bytes_written},
                "repository_bytes": repo_bytes, "packs": packs, "blobs": blobs,
                "index_bytes_per_blob": per_blob,
                "check_errors": checked.value.errors,
                "differences": diff1.iter().chain(&diff2).collect::<Vec<_>>(),
                "total_secs": started.elapsed().as_secs_f64(),
                "kept": kept.as_ref().map(|p| p.display().to_string()),
            })
        );
    } else {
        let l = |label: &str, text: String| println!("{label:<13}{text}");
        println!();
        println!("cairn demo: backup, change, backup, restore, verify, check");
        println!();
        l(
            "Sample data",
            format!(
                "{} in {} files, {} dirs, {} symlinks (generated in {:.1} s)",
                bytes(v1.bytes()),
                v1.files(),
                v1.dirs(),
                v1.symlinks(),
                gen_secs
            ),
        );
        l(
            "",
            format!(
                "a {} disk image, {} small files, source text, logs, random binaries,",
                bytes(generated.large_bytes),
                generated.small_files
            ),
        );
        l(
            "",
            "empty files, symlinks, unicode names, modes 0755/0600".into(),
        );
        l(
            "Backup 1",
            format!(
                "read {} in {:.2} s ({:.0} MiB/s): added {} of new data, {} stored",
                bytes(s1.bytes_read),
                b1.secs,
                mib_per_sec(s1.bytes_read, b1.secs),
                bytes(s1.bytes_added_raw),
                bytes(s1.bytes_added_stored)
            ),
        );
        l("Changes", changes.join("; "));
        l(
            "Backup 2",
            format!(
                "{} files unchanged (not read), {} changed, {} new; read {} in {:.2} s",
                s2.files_unchanged,
                s2.files_changed,
                s2.files_new,
                bytes(s2.bytes_read),
                b2.secs
            ),
        );
        l(
            "",
            format!(
                "added only {} of new data ({} stored) for a {} snapshot",
                bytes(s2.bytes_added_raw),
                bytes(s2.bytes_added_stored),
                bytes(s2.total_bytes)
            ),
        );
        for (n, r) in [(1, &r1), (2, &r2)] {
            l(
                &format!("Restore {n}"),
                format!(
                    "{} files, {} in {:.2} s ({:.0} MiB/s), {} fetched from {} packs",
                    r.value.files,
                    bytes(r.value.bytes_written),
                    r.secs,
                    mib_per_sec(r.value.bytes_written, r.secs),
                    bytes(r.value.bytes_fetched),
                    r.value.packs_read
                ),
            );
        }
        l(
            "Repository",
            format!(
                "{} on disk ({} packs, {} blobs) for {} in two snapshots: {:.2}x smaller",
                bytes(repo_bytes),
                packs,
                blobs,
                bytes(logical),
                logical as f64 / repo_bytes.max(1) as f64
            ),
        );
        l(
            "Index",
            format!(
                "{} in memory, {per_blob:.1} bytes per blob",
                bytes(resident as u64)
            ),
        );
        l(
            "Check",
            format!(
                "{} snapshots, {} trees, {} packs read back in {:.2} s: {}",
                checked.value.snapshots,
                checked.value.trees,
                checked.value.packs_read,
                checked.secs,
                if checked.value.is_ok() {
                    "no errors".to_owned()
                } else {
                    format!("{} ERRORS", checked.value.errors.len())
                }
            ),
        );
        for (n, d, m) in [(1, &diff1, &v1), (2, &diff2, &v2)] {
            l(
                if n == 1 { "Verified" } else { "" },
                if d.is_empty() {
                    format!(
                    "snapshot {n}: identical ({} files, {} dirs, {} symlinks: contents, modes, mtimes, link targets)",
                    m.files(), m.dirs(), m.symlinks()
                )
                } else {
                    format!("snapshot {n}: {} DIFFERENCES", d.len())
                },
            );
        }
        l("Total", format!("{:.1} s", started.elapsed().as_secs_f64()));
    }
    for d in diff1.iter().take(20) {
        eprintln!("snapshot 1: {d}");
    }
    for d in diff2.iter().take(20) {
        eprintln!("snapshot 2: {d}");
    }
    for e in checked.value.errors.iter().take(20) {
        eprintln!("check: {e}");
    }
    if let Some(kept) = &kept {
        if !ctx.json {
            println!();
            println!("kept in {}:", kept.display());
            println!("  data/       the sample data (as of snapshot 2)");
            println!(
                "  repo/       the repository (password: {:?})",
                String::from_utf8_lossy(DEMO_PASSWORD)
            );
            println!("  restore-1/  snapshot 1 restored;  restore-2/  snapshot 2 restored");
        }
    }
    if !ok {
        bail!("the demo found differences or repository errors (see above)");
    }
    Ok(ExitCode::SUCCESS)
}
