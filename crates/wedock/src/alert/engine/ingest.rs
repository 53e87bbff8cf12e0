//! Webhook ingest as a group commit. Each HTTP submission queues its alerts; whichever
//! request takes the commit turn writes everything queued so far in one
//! [`Engine::submit_many`] call, and every caller gets its own counts back.
//!
//! Why: written one request at a time, every webhook alert for a robot whose budget is spent
//! costs a read of the waiting messages and a fold transaction, and concurrent requests (and
//! replicas) fold the same waiting rows and retry each other. Taken together, a burst of N
//! concurrent requests costs one round of store writes instead of N, and the fold races
//! drop by the same factor.

use super::*;
use tokio::sync::oneshot;

/// The queue of submissions waiting for a commit turn.
#[derive(Default)]
pub(super) struct Ingest {
    queue: Mutex<Vec<Queued>>,
    /// Held by the request that is writing; the others queue behind it.
    turn: tokio::sync::Mutex<()>,
}

struct Queued {
    alerts: Vec<Alert>,
    reply: oneshot::Sender<StoreResult<Submitted>>,
}

impl Engine {
    /// [`Engine::submit`] for a webhook request: the alerts are written together with those
    /// of the requests that arrived meanwhile. Returns once they are durable.
    pub async fn submit_coalesced(self: &Arc<Self>, alerts: Vec<Alert>) -> StoreResult<Submitted> {
        let (reply, answer) = oneshot::channel();
        self.ingest
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Queued { alerts, reply });
        // Every queued submission is followed by a commit turn, so some turn writes it. The
        // turn runs in its own task, so a client that hangs up mid-write cannot abandon the
        // others' alerts; and the caller waits for its answer only, not for its own turn,
        // which may come after several others once an earlier turn has written its alerts.
        let engine = self.clone();
        tokio::spawn(async move { engine.commit_queued().await });
        answer.await.unwrap_or_else(|_| {
            Err(crate::store::StoreError::Db(
                "the alert commit stopped before answering".into(),
            ))
        })
    }

    /// Takes the commit turn and writes whatever is queued. A caller whose submission an
    /// earlier turn already wrote finds the queue empty (its answer is sent) and returns.
    async fn commit_queued(&self) {
        let _turn = self.ingest.turn.lock().await;
        let batch =
            std::mem::take(&mut *self.ingest.queue.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return;
        }
        metrics::histogram!("wedock_alert_commit_requests").record(batch.len() as f64);
        let (segments, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|q| (q.alerts, q.reply)).unzip();
        match self.submit_many(segments, Vec::new()).await {
            Ok(done) => {
                for (reply, done) in replies.into_iter().zip(done) {
                    let _ = reply.send(Ok(done));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
