//! Durable state behind one small trait: message dedup, the outbox, the audit log, quiz
//! progress and key-value state. SQLite (WAL) is the embedded default; the trait is kept to
//! plain rows and transactions any SQL database can provide, so PostgreSQL fits behind it too.

mod delivery_pg;
mod delivery_sqlite;
pub mod incidents;
mod pg_batch;
mod pg_conn;
mod postgres;
mod sqlite;

pub use incidents::IncidentStore;

pub use pg_conn::{
    PgOptions, PgTarget, SslMode, check_tls as pg_tls_check, connect_once as pg_connect,
    parse_target as pg_target,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    #[error("cannot open store at {path}: {reason}")]
    Open { path: String, reason: String },
    /// A leader-only write carried a lease epoch that is no longer current: another replica
    /// took over (or the lease expired), so the write was refused.
    #[error("refused: the leader lease {0} is no longer held (stale fencing token)")]
    Fenced(String),
}

/// Proof of leadership carried by every leader-only write (a fencing token): the lease, its
/// holder and the epoch the holder got when it took the lease. The store refuses the write
/// unless the lease row still has this holder and epoch and has not expired, in the same
/// transaction as the write, so a leader that was paused and lost the lease cannot deliver,
/// ack or advance a cursor when it wakes up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub lease: String,
    pub holder: String,
    pub epoch: i64,
}

impl std::fmt::Display for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (epoch {}, {})", self.lease, self.epoch, self.holder)
    }
}

/// The answer to [`Store::outbox_claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Send it now; the send is in the target's send log.
    Go,
    /// The target's budget for the last 60 s is spent: try again at this time (ms).
    WaitUntil(i64),
    /// The message is no longer pending (settled or folded meanwhile): nothing to send.
    Gone,
}

/// How a claimed message ended, for [`Store::outbox_settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Sent, undelivered or dead-lettered, with the platform's note.
    Finish {
        status: OutboxStatus,
        note: Option<String>,
    },
    /// Try again at `at` (ms). The message stays the head of its target, so the whole target
    /// waits (a 45009 answer pauses the target for every replica).
    RetryAt { error: String, at: i64 },
}

/// How long after its claim a send may still reach the platform: the senders' HTTP timeout
/// (10 s). A send held up that long (a slow platform, a leader paused mid-call) lands later
/// than its claim says.
pub const SEND_ARRIVAL_SLACK_MS: i64 = 10_000;

/// The width of the per-target rate window over claims. The platform counts arrivals ("20
/// messages a minute" for a group robot); every arrival in a minute was claimed within that
/// minute or the slack before it, so ≤ limit claims in any 70 s keep ≤ limit arrivals in any
/// 60 s. Counting claims over only 60 s let the chaos test see 21 in one minute.
pub const SEND_WINDOW_MS: i64 = 60_000 + SEND_ARRIVAL_SLACK_MS;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The text of a statement that takes `n` keys (the question's read): built once for the
/// usual counts (up to 7) and kept in `cache`, built afresh for more.
fn sql_for_keys(
    cache: &'static std::sync::OnceLock<Vec<String>>,
    n: usize,
    build: fn(usize) -> String,
) -> std::borrow::Cow<'static, str> {
    let common = cache.get_or_init(|| (0..8).map(build).collect());
    match common.get(n) {
        Some(sql) => std::borrow::Cow::Borrowed(sql.as_str()),
        None => std::borrow::Cow::Owned(build(n)),
    }
}

/// What the store knows about a platform message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupState {
    /// First sighting: the caller owns processing it.
    New,
    /// Another request is processing it right now.
    InProgress,
    /// Already processed; the stored reply (if any) is to be returned again.
    Done(Option<String>),
}

/// The result of a message that ran without a dedup claim (one with no side effect, such as
/// a knowledge answer), written after its reply by [`Store::dedup_record`].
#[derive(Debug, Clone)]
pub struct DedupRecord {
    pub channel: String,
    pub msg_id: String,
    /// How long a retry of the message gets this reply back.
    pub ttl: Duration,
    /// The reply as stored for retries (JSON), `None` when nothing was sent.
    pub reply: Option<String>,
    /// `kv_set`s (no expiry) that belong to the message, e.g. the user's language.
    pub kv: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxStatus {
    Pending,
    Sent,
    /// The platform accepted the call but did not confirm delivery.
    Undelivered,
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Undelivered => "undelivered",
            OutboxStatus::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => OutboxStatus::Pending,
            "sent" => OutboxStatus::Sent,
            "undelivered" => OutboxStatus::Undelivered,
            "dead" => OutboxStatus::Dead,
            _ => return None,
        })
    }
}

/// A message to be sent by a channel, written before anyone is told it will be sent.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage {
    /// Which sender delivers it (`robot`, `wecom_app`, `wechat_mp`, `aibot`, `wechatbot`, …).
    pub channel: String,
    /// The sender-specific target: robot name, user id, chat id.
    pub target: String,
    /// Sender-specific JSON payload.
    pub payload: String,
    /// At-most-once enqueue: a second message with the same key is not added.
    pub dedup_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub channel: String,
    pub target: String,
    pub payload: String,
    pub dedup_key: Option<String>,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sent: u64,
    pub undelivered: u64,
    pub dead: u64,
}

impl OutboxCounts {
    /// Records the count of one status as the stores read it (`status`, `count(*)` rows);
    /// an unknown status is ignored.
    pub fn add_row(&mut self, status: &str, n: i64) {
        let n = n.max(0) as u64;
        match OutboxStatus::parse(status) {
            Some(OutboxStatus::Pending) => self.pending = n,
            Some(OutboxStatus::Sent) => self.sent = n,
            Some(OutboxStatus::Undelivered) => self.undelivered = n,
            Some(OutboxStatus::Dead) => self.dead = n,
            None => {}
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub user: String,
    pub channel: String,
    pub role: String,
    pub command: String,
    /// Docker host / Kubernetes context, when the command had one.
    pub host: Option<String>,
    pub target: Option<String>,
    pub result: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QuizRecord {
    pub user: String,
    pub topic: String,
    pub area: String,
    pub coverage: f64,
    pub at: i64,
}

#[async_trait]
/// The core store; alert records ([`IncidentStore`]) live beside it in their own tables.
pub trait Store: IncidentStore + Send + Sync + 'static {
    /// Claims a platform message id. Claims older than `stale_after` without a result are
    /// treated as abandoned (a crash mid-processing) and may be claimed again.
    async fn dedup_begin(
        &self,
        channel: &str,
        msg_id: &str,
        ttl: Duration,
        stale_after: Duration,
    ) -> StoreResult<DedupState>;
    /// [`Store::dedup_begin`], then the values of `keys` (as [`Store::kv_get`] would return
    /// them), in one round trip where the backend can: a message's first store visit also
    /// fetches the per-user state routing needs (language, pending confirmation). The values
    /// are only fetched (and the vector only filled) when the state is [`DedupState::New`].
    async fn dedup_begin_with(
        &self,
        channel: &str,
        msg_id: &str,
        ttl: Duration,
        stale_after: Duration,
        keys: Vec<String>,
    ) -> StoreResult<(DedupState, Vec<Option<String>>)> {
        let state = self.dedup_begin(channel, msg_id, ttl, stale_after).await?;
        let mut values = Vec::with_capacity(keys.len());
        if state == DedupState::New {
            for k in &keys {
                values.push(self.kv_get(k).await?);
            }
        }
        Ok((state, values))
    }
    /// Records the reply of a claimed message so a retry gets the same answer.
    async fn dedup_finish(
        &self,
        channel: &str,
        msg_id: &str,
        reply: Option<&str>,
    ) -> StoreResult<()>;

    /// [`Store::dedup_finish`] plus `kv_set`s (no TTL) that belong to the same message, in
    /// one write where the backend can (e.g. the user's language changed).
    async fn dedup_finish_with(
        &self,
        channel: &str,
        msg_id: &str,
        reply: Option<&str>,
        kv: Vec<(String, String)>,
    ) -> StoreResult<()> {
        for (k, v) in &kv {
            self.kv_set(k, v, None).await?;
        }
        self.dedup_finish(channel, msg_id, reply).await
    }

    /// What the store knows about a message id, without claiming it, and the values of
    /// `keys`, in one read (no write): the first store visit of a message that may need no
    /// claim. [`DedupState::New`] here only says nobody claimed or answered it yet.
    async fn dedup_peek_with(
        &self,
        channel: &str,
        msg_id: &str,
        keys: Vec<String>,
    ) -> StoreResult<(DedupState, Vec<Option<String>>)>;

    /// Records the reply of a message that ran without a claim, with its `kv` writes, as a
    /// done dedup row — in the store's next group commit where it has one, so many messages
    /// share one commit. Leaves an unexpired row of the same message as it is (a claim or
    /// result of another delivery wins). Resolves once durable.
    async fn dedup_record(&self, rec: DedupRecord) -> StoreResult<()>;

    /// Several [`Store::dedup_record`]s; a store whose writes cost per call (SQLite's writer
    /// thread: a job, a savepoint) writes them as one. On an error some may not be durable
    /// (a retry of those is answered again, as after a failed single record).
    async fn dedup_record_many(&self, recs: Vec<DedupRecord>) -> StoreResult<()> {
        let results = futures::future::join_all(recs.into_iter().map(|r| self.dedup_record(r)));
        results.await.into_iter().collect()
    }

    /// Adds a message; returns its id, or the id of the existing one with the same dedup key.
    async fn outbox_enqueue(&self, msg: NewOutboxMessage) -> StoreResult<i64>;
    /// Adds several messages at once (one transaction where the backend has them), in order;
    /// returns their ids as [`Store::outbox_enqueue`] would. Alert bursts use it so a batch
    /// costs one commit, not one per message.
    async fn outbox_enqueue_many(&self, msgs: Vec<NewOutboxMessage>) -> StoreResult<Vec<i64>> {
        let mut ids = Vec::with_capacity(msgs.len());
        for m in msgs {
            ids.push(self.outbox_enqueue(m).await?);
        }
        Ok(ids)
    }
    /// Adds `msgs` (as [`Store::outbox_enqueue_many`]) and sets the `state` keys (no TTL) in
    /// ONE transaction: a watcher's alerts and its bookkeeping (the Docker event cursor, the
    /// Kubernetes reported-problem set) are one fact, so a crash never keeps one without the
    /// other. With `fence` the whole transaction is refused ([`StoreError::Fenced`]), rows
    /// included, unless the lease still has that holder and epoch; without one (no leader
    /// campaign: the process is alone on its store) the keys are plain writes.
    async fn outbox_enqueue_with_state(
        &self,
        fence: Option<&Fence>,
        msgs: Vec<NewOutboxMessage>,
        state: Vec<(String, String)>,
    ) -> StoreResult<Vec<i64>>;
    /// The oldest pending message of each target that is due, oldest first: one per target so
    /// a target's messages go out in order.
    async fn outbox_due(&self, now: i64, limit: usize) -> StoreResult<Vec<OutboxMessage>>;
    async fn outbox_pending_for(
        &self,
        channel: &str,
        target: &str,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Atomically replaces pending, never-attempted messages `ids` by `digest` (alert digests).
    /// Returns the new ids, or `None` (and changes nothing) when any of `ids` is no longer
    /// pending and unattempted.
    async fn outbox_fold(
        &self,
        ids: Vec<i64>,
        digest: Vec<NewOutboxMessage>,
    ) -> StoreResult<Option<Vec<i64>>>;
    async fn outbox_finish(
        &self,
        id: i64,
        status: OutboxStatus,
        note: Option<&str>,
    ) -> StoreResult<()>;
    async fn outbox_retry_later(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: i64,
    ) -> StoreResult<()>;
    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>>;
    async fn outbox_counts(&self) -> StoreResult<OutboxCounts>;
    /// Housekeeping: deletes sent and dead-lettered messages finished before `done_before`
    /// (ms; 0 keeps them) and kv entries that have expired. Returns the rows deleted.
    async fn prune(&self, done_before: i64) -> StoreResult<u64>;

    async fn audit_append(&self, entry: AuditEntry) -> StoreResult<()>;
    async fn audit_recent(&self, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>>;
    async fn kv_set(&self, key: &str, value: &str, ttl: Option<Duration>) -> StoreResult<()>;
    /// Sets several keys with one expiry (one transaction where the backend has them).
    async fn kv_set_many(
        &self,
        items: Vec<(String, String)>,
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        for (k, v) in items {
            self.kv_set(&k, &v, ttl).await?;
        }
        Ok(())
    }
    /// Sets `key` to `value` until now + `ttl` unless it holds an unexpired value, in one
    /// atomic step shared by every replica. Returns `None` when this call set it, else the
    /// value already there (first writer wins: single-use tokens, seen signatures).
    async fn kv_claim(&self, key: &str, value: &str, ttl: Duration) -> StoreResult<Option<String>>;
    async fn kv_delete(&self, key: &str) -> StoreResult<()>;
    /// Keys with this prefix, with their values.
    async fn kv_scan(&self, prefix: &str) -> StoreResult<Vec<(String, String)>>;

    async fn quiz_record(&self, rec: QuizRecord) -> StoreResult<()>;
    async fn quiz_history(&self, user: &str) -> StoreResult<Vec<QuizRecord>>;

    /// Takes or renews the lease `name` for `holder` until now + `ttl`, if it is free, expired
    /// or already ours, in one atomic statement. Returns the lease's epoch when `holder` holds
    /// it now: the epoch grows by one each time the lease is taken (a new holder, or the same
    /// one after it expired), never on a renewal, and is the fencing token of [`Fence`].
    async fn lease_acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> StoreResult<Option<i64>>;
    /// Gives the lease up early (clean shutdown) so another replica need not wait for expiry.
    /// The row (and its epoch) stays, expired, so epochs never repeat.
    async fn lease_release(&self, name: &str, holder: &str) -> StoreResult<()>;
    /// Expires the lease whoever holds it (the row and its epoch stay, so the next holder's
    /// epoch is higher). Only for a process that knows no other holder can be alive: a
    /// SQLite `serve` holding the data directory's lock. PostgreSQL replicas never call it.
    async fn lease_reset(&self, _name: &str) -> StoreResult<()> {
        Ok(())
    }

    /// Claims pending message `id` for one send attempt, as the leader proven by `fence`, in
    /// one transaction: the fence is checked, the message must still be pending, and with
    /// `per_minute` the target's durable send log (shared by every replica, surviving
    /// restarts) must have fewer than `per_minute` sends in the 60 s before `now`; the attempt
    /// is then written to the log and counted in the message's `attempts` before anything is
    /// sent. A crash after the claim costs one slot of the budget, never an extra message over
    /// it, and a digest never folds a message that may be on the wire (it folds only
    /// unattempted ones).
    async fn outbox_claim(
        &self,
        fence: &Fence,
        id: i64,
        per_minute: Option<u32>,
        now: i64,
    ) -> StoreResult<Claim>;
    /// Records how a claimed attempt ended (the claim counted the attempt), refused ([`StoreError::Fenced`]) when `fence` is
    /// stale: a replica that lost the lease cannot mark anything sent or reschedule it.
    async fn outbox_settle(&self, fence: &Fence, id: i64, settle: Settle) -> StoreResult<()>;
    /// Send attempts to `channel`/`target` logged at or after `since` (ms): the numbers the
    /// rate window and alert digests work from.
    async fn outbox_sends_since(&self, channel: &str, target: &str, since: i64)
    -> StoreResult<u64>;
    /// `kv_set` (no TTL) as the leader proven by `fence`: watcher cursors advance only while
    /// their writer still leads.
    async fn kv_set_fenced(&self, fence: &Fence, key: &str, value: &str) -> StoreResult<()>;

    /// Is the store usable right now (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// Flushes what must be persisted (WAL checkpoint) before shutdown.
    async fn flush(&self) -> StoreResult<()>;
}
