//! The passive-or-late decision shared by the HTTP callback channels.
//!
//! Tencent waits about five seconds for the HTTP response and re-sends the message when it
//! gets none. A message is processed once (one task per platform message id, on top of the
//! pipeline's own dedup); every request for it — the original and any retries — waits up to
//! the passive window for that one result:
//!
//! * ready in time → the reply goes in the HTTP response (to every request that is still
//!   waiting, which is what Tencent expects of a retry: the same answer);
//! * not ready → the first request to give up marks the message "late" and answers empty;
//!   when the result comes it is sent once through the outbox. Requests after that (late
//!   retries) answer empty too, so a message is never answered both ways.

use crate::message::{Incoming, Reply};
use crate::state::AppState;
use crate::store::NewOutboxMessage;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Builds the outbox messages of a late reply (the reply may need several parts).
pub type LateFn = Box<dyn FnOnce(&Reply) -> Vec<NewOutboxMessage> + Send>;

pub enum Answer {
    /// Reply in the HTTP response.
    Passive(Reply),
    /// Answer the request with the platform's "nothing" (empty body / `success`).
    Nothing,
}

struct Slot {
    result: watch::Receiver<Option<Option<Reply>>>,
    /// Set once the reply is to go through the outbox; guarded so that "passive" and
    /// "late" are decided exactly once.
    late: tokio::sync::Mutex<bool>,
    late_fn: Mutex<Option<LateFn>>,
}

type Slots = Arc<Mutex<HashMap<String, Arc<Slot>>>>;

#[derive(Default)]
pub struct Responder {
    slots: Slots,
}

impl Responder {
    /// Processes `msg` (whose `msg_id` must be set) at most once and decides how to answer
    /// this request. `late` builds the outbox messages when the answer misses the window; a
    /// zero window sends every answer through the outbox.
    pub async fn respond(
        &self,
        state: &AppState,
        msg: Incoming,
        window: Duration,
        late: LateFn,
    ) -> Answer {
        let msg_id = msg.msg_id.clone().unwrap_or_default();
        let channel = msg.channel.clone();
        let key = format!("{channel}\u{1f}{msg_id}");
        let marker = format!("late:{channel}:{msg_id}");
        let app = state.app().clone();

        let (slot, owner) = {
            let Ok(mut slots) = self.slots.lock() else {
                return Answer::Nothing;
            };
            match slots.get(&key) {
                Some(s) => (s.clone(), None),
                None => {
                    let (tx, rx) = watch::channel(None);
                    let s = Arc::new(Slot {
                        result: rx,
                        late: tokio::sync::Mutex::new(false),
                        late_fn: Mutex::new(Some(late)),
                    });
                    slots.insert(key.clone(), s.clone());
                    (s, Some(tx))
                }
            }
        };
        if let Some(tx) = owner {
            let pipeline = state.pipeline.clone();
            let outbox = state.outbox.clone();
            let slot = slot.clone();
            let slots = self.slots.clone();
            let key = key.clone();
            let store = app.store.clone();
            let marker = marker.clone();
            tokio::spawn(async move {
                let (mut reply, fresh) = pipeline.handle_traced(msg).await;
                // A duplicate of a message that went late earlier (before a restart, or on
                // another replica) was answered through the outbox: answer it with nothing.
                // Only duplicates can have the marker, so first runs skip this read.
                if !fresh && matches!(store.kv_get(&marker).await, Ok(Some(_))) {
                    reply = None;
                }
                let late_now = slot.late.lock().await;
                let _ = tx.send(Some(reply.clone()));
                if *late_now {
                    enqueue_late(&slot, &outbox, reply.as_ref()).await;
                }
                drop(late_now);
                if let Ok(mut s) = slots.lock() {
                    s.remove(&key);
                }
            });
        }

        let mut rx = slot.result.clone();
        if !window.is_zero() {
            let _ = tokio::time::timeout(window, rx.wait_for(|r| r.is_some())).await;
        }
        let mut late_flag = slot.late.lock().await;
        if *late_flag {
            return Answer::Nothing;
        }
        let ready = rx.borrow().clone();
        match ready {
            Some(Some(reply)) if !window.is_zero() => Answer::Passive(reply),
            Some(None) => Answer::Nothing,
            ready => {
                // Missed the window: the reply goes out through the outbox, once.
                *late_flag = true;
                let ttl = Duration::from_secs(app.config.store.dedup_ttl_secs.max(60));
                let _ = app.store.kv_set(&marker, "1", Some(ttl)).await;
                metrics::counter!("wedock_late_replies_total", "channel" => channel).increment(1);
                if let Some(Some(reply)) = ready {
                    // Finished already (zero window): the task has looked; send it here.
                    enqueue_late(&slot, &state.outbox, Some(&reply)).await;
                }
                Answer::Nothing
            }
        }
    }
}

async fn enqueue_late(slot: &Slot, outbox: &crate::outbox::Outbox, reply: Option<&Reply>) {
    let Some(reply) = reply else { return };
    let f = slot.late_fn.lock().ok().and_then(|mut f| f.take());
    let Some(f) = f else { return };
    for m in f(reply) {
        if let Err(e) = outbox.enqueue(m).await {
            tracing::error!(error = %e, "could not queue a late reply");
        }
    }
}
