//! A host service's own tokio runtime drives `object_store`: Cairn's private
//! runtime (threads named `cairn-object-store`) is then never started. Its
//! own test binary, so no other test starts the private runtime meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod s3_common;

use cairn_backends::testing::{run_conformance, Capabilities};
use s3_common::{server, ServerExt};

/// Names of this process's threads (Linux truncates them to 15 bytes).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect()
}

#[test]
fn the_callers_runtime_runs_object_store_and_the_private_one_never_starts() {
    let Some(server) = server() else { return };
    let host = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("host-service")
        .enable_all()
        .build()
        .unwrap();
    let backend = server
        .backend("host-runtime")
        .with_runtime(host.handle().clone());
    // Driven from a plain executor: the host runtime does the I/O.
    futures::executor::block_on(run_conformance(
        &backend,
        &Capabilities::default().with_list_count(50),
    ));
    let names = thread_names();
    assert!(
        names.iter().any(|n| n.starts_with("host-service")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("cairn-object")),
        "the private runtime started: {names:?}"
    );
}
