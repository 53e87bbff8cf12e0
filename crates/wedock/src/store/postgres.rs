//! The shared store for several replicas: the same trait on PostgreSQL. Claims that must be
//! exclusive across replicas (dedup, outbox enqueue by key) are single statements with
//! `ON CONFLICT`, so two replicas racing on one message id cannot both win.

mod incidents;

use super::pg_conn::{self, PgOptions};
use super::*;
use deadpool_postgres::{Object, Pool};
use std::future::Future;
use tokio_postgres::{Client, Row};

/// Schema migrations, applied in order under an advisory lock so replicas starting together
/// do not race; `wedock_schema` records how many ran.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE dedup (
        channel TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        state TEXT NOT NULL,
        reply TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (channel, msg_id)
    );
    CREATE INDEX dedup_expiry ON dedup(expires_at);
    CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedup_key TEXT UNIQUE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        done_at BIGINT
    );
    CREATE INDEX outbox_pending ON outbox(status, channel, target, id);
    CREATE TABLE audit (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        \"user\" TEXT NOT NULL,
        channel TEXT NOT NULL,
        role TEXT NOT NULL,
        command TEXT NOT NULL,
        host TEXT,
        target TEXT,
        result TEXT NOT NULL
    );
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at BIGINT
    );
    CREATE TABLE quiz (
        id BIGSERIAL PRIMARY KEY,
        \"user\" TEXT NOT NULL,
        topic TEXT NOT NULL,
        area TEXT NOT NULL,
        coverage DOUBLE PRECISION NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX quiz_user ON quiz(\"user\");",
    // 2: leases for leader election between replicas.
    "CREATE TABLE lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );",
    // 3: the lease epoch (fencing token) and the per-target send log.
    super::delivery_pg::MIGRATION,
];

/// Advisory lock key for migrations ("wedock" in ASCII).
const MIGRATION_LOCK: i64 = 0x7765_646f_636b;

pub struct PostgresStore {
    pool: Pool,
    opts: PgOptions,
    /// Group commit for the dedup records of answered questions.
    batch: super::pg_batch::Batcher,
    /// The connection that questions' reads share (pipelined).
    reader: super::pg_batch::SharedReader,
}

pub(super) fn db(e: tokio_postgres::Error) -> StoreError {
    // The driver's Display omits the server's message and the cause; include them.
    StoreError::Db(pg_conn::describe(&e))
}

/// Inserts one outbox row, or returns the id of the row that already has its dedup key.
pub(super) async fn insert_outbox(
    c: &impl tokio_postgres::GenericClient,
    msg: &NewOutboxMessage,
    now: i64,
) -> StoreResult<i64> {
    let row = c
        .query_opt(
            "INSERT INTO outbox (channel, target, payload, dedup_key, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            &[
                &msg.channel,
                &msg.target,
                &msg.payload,
                &msg.dedup_key,
                &now,
            ],
        )
        .await
        .map_err(db)?;
    if let Some(r) = row {
        return Ok(r.get(0));
    }
    let r = c
        .query_one(
            "SELECT id FROM outbox WHERE dedup_key = $1",
            &[&msg.dedup_key],
        )
        .await
        .map_err(db)?;
    Ok(r.get(0))
}

async fn upsert_kv(
    c: &impl tokio_postgres::GenericClient,
    key: &str,
    value: &str,
    expires: Option<i64>,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at",
        &[&key, &value, &expires],
    )
    .await
    .map_err(db)?;
    Ok(())
}

impl PostgresStore {
    /// Connects with the default pool size and timeouts and runs migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, PgOptions::default()).await
    }

    /// Connects (TLS per the URL's `sslmode`) and runs migrations. The URL is never included
    /// in errors (it holds a password).
    pub async fn open_with(url: &str, opts: PgOptions) -> StoreResult<Self> {
        let open_err = |reason: String| StoreError::Open {
            path: "postgres".into(),
            reason,
        };
        let pool = pg_conn::pool(url, &opts).map_err(open_err)?;
        let batch = super::pg_batch::Batcher::start(pool.clone(), opts.clone());
        let reader = super::pg_batch::SharedReader::new(pool.clone());
        let store = Self {
            pool,
            opts,
            batch,
            reader,
        };
        store
            .timed(store.migrate())
            .await
            .map_err(|e| open_err(e.to_string()))?;
        store
            .timed(store.migrate_incidents())
            .await
            .map_err(|e| open_err(e.to_string()))?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut c = self.client().await?;
        let c: &mut Client = &mut c;
        c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db)?;
        let result = async {
            c.batch_execute("CREATE TABLE IF NOT EXISTS wedock_schema (version INTEGER NOT NULL)")
                .await
                .map_err(db)?;
            let version: i32 = c
                .query_opt("SELECT version FROM wedock_schema", &[])
                .await
                .map_err(db)?
                .map(|r| r.get(0))
                .unwrap_or(0);
            let version = usize::try_from(version).unwrap_or(0);
            if version > MIGRATIONS.len() {
                return Err(StoreError::Db(format!(
                    "database schema version {version} is newer than this wedock ({})",
                    MIGRATIONS.len()
                )));
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
                let tx = c.transaction().await.map_err(db)?;
                tx.batch_execute(sql).await.map_err(db)?;
                tx.execute("DELETE FROM wedock_schema", &[])
                    .await
                    .map_err(db)?;
                tx.execute(
                    "INSERT INTO wedock_schema (version) VALUES ($1)",
                    &[&((i + 1) as i32)],
                )
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
            }
            Ok(())
        }
        .await;
        let _ = c
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        result
    }

    /// A pooled connection; one the server closed is replaced by a new one.
    pub(super) async fn client(&self) -> StoreResult<Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Db(pg_conn::pool_error(e, &self.opts)))
    }

    /// Runs one store call under the client-side deadline (connect + statement timeout), so
    /// a server that stopped answering turns into an error instead of a hung caller. After a
    /// timeout the idle connections are dropped: the next call opens fresh ones.
    pub(super) async fn timed<T>(
        &self,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let deadline = self.opts.call_deadline();
        match tokio::time::timeout(deadline, call).await {
            Ok(r) => r,
            Err(_) => {
                self.pool.retain(|_, _| false);
                self.reader.reset();
                metrics::counter!("wedock_store_timeouts_total").increment(1);
                Err(StoreError::Db(format!(
                    "PostgreSQL did not answer within {} ms (store.postgres_connect_timeout_ms + store.postgres_statement_timeout_ms)",
                    deadline.as_millis()
                )))
            }
        }
    }
}

fn row_to_outbox(r: &Row) -> OutboxMessage {
    let status: String = r.get("status");
    OutboxMessage {
        id: r.get("id"),
        channel: r.get("channel"),
        target: r.get("target"),
        payload: r.get("payload"),
        dedup_key: r.get("dedup_key"),
        status: OutboxStatus::parse(&status).unwrap_or(OutboxStatus::Pending),
        attempts: r.get::<_, i32>("attempts").max(0) as u32,
        next_attempt_at: r.get("next_attempt_at"),
        last_error: r.get("last_error"),
        created_at: r.get("created_at"),
        done_at: r.get("done_at"),
    }
}

const OUTBOX_COLS: &str = "id, channel, target, payload, dedup_key, status, attempts, next_attempt_at, last_error, created_at, done_at";

#[async_trait]
impl Store for PostgresStore {
    async fn dedup_begin(
        &self,
        channel: &str,
        msg_id: &str,
        ttl: Duration,
        stale_after: Duration,
    ) -> StoreResult<DedupState> {
        self.timed(async {
            let c = self.client().await?;
            let now = now_ms();
            c.execute("DELETE FROM dedup WHERE expires_at < $1", &[&now])
                .await
                .map_err(db)?;
            let expires = now + ttl.as_millis() as i64;
            let inserted = c
                .execute(
                    "INSERT INTO dedup (channel, msg_id, state, reply, created_at, expires_at)
                 VALUES ($1, $2, 'processing', NULL, $3, $4) ON CONFLICT DO NOTHING",
                    &[&channel, &msg_id, &now, &expires],
                )
                .await
                .map_err(db)?;
            if inserted == 1 {
                return Ok(DedupState::New);
            }
            let Some(row) = c
                .query_opt(
                    "SELECT state, reply, created_at FROM dedup WHERE channel = $1 AND msg_id = $2",
                    &[&channel, &msg_id],
                )
                .await
                .map_err(db)?
            else {
                // Expired between the two statements: treat as new on the next try.
                return Ok(DedupState::InProgress);
            };
            let state: String = row.get(0);
            let created: i64 = row.get(2);
            if state == "done" {
                return Ok(DedupState::Done(row.get(1)));
            }
            if now - created < stale_after.as_millis() as i64 {
                return Ok(DedupState::InProgress);
            }
            // Take over an abandoned claim; the compare on created_at lets only one replica win.
            let taken = c
                .execute(
                    "UPDATE dedup SET created_at = $3, expires_at = $4
                 WHERE channel = $1 AND msg_id = $2 AND state = 'processing' AND created_at = $5",
                    &[&channel, &msg_id, &now, &expires, &created],
                )
                .await
                .map_err(db)?;
            Ok(if taken == 1 {
                DedupState::New
            } else {
                DedupState::InProgress
            })
        })
        .await
    }

    async fn dedup_finish(
        &self,
        channel: &str,
        msg_id: &str,
        reply: Option<&str>,
    ) -> StoreResult<()> {
        self.timed(async {
            let c = self.client().await?;
            c.execute(
                "UPDATE dedup SET state = 'done', reply = $3 WHERE channel = $1 AND msg_id = $2",
                &[&channel, &msg_id, &reply],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn dedup_peek_with(
        &self,
        channel: &str,
        msg_id: &str,
        keys: Vec<String>,
    ) -> StoreResult<(DedupState, Vec<Option<String>>)> {
        self.timed(self.reader.peek(&self.opts, channel, msg_id, keys))
            .await
    }

    async fn dedup_record(&self, rec: DedupRecord) -> StoreResult<()> {
        self.batch.record(rec).await
    }

    async fn outbox_enqueue(&self, msg: NewOutboxMessage) -> StoreResult<i64> {
        self.timed(async {
            let c = self.client().await?;
            insert_outbox(&**c, &msg, now_ms()).await
        })
        .await
    }

    async fn outbox_enqueue_many(&self, msgs: Vec<NewOutboxMessage>) -> StoreResult<Vec<i64>> {
        self.timed(async {
            let mut c = self.client().await?;
            let tx = Client::transaction(&mut c).await.map_err(db)?;
            let now = now_ms();
            let mut ids = Vec::with_capacity(msgs.len());
            for m in &msgs {
                ids.push(insert_outbox(&tx, m, now).await?);
            }
            tx.commit().await.map_err(db)?;
            Ok(ids)
        })
        .await
    }

    async fn outbox_enqueue_with_state(
        &self,
        fence: Option<&Fence>,
        msgs: Vec<NewOutboxMessage>,
        state: Vec<(String, String)>,
    ) -> StoreResult<Vec<i64>> {
        self.enqueue_with_state(fence, msgs, state).await
    }

    async fn outbox_due(&self, now: i64, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        self.timed(async {
            let c = self.client().await?;
            let sql = format!(
                "SELECT {OUTBOX_COLS} FROM outbox o WHERE status = 'pending'
               AND id = (SELECT MIN(id) FROM outbox i WHERE i.status = 'pending'
                         AND i.channel = o.channel AND i.target = o.target)
               AND next_attempt_at <= $1
             ORDER BY id LIMIT $2"
            );
            let rows = c.query(&sql, &[&now, &(limit as i64)]).await.map_err(db)?;
            Ok(rows.iter().map(row_to_outbox).collect())
        })
        .await
    }

    async fn outbox_pending_for(
        &self,
        channel: &str,
        target: &str,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.timed(async {
        let c = self.client().await?;
        let sql = format!(
            "SELECT {OUTBOX_COLS} FROM outbox WHERE status = 'pending' AND channel = $1 AND target = $2 ORDER BY id"
        );
        let rows = c.query(&sql, &[&channel, &target]).await.map_err(db)?;
        Ok(rows.iter().map(row_to_outbox).collect())
        })
        .await
    }

    async fn outbox_fold(
        &self,
        ids: Vec<i64>,
        digest: Vec<NewOutboxMessage>,
    ) -> StoreResult<Option<Vec<i64>>> {
        self.timed(async {
        let mut c = self.client().await?;
        let now = now_ms();
        let tx = Client::transaction(&mut c).await.map_err(db)?;
        let n = tx
            .execute(
                "DELETE FROM outbox WHERE id = ANY($1) AND status = 'pending' AND attempts = 0",
                &[&ids],
            )
            .await
            .map_err(db)?;
        if n != ids.len() as u64 {
            // One was picked up meanwhile. Dropping the transaction rolls it back.
            return Ok(None);
        }
        // Pipelined, in order, so the parts' ids follow their order.
        let (open, at) = (&tx, &now);
        let rows = futures::future::try_join_all(digest.iter().map(|msg| async move {
            open.query_one(
                "INSERT INTO outbox (channel, target, payload, dedup_key, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                &[&msg.channel, &msg.target, &msg.payload, &msg.dedup_key, at],
            )
            .await
        }))
        .await
        .map_err(db)?;
        let out: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        tx.commit().await.map_err(db)?;
        Ok(Some(out))
        })
        .await
    }

    async fn outbox_finish(
        &self,
        id: i64,
        status: OutboxStatus,
        note: Option<&str>,
    ) -> StoreResult<()> {
        self.timed(async {
            let c = self.client().await?;
            c.execute(
                "UPDATE outbox SET status = $2, attempts = attempts + 1, done_at = $3,
               last_error = COALESCE($4, last_error) WHERE id = $1",
                &[&id, &status.as_str(), &now_ms(), &note],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn outbox_retry_later(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: i64,
    ) -> StoreResult<()> {
        self.timed(async {
        let c = self.client().await?;
        c.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1",
            &[&id, &error, &next_attempt_at],
        )
        .await
        .map_err(db)?;
        Ok(())
        })
        .await
    }

    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.timed(async {
        let c = self.client().await?;
        let sql = format!(
            "SELECT {OUTBOX_COLS} FROM outbox WHERE ($1::TEXT IS NULL OR status = $1) ORDER BY id DESC LIMIT $2"
        );
        let rows = c
            .query(&sql, &[&status.map(|s| s.as_str()), &(limit as i64)])
            .await
            .map_err(db)?;
        Ok(rows.iter().map(row_to_outbox).collect())
        })
        .await
    }

    async fn outbox_counts(&self) -> StoreResult<OutboxCounts> {
        self.timed(async {
            let c = self.client().await?;
            let rows = c
                .query("SELECT status, COUNT(*) FROM outbox GROUP BY status", &[])
                .await
                .map_err(db)?;
            let mut counts = OutboxCounts::default();
            for r in rows {
                counts.add_row(&r.get::<_, String>(0), r.get::<_, i64>(1));
            }
            Ok(counts)
        })
        .await
    }

    async fn prune(&self, done_before: i64) -> StoreResult<u64> {
        self.timed(async {
            let c = self.client().await?;
            let mut n = c
                .execute(
                    "DELETE FROM outbox WHERE status IN ('sent', 'dead') AND done_at < $1",
                    &[&done_before],
                )
                .await
                .map_err(db)?;
            n += c
                .execute(
                    "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at < $1",
                    &[&now_ms()],
                )
                .await
                .map_err(db)?;
            n += self.prune_send_log(&**c).await?;
            Ok(n)
        })
        .await
    }

    async fn audit_append(&self, e: AuditEntry) -> StoreResult<()> {
        self.timed(async {
            let c = self.client().await?;
            c.execute(
                "INSERT INTO audit (at, \"user\", channel, role, command, host, target, result)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &e.at, &e.user, &e.channel, &e.role, &e.command, &e.host, &e.target, &e.result,
                ],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn audit_recent(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.timed(async {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT at, \"user\", channel, role, command, host, target, result FROM audit ORDER BY id DESC LIMIT $1",
                &[&(limit as i64)],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                at: r.get(0),
                user: r.get(1),
                channel: r.get(2),
                role: r.get(3),
                command: r.get(4),
                host: r.get(5),
                target: r.get(6),
                result: r.get(7),
            })
            .collect())
        })
        .await
    }

    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>> {
        self.timed(async {
            let c = self.client().await?;
            let row = c
            .query_opt(
                "SELECT value FROM kv WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)",
                &[&key, &now_ms()],
            )
            .await
            .map_err(db)?;
            Ok(row.map(|r| r.get(0)))
        })
        .await
    }

    async fn kv_set(&self, key: &str, value: &str, ttl: Option<Duration>) -> StoreResult<()> {
        self.timed(async {
            let c = self.client().await?;
            let expires = ttl.map(|t| now_ms() + t.as_millis() as i64);
            upsert_kv(&**c, key, value, expires).await
        })
        .await
    }

    async fn kv_set_many(
        &self,
        items: Vec<(String, String)>,
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        self.timed(async {
            let mut c = self.client().await?;
            let tx = Client::transaction(&mut c).await.map_err(db)?;
            let expires = ttl.map(|t| now_ms() + t.as_millis() as i64);
            // Pipelined, in order: one round trip for the batch.
            futures::future::try_join_all(items.iter().map(|(k, v)| upsert_kv(&tx, k, v, expires)))
                .await?;
            tx.commit().await.map_err(db)
        })
        .await
    }

    async fn kv_claim(&self, key: &str, value: &str, ttl: Duration) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        let now = now_ms();
        let expires = now + ttl.as_millis() as i64;
        // Inserts, or takes over an expired row; a live row (another replica's) is kept.
        let set = c
            .execute(
                "INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
                 WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= $4",
                &[&key, &value, &expires, &now],
            )
            .await
            .map_err(db)?;
        if set == 1 {
            return Ok(None);
        }
        // A new statement sees the row that won, even one committed during the insert.
        let row = c
            .query_opt("SELECT value FROM kv WHERE key = $1", &[&key])
            .await
            .map_err(db)?;
        Ok(Some(row.map(|r| r.get(0)).unwrap_or_default()))
    }

    async fn kv_delete(&self, key: &str) -> StoreResult<()> {
        self.timed(async {
            let c = self.client().await?;
            c.execute("DELETE FROM kv WHERE key = $1", &[&key])
                .await
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn kv_scan(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        self.timed(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT key, value FROM kv WHERE left(key, length($1)) = $1
                   AND (expires_at IS NULL OR expires_at > $2) ORDER BY key",
                    &[&prefix, &now_ms()],
                )
                .await
                .map_err(db)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
        .await
    }

    async fn quiz_record(&self, rec: QuizRecord) -> StoreResult<()> {
        self.timed(async {
            let c = self.client().await?;
            c.execute(
            "INSERT INTO quiz (\"user\", topic, area, coverage, at) VALUES ($1, $2, $3, $4, $5)",
            &[&rec.user, &rec.topic, &rec.area, &rec.coverage, &rec.at],
        )
        .await
        .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn quiz_history(&self, user: &str) -> StoreResult<Vec<QuizRecord>> {
        self.timed(async {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT \"user\", topic, area, coverage, at FROM quiz WHERE \"user\" = $1 ORDER BY id",
                &[&user],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| QuizRecord {
                user: r.get(0),
                topic: r.get(1),
                area: r.get(2),
                coverage: r.get(3),
                at: r.get(4),
            })
            .collect())
        })
        .await
    }

    async fn lease_acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> StoreResult<Option<i64>> {
        self.lease_take(name, holder, ttl).await
    }

    async fn lease_release(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.lease_give_up(name, holder).await
    }

    async fn outbox_claim(
        &self,
        fence: &Fence,
        id: i64,
        per_minute: Option<u32>,
        now: i64,
    ) -> StoreResult<Claim> {
        self.timed(async {
            let mut c = self.client().await?;
            let tx = Client::transaction(&mut c).await.map_err(db)?;
            super::delivery_pg::claim(tx, fence, id, per_minute, now).await
        })
        .await
    }

    async fn outbox_settle(&self, fence: &Fence, id: i64, settle: Settle) -> StoreResult<()> {
        self.settle(fence, id, settle).await
    }

    async fn outbox_sends_since(
        &self,
        channel: &str,
        target: &str,
        since: i64,
    ) -> StoreResult<u64> {
        self.sends_since(channel, target, since).await
    }

    async fn kv_set_fenced(&self, fence: &Fence, key: &str, value: &str) -> StoreResult<()> {
        self.kv_set_as_leader(fence, key, value).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.timed(async {
            let c = self.client().await?;
            c.query_one("SELECT 1", &[]).await.map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> StoreResult<()> {
        self.timed(async {
            // Every statement is committed when it returns; nothing is buffered here.
            Ok(())
        })
        .await
    }
}
