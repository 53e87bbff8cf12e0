//! A container's memory use for a diagnosis, within a fixed wait.
//!
//! Why not simply ask: the engine answers a stats request from its stats collector, which
//! samples every container it watches once a second. When nobody has asked for a while the
//! collector wakes at once and the answer takes a few milliseconds; when anyone asked within
//! the last second (a previous `/diagnose`, a `docker stats` in a terminal, a monitoring agent)
//! the request waits for the collector's next tick, up to a second — even with `one-shot`
//! (measured on Engine 20.10: `cargo bench -p wedock --bench diagnose`, `docker_limited`).
//!
//! So the request runs in its own task, the diagnosis waits at most [`STATS_WAIT`] for it
//! (no request at all when a sample younger than [`FRESH_ENOUGH`] is kept), and every answer, also a
//! late one, is kept for [`KEEP`]: a diagnosis whose fresh sample is late shows the last one
//! with its age, and only when there is none the use is `?`.

use crate::ops::docker::{Engine, StatsView};
use bollard::query_parameters as qp;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// How long a diagnosis waits for a fresh sample (the whole reply has a 300 ms target).
pub const STATS_WAIT: Duration = Duration::from_millis(200);
/// How long a late request may still finish and be kept for the next diagnosis.
const LATE_LIMIT: Duration = Duration::from_secs(3);
/// How long a sample is shown when a fresh one is late.
const KEEP: Duration = Duration::from_secs(60);
/// A kept sample this young is as good as a fresh one (the engine samples once a second):
/// it is used without waiting, and the fresh request only refreshes it.
const FRESH_ENOUGH: Duration = Duration::from_secs(2);
/// Samples kept at most (one per container diagnosed within [`KEEP`]).
const KEPT_MAX: usize = 512;

/// Engine name and container id.
type Key = (String, String);

/// Samples by engine and container, with when they were taken.
static RECENT: LazyLock<Mutex<HashMap<Key, (Instant, StatsView)>>> =
    LazyLock::new(Default::default);

/// A memory sample and its age (zero for a fresh one).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub stats: StatsView,
    pub age: Duration,
}

/// The container's memory use: a fresh sample if the engine gives one within
/// [`STATS_WAIT`], else the last one kept from the past minute, else `None`.
pub async fn sample(eng: &Engine, id: &str) -> Option<Sample> {
    let key = (eng.name.clone(), id.to_string());
    if let Some(k) = kept(&key).filter(|k| k.age < FRESH_ENOUGH) {
        return Some(Sample {
            age: Duration::ZERO,
            ..k
        });
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let client = eng.client.clone();
    let task_key = key.clone();
    tokio::spawn(async move {
        let opts = qp::StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut s = client.stats(&task_key.1, Some(opts));
        let got = tokio::time::timeout(LATE_LIMIT, s.next()).await;
        if let Ok(Some(Ok(r))) = got {
            let view = StatsView::from_stats(&r);
            keep(task_key, view.clone());
            let _ = tx.send(view);
        }
    });
    match tokio::time::timeout(STATS_WAIT, rx).await {
        Ok(Ok(stats)) => Some(Sample {
            stats,
            age: Duration::ZERO,
        }),
        _ => {
            metrics::counter!("wedock_diagnose_stats_late_total").increment(1);
            kept(&key)
        }
    }
}

fn keep(key: Key, view: StatsView) {
    let mut m = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    if m.len() >= KEPT_MAX {
        m.retain(|_, (at, _)| at.elapsed() < KEEP);
        if m.len() >= KEPT_MAX {
            m.clear();
        }
    }
    m.insert(key, (Instant::now(), view));
}

fn kept(key: &Key) -> Option<Sample> {
    let m = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    let (at, stats) = m.get(key)?;
    (at.elapsed() < KEEP).then(|| Sample {
        stats: stats.clone(),
        age: at.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_sample_is_shown_with_its_age_and_only_within_a_minute() {
        let key = ("e".to_string(), "c1".to_string());
        assert_eq!(kept(&key), None);
        let view = StatsView {
            mem_used: 42,
            ..StatsView::default()
        };
        keep(key.clone(), view.clone());
        let s = kept(&key).expect("kept");
        assert_eq!(s.stats, view);
        assert!(s.age < KEEP);
        if let Some(old) = Instant::now().checked_sub(KEEP + Duration::from_secs(1)) {
            RECENT.lock().unwrap().insert(key.clone(), (old, view));
            assert_eq!(kept(&key), None);
        }
    }
}
