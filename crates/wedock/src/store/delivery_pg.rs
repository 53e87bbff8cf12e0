//! Leader-only delivery state on PostgreSQL: the lease with its epoch (the fencing token), the
//! outbox claim against the durable per-target send log, and fenced settles and cursor
//! writes, each in one transaction with its fence check. The same statements for SQLite are
//! in `delivery_sqlite.rs`.
//!
//! The fence check reads the lease row without locking it: a lock held by a leader that is
//! paused mid-transaction would block the takeover by the next one. A takeover that commits
//! between the check and the write is the same race as a pause right after the commit, and
//! is closed by the leader's local deadline (it never starts a send after the time its lease
//! may have expired, see `leader.rs`).

use super::postgres::{PostgresStore, db, insert_outbox};
use super::{
    Claim, Fence, NewOutboxMessage, SEND_WINDOW_MS, Settle, StoreError, StoreResult, now_ms,
};
use tokio_postgres::{GenericClient, Transaction};

/// Migration 3: the lease's epoch and the send log.
pub(super) const MIGRATION: &str = "ALTER TABLE lease ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
    CREATE TABLE send_log (
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        at BIGINT NOT NULL,
        outbox_id BIGINT NOT NULL,
        epoch BIGINT NOT NULL
    );
    CREATE INDEX send_log_window ON send_log(channel, target, at);";

async fn check_fence(c: &impl GenericClient, fence: &Fence, now: i64) -> StoreResult<()> {
    let held = c
        .query_opt(
            "SELECT 1 FROM lease WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > $4",
            &[&fence.lease, &fence.holder, &fence.epoch, &now],
        )
        .await
        .map_err(db)?;
    match held {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced(fence.to_string())),
    }
}

/// Sets `key` without expiry (leader bookkeeping), inside the caller's transaction.
async fn set_kept(c: &impl GenericClient, key: &str, value: &str) -> StoreResult<()> {
    c.execute(
        "INSERT INTO kv (key, value, expires_at) VALUES ($1, $2, NULL)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = NULL",
        &[&key, &value],
    )
    .await
    .map_err(db)?;
    Ok(())
}

impl PostgresStore {
    pub(super) async fn lease_take(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<Option<i64>> {
        self.timed(async {
            let c = self.client().await?;
            let now = now_ms();
            let expires = now + ttl.as_millis() as i64;
            // Expiry uses each replica's own clock, so clocks must be roughly in sync (NTP)
            // and the lease TTL well above the skew.
            let row = c
                .query_opt(
                    "INSERT INTO lease (name, holder, expires_at, epoch) VALUES ($1, $2, $3, 1)
                     ON CONFLICT (name) DO UPDATE SET
                         epoch = CASE WHEN lease.holder = EXCLUDED.holder AND lease.expires_at >= $4
                                      THEN lease.epoch ELSE lease.epoch + 1 END,
                         holder = EXCLUDED.holder,
                         expires_at = EXCLUDED.expires_at
                     WHERE lease.holder = EXCLUDED.holder OR lease.expires_at < $4
                     RETURNING epoch",
                    &[&name, &holder, &expires, &now],
                )
                .await
                .map_err(db)?;
            Ok(row.map(|r| r.get(0)))
        })
        .await
    }

    pub(super) async fn lease_give_up(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.timed(async {
            let c = self.client().await?;
            c.execute(
                "UPDATE lease SET expires_at = 0 WHERE name = $1 AND holder = $2",
                &[&name, &holder],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn settle(&self, fence: &Fence, id: i64, settle: Settle) -> StoreResult<()> {
        self.timed(async {
            let mut c = self.client().await?;
            let now = now_ms();
            let tx = tokio_postgres::Client::transaction(&mut c).await.map_err(db)?;
            check_fence(&tx, fence, now).await?;
            match &settle {
                Settle::Finish { status, note } => tx
                    .execute(
                        "UPDATE outbox SET status = $2, done_at = $3,
                           last_error = COALESCE($4, last_error) WHERE id = $1 AND status = 'pending'",
                        &[&id, &status.as_str(), &now, note],
                    )
                    .await
                    .map_err(db)?,
                Settle::RetryAt { error, at } => tx
                    .execute(
                        "UPDATE outbox SET last_error = $2, next_attempt_at = $3
                         WHERE id = $1 AND status = 'pending'",
                        &[&id, error, at],
                    )
                    .await
                    .map_err(db)?,
            };
            tx.commit().await.map_err(db)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn sends_since(
        &self,
        channel: &str,
        target: &str,
        since: i64,
    ) -> StoreResult<u64> {
        self.timed(async {
            let c = self.client().await?;
            let n: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM send_log WHERE channel = $1 AND target = $2 AND at >= $3",
                    &[&channel, &target, &since],
                )
                .await
                .map_err(db)?
                .get(0);
            Ok(n.max(0) as u64)
        })
        .await
    }

    pub(super) async fn kv_set_as_leader(
        &self,
        fence: &Fence,
        key: &str,
        value: &str,
    ) -> StoreResult<()> {
        self.timed(async {
            let mut c = self.client().await?;
            let tx = tokio_postgres::Client::transaction(&mut c)
                .await
                .map_err(db)?;
            check_fence(&tx, fence, now_ms()).await?;
            set_kept(&tx, key, value).await?;
            tx.commit().await.map_err(db)?;
            Ok(())
        })
        .await
    }

    /// The outbox rows and the watcher's bookkeeping in one transaction, behind the fence.
    pub(super) async fn enqueue_with_state(
        &self,
        fence: Option<&Fence>,
        msgs: Vec<NewOutboxMessage>,
        state: Vec<(String, String)>,
    ) -> StoreResult<Vec<i64>> {
        self.timed(async {
            let mut c = self.client().await?;
            let tx = tokio_postgres::Client::transaction(&mut c)
                .await
                .map_err(db)?;
            let now = now_ms();
            if let Some(f) = fence {
                check_fence(&tx, f, now).await?;
            }
            let mut ids = Vec::with_capacity(msgs.len());
            for m in &msgs {
                ids.push(insert_outbox(&tx, m, now).await?);
            }
            for (k, v) in &state {
                set_kept(&tx, k, v).await?;
            }
            tx.commit().await.map_err(db)?;
            Ok(ids)
        })
        .await
    }

    /// Send-log rows older than twice the window no longer count for anything.
    pub(super) async fn prune_send_log(&self, c: &impl GenericClient) -> StoreResult<u64> {
        c.execute(
            "DELETE FROM send_log WHERE at < $1",
            &[&(now_ms() - 2 * SEND_WINDOW_MS)],
        )
        .await
        .map_err(db)
    }
}

/// The claim behind [`super::Store::outbox_claim`], in the transaction the store opened (as
/// `delivery_sqlite::outbox_claim` works in its connection). It commits only when the attempt
/// may go; otherwise dropping `tx` rolls the counted attempt back.
pub(super) async fn claim(
    tx: Transaction<'_>,
    fence: &Fence,
    id: i64,
    per_minute: Option<u32>,
    now: i64,
) -> StoreResult<Claim> {
    check_fence(&tx, fence, now).await?;
    // Counting the attempt first locks the row: a digest folding it at the same time
    // either deletes it before (nothing to send) or finds it attempted (not folded).
    let Some(row) = tx
        .query_opt(
            "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1 AND status = 'pending'
                 RETURNING channel, target",
            &[&id],
        )
        .await
        .map_err(db)?
    else {
        return Ok(Claim::Gone);
    };
    let (channel, target): (String, String) = (row.get(0), row.get(1));
    if let Some(limit) = per_minute {
        let limit = i64::from(limit);
        let since = now - SEND_WINDOW_MS;
        let sent: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM send_log WHERE channel = $1 AND target = $2 AND at > $3",
                &[&channel, &target, &since],
            )
            .await
            .map_err(db)?
            .get(0);
        if sent >= limit {
            let oldest: i64 = tx
                .query_one(
                    "SELECT at FROM send_log WHERE channel = $1 AND target = $2 AND at > $3
                         ORDER BY at LIMIT 1 OFFSET $4",
                    &[&channel, &target, &since, &(sent - limit)],
                )
                .await
                .map_err(db)?
                .get(0);
            // Dropping the transaction rolls the attempt back.
            return Ok(Claim::WaitUntil(oldest + SEND_WINDOW_MS));
        }
        tx.execute(
                "INSERT INTO send_log (channel, target, at, outbox_id, epoch) VALUES ($1, $2, $3, $4, $5)",
                &[&channel, &target, &now, &id, &fence.epoch],
            )
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(Claim::Go)
}
