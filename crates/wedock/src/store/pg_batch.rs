//! PostgreSQL's group commit for the message path: the dedup records of answered questions
//! ([`Store::dedup_record`]) queue here and one task writes everything queued as one
//! statement (one commit, one WAL flush) instead of one commit per message. Also the one
//! read a question costs ([`Store::dedup_peek_with`]), on a connection the reads share.

use super::pg_conn::{self, PgOptions};
use super::{DedupRecord, DedupState, StoreError, StoreResult, now_ms};
use deadpool_postgres::{Object, Pool};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Most records written by one statement.
const MAX_BATCH: usize = 256;
/// Expired dedup rows are deleted at most this often (ms) by the batch writer; claims
/// (`dedup_begin`) purge too.
const PURGE_EVERY_MS: i64 = 10_000;

type Job = (DedupRecord, oneshot::Sender<Result<(), String>>);

/// The queue in front of the batch writer task; the task ends when this is dropped.
pub(super) struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Batcher {
    /// Starts the writer task (on the current Tokio runtime).
    pub(super) fn start(pool: Pool, opts: PgOptions) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, opts, rx));
        Self { jobs }
    }

    /// Queues `rec` for the next batch; resolves once that batch committed.
    pub(super) async fn record(&self, rec: DedupRecord) -> StoreResult<()> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send((rec, done))
            .map_err(|_| StoreError::Db("the dedup batch writer stopped".into()))?;
        result
            .await
            .map_err(|_| StoreError::Db("the dedup batch writer stopped".into()))?
            .map_err(StoreError::Db)
    }
}

async fn run(pool: Pool, opts: PgOptions, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut last_purge = 0;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let now = now_ms();
        let purge = now - last_purge >= PURGE_EVERY_MS;
        let recs: Vec<&DedupRecord> = batch.iter().map(|(r, _)| r).collect();
        let outcome = match tokio::time::timeout(
            opts.call_deadline(),
            write(&pool, &opts, &recs, now, purge),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(format!(
                "PostgreSQL did not answer within {} ms",
                opts.call_deadline().as_millis()
            )),
        };
        if purge && outcome.is_ok() {
            last_purge = now;
        }
        for (_, done) in batch {
            let _ = done.send(outcome.clone());
        }
    }
}

/// One statement: the kv writes, then the dedup rows (an unexpired row of the same message
/// stays as it is).
const WRITE: &str = "WITH kv_rows AS (
        INSERT INTO kv (key, value, expires_at)
        SELECT k, v, NULL FROM unnest($1::text[], $2::text[]) AS t(k, v)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = NULL
    )
    INSERT INTO dedup (channel, msg_id, state, reply, created_at, expires_at)
    SELECT c, m, 'done', r, $3, e
    FROM unnest($4::text[], $5::text[], $6::text[], $7::int8[]) AS t(c, m, r, e)
    ON CONFLICT (channel, msg_id) DO UPDATE
        SET state = 'done', reply = EXCLUDED.reply, created_at = EXCLUDED.created_at,
            expires_at = EXCLUDED.expires_at
        WHERE dedup.expires_at < EXCLUDED.created_at";

async fn write(
    pool: &Pool,
    opts: &PgOptions,
    recs: &[&DedupRecord],
    now: i64,
    purge: bool,
) -> Result<(), String> {
    let c = pool.get().await.map_err(|e| pg_conn::pool_error(e, opts))?;
    let describe = |e: tokio_postgres::Error| pg_conn::describe(&e);
    if purge {
        c.execute("DELETE FROM dedup WHERE expires_at < $1", &[&now])
            .await
            .map_err(describe)?;
    }
    // One statement may not touch a row twice: the last value of a key wins, as it would
    // with one write after another; a message id appears once (the pipeline writes one
    // record per message), but a repeat is dropped rather than failing the batch.
    let mut kv: HashMap<&str, &str> = HashMap::new();
    let mut kv_order = Vec::new();
    for (k, v) in recs.iter().flat_map(|r| r.kv.iter()) {
        if kv.insert(k, v).is_none() {
            kv_order.push(k.as_str());
        }
    }
    let keys: Vec<&str> = kv_order.clone();
    let values: Vec<&str> = kv_order.iter().map(|k| kv[k]).collect();
    let mut seen = std::collections::HashSet::new();
    let (mut channels, mut ids, mut replies, mut expiries) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in recs {
        if seen.insert((r.channel.as_str(), r.msg_id.as_str())) {
            channels.push(r.channel.as_str());
            ids.push(r.msg_id.as_str());
            replies.push(r.reply.as_deref());
            expiries.push(now + r.ttl.as_millis() as i64);
        }
    }
    let stmt = c.prepare_cached(WRITE).await.map_err(describe)?;
    c.execute(
        &stmt,
        &[&keys, &values, &now, &channels, &ids, &replies, &expiries],
    )
    .await
    .map_err(describe)?;
    Ok(())
}

/// One pooled connection that every question's read shares. tokio-postgres pipelines the
/// queries issued on one connection at once: the reads in flight go out in one write and the
/// server takes them in one read, where a connection each cost a send, a receive and a
/// wake-up on both sides per message (measured: a fifth of wedock's and of the server's time
/// under load). A read is one index lookup per key, so none waits long behind another.
pub(super) struct SharedReader {
    pool: Pool,
    current: Mutex<Option<Arc<Object>>>,
}

impl SharedReader {
    pub(super) fn new(pool: Pool) -> Self {
        Self {
            pool,
            current: Mutex::new(None),
        }
    }

    /// The shared connection, or a new one from the pool when there is none or the server
    /// closed it.
    pub(super) async fn get(&self) -> Result<Arc<Object>, deadpool_postgres::PoolError> {
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let fresh = Arc::new(self.pool.get().await?);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref().filter(|c| !c.is_closed()) {
            // Another read got one first: share that, and this one goes back to the pool.
            Some(c) => Ok(c.clone()),
            None => {
                *current = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }

    /// [`peek`] on the shared connection. A read is safe to repeat: one that failed because
    /// the server ended the connection (a restart, a terminated backend) is asked again on
    /// another, so the reads in flight on it are not lost. After a restart every pooled
    /// connection is dead and each fails once, hence up to one attempt per pooled connection
    /// and a fresh one (all within the caller's deadline).
    pub(super) async fn peek(
        &self,
        opts: &PgOptions,
        channel: &str,
        msg_id: &str,
        keys: Vec<String>,
    ) -> StoreResult<(DedupState, Vec<Option<String>>)> {
        let mut attempts_left = opts.pool_size.max(1) + 1;
        loop {
            let c = self
                .get()
                .await
                .map_err(|e| StoreError::Db(pg_conn::pool_error(e, opts)))?;
            match peek(&c, channel, msg_id, &keys).await {
                Err(e) if attempts_left > 1 && (connection_ended(&e) || c.is_closed()) => {
                    self.forget(&c);
                    attempts_left -= 1;
                }
                r => return r.map_err(super::postgres::db),
            }
        }
    }

    fn live(&self) -> Option<Arc<Object>> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// Stops sharing `c` if it is still the shared connection.
    fn forget(&self, c: &Arc<Object>) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, c)) {
            *current = None;
        }
    }

    /// Stops sharing the current connection (after a timeout: the server may have stopped
    /// answering on it); it returns to the pool when its last read ends.
    pub(super) fn reset(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// The error says the connection is gone: closed, or the server's last word on it before it
/// ends (a shutdown, or an administrator terminating the backend), which arrives as the
/// answer to the query in flight while the client still counts the connection as open.
fn connection_ended(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.is_closed()
        || e.code().is_some_and(|c| {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        })
}

/// The dedup row and the kv values in one statement (one round trip). Each key is its own
/// primary-key lookup: as one `key = ANY($4)` the planner scanned the whole kv table (one row
/// per user's language, so the scan grew with the users) and, with a custom plan for each
/// array, planned every call anew; measured, that was most of the server's time under load.
/// The first column says which row is which: 0 the dedup row, `i + 1` the `i`-th key.
fn peek_sql(keys: usize) -> std::borrow::Cow<'static, str> {
    static COMMON: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    crate::store::sql_for_keys(&COMMON, keys, build_peek_sql)
}

fn build_peek_sql(keys: usize) -> String {
    let mut sql = String::from(
        "SELECT 0, state, reply FROM dedup
        WHERE channel = $1 AND msg_id = $2 AND expires_at >= $3",
    );
    for i in 0..keys {
        sql.push_str(&format!(
            "
    UNION ALL SELECT {}, NULL, value FROM kv
        WHERE key = ${} AND (expires_at IS NULL OR expires_at > $3)",
            i + 1,
            i + 4
        ));
    }
    sql
}

async fn peek(
    c: &Object,
    channel: &str,
    msg_id: &str,
    keys: &[String],
) -> Result<(DedupState, Vec<Option<String>>), tokio_postgres::Error> {
    let stmt = c.prepare_cached(&peek_sql(keys.len())).await?;
    let now = now_ms();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&channel, &msg_id, &now];
    params.extend(
        keys.iter()
            .map(|k| k as &(dyn tokio_postgres::types::ToSql + Sync)),
    );
    let rows = c.query(&stmt, &params).await?;
    let mut state = DedupState::New;
    let mut values = vec![None; keys.len()];
    for row in rows {
        let which: i32 = row.get(0);
        if which == 0 {
            let s: String = row.get(1);
            state = if s == "done" {
                DedupState::Done(row.get(2))
            } else {
                DedupState::InProgress
            };
        } else if let Some(slot) = (which as usize)
            .checked_sub(1)
            .and_then(|i| values.get_mut(i))
        {
            *slot = row.get::<_, Option<String>>(2);
        }
    }
    Ok((state, values))
}
