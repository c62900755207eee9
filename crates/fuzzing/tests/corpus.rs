//! Every fuzz target's checked-in corpus (`fuzz/corpus/<target>/`), and
//! seeded mutations of each entry, run as ordinary tests on stable: what the
//! fuzzer once found interesting stays a regression test.
//!
//! Regenerate the seed corpus from the golden fixtures with
//! `CAIRN_BLESS_CORPUS=1 cargo test -p cairn-fuzzing --test corpus -- --ignored`
//! (files the fuzzer added are kept).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use cairn_backends::LocalBackend;
use cairn_cas_core::{NodeKind, Repository, Tree};
use cairn_crypto::{KeyFile, SealingKey};
use cairn_fuzzing::{mutate, targets};

/// Mutants tried per corpus entry, beyond its truncations.
const MUTANTS: usize = 300;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn entries(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no corpus at {}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_target_survives_its_corpus_and_mutations_of_it() {
    for (name, target) in targets::ALL {
        let corpus = entries(name);
        assert!(corpus.len() >= 2, "{name}: the corpus is too small");
        let mut runs = 0usize;
        for (i, (file, bytes)) in corpus.iter().enumerate() {
            let run = |input: &[u8]| {
                if std::panic::catch_unwind(|| target(input)).is_err() {
                    panic!("{name}: corpus entry {file} (or a mutant of it) found a bug");
                }
            };
            run(bytes);
            for m in mutate::mutants(bytes, i as u64 + 1, MUTANTS) {
                run(&m);
                runs += 1;
            }
        }
        eprintln!("{name}: {} corpus entries, {runs} mutants", corpus.len());
    }
}

fn fixture_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cas-core/tests/fixtures/repo-v1")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        match p.is_dir() {
            true => out.extend(files_under(&p)),
            false => out.push(p),
        }
    }
    out.sort();
    out
}

/// Seeds from the golden fixture repository (real, authenticated objects)
/// and from the codecs.
#[test]
#[ignore = "writes the seed corpus; run with CAIRN_BLESS_CORPUS=1"]
fn bless_corpus() {
    if std::env::var_os("CAIRN_BLESS_CORPUS").is_none() {
        return;
    }
    let repo_dir = fixture_repo();
    let key_path = files_under(&repo_dir.join("keys")).remove(0);
    let key_bytes = std::fs::read(&key_path).unwrap();
    let master = KeyFile::from_bytes(&key_bytes)
        .unwrap()
        .open(b"golden fixture")
        .unwrap();
    let mkey = *master.expose_bytes();
    let keys = cairn_crypto::KeySet::derive(&master);

    write("key_file", "fixture-repo-key", &key_bytes);
    let crypto_fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crypto/tests/fixtures");
    write(
        "key_file",
        "keyfile-v1",
        &std::fs::read(crypto_fixtures.join("keyfile-v1.bin")).unwrap(),
    );
    for role in ["admin", "backup"] {
        write(
            "key_file",
            &format!("keyfile-v2-{role}"),
            &std::fs::read(crypto_fixtures.join(format!("keyfile-v2-{role}.bin"))).unwrap(),
        );
    }
    write(
        "key_file",
        "keyfile-v3-admin",
        &std::fs::read(crypto_fixtures.join("keyfile-v3-admin.bin")).unwrap(),
    );
    let mut sealed_v2 = b"golden-a".to_vec();
    sealed_v2.extend(std::fs::read(crypto_fixtures.join("sealed-v2-epoch7.bin")).unwrap());
    write("sealed_open", "sealed-v2-epoch7", &sealed_v2);
    // The grant fixture with its recipient's secret (opens), and with
    // another secret (does not).
    let grant = std::fs::read(crypto_fixtures.join("grant-v1.bin")).unwrap();
    for (name, secret) in [("grant-v1", 0x44u8), ("grant-v1-other-key", 0x45)] {
        let mut input = vec![secret; 32];
        input.extend(&grant);
        input.extend(b"golden context");
        write("epoch_grant", name, &input);
    }
    // The hold fixture with its authority's seed (verifies), and its JSON
    // alone (the target signs it: the parser is reached).
    let hold_hex = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../cas-core/tests/fixtures/hold-v1.hex"),
    )
    .unwrap();
    let hold = hex::decode(hold_hex.trim()).unwrap();
    let mut input = vec![0x33u8; 32];
    input.extend(&hold);
    write("hold_decode", "hold-v1", &input);
    let mut input = vec![0x33u8; 32];
    input.extend(&hold[69..]);
    write("hold_decode", "hold-v1-json", &input);

    // Tenant key objects with the master key whose wrapping opens them.
    let fixture_master: Vec<u8> = (0..32).collect();
    for (name, master) in [
        ("tenant-key-v1", fixture_master),
        ("tenant-key-v2-gen2", vec![0x77; 32]),
    ] {
        let mut input = master;
        input.extend(std::fs::read(crypto_fixtures.join(format!("{name}.bin"))).unwrap());
        write("tenant_key", name, &input);
    }

    for (i, pack) in files_under(&repo_dir.join("data")).iter().enumerate() {
        let mut input = mkey.to_vec();
        input.extend(std::fs::read(pack).unwrap());
        write("pack_header", &format!("fixture-pack-{i}"), &input);
    }
    for (i, index) in files_under(&repo_dir.join("index")).iter().enumerate() {
        let sealed = std::fs::read(index).unwrap();
        let plain = keys
            .metadata_key()
            .open(&sealed, b"cairn/index/v1")
            .unwrap();
        for (what, body) in [("sealed", sealed), ("plain", plain)] {
            let mut input = mkey.to_vec();
            input.extend(body);
            write("index_decode", &format!("fixture-index-{i}-{what}"), &input);
        }
    }

    let trees = futures::executor::block_on(async {
        let store = std::sync::Arc::new(LocalBackend::new(&repo_dir).unwrap());
        let repo = Repository::open(store, b"golden fixture").await.unwrap();
        let (_, snap) = repo.find_snapshot(&Default::default()).await.unwrap();
        let mut todo = vec![snap.tree.chunk_id()];
        let mut trees: Vec<Tree> = Vec::new();
        while let Some(id) = todo.pop() {
            let tree = repo.load_tree(&id).await.unwrap();
            for node in &tree.nodes {
                if let NodeKind::Dir { subtree } = &node.kind {
                    todo.push(*subtree);
                }
            }
            trees.push(tree);
        }
        trees
    });
    for (i, tree) in trees.iter().enumerate() {
        write("tree_decode", &format!("fixture-tree-{i}"), &tree.encode());
    }
    write("tree_decode", "empty-tree", &Tree::default().encode());

    let key = SealingKey::from_bytes([9; 32]);
    for (i, msg) in [&b""[..], b"hello", &[0u8; 300]].iter().enumerate() {
        let aad = *b"cairnaad";
        let mut input = aad.to_vec();
        input.extend(key.seal(msg, &aad).unwrap());
        write("sealed_open", &format!("sealed-{i}"), &input);
    }

    for (i, len) in [0usize, 100, 5000, 20_000].iter().enumerate() {
        let data = cairn_backends::testing::pattern(i as u64, *len);
        write("chunk_stream", &format!("pattern-{len}"), &data);
    }

    let codec = cairn_erasure::Codec::new(4, 2).unwrap();
    for len in [1usize, 1000, 9000] {
        let data = cairn_backends::testing::pattern(len as u64, len);
        let shards = codec.encode(&data).unwrap();
        let joined: Vec<u8> = shards.iter().flat_map(|s| s.iter().copied()).collect();
        write("shard_decode", &format!("shards-4+2-{len}"), &joined);
    }
}
