//! Finding the S3 server that `scripts/s3-server start` runs for tests.

use std::io::Write;

/// The test server's coordinates, from the environment `scripts/s3-server`
/// exports (`CAIRN_S3_ENDPOINT`, `CAIRN_S3_BUCKET`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`).
#[derive(Debug, Clone)]
pub struct S3TestServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The default test bucket (`cairn-test`).
    pub bucket: String,
    /// Access key id.
    pub key: String,
    /// Secret access key.
    pub secret: String,
}

/// The running test server; or, with no server configured, `None` after
/// saying so on stderr — except under `CI=true`, where it panics: CI must run
/// the S3 tests, and a skip must never look like a pass.
pub fn s3_test_server() -> Option<S3TestServer> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match var("CAIRN_S3_ENDPOINT") {
        Some(endpoint) => Some(S3TestServer {
            endpoint,
            bucket: var("CAIRN_S3_BUCKET").unwrap_or_else(|| "cairn-test".into()),
            key: var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID with CAIRN_S3_ENDPOINT"),
            secret: var("AWS_SECRET_ACCESS_KEY")
                .expect("AWS_SECRET_ACCESS_KEY with CAIRN_S3_ENDPOINT"),
        }),
        None if var("CI").as_deref() == Some("true") => {
            panic!("CI=true but CAIRN_S3_ENDPOINT is unset: .ci/run must start scripts/s3-server")
        }
        None => {
            // Straight to stderr: the test harness captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "{}: skipped: no S3 server; start one with `eval \"$(scripts/s3-server start)\"`",
                std::thread::current().name().unwrap_or("s3 test")
            );
            None
        }
    }
}
