//! Helpers shared by the recovery integration tests: the workspace's test
//! kit (`crates/testkit`).
#![allow(unused_imports)]

pub(crate) use cairn_testkit::*;
