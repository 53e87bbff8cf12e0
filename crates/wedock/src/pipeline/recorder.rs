//! Dedup records written after the reply. A question's answer has no side effect, so it
//! goes out at once and its dedup record joins the store's next group commit (SQLite's
//! writer thread, a PostgreSQL batch) instead of costing the message a round trip of its
//! own. Until a record is durable the pipeline keeps the reply in its in-flight map, so a
//! platform retry in that window is answered from memory.

use crate::store::{DedupRecord, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Records in flight beyond which a message waits for its own record instead of leaving it
/// to the background: a store that falls behind slows the senders down rather than
/// letting unwritten records (and the replies kept for them) pile up in memory.
const MAX_PENDING: usize = 4096;

#[derive(Clone, Default)]
pub(super) struct Recorder {
    pending: Arc<AtomicUsize>,
    /// Woken whenever `pending` drops to zero.
    idle: Arc<Notify>,
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
        let this = self.clone();
        let job = async move {
            if let Err(e) = store.dedup_record(rec).await {
                tracing::warn!(error = %e, "could not record an answered message");
                metrics::counter!("wedock_errors_total", "reason" => "dedup_record").increment(1);
            }
            done();
            if this.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                this.idle.notify_waiters();
            }
        };
        if before >= MAX_PENDING {
            job.await;
        } else {
            tokio::spawn(job);
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
