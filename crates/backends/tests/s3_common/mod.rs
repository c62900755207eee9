//! What the S3 test files share: finding the server `scripts/s3-server`
//! started, and unique prefixes.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_backends::{ObjectStoreBackend, S3Config};

/// The server's coordinates from the environment `scripts/s3-server` exports.
pub struct Server {
    pub endpoint: String,
    pub bucket: String,
    pub key: String,
    pub secret: String,
}

/// The running test server, or `None` (after saying why) outside CI.
pub fn server() -> Option<Server> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match var("CAIRN_S3_ENDPOINT") {
        Some(endpoint) => Some(Server {
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
            // Straight to stderr: the test harness captures `eprintln!`, and a
            // skip must not look like a pass.
            let _ = writeln!(
                std::io::stderr(),
                "{}: skipped: start a server with `eval \"$(scripts/s3-server start)\"`",
                std::thread::current().name().unwrap_or("s3 test")
            );
            None
        }
    }
}

/// A prefix no other test or run uses.
pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("test-{}-{nanos}-{n}/{name}", std::process::id())
}

impl Server {
    pub fn config(&self, name: &str) -> S3Config {
        S3Config::new(&self.bucket)
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_credentials(&self.key, &self.secret)
            .with_prefix(unique(name))
    }
    pub fn backend(&self, name: &str) -> ObjectStoreBackend {
        ObjectStoreBackend::s3(self.config(name)).unwrap()
    }
}
