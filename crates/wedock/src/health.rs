//! Readiness and liveness. Each component (store, channels, engines) reports its state by
//! name, and `/readyz` is ready only when every required component is. A background task
//! ([`run`]) re-checks the store on an interval, so readiness comes back on its own within one
//! interval after the database does, and keeps a heartbeat: `/healthz` fails only when the
//! process is wedged (the heartbeat is stale, or the store did not answer a ping at all), not
//! when a dependency is merely down, which a restart would not fix.

use crate::store::Store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ComponentState {
    pub ready: bool,
    /// Optional components (a Docker engine that is absent) do not block readiness.
    pub required: bool,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Health {
    components: Mutex<BTreeMap<String, ComponentState>>,
    /// Last heartbeat (ms since the epoch); 0 while no heartbeat runs (`ask`, `chat`).
    beat_ms: AtomicI64,
    /// A heartbeat older than this (ms) means the runtime is stuck.
    stale_after_ms: AtomicI64,
    /// Set while the store leaves a ping unanswered past its deadline.
    wedged: Mutex<Option<String>>,
}

impl Health {
    pub fn set(&self, name: &str, ready: bool, required: bool, detail: impl Into<String>) {
        if let Ok(mut m) = self.components.lock() {
            m.insert(
                name.to_string(),
                ComponentState {
                    ready,
                    required,
                    detail: detail.into(),
                },
            );
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, ComponentState> {
        self.components
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Ready when every required component is ready (and at least one reported).
    pub fn is_ready(&self) -> bool {
        let m = self.snapshot();
        !m.is_empty() && m.values().all(|c| c.ready || !c.required)
    }

    /// `Ok` while the process is live; otherwise why it is wedged (`/healthz` answers 503).
    pub fn liveness(&self) -> Result<(), String> {
        let beat = self.beat_ms.load(Ordering::Relaxed);
        let stale_after = self.stale_after_ms.load(Ordering::Relaxed);
        if beat > 0 {
            let age = crate::store::now_ms() - beat;
            if age > stale_after {
                return Err(format!("runtime heartbeat is {age} ms old"));
            }
        }
        match self.wedged.lock().ok().and_then(|w| w.clone()) {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    fn set_wedged(&self, reason: Option<String>) {
        if let Ok(mut w) = self.wedged.lock() {
            *w = reason;
        }
    }
}

/// How often the checks run, and how long a store ping may take before the process counts
/// as wedged (longer than the store's own deadline, so a store that answers with an error,
/// e.g. a database that is down, never counts as wedged).
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    pub interval: Duration,
    pub wedged_after: Duration,
}

/// Heartbeat and store re-checks until `stop` turns true.
pub async fn run(
    health: std::sync::Arc<Health>,
    store: std::sync::Arc<dyn crate::store::Store>,
    checks: Checks,
    stop: watch::Receiver<bool>,
) {
    let health = &*health;
    // A heartbeat missed for three intervals (at least 5 s) means the runtime is stuck.
    let stale = (checks.interval * 3).max(Duration::from_secs(5));
    health
        .stale_after_ms
        .store(stale.as_millis() as i64, Ordering::Relaxed);
    health
        .beat_ms
        .store(crate::store::now_ms(), Ordering::Relaxed);
    let heartbeat = {
        let mut stop = stop.clone();
        async move {
            let mut tick = tokio::time::interval(checks.interval);
            loop {
                tokio::select! {
                    _ = tick.tick() => health.beat_ms.store(crate::store::now_ms(), Ordering::Relaxed),
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        }
    };
    tokio::join!(heartbeat, check_store(health, &*store, checks, stop));
}

async fn check_store(
    health: &Health,
    store: &dyn Store,
    checks: Checks,
    mut stop: watch::Receiver<bool>,
) {
    let mut was_ready = true;
    let mut tick = tokio::time::interval(checks.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let (ready, detail) = match tokio::time::timeout(checks.wedged_after, store.ping()).await {
            Ok(Ok(())) => {
                health.set_wedged(None);
                (true, "ok".to_string())
            }
            Ok(Err(e)) => {
                health.set_wedged(None);
                (false, e.to_string())
            }
            Err(_) => {
                let reason = format!(
                    "the store did not answer a ping within {} ms",
                    checks.wedged_after.as_millis()
                );
                health.set_wedged(Some(reason.clone()));
                (false, reason)
            }
        };
        if ready != was_ready {
            if ready {
                tracing::info!("store is reachable again; ready");
            } else {
                tracing::warn!(reason = %detail, "store check failed; not ready");
            }
            was_ready = ready;
        }
        metrics::gauge!("wedock_store_ready").set(if ready { 1.0 } else { 0.0 });
        health.set("store", ready, true, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_fails_on_a_stale_heartbeat_or_a_wedged_store_only() {
        let h = Health::default();
        // No heartbeat task (ask, chat): live.
        assert!(h.liveness().is_ok());
        h.stale_after_ms.store(5_000, Ordering::Relaxed);
        h.beat_ms
            .store(crate::store::now_ms() - 1_000, Ordering::Relaxed);
        assert!(h.liveness().is_ok());
        // A store that is down but answers is not a reason to restart the process.
        h.set("store", false, true, "PostgreSQL: connection refused");
        assert!(h.liveness().is_ok());
        h.set_wedged(Some(
            "the store did not answer a ping within 20000 ms".into(),
        ));
        assert!(h.liveness().unwrap_err().contains("did not answer"));
        h.set_wedged(None);
        h.beat_ms
            .store(crate::store::now_ms() - 6_000, Ordering::Relaxed);
        assert!(h.liveness().unwrap_err().contains("heartbeat"));
    }
}
