//! Durable delivery: every outgoing platform call is a row in the store's outbox before
//! anyone is told it will happen. A worker sends due messages — one at a time per target so
//! order is kept, with a rate limit per target — retries with exponential backoff, and
//! dead-letters a message after the configured attempts or on a permanent error.
//!
//! The per-target rate window is durable and shared: every attempt is claimed in the store
//! (`Store::outbox_claim`), which counts the target's send log over the last 60 s before it
//! lets the attempt go, so a restart or a new leader starts with the budget already spent,
//! not a fresh one. Claims and results carry the leader's fencing token; a replica that lost
//! the lease is refused by the store and sends nothing.

pub mod payload;

use crate::config::OutboxConfig;
use crate::leader::Leader;
use crate::render::Format;
use crate::store::{
    Claim, Fence, NewOutboxMessage, OutboxMessage, OutboxStatus, SEND_WINDOW_MS, Settle, Store,
    StoreError, StoreResult, now_ms,
};
use async_trait::async_trait;
use payload::{AlertCard, Reach};
use std::collections::HashMap;
use std::sync::Arc;
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

    // How alert messages take this channel's form (`payload`). The alert engine and the
    // escalation steps ask these instead of knowing any channel; the defaults suit a channel
    // that shows the shared text shape and has no buttons, mentions or digests.

    /// The markup alert messages to `target` are written in.
    fn alert_format(&self, _target: &str) -> Format {
        Format::Text
    }
    /// Whether a burst to one target folds into one digest once its per-minute budget is
    /// spent or messages already wait: a platform that allows no more and cannot change a
    /// sent message (group robots).
    fn folds_bursts(&self) -> bool {
        false
    }
    /// How `user` is written in content of `format` so that the platform notifies them
    /// (`<@userid>` in robot markdown); `None`: no in-text mention in this format.
    fn mention_in_text(&self, _format: Format, _user: &str) -> Option<String> {
        None
    }
    /// The format whose payloads notify a list of people (robot `text` with its
    /// `mentioned_list`, which also takes `@all`), if the platform has one.
    fn mention_list_format(&self) -> Option<Format> {
        None
    }
    /// The payloads carrying `content` to `target`, split to the platform's limit, with
    /// `mentions` (user ids, `@all`) in the list where the format has one.
    fn text_payloads(
        &self,
        _target: &str,
        format: Format,
        content: &str,
        _mentions: &[&str],
    ) -> Vec<String> {
        payload::bodies(format, content)
    }
    /// Whether alert messages to this channel can be cards with buttons.
    fn shows_cards(&self) -> bool {
        false
    }
    /// The payloads of an alert message as this channel shows it with buttons; `None`: the
    /// text payloads go instead.
    fn card_payloads(&self, _target: &str, _card: &AlertCard<'_>) -> Option<Vec<String>> {
        None
    }
    /// The target id that reaches person `user` directly through this channel, if any.
    fn direct_target(&self, _user: &str) -> Option<(String, Reach)> {
        None
    }
}

pub struct Outbox {
    store: Arc<dyn Store>,
    senders: HashMap<String, Arc<dyn Sender>>,
    cfg: OutboxConfig,
    wake: Notify,
}

impl Outbox {
    pub fn new(store: Arc<dyn Store>, cfg: OutboxConfig) -> Self {
        Self {
            store,
            senders: HashMap::new(),
            cfg,
            wake: Notify::new(),
        }
    }

    pub fn add_sender(&mut self, sender: Arc<dyn Sender>) {
        self.senders.insert(sender.channel().to_string(), sender);
    }

    pub fn has_sender(&self, channel: &str) -> bool {
        self.senders.contains_key(channel)
    }

    /// The sender of `channel`, to ask how messages take its form.
    pub fn sender(&self, channel: &str) -> Option<&dyn Sender> {
        self.senders.get(channel).map(|s| s.as_ref())
    }

    /// The payloads carrying `content` to `t`, as its channel's sender shapes them (see
    /// [`Sender::text_payloads`]); the shared shape when the channel has no sender.
    pub fn text_payloads(
        &self,
        t: &payload::Target,
        format: Format,
        content: &str,
        mentions: &[&str],
    ) -> Vec<String> {
        match self.sender(&t.channel) {
            Some(s) => s.text_payloads(&t.id, format, content, mentions),
            None => payload::bodies(format, content),
        }
    }

    /// The best way to reach person `user` directly: a `CHANNEL:ID` as written when that
    /// channel has a sender, else the channel whose id shape names them (personal WeChat),
    /// else one that takes any user id (the WeCom app). `cards`: only channels with buttons.
    pub fn direct_target(&self, user: &str, cards: bool) -> Option<(String, String)> {
        if let Some((channel, id)) = user.split_once(':') {
            let s = self.sender(channel)?;
            return (!cards || s.shows_cards()).then(|| (channel.to_string(), id.to_string()));
        }
        let mut best: Option<(Reach, &str, String)> = None;
        for (channel, s) in &self.senders {
            if cards && !s.shows_cards() {
                continue;
            }
            if let Some((id, reach)) = s.direct_target(user)
                && best
                    .as_ref()
                    .is_none_or(|(r, c, _)| (reach, channel.as_str()) < (*r, *c))
            {
                best = Some((reach, channel, id));
            }
        }
        best.map(|(_, c, id)| (c.to_string(), id))
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

    /// [`Outbox::enqueue_many`] plus leader bookkeeping in the same store transaction
    /// ([`Store::outbox_enqueue_with_state`]).
    pub async fn enqueue_with_state(
        &self,
        fence: Option<&Fence>,
        msgs: Vec<NewOutboxMessage>,
        state: Vec<(String, String)>,
    ) -> StoreResult<Vec<i64>> {
        let ids = self
            .store
            .outbox_enqueue_with_state(fence, msgs, state)
            .await?;
        if !ids.is_empty() {
            metrics::counter!("wedock_outbox_enqueued_total").increment(ids.len() as u64);
            self.wake.notify_one();
        }
        Ok(ids)
    }

    /// Whether a target's rate budget has room now, from the durable send log every replica
    /// shares (alert digests use it to decide whether to fold pending messages). A store
    /// error counts as room: the claim still enforces the budget.
    pub async fn has_budget(&self, channel: &str, target: &str) -> bool {
        let Some(limit) = self.senders.get(channel).and_then(|s| s.per_minute(target)) else {
            return true;
        };
        let since = now_ms() - SEND_WINDOW_MS + 1;
        match self.store.outbox_sends_since(channel, target, since).await {
            Ok(n) => n < u64::from(limit),
            Err(_) => true,
        }
    }

    /// Sends what is due while this replica leads, until `shutdown` resolves.
    pub async fn run(
        self: Arc<Self>,
        leader: Leader,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut last_prune: Option<std::time::Instant> = None;
        loop {
            // Housekeeping rides on the delivery worker: it runs on the leader only, so one
            // replica prunes the shared database.
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(std::time::Instant::now());
                self.prune().await;
            }
            let next_wake = match self.tick(&leader).await {
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

    /// One pass: claims and sends one due message per target, concurrently across targets.
    /// Returns how long to sleep before the next pass when nothing wakes the worker. Does
    /// nothing once `leader` cannot prove its lease.
    pub async fn tick(&self, leader: &Leader) -> StoreResult<Duration> {
        let idle = Duration::from_millis(500);
        let Some(fence) = leader.fence() else {
            return Ok(idle);
        };
        let now = now_ms();
        let due = self.store.outbox_due(now, 256).await?;
        let mut sleep = idle;
        let mut sends = Vec::new();
        for msg in due {
            let Some(sender) = self.senders.get(&msg.channel).cloned() else {
                // No sender configured for it (yet): keep it pending, look again later.
                continue;
            };
            let limit = sender.per_minute(&msg.target);
            match self.store.outbox_claim(&fence, msg.id, limit, now).await {
                Ok(Claim::Go) => sends.push(self.deliver_one(leader, &fence, sender, msg)),
                Ok(Claim::WaitUntil(at)) => {
                    metrics::counter!("wedock_outbox_throttled_total").increment(1);
                    sleep = sleep.min(Duration::from_millis((at - now).clamp(1, 60_000) as u64));
                }
                Ok(Claim::Gone) => {}
                Err(StoreError::Fenced(why)) => {
                    tracing::warn!(reason = %why, "not delivering: the leader lease is no longer ours");
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let any = !sends.is_empty();
        futures::future::join_all(sends).await;
        if let Ok(c) = self.store.outbox_counts().await {
            metrics::gauge!("wedock_outbox_depth").set(c.pending as f64);
            metrics::gauge!("wedock_outbox_dead").set(c.dead as f64);
        }
        Ok(if any { Duration::ZERO } else { sleep })
    }

    async fn deliver_one(
        &self,
        leader: &Leader,
        fence: &Fence,
        sender: Arc<dyn Sender>,
        msg: OutboxMessage,
    ) {
        // The claim was fenced by the store; this closes the gap between it and the platform
        // call (a pause right after the claim), which no database can fence.
        if !leader.holds(fence) {
            tracing::warn!(
                id = msg.id,
                "not sending: the leader lease expired after the claim"
            );
            return;
        }
        let result = sender.deliver(&msg).await;
        let channel = msg.channel.clone();
        let settle = match &result {
            Delivery::Sent => {
                metrics::histogram!("wedock_delivery_seconds", "channel" => channel.clone())
                    .record((now_ms() - msg.created_at).max(0) as f64 / 1000.0);
                finish(OutboxStatus::Sent, None)
            }
            Delivery::Undelivered(why) => {
                tracing::warn!(id = msg.id, channel = %channel, reason = %why, "accepted but not delivered");
                finish(OutboxStatus::Undelivered, Some(why))
            }
            Delivery::Dead(why) => {
                tracing::error!(id = msg.id, channel = %channel, target = %msg.target, reason = %why, "dead-lettered");
                finish(OutboxStatus::Dead, Some(why))
            }
            Delivery::Retry { reason, after } => {
                let attempts = msg.attempts + 1;
                if attempts >= self.cfg.max_attempts {
                    tracing::error!(id = msg.id, channel = %channel, reason = %reason, attempts, "giving up");
                    finish(
                        OutboxStatus::Dead,
                        Some(&format!("{reason} (after {attempts} attempts)")),
                    )
                } else {
                    let backoff = self.backoff(attempts);
                    let wait = after.map_or(backoff, |a| a.max(Duration::from_millis(50)));
                    tracing::warn!(id = msg.id, channel = %channel, reason = %reason, retry_in_ms = wait.as_millis() as u64, "delivery failed, will retry");
                    // The message stays its target's head, so the whole target waits: a 45009
                    // pauses the target for every replica, durably.
                    Settle::RetryAt {
                        error: reason.clone(),
                        at: now_ms() + wait.as_millis() as i64,
                    }
                }
            }
        };
        let outcome = self.store.outbox_settle(fence, msg.id, settle).await;
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

fn finish(status: OutboxStatus, note: Option<&str>) -> Settle {
    Settle::Finish {
        status,
        note: note.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    struct Scripted {
        results: Mutex<VecDeque<Delivery>>,
        seen: Mutex<Vec<String>>,
        limit: Option<u32>,
    }

    impl Scripted {
        fn new(results: Vec<Delivery>, limit: Option<u32>) -> Arc<Self> {
            Arc::new(Scripted {
                results: Mutex::new(results.into()),
                seen: Mutex::default(),
                limit,
            })
        }
        fn seen(&self) -> Vec<String> {
            self.seen.lock().unwrap().clone()
        }
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

    /// A leader on `store` that has taken the lease.
    async fn lead(store: &Arc<dyn Store>) -> (Leader, tokio::sync::watch::Sender<bool>) {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let (mut l, _task) = Leader::spawn(store.clone(), Duration::from_secs(3), rx);
        l.became_leader().await;
        (l, stop)
    }

    fn outbox(store: &Arc<dyn Store>, sender: &Arc<Scripted>, cfg: OutboxConfig) -> Outbox {
        let mut ob = Outbox::new(store.clone(), cfg);
        ob.add_sender(sender.clone());
        ob
    }

    #[tokio::test]
    async fn retries_then_dead_letters_and_keeps_order() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let (leader, _stop) = lead(&store).await;
        let sender = Scripted::new(
            vec![
                Delivery::Retry {
                    reason: "45009".into(),
                    after: Some(Duration::from_millis(1)),
                },
                Delivery::Sent,
                Delivery::Dead("93000 invalid webhook".into()),
            ],
            None,
        );
        let cfg = OutboxConfig {
            max_attempts: 3,
            initial_backoff_ms: 1,
            max_backoff_ms: 5,
            keep_days: 7,
        };
        let ob = outbox(&store, &sender, cfg);
        ob.enqueue(new_msg("a")).await.unwrap();
        ob.enqueue(new_msg("b")).await.unwrap();
        for _ in 0..20 {
            ob.tick(&leader).await.unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        assert_eq!(sender.seen(), vec!["a", "a", "b"]);
        let c = store.outbox_counts().await.unwrap();
        assert_eq!((c.pending, c.sent, c.dead), (0, 1, 1));
    }

    #[tokio::test]
    async fn throttle_holds_messages_without_dropping() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let (leader, _stop) = lead(&store).await;
        let sender = Scripted::new(vec![], Some(2));
        let ob = outbox(&store, &sender, OutboxConfig::default());
        for p in ["1", "2", "3"] {
            ob.enqueue(new_msg(p)).await.unwrap();
        }
        for _ in 0..5 {
            ob.tick(&leader).await.unwrap();
        }
        assert_eq!(sender.seen().len(), 2);
        assert!(!ob.has_budget("test", "t").await);
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
    }

    #[tokio::test]
    async fn a_restarted_worker_inherits_the_spent_budget() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let (leader, stop) = lead(&store).await;
        let first = Scripted::new(vec![], Some(2));
        let ob = outbox(&store, &first, OutboxConfig::default());
        for p in ["1", "2", "3", "4"] {
            ob.enqueue(new_msg(p)).await.unwrap();
        }
        for _ in 0..3 {
            ob.tick(&leader).await.unwrap();
        }
        assert_eq!(first.seen(), vec!["1", "2"]);
        // The process is gone; a new one (or another replica) leads with fresh memory.
        drop(ob);
        stop.send(true).unwrap();
        let (leader, _stop) = lead(&store).await;
        let second = Scripted::new(vec![], Some(2));
        let ob = outbox(&store, &second, OutboxConfig::default());
        for _ in 0..3 {
            ob.tick(&leader).await.unwrap();
        }
        assert!(second.seen().is_empty(), "{:?}", second.seen());
        assert!(!ob.has_budget("test", "t").await);
    }

    #[tokio::test]
    async fn a_rate_limit_answer_pauses_the_target_for_the_next_leader() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let (leader, stop) = lead(&store).await;
        let limited = Scripted::new(
            vec![Delivery::Retry {
                reason: "45009 api freq out of limit".into(),
                after: Some(Duration::from_secs(60)),
            }],
            None,
        );
        let ob = outbox(&store, &limited, OutboxConfig::default());
        ob.enqueue(new_msg("1")).await.unwrap();
        ob.enqueue(new_msg("2")).await.unwrap();
        ob.tick(&leader).await.unwrap();
        stop.send(true).unwrap();
        let (leader, _stop) = lead(&store).await;
        let next = Scripted::new(vec![], None);
        let ob = outbox(&store, &next, OutboxConfig::default());
        ob.tick(&leader).await.unwrap();
        assert_eq!(limited.seen(), vec!["1"]);
        assert!(next.seen().is_empty(), "{:?}", next.seen());
    }

    #[tokio::test]
    async fn a_stale_leader_is_refused_by_the_store() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let id = store.outbox_enqueue(new_msg("1")).await.unwrap();
        let old = store
            .lease_acquire("leader", "old", Duration::from_millis(50))
            .await
            .unwrap()
            .expect("free lease");
        let old = Fence {
            lease: "leader".into(),
            holder: "old".into(),
            epoch: old,
        };
        tokio::time::sleep(Duration::from_millis(80)).await;
        let new = store
            .lease_acquire("leader", "new", Duration::from_secs(3))
            .await
            .unwrap()
            .expect("expired lease is free");
        assert!(new > old.epoch);
        let claim = store.outbox_claim(&old, id, Some(20), now_ms()).await;
        assert!(matches!(claim, Err(StoreError::Fenced(_))), "{claim:?}");
        let settle = store
            .outbox_settle(&old, id, finish(OutboxStatus::Sent, None))
            .await;
        assert!(matches!(settle, Err(StoreError::Fenced(_))), "{settle:?}");
        let cursor = store.kv_set_fenced(&old, "alerts:cursor:x", "9").await;
        assert!(matches!(cursor, Err(StoreError::Fenced(_))), "{cursor:?}");
        assert_eq!(store.kv_get("alerts:cursor:x").await.unwrap(), None);
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
        // Released and taken again by the same holder: still a new epoch.
        store.lease_release("leader", "new").await.unwrap();
        let again = store
            .lease_acquire("leader", "new", Duration::from_secs(3))
            .await
            .unwrap();
        assert_eq!(again, Some(new + 1));
    }
}
