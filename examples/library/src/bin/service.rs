//! A small backup service: backs a directory up every INTERVAL seconds into
//! a repository, and serves `/metrics` (Prometheus text: Cairn's metrics,
//! see `cairn::metrics`) and `/health` (200 while the last backup succeeded,
//! 503 otherwise) on 127.0.0.1:PORT.
//!
//! `cargo run -p cairn-examples --bin service -- SOURCE REPO INTERVAL_SECS PORT [ROUNDS]`
//!
//! The repository is created on first use. Alert on
//! `time() - cairn_last_success_timestamp_seconds{operation="backup"}`.
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn::{BackupOptions, InitOptions, Location, NoProgress, Repository};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (source, repo, interval, port, rounds) = match args.as_slice() {
        [s, r, i, p] => (s, r, i.parse::<u64>()?, p.parse::<u16>()?, u64::MAX),
        [s, r, i, p, n] => (s, r, i.parse()?, p.parse()?, n.parse()?),
        _ => return Err("usage: service SOURCE REPO INTERVAL_SECS PORT [ROUNDS]".into()),
    };
    let metrics = PrometheusBuilder::new().install_recorder()?;
    let healthy = Arc::new(AtomicBool::new(false));
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on {}", listener.local_addr()?);
    let serving = healthy.clone();
    std::thread::spawn(move || serve(listener, metrics, serving));

    let password = std::env::var("CAIRN_PASSWORD").unwrap_or_else(|_| "example".into());
    let location: Location = repo.parse()?;
    let repo = cairn::block_on(async {
        match Repository::open(&location, password.as_bytes()).await {
            Ok(r) => Ok(r),
            Err(cairn::Error::MissingDirectory { .. }) => {
                Repository::init(&location, password.as_bytes(), InitOptions::default()).await
            }
            Err(e) => Err(e),
        }
    })?;
    for round in 1..=rounds {
        let result = cairn::block_on(repo.backup(
            &[source.into()],
            &BackupOptions::default().tag("service"),
            Arc::new(NoProgress),
        ));
        // Health first, then the log line: whoever reads the line (a test,
        // an operator) must find `/health` already saying so.
        healthy.store(result.is_ok(), Ordering::Release);
        match &result {
            Ok(done) => println!(
                "backup {round} ok: snapshot {}",
                done.snapshot_id.as_deref().unwrap_or("-")
            ),
            Err(e) => eprintln!("backup {round} failed: {e}"),
        }
        if round < rounds {
            std::thread::sleep(Duration::from_secs(interval));
        }
    }
    // Stay up for one more interval so a scraper sees the last round.
    std::thread::sleep(Duration::from_secs(interval));
    Ok(())
}

/// A minimal HTTP/1.1 responder: a real service would use its own server
/// framework; this keeps the example dependency-free.
fn serve(listener: TcpListener, metrics: PrometheusHandle, healthy: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut request_line = String::new();
        if BufReader::new(&stream)
            .read_line(&mut request_line)
            .is_err()
        {
            continue;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let (status, body) = match path {
            "/metrics" => ("200 OK", metrics.render()),
            "/health" if healthy.load(Ordering::Acquire) => ("200 OK", "ok\n".to_owned()),
            "/health" => (
                "503 Service Unavailable",
                "last backup failed or none yet\n".to_owned(),
            ),
            _ => ("404 Not Found", "not found\n".to_owned()),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}
