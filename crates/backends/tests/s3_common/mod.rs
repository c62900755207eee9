//! What the S3 test files share: finding the server `scripts/s3-server`
//! started, and unique prefixes.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_backends::{ObjectStoreBackend, S3Config};

/// The server's coordinates (see `cairn_backends::testing::s3_test_server`).
pub use cairn_backends::testing::S3TestServer as Server;

/// The running test server, or `None` (after saying why) outside CI.
pub fn server() -> Option<Server> {
    cairn_backends::testing::s3_test_server()
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

/// Configs and backends for a test, under a prefix of its own.
pub trait ServerExt {
    /// An S3 config for the test bucket under a fresh prefix.
    fn config(&self, name: &str) -> S3Config;
    /// A backend for the test bucket under a fresh prefix.
    fn backend(&self, name: &str) -> ObjectStoreBackend;
}

impl ServerExt for Server {
    fn config(&self, name: &str) -> S3Config {
        S3Config::new(&self.bucket)
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_credentials(&self.key, &self.secret)
            .with_prefix(unique(name))
    }
    fn backend(&self, name: &str) -> ObjectStoreBackend {
        ObjectStoreBackend::s3(self.config(name)).unwrap()
    }
}
