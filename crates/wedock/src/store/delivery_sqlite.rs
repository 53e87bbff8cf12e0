//! Leader-only delivery state on SQLite: the lease with its epoch (the fencing token), the
//! outbox claim against the durable per-target send log, and fenced settles and cursor
//! writes. Each function runs inside one job of the writer thread, so the fence check and
//! the write it guards commit together. PostgreSQL has the same statements in
//! `delivery_pg.rs`.

use super::{Claim, Fence, SEND_WINDOW_MS, Settle, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

/// Migration 3: the lease's epoch and the send log.
pub(super) const MIGRATION: &str = "ALTER TABLE lease ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE send_log (
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        at INTEGER NOT NULL,
        outbox_id INTEGER NOT NULL,
        epoch INTEGER NOT NULL
    );
    CREATE INDEX send_log_window ON send_log(channel, target, at);";

/// The fence did not match the lease row: the write was not made.
pub(super) struct Stale;

pub(super) type Fenced<T> = rusqlite::Result<Result<T, Stale>>;

/// Takes or renews the lease; the epoch grows when the lease changes hands or had expired.
pub(super) fn lease_acquire(
    c: &Connection,
    name: &str,
    holder: &str,
    expires: i64,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    c.query_row(
        "INSERT INTO lease (name, holder, expires_at, epoch) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT(name) DO UPDATE SET
             epoch = CASE WHEN lease.holder = excluded.holder AND lease.expires_at >= ?4
                          THEN lease.epoch ELSE lease.epoch + 1 END,
             holder = excluded.holder,
             expires_at = excluded.expires_at
         WHERE lease.holder = excluded.holder OR lease.expires_at < ?4
         RETURNING epoch",
        params![name, holder, expires, now],
        |r| r.get(0),
    )
    .optional()
}

/// Expires the lease at once but keeps the row, so the next holder's epoch is higher.
pub(super) fn lease_release(c: &Connection, name: &str, holder: &str) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE lease SET expires_at = 0 WHERE name = ?1 AND holder = ?2",
        params![name, holder],
    )?;
    Ok(())
}

pub(super) fn fence_holds(c: &Connection, fence: &Fence, now: i64) -> rusqlite::Result<bool> {
    Ok(c.query_row(
        "SELECT 1 FROM lease WHERE name = ?1 AND holder = ?2 AND epoch = ?3 AND expires_at > ?4",
        params![fence.lease, fence.holder, fence.epoch, now],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

pub(super) fn outbox_claim(
    c: &mut Connection,
    fence: &Fence,
    id: i64,
    per_minute: Option<u32>,
    now: i64,
) -> Fenced<Claim> {
    let tx = c.savepoint()?;
    if !fence_holds(&tx, fence, now)? {
        return Ok(Err(Stale));
    }
    // The attempt counts from the claim: a digest never folds a message that may be on the
    // wire (a full window rolls it back below).
    let row: Option<(String, String)> = tx
        .query_row(
            "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?1 AND status = 'pending'
             RETURNING channel, target",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((channel, target)) = row else {
        return Ok(Ok(Claim::Gone));
    };
    if let Some(limit) = per_minute {
        let since = now - SEND_WINDOW_MS;
        let sent: i64 = tx.query_row(
            "SELECT COUNT(*) FROM send_log WHERE channel = ?1 AND target = ?2 AND at > ?3",
            params![channel, target, since],
            |r| r.get(0),
        )?;
        if sent >= i64::from(limit) {
            // The slot frees when the send that makes the window full leaves it.
            let oldest: i64 = tx.query_row(
                "SELECT at FROM send_log WHERE channel = ?1 AND target = ?2 AND at > ?3
                 ORDER BY at LIMIT 1 OFFSET ?4",
                params![channel, target, since, sent - i64::from(limit)],
                |r| r.get(0),
            )?;
            // Dropping the savepoint rolls the attempt back.
            return Ok(Ok(Claim::WaitUntil(oldest + SEND_WINDOW_MS)));
        }
        tx.execute(
            "INSERT INTO send_log (channel, target, at, outbox_id, epoch) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![channel, target, now, id, fence.epoch],
        )?;
    }
    tx.commit()?;
    Ok(Ok(Claim::Go))
}

pub(super) fn outbox_settle(
    c: &mut Connection,
    fence: &Fence,
    id: i64,
    settle: &Settle,
    now: i64,
) -> Fenced<()> {
    let tx = c.savepoint()?;
    if !fence_holds(&tx, fence, now)? {
        return Ok(Err(Stale));
    }
    match settle {
        Settle::Finish { status, note } => tx.execute(
            "UPDATE outbox SET status = ?2, done_at = ?3,
               last_error = COALESCE(?4, last_error) WHERE id = ?1 AND status = 'pending'",
            params![id, status.as_str(), now, note],
        )?,
        Settle::RetryAt { error, at } => tx.execute(
            "UPDATE outbox SET last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![id, error, at],
        )?,
    };
    tx.commit()?;
    Ok(Ok(()))
}

pub(super) fn sends_since(
    c: &Connection,
    channel: &str,
    target: &str,
    since: i64,
) -> rusqlite::Result<u64> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM send_log WHERE channel = ?1 AND target = ?2 AND at >= ?3",
        params![channel, target, since],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

pub(super) fn kv_set_fenced(
    c: &mut Connection,
    fence: &Fence,
    key: &str,
    value: &str,
    now: i64,
) -> Fenced<()> {
    let tx = c.savepoint()?;
    if !fence_holds(&tx, fence, now)? {
        return Ok(Err(Stale));
    }
    set_kept(&tx, key, value)?;
    tx.commit()?;
    Ok(Ok(()))
}

/// Sets `key` without expiry (leader bookkeeping), inside the caller's transaction.
pub(super) fn set_kept(c: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, NULL)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = NULL",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Housekeeping: send-log rows older than the window no longer count for anything.
pub(super) fn prune_send_log(c: &Connection, now: i64) -> rusqlite::Result<usize> {
    c.execute(
        "DELETE FROM send_log WHERE at < ?1",
        [now - 2 * SEND_WINDOW_MS],
    )
}

/// A fenced job's result as the trait returns it: a stale fence is [`StoreError::Fenced`].
pub(super) fn unfence<T>(r: StoreResult<Result<T, Stale>>, fence: &Fence) -> StoreResult<T> {
    r?.map_err(|Stale| StoreError::Fenced(fence.to_string()))
}
