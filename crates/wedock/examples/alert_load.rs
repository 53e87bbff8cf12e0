//! Load generator for alert ingestion: distinct webhook alerts (`POST /hooks/NAME`, each its
//! own id) spread round robin over one or more replicas by concurrent keep-alive clients;
//! reports accepted alerts per second, latency percentiles and errors.
//!
//! ```text
//! cargo run --release -p wedock --example alert_load -- \
//!     --url http://127.0.0.1:18090/hooks/load --url http://127.0.0.1:18091/hooks/load \
//!     --token T [--requests 20000] [--concurrency 32]
//! ```
//! `scripts/load-alerts.sh` runs it against two replicas on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Args {
    urls: Vec<String>,
    token: String,
    requests: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        urls: Vec::new(),
        token: String::new(),
        requests: 20_000,
        concurrency: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--url" => a.urls.push(v),
            "--token" => a.token = v,
            "--requests" => a.requests = v.parse().unwrap_or(a.requests),
            "--concurrency" => a.concurrency = v.parse().unwrap_or(a.concurrency),
            "--bench" => {}
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    if a.urls.is_empty() {
        a.urls.push("http://127.0.0.1:8080/hooks/load".into());
    }
    a
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = Arc::new(args());
    let run = std::process::id();
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..a.concurrency {
        let (a, next, errors, client) = (a.clone(), next.clone(), errors.clone(), client.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= a.requests {
                    break;
                }
                let body = serde_json::json!({
                    "text": format!("load test alert {i} of run {run}"),
                    "id": format!("load-{run}-{i}"),
                });
                let t = Instant::now();
                let ok = client
                    .post(&a.urls[i % a.urls.len()])
                    .bearer_auth(&a.token)
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                lat.push(t.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for w in workers {
        lat.extend(w.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let errors = errors.load(Ordering::Relaxed);
    println!(
        "{} alerts to {} replica(s), concurrency {}: {:.0} accepted/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {errors}",
        lat.len(),
        a.urls.len(),
        a.concurrency,
        (lat.len() - errors) as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
}
