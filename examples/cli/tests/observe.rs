//! `--metrics-file`: a Prometheus text file that Prometheus' own parser
//! accepts, with the documented names; `-v` logs the operation's spans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

mod common;

use common::assert_success;

fn cairn(repo: &Path, args: &[&str]) -> Output {
    common::cairn(repo, "metrics test", args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn ok(repo: &Path, args: &[&str]) -> Output {
    let out = cairn(repo, args);
    assert_success(args, &out);
    out
}

#[test]
fn backup_writes_a_prometheus_metrics_file_with_the_documented_names() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, src) = (dir.path().join("repo"), dir.path().join("src"));
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a"), vec![1u8; 200_000]).unwrap();
    std::fs::write(src.join("b"), b"bee").unwrap();
    ok(&repo, &["init"]);
    let prom = dir.path().join("cairn.prom");
    ok(
        &repo,
        &[
            "--metrics-file",
            prom.to_str().unwrap(),
            "backup",
            src.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&prom).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus' text format");
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        let hits: Vec<f64> = scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 1.0,
            })
            .collect();
        assert!(!hits.is_empty(), "{name} {label:?} missing from:\n{text}");
        hits.iter().sum()
    };
    assert_eq!(value("cairn_backup_bytes_read_total", None), 200_003.0);
    assert_eq!(
        value("cairn_backup_files_total", Some(("state", "new"))),
        2.0
    );
    assert!(value("cairn_backup_bytes_stored_total", None) > 0.0);
    assert!(value("cairn_backend_requests_total", Some(("op", "put"))) >= 3.0);
    assert!(value("cairn_backend_bytes_total", Some(("direction", "up"))) > 0.0);
    let when = value(
        "cairn_last_success_timestamp_seconds",
        Some(("operation", "backup")),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - when).abs() < 3600.0, "{when} vs {now}");
    assert!(scrape.samples.iter().any(|s| s
        .metric
        .starts_with("cairn_backend_request_duration_seconds")));

    // A failed command records an error, not a success.
    let prom2 = dir.path().join("fail.prom");
    let out = cairn(
        &dir.path().join("nowhere"),
        &["--metrics-file", prom2.to_str().unwrap(), "snapshots"],
    );
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&prom2).unwrap();
    assert!(
        text.contains("cairn_operation_errors_total{operation=\"snapshots\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("cairn_last_success_timestamp_seconds"),
        "{text}"
    );
}

#[test]
fn verbose_logs_backend_calls() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    ok(&repo, &["init"]);
    let out = ok(&repo, &["-vv", "snapshots"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cairn.backend"), "{err}");
    assert!(
        err.contains("op=\"list\"") || err.contains("op=list"),
        "{err}"
    );
}
