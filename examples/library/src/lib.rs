//! Programs a team copies from: Cairn embedded through the one `cairn`
//! crate. Each is a binary in `src/bin/` (`cargo run -p cairn-examples --bin
//! NAME -- ARGS`), built by `cargo test --workspace` and run by this crate's
//! tests:
//!
//! - `backup_restore`: back up a directory and restore it, in under 20 lines;
//! - `restore_with_plan`: select a snapshot, show the plan, then restore;
//! - `erasure_from_code`: a 4+2 layout built in code, two disks lost, restored;
//! - `s3`: a repository on an S3-compatible store;
//! - `service`: scheduled backups with `/metrics` and `/health` endpoints.
