//! Dedup records written after the reply. A question's answer has no side effect, so it
//! goes out at once and its dedup record joins the store's next group commit (SQLite's
//! writer thread, a PostgreSQL batch) instead of costing the message a round trip of its
//! own. Until a record is durable the pipeline keeps the reply in its in-flight map, so a
//! platform retry in that window is answered from memory.
//!
//! Records queue here and one task writes whatever has queued as one
//! [`Store::dedup_record_many`]: a job per record (a task, a hand-off to the writer thread, a
//! savepoint) was a fifth of the message path's CPU under load (docs/performance.md).

use crate::store::{DedupRecord, Store};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

/// Records in flight beyond which a message waits for its own record instead of leaving it
/// to the background: a store that falls behind slows the senders down rather than
/// letting unwritten records (and the replies kept for them) pile up in memory.
const MAX_PENDING: usize = 4096;
/// Records written in one store call at most.
const BATCH_MAX: usize = 512;
/// How long a small batch waits for more before it is written. Every commit makes the
/// store's readers start over (SQLite: a new WAL snapshot empties their page cache), so
/// under load fewer, bigger commits make both sides cheaper; the reply never waits for
/// this, and a retry meanwhile is answered from the in-flight map.
const LINGER: Duration = Duration::from_millis(2);

/// One queued record: what to run once it is durable or failed, and who waits for it.
struct Queued {
    rec: DedupRecord,
    done: Box<dyn FnOnce() + Send>,
    waiter: Option<oneshot::Sender<()>>,
}

#[derive(Clone, Default)]
pub(super) struct Recorder {
    pending: Arc<AtomicUsize>,
    /// Woken whenever `pending` drops to zero.
    idle: Arc<Notify>,
    queue: Arc<Mutex<Vec<Queued>>>,
    /// Whether a task is writing the queue; it ends when the queue is empty, so no task
    /// outlives the pipeline holding the store.
    writing: Arc<AtomicBool>,
}

impl Recorder {
    /// Writes `rec`, in the background unless too many are pending; `done` runs once it is
    /// durable or failed (a failed record only means a retry would be answered again).
    pub(super) async fn record(
        &self,
        store: Arc<dyn Store>,
        rec: DedupRecord,
        done: impl FnOnce() + Send + 'static,
    ) {
        let before = self.pending.fetch_add(1, Ordering::AcqRel);
        let (waiter, wait) = if before >= MAX_PENDING {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        if let Ok(mut q) = self.queue.lock() {
            q.push(Queued {
                rec,
                done: Box::new(done),
                waiter,
            });
        }
        if !self.writing.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().write_queue(store));
        }
        if let Some(rx) = wait {
            let _ = rx.await;
        }
    }

    /// Writes what has queued, batch after batch, until the queue is empty.
    async fn write_queue(self, store: Arc<dyn Store>) {
        loop {
            if self.queue.lock().is_ok_and(|q| q.len() < BATCH_MAX / 4) {
                tokio::time::sleep(LINGER).await;
            }
            let batch: Vec<Queued> = match self.queue.lock() {
                Ok(mut q) => {
                    let n = q.len().min(BATCH_MAX);
                    q.drain(..n).collect()
                }
                Err(_) => return,
            };
            if batch.is_empty() {
                self.writing.store(false, Ordering::Release);
                // A record queued after the drain above but before the flag dropped found
                // it set and started no task: take it on unless another task already did.
                let more = self.queue.lock().is_ok_and(|q| !q.is_empty());
                if more && !self.writing.swap(true, Ordering::AcqRel) {
                    continue;
                }
                return;
            }
            let n = batch.len();
            let (recs, rest): (Vec<DedupRecord>, Vec<_>) = batch
                .into_iter()
                .map(|q| (q.rec, (q.done, q.waiter)))
                .unzip();
            if let Err(e) = store.dedup_record_many(recs).await {
                tracing::warn!(error = %e, records = n, "could not record answered messages");
                metrics::counter!("wedock_errors_total", "reason" => "dedup_record")
                    .increment(n as u64);
            }
            for (done, waiter) in rest {
                done();
                if let Some(w) = waiter {
                    let _ = w.send(());
                }
            }
            if self.pending.fetch_sub(n, Ordering::AcqRel) == n {
                self.idle.notify_waiters();
            }
        }
    }

    /// Waits (at most `limit`) until no record is pending.
    pub(super) async fn settle(&self, limit: Duration) {
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.pending.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        if tokio::time::timeout(limit, wait).await.is_err() {
            tracing::warn!("answered messages still unrecorded after {limit:?}");
        }
    }
}
