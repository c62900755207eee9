//! The `cairn` command-line tool is the binary of this package (`src/main.rs`).
//!
//! This library target is deliberately empty: it exists so that the
//! package's own tests can depend on the package with the
//! `insecure-test-kdf` feature (see `Cargo.toml`).
