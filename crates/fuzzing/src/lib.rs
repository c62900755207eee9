//! The bodies of Cairn's fuzz targets, callable on the stable toolchain.
//!
//! `fuzz/` (cargo-fuzz, run with `RUSTC_BOOTSTRAP=1`) calls these functions
//! from its `fuzz_target!`s; this crate's tests call them on the checked-in
//! corpus (`fuzz/corpus/<target>/`) and on deterministic mutations of it, so
//! every input the fuzzer once found interesting stays a regression test in
//! `cargo test --workspace`. A function panics exactly when it finds a bug.
//!
//! [`repo_ops`] is the stateful target: random sequences of repository
//! operations over a fault-injecting backend, checked against a model.
//!
//! ```
//! // Hostile bytes never panic a decoder.
//! cairn_fuzzing::targets::tree_decode(b"not a tree");
//! ```

pub mod mutate;
pub mod repo_ops;
pub mod targets;
