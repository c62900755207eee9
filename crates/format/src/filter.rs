//! What a backup leaves out (and what a restore picks): exclude patterns in
//! restic's gitignore-like language, compiled with `globset`, plus the
//! habits restic users expect (`--exclude-if-present`, `--exclude-caches`,
//! `--exclude-larger-than`, `--one-file-system`).
//!
//! # Pattern language
//!
//! Patterns are matched against absolute paths, `/`-separated.
//!
//! | pattern        | matches                                                    |
//! |----------------|------------------------------------------------------------|
//! | `*.log`        | a name anywhere (`/a/b/x.log`); no `/`: any depth          |
//! | `cache/tmp`    | that path below any directory (`/home/u/cache/tmp`)        |
//! | `/home/*/tmp`  | anchored at `/`; `*` and `?` do not cross `/`              |
//! | `**/target`    | `**` crosses any number of directories                     |
//! | `data/`        | a trailing `/`: only directories                           |
//! | `!keep.log`    | re-includes what an earlier pattern excluded (last wins)   |
//! | `[ab]*`, `{a,b}` | character classes and alternatives                        |
//!
//! A directory that is excluded is not descended into. `iexclude` patterns
//! are the same, matched case-insensitively.

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::{Error, Result};

/// One pattern's meaning besides its glob.
#[derive(Debug, Clone, Copy)]
struct Rule {
    negated: bool,
    dirs_only: bool,
}

/// A compiled list of patterns; the last one that matches decides.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    set: GlobSet,
    rules: Vec<Rule>,
    sources: Vec<String>,
}

impl Patterns {
    /// Compiles `(pattern, case_insensitive)` pairs, in order. Blank
    /// patterns are ignored; a bad one is an [`Error::InvalidOption`] naming it.
    pub fn new<'a>(patterns: impl IntoIterator<Item = (&'a str, bool)>) -> Result<Self> {
        let mut builder = GlobSetBuilder::new();
        let mut rules = Vec::new();
        let mut sources = Vec::new();
        for (raw, icase) in patterns {
            let p = raw.trim_end_matches(['\r', '\n']);
            if p.trim().is_empty() {
                continue;
            }
            let (negated, p) = match p.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, p),
            };
            let dirs_only = p.len() > 1 && p.ends_with('/');
            let p = if dirs_only {
                p.trim_end_matches('/')
            } else {
                p
            };
            let glob = if p.starts_with('/') || p.starts_with("**/") {
                p.to_owned()
            } else {
                format!("**/{p}")
            };
            let g = GlobBuilder::new(&glob)
                .literal_separator(true)
                .case_insensitive(icase)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::InvalidOption {
                    what: format!("pattern {raw:?}: {e}"),
                })?;
            builder.add(g);
            rules.push(Rule { negated, dirs_only });
            sources.push(raw.to_owned());
        }
        let set = builder.build().map_err(|e| Error::InvalidOption {
            what: format!("patterns: {e}"),
        })?;
        Ok(Patterns {
            set,
            rules,
            sources,
        })
    }

    /// Whether there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The patterns as given.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Whether `path` (absolute) matches: the last matching pattern that
    /// applies (directory-only patterns need `is_dir`) decides.
    pub fn matches(&self, path: &Path, is_dir: bool) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        self.set
            .matches(path)
            .into_iter()
            .rev()
            .map(|i| self.rules[i])
            .find(|r| is_dir || !r.dirs_only)
            .is_some_and(|r| !r.negated)
    }
}

/// `CACHEDIR.TAG`'s required first bytes (<https://bford.info/cachedir/>).
pub const CACHEDIR_TAG_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// What a backup leaves out.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Paths matching these are left out (directories with all below them).
    pub exclude: Patterns,
    /// A directory holding an entry of one of these names is left out.
    pub exclude_if_present: Vec<Vec<u8>>,
    /// A directory holding a valid `CACHEDIR.TAG` is left out.
    pub exclude_caches: bool,
    /// Files larger than this (bytes) are left out.
    pub exclude_larger_than: Option<u64>,
    /// Do not descend into directories on another file system than the
    /// path given to the backup they are under.
    pub one_file_system: bool,
}

impl Filter {
    /// Leaves out what `patterns` match.
    pub fn exclude(mut self, patterns: Patterns) -> Self {
        self.exclude = patterns;
        self
    }
    /// Leaves out directories that hold an entry called `name`.
    pub fn exclude_if_present(mut self, name: impl Into<Vec<u8>>) -> Self {
        self.exclude_if_present.push(name.into());
        self
    }
    /// Leaves out directories tagged with `CACHEDIR.TAG`.
    pub fn exclude_caches(mut self, on: bool) -> Self {
        self.exclude_caches = on;
        self
    }
    /// Leaves out files larger than `bytes`.
    pub fn exclude_larger_than(mut self, bytes: u64) -> Self {
        self.exclude_larger_than = Some(bytes);
        self
    }
    /// Stays on the file system of each path given.
    pub fn one_file_system(mut self, on: bool) -> Self {
        self.one_file_system = on;
        self
    }
}

/// Parses a size such as `512`, `10K`, `1.5M`, `2G`, `1T` (binary units,
/// an optional `B`/`iB`): bytes.
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = || Error::InvalidOption {
        what: format!("size {s:?}: expected a number with an optional K, M, G or T"),
    };
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    let bytes = n * mult as f64;
    if bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(p: &[&str]) -> Patterns {
        Patterns::new(p.iter().map(|p| (*p, false))).unwrap()
    }

    #[test]
    fn pattern_table() {
        // (patterns, path, is_dir, excluded)
        let table: &[(&[&str], &str, bool, bool)] = &[
            (&["*.log"], "/a/b/x.log", false, true),
            (&["*.log"], "/x.log", false, true),
            (&["*.log"], "/a/x.log.gz", false, false),
            (&["*.log"], "/a/log", false, false),
            (&["foo"], "/a/foo", true, true),
            (&["foo"], "/a/foobar", false, false),
            (&["cache/tmp"], "/home/u/cache/tmp", true, true),
            (&["cache/tmp"], "/home/u/cache/tmpx", true, false),
            (&["cache/tmp"], "/cache/tmp", true, true),
            (&["/home/*/tmp"], "/home/u/tmp", true, true),
            (&["/home/*/tmp"], "/home/u/v/tmp", true, false),
            (&["/home/*/tmp"], "/x/home/u/tmp", true, false),
            (&["/home/**/tmp"], "/home/u/v/tmp", true, true),
            (&["**/target"], "/src/p/target", true, true),
            (&["a?c"], "/d/abc", false, true),
            (&["a?c"], "/d/a/c", false, false),
            (&["[ab]*.txt"], "/d/b1.txt", false, true),
            (&["[ab]*.txt"], "/d/c1.txt", false, false),
            (&["*.{jpg,png}"], "/d/x.png", false, true),
            (&["*.{jpg,png}"], "/d/x.gif", false, false),
            (&["data/"], "/x/data", true, true),
            (&["data/"], "/x/data", false, false),
            (&["*.log", "!keep.log"], "/a/keep.log", false, false),
            (&["*.log", "!keep.log"], "/a/drop.log", false, true),
            (&["!keep.log", "*.log"], "/a/keep.log", false, true),
            (&["*.LOG"], "/a/x.log", false, false),
            (&[""], "/a", false, false),
            (&["\\*"], "/a/*", false, true),
            (&["\\*"], "/a/b", false, false),
        ];
        for (p, path, dir, want) in table {
            assert_eq!(
                pats(p).matches(Path::new(path), *dir),
                *want,
                "{p:?} on {path} (dir: {dir})"
            );
        }
    }

    #[test]
    fn case_insensitive_patterns() {
        let p = Patterns::new([("*.LOG", true), ("/Home/Cache", true)]).unwrap();
        assert!(p.matches(Path::new("/a/x.log"), false));
        assert!(p.matches(Path::new("/home/cache"), true));
        let mixed = Patterns::new([("*.LOG", false), ("*.TMP", true)]).unwrap();
        assert!(!mixed.matches(Path::new("/a/x.log"), false));
        assert!(mixed.matches(Path::new("/a/x.tmp"), false));
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let e = Patterns::new([("a[", false)]).unwrap_err();
        assert!(e.to_string().contains("a["), "{e}");
    }

    #[test]
    fn sizes() {
        for (s, want) in [
            ("0", 0),
            ("512", 512),
            ("10K", 10 << 10),
            ("10k", 10 << 10),
            ("1.5M", 3 << 19),
            ("2G", 2 << 30),
            ("1T", 1 << 40),
            ("4MiB", 4 << 20),
            ("7B", 7),
        ] {
            assert_eq!(parse_size(s).unwrap(), want, "{s}");
        }
        for s in ["", "K", "-1", "1X", "nan", "1e30T"] {
            assert!(parse_size(s).is_err(), "{s}");
        }
    }
}
