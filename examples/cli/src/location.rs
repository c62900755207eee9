//! Repository locations: what `-r/--repo` (or `CAIRN_REPOSITORY`) names.
//! Parsing and opening are the library's (`cairn::Location`: a directory,
//! `s3:…`, or an erasure layout file, whose schema is `cairn::erasure::Layout`
//! and the README); the CLI only prints what opening found.

use anyhow::{Context, Result};
use cairn::{Location, OpenedLocation};

use crate::ctx::Flat;

/// Opens `location` (the string `s` as given). With `create` (for `init`),
/// missing directories are created; otherwise nothing is, and a missing
/// child directory of an erasure layout is a lost child, announced on
/// stderr.
pub(crate) fn open(location: &Location, s: &str, create: bool) -> Result<OpenedLocation> {
    let opened = match create {
        true => location.create(),
        false => location.open(),
    }
    .flat()
    .with_context(|| format!("opening {s}"))?;
    for w in &opened.warnings {
        eprintln!("WARNING: {w}");
    }
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_str(s: &str, create: bool) -> Result<OpenedLocation> {
        open(&s.parse().flat()?, s, create)
    }

    #[test]
    fn layout_with_relative_children_opens_and_rejects_bad_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("[erasure]\ndata = 2\nparity = 1\n");
        for i in 0..3 {
            text.push_str(&format!(
                "[[backends]]\nlocation = \"d{i}\"\nregion = \"r{i}\"\n"
            ));
        }
        let good = dir.path().join("good.toml");
        std::fs::write(&good, &text).unwrap();
        let opened = open_str(good.to_str().unwrap(), true).unwrap();
        assert!(opened.is_erasure());
        assert!(dir.path().join("d2").is_dir());

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, text.replace("parity = 1", "parity = 2")).unwrap();
        let err = open_str(bad.to_str().unwrap(), true).err().unwrap();
        assert!(format!("{err:#}").contains("bad.toml"), "{err:#}");
    }

    #[test]
    fn huge_timeouts_in_a_layout_are_refused_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        for (field, value) in [
            ("timeout_secs", i64::MAX as u64),
            ("hedge_after_ms", i64::MAX as u64),
            ("timeout_secs", 40 * 24 * 3600),
        ] {
            let mut text = format!("[erasure]\ndata = 2\nparity = 1\n{field} = {value}\n");
            for i in 0..3 {
                text.push_str(&format!("[[backends]]\nlocation = \"d{i}\"\n"));
            }
            let file = dir.path().join("huge.toml");
            std::fs::write(&file, text).unwrap();
            let err = open_str(file.to_str().unwrap(), true).err().unwrap();
            let msg = format!("{err:#}");
            assert!(
                msg.contains("huge.toml") && msg.contains("longer than"),
                "{msg}"
            );
        }
    }
}
