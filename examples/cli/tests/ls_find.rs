//! `cairn ls` (paths, `--recursive`, `--json`) and `cairn find` with
//! restic's snapshot filters (`--snapshot`, `--host`, `--tag`, `--path`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

mod common;

use common::{files_below, success_stdout, temp_root, texts};

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    src: PathBuf,
}

impl Env {
    /// A source tree whose names check path order: `d/x` sorts before
    /// `d.txt` (paths compare by component), which plain string order
    /// would put the other way round.
    fn new() -> Env {
        let (tmp, root) = temp_root();
        let src = root.join("src");
        for dir in ["d/e/f", "g"] {
            std::fs::create_dir_all(src.join(dir)).unwrap();
        }
        for f in [
            "d/x",
            "d/e/deep.log",
            "d/e/f/deeper.log",
            "d.txt",
            "g/h.log",
        ] {
            std::fs::write(src.join(f), f).unwrap();
        }
        let env = Env {
            _tmp: tmp,
            root,
            src,
        };
        env.ok(&["init"]);
        env
    }

    fn run(&self, args: &[&str]) -> Output {
        common::cairn(self.root.join("repo"), "pw", args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        success_stdout(args, self.run(args))
    }

    fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.ok(&all)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn s(&self, rel: &str) -> String {
        match rel {
            "" => self.src.to_str().unwrap().to_owned(),
            _ => self.src.join(rel).to_str().unwrap().to_owned(),
        }
    }

    /// Backs up the source with `extra` flags; the new snapshot's id.
    fn backup(&self, extra: &[&str]) -> String {
        let mut args = vec!["backup", "-q"];
        args.extend_from_slice(extra);
        let src = self.s("");
        args.push(&src);
        self.ok(&args);
        let snaps = self.json_lines(&["snapshots"]);
        let list = snaps[0].as_array().unwrap();
        list.last().unwrap()["id"].as_str().unwrap().to_owned()
    }

    /// The paths `ls` printed below the source, relative to it, in order.
    fn ls(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["-q", "ls"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        let src = self.s("");
        text.lines()
            .filter_map(|l| l.strip_prefix(src.as_str()))
            .map(|l| l.trim_start_matches('/').to_owned())
            .collect()
    }
}

#[test]
fn ls_lists_a_directory_or_everything_below_it_in_path_order() {
    let env = Env::new();
    env.backup(&[]);
    let src = env.s("");

    // A path: the entry and what is directly in it, nothing deeper.
    assert_eq!(
        env.ls(&["latest", &env.s("d")]),
        ["d", "d/e", "d/x"],
        "non-recursive"
    );
    // --recursive: everything below, each directory right before its
    // contents (d/x before d.txt: paths compare by component).
    let all = [
        "",
        "d",
        "d/e",
        "d/e/deep.log",
        "d/e/f",
        "d/e/f/deeper.log",
        "d/x",
    ];
    assert_eq!(env.ls(&["-R", "latest", &env.s("d")]), all[1..]);
    // No path: the whole snapshot, recursively (restic's `ls SNAP`), in the
    // same order as a sort of the source's paths by component.
    let mut want: Vec<PathBuf> = files_below(&env.src);
    for dir in ["", "d", "d/e", "d/e/f", "g"] {
        want.push(env.src.join(dir));
    }
    want.sort();
    want.dedup();
    let want: Vec<String> = want
        .iter()
        .map(|p| {
            p.strip_prefix(&env.src)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(env.ls(&["latest"]), want);
    // A file: just itself. Two paths: one after the other.
    assert_eq!(env.ls(&["latest", &env.s("g/h.log")]), ["g/h.log"]);
    assert_eq!(
        env.ls(&["latest", &env.s("d.txt"), &env.s("g")]),
        ["d.txt", "g", "g/h.log"]
    );

    // --json: the snapshot first, then one node per line, same order.
    let lines = env.json_lines(&["ls", "-R", "latest", &src]);
    assert_eq!(lines[0]["message_type"], "snapshot");
    let nodes: Vec<String> = lines[1..]
        .iter()
        .map(|v| {
            assert_eq!(v["message_type"], "node", "{v}");
            v["path"].as_str().unwrap().to_owned()
        })
        .collect();
    let want_abs: Vec<String> = want.iter().map(|r| env.s(r)).collect();
    assert_eq!(nodes, want_abs);
    let file = lines[1..]
        .iter()
        .find(|v| v["path"] == env.s("d.txt"))
        .unwrap();
    assert_eq!(
        (file["type"].as_str(), file["size"].as_u64()),
        (Some("file"), Some(5))
    );
}

#[test]
fn ls_of_a_missing_path_fails_before_printing_anything() {
    let env = Env::new();
    env.backup(&[]);
    let missing = env.s("nope");
    let out = env.run(&["ls", "latest", &env.s("d"), &missing]);
    let (stdout, stderr) = texts(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains(&missing), "{stderr}");
    assert!(stdout.is_empty(), "half a listing: {stdout}");
}

#[test]
fn find_searches_only_the_snapshots_the_filters_select() {
    let env = Env::new();
    let a = env.backup(&["--host", "alpha", "--tag", "daily"]);
    let b = env.backup(&["--host", "beta", "--tag", "daily", "--tag", "db"]);
    std::fs::write(env.src.join("g/new.log"), "n").unwrap();
    let c = env.backup(&["--host", "beta", "--tag", "weekly"]);

    // (snapshot, path) of every match, in the order printed.
    let find = |args: &[&str]| -> Vec<(String, String)> {
        let mut all = vec!["find"];
        all.extend_from_slice(args);
        let lines = env.json_lines(&all);
        let summary = lines.last().unwrap();
        assert_eq!(summary["message_type"], "summary");
        let hits: Vec<(String, String)> = lines
            .iter()
            .filter(|v| v["message_type"] == "match")
            .map(|v| {
                let id = v["snapshot"].as_str().unwrap().to_owned();
                (id, v["path"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(summary["matches"].as_u64(), Some(hits.len() as u64));
        hits
    };
    let logs = |id: &str, new: bool| {
        let mut v = vec!["d/e/deep.log", "d/e/f/deeper.log", "g/h.log"];
        if new {
            v.push("g/new.log");
        }
        v.into_iter()
            .map(|p| (id.to_owned(), env.s(p)))
            .collect::<Vec<_>>()
    };

    let every: Vec<_> = [logs(&a, false), logs(&b, false), logs(&c, true)].concat();
    assert_eq!(
        find(&["*.log"]),
        every,
        "no filter: every snapshot, oldest first"
    );
    assert_eq!(find(&["*.log", "--host", "alpha"]), logs(&a, false));
    assert_eq!(find(&["*.log", "--tag", "weekly"]), logs(&c, true));
    assert_eq!(
        find(&["*.log", "--tag", "daily,db"]),
        logs(&b, false),
        "a,b: both"
    );
    assert_eq!(
        find(&["*.log", "--tag", "db", "--tag", "weekly"]),
        [logs(&b, false), logs(&c, true)].concat(),
        "repeated: any"
    );
    assert_eq!(find(&["new.log", "--snapshot", &a[..8]]), []);
    assert_eq!(
        find(&["new.log", "-s", &a[..8], "-s", "latest"]),
        logs(&c, true)[3..]
    );
    // Filters and --snapshot together: both must hold.
    assert_eq!(find(&["*.log", "-s", &a[..8], "--host", "beta"]), []);
    let src = env.s("");
    assert_eq!(
        find(&["g", "--path", &src]).len(),
        3,
        "a directory matches too"
    );
    assert_eq!(find(&["*.log", "--path", "/elsewhere"]), []);

    // Text: one line per match with the short id, then the count.
    let text = env.ok(&["find", "--host", "alpha", "h.log"]);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&a[..8]) && first.ends_with(&env.s("g/h.log")),
        "{text}"
    );
    assert!(text.contains("1 matches in 1 snapshots"), "{text}");
    let long = env.ok(&["find", "--host", "alpha", "--long", "h.log"]);
    assert!(long.lines().next().unwrap().contains(" -rw"), "{long}");
}
