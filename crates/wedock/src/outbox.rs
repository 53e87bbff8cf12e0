//! Durable delivery: every outgoing platform call is a row in the store's outbox before
//! anyone is told it will happen. A worker sends due messages — one at a time per target so
//! order is kept, with a rate limit per target — retries with exponential backoff, and
//! dead-letters a message after the configured attempts or on a permanent error.

use crate::config::OutboxConfig;
use crate::store::{NewOutboxMessage, OutboxMessage, OutboxStatus, Store, StoreResult, now_ms};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How often finished messages and expired keys are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What a sender reports about one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The platform confirmed delivery.
    Sent,
    /// The platform accepted the call but confirmed no delivery; recorded, not retried.
    Undelivered(String),
    /// A transient failure; try again (after the platform's hint, if it gave one).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// A permanent failure; dead-letter with the reason (errcode and errmsg).
    Dead(String),
}

/// Delivers outbox messages of one channel kind (robot, wecom_app, …).
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    /// The `channel` value of the messages this sender delivers.
    fn channel(&self) -> &str;
    /// Messages per minute allowed to one target, if the platform limits it.
    fn per_minute(&self, _target: &str) -> Option<u32> {
        None
    }
    async fn deliver(&self, msg: &OutboxMessage) -> Delivery;
}

/// A sliding one-minute window per target.
#[derive(Default)]
struct Throttle {
    sent: HashMap<String, VecDeque<i64>>,
}

impl Throttle {
    /// When the next send to `key` is allowed (now if the budget has room).
    fn next_slot(&mut self, key: &str, per_minute: u32, now: i64) -> i64 {
        let q = self.sent.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now - t >= 60_000) {
            q.pop_front();
        }
        if (q.len() as u32) < per_minute {
            now
        } else {
            q.front().map_or(now, |t| t + 60_000)
        }
    }

    fn record(&mut self, key: &str, now: i64) {
        self.sent.entry(key.to_string()).or_default().push_back(now);
    }
}

pub struct Outbox {
    store: Arc<dyn Store>,
    senders: HashMap<String, Arc<dyn Sender>>,
    cfg: OutboxConfig,
    wake: Notify,
    throttle: Mutex<Throttle>,
}

impl Outbox {
    pub fn new(store: Arc<dyn Store>, cfg: OutboxConfig) -> Self {
        Self {
            store,
            senders: HashMap::new(),
            cfg,
            wake: Notify::new(),
            throttle: Mutex::new(Throttle::default()),
        }
    }

    pub fn add_sender(&mut self, sender: Arc<dyn Sender>) {
        self.senders.insert(sender.channel().to_string(), sender);
    }

    pub fn has_sender(&self, channel: &str) -> bool {
        self.senders.contains_key(channel)
    }

    /// Durably queues a message and wakes the worker. Returns once it is stored.
    pub async fn enqueue(&self, msg: NewOutboxMessage) -> StoreResult<i64> {
        let id = self.store.outbox_enqueue(msg).await?;
        metrics::counter!("wedock_outbox_enqueued_total").increment(1);
        self.wake.notify_one();
        Ok(id)
    }

    /// Deletes finished messages older than `keep_days` and expired kv entries.
    pub async fn prune(&self) {
        let before = if self.cfg.keep_days == 0 {
            0
        } else {
            now_ms() - i64::from(self.cfg.keep_days) * 86_400_000
        };
        match self.store.prune(before).await {
            Ok(n) => {
                metrics::counter!("wedock_store_pruned_total").increment(n);
                if n > 0 {
                    tracing::info!(rows = n, "pruned finished outbox messages and expired keys");
                }
            }
            Err(e) => tracing::warn!(error = %e, "store housekeeping failed"),
        }
    }

    /// Makes the sender look at the queue now (after messages were written around it).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Adds several messages in one store transaction and wakes the sender once.
    pub async fn enqueue_many(&self, msgs: Vec<NewOutboxMessage>) -> StoreResult<Vec<i64>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.store.outbox_enqueue_many(msgs).await?;
        metrics::counter!("wedock_outbox_enqueued_total").increment(ids.len() as u64);
        self.wake.notify_one();
        Ok(ids)
    }

    /// Whether a target's rate budget has room now (used by alert digests to decide whether
    /// to fold pending messages).
    pub fn has_budget(&self, channel: &str, target: &str) -> bool {
        let Some(limit) = self.senders.get(channel).and_then(|s| s.per_minute(target)) else {
            return true;
        };
        let now = now_ms();
        self.throttle
            .lock()
            .map(|mut t| t.next_slot(&format!("{channel}/{target}"), limit, now) <= now)
            .unwrap_or(true)
    }

    /// Sends what is due until `shutdown` resolves. Safe to run in one task per process.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            // Housekeeping rides on the delivery worker: it runs on the leader only, so one
            // replica prunes the shared database.
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(std::time::Instant::now());
                self.prune().await;
            }
            let next_wake = match self.tick().await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "outbox tick failed");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(next_wake) => {}
            }
        }
    }

    /// One pass: sends one due message per target, concurrently across targets. Returns how
    /// long to sleep before the next pass when nothing wakes the worker.
    pub async fn tick(&self) -> StoreResult<Duration> {
        let now = now_ms();
        let due = self.store.outbox_due(now, 256).await?;
        let mut sleep = Duration::from_millis(500);
        let mut sends = Vec::new();
        for msg in due {
            let Some(sender) = self.senders.get(&msg.channel).cloned() else {
                // No sender configured for it (yet): keep it pending, look again later.
                continue;
            };
            if let Some(limit) = sender.per_minute(&msg.target) {
                let key = format!("{}/{}", msg.channel, msg.target);
                let slot = self
                    .throttle
                    .lock()
                    .map(|mut t| t.next_slot(&key, limit, now))
                    .unwrap_or(now);
                if slot > now {
                    sleep = sleep.min(Duration::from_millis((slot - now) as u64));
                    continue;
                }
                if let Ok(mut t) = self.throttle.lock() {
                    t.record(&key, now);
                }
            }
            sends.push(self.deliver_one(sender, msg));
        }
        let any = !sends.is_empty();
        futures::future::join_all(sends).await;
        if let Ok(c) = self.store.outbox_counts().await {
            metrics::gauge!("wedock_outbox_depth").set(c.pending as f64);
            metrics::gauge!("wedock_outbox_dead").set(c.dead as f64);
        }
        Ok(if any { Duration::ZERO } else { sleep })
    }

    async fn deliver_one(&self, sender: Arc<dyn Sender>, msg: OutboxMessage) {
        let result = sender.deliver(&msg).await;
        let channel = msg.channel.clone();
        let outcome = match &result {
            Delivery::Sent => {
                metrics::histogram!("wedock_delivery_seconds", "channel" => channel.clone())
                    .record((now_ms() - msg.created_at).max(0) as f64 / 1000.0);
                self.store
                    .outbox_finish(msg.id, OutboxStatus::Sent, None)
                    .await
            }
            Delivery::Undelivered(why) => {
                tracing::warn!(id = msg.id, channel = %channel, reason = %why, "accepted but not delivered");
                self.store
                    .outbox_finish(msg.id, OutboxStatus::Undelivered, Some(why))
                    .await
            }
            Delivery::Dead(why) => {
                tracing::error!(id = msg.id, channel = %channel, target = %msg.target, reason = %why, "dead-lettered");
                self.store
                    .outbox_finish(msg.id, OutboxStatus::Dead, Some(why))
                    .await
            }
            Delivery::Retry { reason, after } => {
                let attempts = msg.attempts + 1;
                if attempts >= self.cfg.max_attempts {
                    tracing::error!(id = msg.id, channel = %channel, reason = %reason, attempts, "giving up");
                    let why = format!("{reason} (after {attempts} attempts)");
                    self.store
                        .outbox_finish(msg.id, OutboxStatus::Dead, Some(&why))
                        .await
                } else {
                    let backoff = self.backoff(attempts);
                    let wait = after.map_or(backoff, |a| a.max(Duration::from_millis(50)));
                    tracing::warn!(id = msg.id, channel = %channel, reason = %reason, retry_in_ms = wait.as_millis() as u64, "delivery failed, will retry");
                    self.store
                        .outbox_retry_later(msg.id, reason, now_ms() + wait.as_millis() as i64)
                        .await
                }
            }
        };
        let label = match result {
            Delivery::Sent => "sent",
            Delivery::Undelivered(_) => "undelivered",
            Delivery::Retry { .. } => "retry",
            Delivery::Dead(_) => "dead",
        };
        metrics::counter!("wedock_deliveries_total", "channel" => channel, "result" => label)
            .increment(1);
        if let Err(e) = outcome {
            tracing::error!(error = %e, id = msg.id, "could not record delivery result");
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let base = self.cfg.initial_backoff_ms.max(1);
        let exp = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
        Duration::from_millis(exp.min(self.cfg.max_backoff_ms.max(base)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    struct Scripted {
        results: Mutex<VecDeque<Delivery>>,
        seen: Mutex<Vec<String>>,
        limit: Option<u32>,
    }

    #[async_trait]
    impl Sender for Scripted {
        fn channel(&self) -> &str {
            "test"
        }
        fn per_minute(&self, _t: &str) -> Option<u32> {
            self.limit
        }
        async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
            self.seen.lock().unwrap().push(msg.payload.clone());
            self.results
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Delivery::Sent)
        }
    }

    fn new_msg(payload: &str) -> NewOutboxMessage {
        NewOutboxMessage {
            channel: "test".into(),
            target: "t".into(),
            payload: payload.into(),
            dedup_key: None,
        }
    }

    #[tokio::test]
    async fn retries_then_dead_letters_and_keeps_order() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let sender = Arc::new(Scripted {
            results: Mutex::new(VecDeque::from([
                Delivery::Retry {
                    reason: "45009".into(),
                    after: Some(Duration::from_millis(1)),
                },
                Delivery::Sent,
                Delivery::Dead("93000 invalid webhook".into()),
            ])),
            seen: Mutex::default(),
            limit: None,
        });
        let mut ob = Outbox::new(
            store.clone(),
            OutboxConfig {
                max_attempts: 3,
                initial_backoff_ms: 1,
                max_backoff_ms: 5,
                keep_days: 7,
            },
        );
        ob.add_sender(sender.clone());
        ob.enqueue(new_msg("a")).await.unwrap();
        ob.enqueue(new_msg("b")).await.unwrap();
        for _ in 0..20 {
            ob.tick().await.unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        assert_eq!(*sender.seen.lock().unwrap(), vec!["a", "a", "b"]);
        let c = store.outbox_counts().await.unwrap();
        assert_eq!((c.pending, c.sent, c.dead), (0, 1, 1));
    }

    #[tokio::test]
    async fn throttle_holds_messages_without_dropping() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let sender = Arc::new(Scripted {
            results: Mutex::default(),
            seen: Mutex::default(),
            limit: Some(2),
        });
        let mut ob = Outbox::new(store.clone(), OutboxConfig::default());
        ob.add_sender(sender.clone());
        for p in ["1", "2", "3"] {
            ob.enqueue(new_msg(p)).await.unwrap();
        }
        for _ in 0..5 {
            ob.tick().await.unwrap();
        }
        assert_eq!(sender.seen.lock().unwrap().len(), 2);
        assert!(!ob.has_budget("test", "t"));
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
    }
}
