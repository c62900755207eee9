//! Reading back the storage class S3 reports for an object, which
//! `object_store` does not surface (its `head` and listings drop it).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::signer::Signer;

use super::S3TestServer;

/// The storage class `server` reports for the object at `path` (the full
/// object path: prefix and key) in `bucket`: the `x-amz-storage-class`
/// header of a `HEAD`, sent to a presigned URL over plain HTTP (test
/// servers only). `Ok(None)`: the object exists and no class is reported
/// (S3 leaves the header out for `STANDARD`).
pub fn s3_storage_class(
    server: &S3TestServer,
    bucket: &str,
    path: &str,
) -> Result<Option<String>, String> {
    let store = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_endpoint(&server.endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id(&server.key)
        .with_secret_access_key(&server.secret)
        .build()
        .map_err(|e| e.to_string())?;
    let path = Path::parse(path).map_err(|e| e.to_string())?;
    // `Signer` takes an `http::Method`; parsing names it without a direct
    // dependency on `http`.
    let head = "HEAD".parse().map_err(|_| "no HEAD method".to_owned())?;
    let url = futures::executor::block_on(store.signed_url(head, &path, Duration::from_secs(600)))
        .map_err(|e| e.to_string())?;
    let host = url.host_str().ok_or("signed URL without a host")?;
    let port = url
        .port_or_known_default()
        .ok_or("signed URL without a port")?;
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut conn = TcpStream::connect((host, port)).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let request =
        format!("HEAD {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    let mut lines = answer.lines();
    let status = lines.next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(format!("HEAD {path} answered {status:?}"));
    }
    Ok(lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("x-amz-storage-class"))
        .map(|(_, value)| value.trim().to_owned()))
}
