//! Leader election between replicas sharing one store: a lease row renewed every third of its
//! lifetime. Only the leader runs singleton work — outbox delivery, event sources, the AI-bot
//! long connection — so replicas neither duplicate alerts nor kick each other's connections.
//! Every replica serves HTTP callbacks. With the embedded SQLite store there is one process and
//! it always wins the lease at once.

use crate::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const LEASE: &str = "leader";

#[derive(Clone)]
pub struct Leader {
    rx: watch::Receiver<bool>,
    pub holder: String,
}

impl Leader {
    /// Starts campaigning. The task gives the lease up when `shutdown` flips to true.
    pub fn spawn(
        store: Arc<dyn Store>,
        ttl: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> (Leader, tokio::task::JoinHandle<()>) {
        let holder = holder_id();
        let (tx, rx) = watch::channel(false);
        let me = holder.clone();
        let task = tokio::spawn(async move {
            let renew = ttl / 3;
            let mut last_ok: Option<Instant> = None;
            loop {
                match store.lease_acquire(LEASE, &me, ttl).await {
                    Ok(true) => {
                        last_ok = Some(Instant::now());
                        if !*tx.borrow() {
                            tracing::info!(holder = %me, "became leader");
                        }
                        let _ = tx.send_if_modified(|v| !std::mem::replace(v, true));
                    }
                    Ok(false) => {
                        if *tx.borrow() {
                            tracing::warn!(holder = %me, "lost leadership");
                        }
                        last_ok = None;
                        let _ = tx.send_if_modified(|v| std::mem::replace(v, false));
                    }
                    Err(e) => {
                        // Keep leading only while the lease we hold cannot have expired.
                        let expired =
                            last_ok.is_none_or(|t| t.elapsed() >= ttl.saturating_sub(renew));
                        tracing::warn!(error = %e, "cannot renew the leader lease");
                        if expired {
                            let _ = tx.send_if_modified(|v| std::mem::replace(v, false));
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(renew) => {}
                    _ = shutdown.wait_for(|v| *v) => break,
                }
            }
            let _ = tx.send(false);
            if let Err(e) = store.lease_release(LEASE, &me).await {
                tracing::warn!(error = %e, "could not release the leader lease");
            }
        });
        (Leader { rx, holder }, task)
    }

    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once this replica leads (or never, if it never does).
    pub async fn became_leader(&mut self) {
        let _ = self.rx.wait_for(|v| *v).await;
    }

    /// Resolves at the next change of leadership; false once campaigning has stopped.
    pub async fn changed(&mut self) -> bool {
        self.rx.changed().await.is_ok()
    }

    /// Resolves when leadership is lost.
    pub async fn lost(&mut self) {
        let _ = self.rx.wait_for(|v| !*v).await;
    }
}

/// Runs `work` each time this replica becomes leader; the future handed to `work` resolves
/// when leadership is lost or shutdown begins, and `work` must return soon after.
pub async fn while_leader<F, Fut>(
    mut leader: Leader,
    mut shutdown: watch::Receiver<bool>,
    mut work: F,
) where
    F: FnMut(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        tokio::select! {
            _ = leader.became_leader() => {}
            _ = shutdown.wait_for(|v| *v) => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let mut l = leader.clone();
        let mut s = shutdown.clone();
        let stop = Box::pin(async move {
            tokio::select! {
                _ = l.lost() => {}
                _ = s.wait_for(|v| *v) => {}
            }
        });
        work(stop).await;
        if *shutdown.borrow() {
            return;
        }
    }
}

fn holder_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "wedock".to_string());
    format!(
        "{host}/{}/{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[tokio::test]
    async fn one_leader_and_failover_after_release() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let (stop_a, rx_a) = watch::channel(false);
        let (_stop_b, rx_b) = watch::channel(false);
        let ttl = Duration::from_millis(300);
        let (mut a, task_a) = Leader::spawn(store.clone(), ttl, rx_a);
        a.became_leader().await;
        let (mut b, _task_b) = Leader::spawn(store.clone(), ttl, rx_b);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(a.is_leader());
        assert!(!b.is_leader(), "two leaders at once");
        // A stops cleanly: B takes over within the lease period.
        stop_a.send(true).unwrap();
        task_a.await.unwrap();
        tokio::time::timeout(Duration::from_secs(2), b.became_leader())
            .await
            .expect("failover");
        assert!(!a.is_leader());
    }
}
