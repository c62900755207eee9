//! The S3 backend while its server hangs and restarts (`scripts/s3-server
//! pause`, `resume`, `restart`). One test in its own binary, because it
//! stops the shared server: cargo runs test binaries one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod s3_common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use cairn_backends::{Backend, Error, ObjectStoreBackend, PutMode};
use futures::executor::block_on;
use s3_common::{server, ServerExt};

fn s3_server(command: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/s3-server");
    let status = Command::new("bash")
        .arg(script)
        .arg(command)
        .status()
        .unwrap();
    assert!(status.success(), "scripts/s3-server {command}: {status}");
}

/// Resumes the server even if the test fails while it is paused.
struct Resume;
impl Drop for Resume {
    fn drop(&mut self) {
        s3_server("resume");
    }
}

#[test]
fn a_hung_server_times_out_and_a_restarted_one_still_has_the_data() {
    let Some(server) = server() else { return };
    let mut config = server.config("restart");
    // Fail fast while the server hangs; a second backend keeps the defaults
    // (retries), as an application would.
    let steady = ObjectStoreBackend::s3(config.clone()).unwrap();
    config = config
        .with_timeout(Duration::from_millis(800))
        .with_max_retries(0);
    let impatient = ObjectStoreBackend::s3(config).unwrap();
    let data = Bytes::from(vec![42u8; 100_000]);
    block_on(steady.put("kept", data.clone(), PutMode::CreateOnly)).unwrap();
    assert_eq!(block_on(impatient.get("kept")).unwrap(), data);

    s3_server("pause");
    let resume = Resume;
    let e = block_on(impatient.get("kept")).unwrap_err();
    assert!(matches!(e, Error::Timeout { millis: 800, .. }), "{e}");
    assert!(e.is_transient());
    drop(resume);
    assert_eq!(block_on(impatient.get("kept")).unwrap(), data);

    s3_server("restart");
    // Pooled connections died with the old process; retries reconnect.
    assert_eq!(block_on(steady.get("kept")).unwrap(), data);
    block_on(steady.put("after", data.clone(), PutMode::CreateOnly)).unwrap();
    let e = block_on(steady.put("kept", data, PutMode::CreateOnly)).unwrap_err();
    assert!(e.is_already_exists(), "{e}");
}
