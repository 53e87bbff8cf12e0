//! Leader election between replicas sharing one store: a lease row renewed every third of its
//! lifetime. Only the leader runs singleton work — outbox delivery, event sources, the AI-bot
//! long connection — so replicas neither duplicate alerts nor kick each other's connections.
//! Every replica serves HTTP callbacks. With the embedded SQLite store there is one process and
//! it always wins the lease at once.
//!
//! Leadership is fenced. Each renewal is bounded by a timeout shorter than the lease, and the
//! leader steps down as soon as it cannot prove the lease: its local deadline is the start of
//! the last successful renewal plus the lease minus one renewal period, measured on the
//! monotonic clock (which keeps running while the process is paused). Every leader-only write
//! carries a [`Fence`] (the lease epoch, a fencing token) that the store checks in the same
//! transaction, so a leader that was paused and wakes up after another replica took over can
//! neither deliver, ack nor advance a cursor, even before its renewal loop notices.

use crate::store::{Fence, Store};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub const LEASE: &str = "leader";

/// The lease this process holds, and until when it may act on it.
#[derive(Debug, Clone)]
struct Held {
    fence: Fence,
    valid_until: Instant,
}

#[derive(Clone)]
pub struct Leader {
    rx: watch::Receiver<bool>,
    held: Arc<RwLock<Option<Held>>>,
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
        let held: Arc<RwLock<Option<Held>>> = Arc::default();
        let leader = Leader {
            rx,
            held: held.clone(),
            holder: holder.clone(),
        };
        let me = holder;
        let view = leader.clone();
        let set_held = move |h: Option<Held>| {
            if let Ok(mut g) = held.write() {
                *g = h;
            }
        };
        let task = tokio::spawn(async move {
            let renew = ttl / 3;
            loop {
                let started = Instant::now();
                // A renewal that takes longer than a third of the lease is a failure: the
                // lease could expire while we wait, and a hung connection must not keep us
                // leading.
                let result =
                    match tokio::time::timeout(renew, store.lease_acquire(LEASE, &me, ttl)).await {
                        Ok(r) => r,
                        Err(_) => Err(crate::store::StoreError::Db(format!(
                            "lease renewal took longer than {} ms",
                            renew.as_millis()
                        ))),
                    };
                match result {
                    Ok(Some(epoch)) => {
                        set_held(Some(Held {
                            fence: Fence {
                                lease: LEASE.to_string(),
                                holder: me.clone(),
                                epoch,
                            },
                            valid_until: started + ttl.saturating_sub(renew),
                        }));
                        if !*tx.borrow() {
                            tracing::info!(holder = %me, epoch, "became leader");
                        }
                        let _ = tx.send_if_modified(|v| !std::mem::replace(v, true));
                    }
                    Ok(None) => {
                        if *tx.borrow() {
                            tracing::warn!(holder = %me, "lost leadership");
                        }
                        set_held(None);
                        let _ = tx.send_if_modified(|v| std::mem::replace(v, false));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot renew the leader lease");
                        // Keep leading only while the lease we hold cannot have expired.
                        if view.fence().is_none() {
                            if *tx.borrow() {
                                tracing::warn!(holder = %me, "stepping down: the lease cannot be proven");
                            }
                            set_held(None);
                            let _ = tx.send_if_modified(|v| std::mem::replace(v, false));
                        }
                    }
                }
                // Wake up in time to step down at the local deadline if the next renewal
                // hangs: the renewal timeout ends it by then.
                tokio::select! {
                    _ = tokio::time::sleep(renew.saturating_sub(started.elapsed()).max(renew / 4)) => {}
                    _ = shutdown.wait_for(|v| *v) => break,
                }
            }
            set_held(None);
            let _ = tx.send(false);
            if let Err(e) = store.lease_release(LEASE, &me).await {
                tracing::warn!(error = %e, "could not release the leader lease");
            }
        });
        (leader, task)
    }

    /// A leader for a process that is alone on its store (embedders, tests, benches): it
    /// campaigns for as long as the runtime runs and returns once it leads.
    pub async fn solo(store: Arc<dyn Store>) -> Leader {
        let (keep, rx) = watch::channel(false);
        // The shutdown sender must outlive the campaign: a dropped one reads as "stop".
        tokio::spawn(async move {
            let _keep = keep;
            std::future::pending::<()>().await
        });
        let (mut leader, _task) = Leader::spawn(store, Duration::from_secs(15), rx);
        leader.became_leader().await;
        leader
    }

    /// Whether this replica leads (and its lease cannot have expired yet).
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow() && self.fence().is_some()
    }

    /// The fencing token to carry on a leader-only write, while the lease is provably held:
    /// `None` once the local deadline has passed, even if the renewal loop (paused with the
    /// rest of the process) has not stepped down yet.
    pub fn fence(&self) -> Option<Fence> {
        let g = self.held.read().ok()?;
        let h = g.as_ref()?;
        (Instant::now() < h.valid_until).then(|| h.fence.clone())
    }

    /// Whether `fence` is still this replica's current, unexpired lease: checked right before
    /// an irrevocable step (a platform call) that the store cannot fence by itself.
    pub fn holds(&self, fence: &Fence) -> bool {
        self.fence().is_some_and(|f| &f == fence)
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
