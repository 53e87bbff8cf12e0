//! What the load generators share: `--key value` arguments, a keep-alive client, concurrent
//! workers taking numbered requests until the count runs out, and the latency percentiles of
//! what they sent. Each example includes it with `#[path]`, so no example depends on another.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The command line as `(--key, value)` pairs; a key without a value gets an empty one.
pub fn arg_pairs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        out.push((k, it.next().unwrap_or_default()));
    }
    out
}

/// A client keeping one idle connection per worker, so the run measures requests, not
/// handshakes.
pub fn client(concurrency: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// The outcome of a run: each request's latency (sorted), how many failed, the wall time.
pub struct Run {
    pub lat: Vec<Duration>,
    pub errors: usize,
    pub elapsed: Duration,
}

impl Run {
    /// The latency at fraction `p` (0.5 = median, 1.0 = max), in milliseconds.
    pub fn pct(&self, p: f64) -> f64 {
        let lat = &self.lat;
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// Requests per second, all or only the successful ones.
    pub fn per_sec(&self, ok_only: bool) -> f64 {
        let n = if ok_only {
            self.lat.len() - self.errors
        } else {
            self.lat.len()
        };
        n as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `send(0..requests)` on `concurrency` workers; `send` answers whether the request
/// succeeded.
pub async fn run<F, Fut>(concurrency: usize, requests: usize, send: F) -> Run
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, errors, send) = (next.clone(), errors.clone(), send.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let t = Instant::now();
                let ok = send(i).await;
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
    Run {
        lat,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
    }
}
