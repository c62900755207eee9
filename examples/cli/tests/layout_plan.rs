//! `cairn layout plan`: the figures of a code given on the command line
//! (`--json`), a layout file's region tolerance and advice, and the same
//! region check at `init`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod common;

use cairn::erasure::durability::mttdl_years;
use common::{success_stdout, temp_root, texts, PASSWORD};

/// A 4+2 layout file over directories `d0..d5`, in `regions` (one each).
fn layout(root: &Path, name: &str, regions: [&str; 6]) -> std::path::PathBuf {
    let mut text = String::from("[erasure]\ndata = 4\nparity = 2\n");
    for (i, r) in regions.iter().enumerate() {
        text.push_str(&format!(
            "[[backends]]\nlocation = \"{name}-d{i}\"\nregion = \"{r}\"\n"
        ));
    }
    let path = root.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn json_plan_of_four_plus_two_prints_loss_probability_and_overhead() {
    let args = [
        "--json",
        "layout",
        "plan",
        "--data",
        "4",
        "--parity",
        "2",
        "--children",
        "6",
        "--afr",
        "0.02",
        "--heal-hours",
        "24",
    ];
    let out = common::cairn("unused", PASSWORD, &args).output().unwrap();
    let v: serde_json::Value = serde_json::from_str(&success_stdout(&args, out)).unwrap();
    assert_eq!(v["overhead"].as_f64(), Some(1.5), "{v}");
    let p = v["annual_loss_probability"].as_f64().unwrap();
    // The Markov chain with λ = -ln(0.98)/year and 24 h repairs.
    let lambda = -(0.98f64).ln();
    let mttdl = mttdl_years(6, 2, lambda, 365.25);
    let expected = -(-1.0 / mttdl).exp_m1();
    assert!((p / expected - 1.0).abs() < 1e-9, "{p} vs {expected}");
    assert!(p > 1e-10 && p < 1e-7, "{p}");
    assert_eq!(v["tolerance"]["any_children"], 2);
}

#[test]
fn region_tolerance_is_shown_by_plan_and_checked_at_init() {
    let (_tmp, root) = temp_root();
    let two = layout(&root, "two", ["a", "a", "a", "b", "b", "b"]);
    let three = layout(&root, "three", ["a", "a", "b", "b", "c", "c"]);

    let args = [
        "layout",
        "plan",
        two.to_str().unwrap(),
        "--region-afr",
        "0.01",
    ];
    let text = success_stdout(
        &args,
        common::cairn("unused", PASSWORD, &args).output().unwrap(),
    );
    assert!(
        text.contains("region a (children [0, 1, 2]): CANNOT be lost"),
        "{text}"
    );
    assert!(
        text.contains("recommendation: region a holds 3 shards"),
        "{text}"
    );
    let args = ["layout", "plan", three.to_str().unwrap()];
    let text = success_stdout(
        &args,
        common::cairn("unused", PASSWORD, &args).output().unwrap(),
    );
    for r in [
        "a (children [0, 1])",
        "b (children [2, 3])",
        "c (children [4, 5])",
    ] {
        assert!(text.contains(&format!("region {r}: can be lost")), "{text}");
    }
    assert!(!text.contains("recommendation"), "{text}");

    let init = common::cairn(&two, PASSWORD, &["init"]).output().unwrap();
    let (_, stderr) = texts(&init);
    assert!(init.status.success(), "{stderr}");
    assert!(
        stderr.contains("region a holds 3 shards") && stderr.contains("region b holds 3 shards"),
        "{stderr}"
    );
    let init = common::cairn(&three, PASSWORD, &["init"]).output().unwrap();
    let (_, stderr) = texts(&init);
    assert!(init.status.success(), "{stderr}");
    assert!(!stderr.contains("shards, more than"), "{stderr}");
}

#[test]
fn a_code_that_does_not_fit_its_children_is_an_error_not_a_figure() {
    let args = [
        "layout",
        "plan",
        "--data",
        "4",
        "--parity",
        "2",
        "--children",
        "5",
    ];
    let out = common::cairn("unused", PASSWORD, &args).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(!out.status.success() && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("5 children given"), "{stderr}");
}
