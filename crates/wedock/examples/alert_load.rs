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

#[path = "common/load.rs"]
mod load;

use std::sync::Arc;

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
    for (k, v) in load::arg_pairs() {
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
    let client = load::client(a.concurrency);
    let send = {
        let a = a.clone();
        move |i: usize| {
            let (a, client) = (a.clone(), client.clone());
            async move {
                let body = serde_json::json!({
                    "text": format!("load test alert {i} of run {run}"),
                    "id": format!("load-{run}-{i}"),
                });
                client
                    .post(&a.urls[i % a.urls.len()])
                    .bearer_auth(&a.token)
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        }
    };
    let r = load::run(a.concurrency, a.requests, send).await;
    println!(
        "{} alerts to {} replica(s), concurrency {}: {:.0} accepted/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {}",
        r.lat.len(),
        a.urls.len(),
        a.concurrency,
        r.per_sec(true),
        r.pct(0.50),
        r.pct(0.99),
        r.pct(1.0),
        r.errors,
    );
}
