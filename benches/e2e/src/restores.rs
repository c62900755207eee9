//! The restore rows: every contender restores the last backup into a
//! directory on disk and into one on tmpfs (so Cairn's own work is measured
//! apart from the file system's, which on this VM swings by 10× between
//! runs), taking turns going first, for a number of rounds (medians).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::Result;

use crate::dataset;
use crate::orchestrate::{log, row, turn_order};
use crate::report::{DatasetReport, RESTORE, RESTORE_TMPFS};
use crate::tools::{self, Measured, Place, Tool};

/// The median of `v` by wall time (the upper one for an even count).
fn median(mut v: Vec<Measured>) -> Option<Measured> {
    v.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let i = v.len() / 2;
    v.into_iter().nth(i)
}

/// Where a tool put the restored tree: under the source's absolute path
/// (restic, Cairn's `step restore`, borg) or at the target itself.
fn restored_root(target: &Path, data: &Path) -> std::path::PathBuf {
    let rel = data.strip_prefix("/").unwrap_or(data);
    let nested = target.join(rel);
    if nested.is_dir() {
        nested
    } else {
        target.to_owned()
    }
}

/// Restores backup `n` with every contender into each of `roots` (disk,
/// then tmpfs; the last is always tmpfs), `rounds` times, and adds the median rows and the
/// first round's comparison with `data` to `rep`. Cairn restores `window`
/// files at a time (0: one plan).
#[allow(clippy::too_many_arguments)]
pub(crate) fn restore_rows(
    rep: &mut DatasetReport,
    contenders: &[Tool],
    place: impl Fn(Tool) -> Place,
    data: &Path,
    roots: &[&Path],
    (n, window): (usize, usize),
    rounds: usize,
    (files, bytes): (u64, u64),
) -> Result<()> {
    let steps: &[&str] = if roots.len() == 2 {
        &[RESTORE, RESTORE_TMPFS]
    } else {
        &[RESTORE_TMPFS]
    };
    let mut runs: BTreeMap<(usize, usize), Vec<Measured>> = BTreeMap::new();
    for round in 0..rounds {
        for (s, root) in roots.iter().enumerate() {
            for t in turn_order(contenders, 2 * round + s) {
                log(&format!("{} (round {}): {}", steps[s], round + 1, t.name()));
                let target = root.join("restore");
                let m = tools::restore(t, &place(t), &target, (n, window), root)?;
                if round == 0 {
                    let diffs = dataset::compare(data, &restored_root(&target, data))?;
                    rep.restore_diffs
                        .insert(format!("{}, {}", t.name(), steps[s]), diffs);
                }
                fs::remove_dir_all(&target)?;
                let key = contenders.iter().position(|&c| c == t).unwrap_or(0);
                runs.entry((s, key)).or_default().push(m);
            }
        }
    }
    for ((s, key), v) in runs {
        if let Some(m) = median(v) {
            rep.rows
                .push(row(steps[s], contenders[key], &m, files, bytes));
        }
    }
    if rounds > 1 {
        rep.notes.push(format!(
            "restore rows are the median of {rounds} rounds, the tools taking turns going first."
        ));
    }
    Ok(())
}
