//! The `Store` trait on SQLite: each method is one closure run on the writer thread (writes,
//! grouped into shared transactions) or on a reader connection.

use super::*;
use crate::store::delivery_sqlite;

#[async_trait]
impl Store for SqliteStore {
    async fn dedup_begin(
        &self,
        channel: &str,
        msg_id: &str,
        ttl: Duration,
        stale_after: Duration,
    ) -> StoreResult<DedupState> {
        Ok(self
            .dedup_begin_with(channel, msg_id, ttl, stale_after, Vec::new())
            .await?
            .0)
    }

    async fn dedup_begin_with(
        &self,
        channel: &str,
        msg_id: &str,
        ttl: Duration,
        stale_after: Duration,
        keys: Vec<String>,
    ) -> StoreResult<(DedupState, Vec<Option<String>>)> {
        let (channel, msg_id) = (channel.to_string(), msg_id.to_string());
        let now = now_ms();
        let purge = self.purge_due(now);
        self.with(move |c| {
            let tx = c.savepoint()?;
            let state = dedup_claim(&tx, &channel, &msg_id, ttl, stale_after, now, purge)?;
            let mut values = Vec::with_capacity(keys.len());
            if state == DedupState::New {
                for k in &keys {
                    values.push(kv_read(&tx, k, now)?);
                }
            }
            tx.commit()?;
            Ok((state, values))
        })
        .await
    }

    async fn dedup_finish(
        &self,
        channel: &str,
        msg_id: &str,
        reply: Option<&str>,
    ) -> StoreResult<()> {
        self.dedup_finish_with(channel, msg_id, reply, Vec::new())
            .await
    }

    async fn dedup_finish_with(
        &self,
        channel: &str,
        msg_id: &str,
        reply: Option<&str>,
        kv: Vec<(String, String)>,
    ) -> StoreResult<()> {
        let (channel, msg_id, reply) = (
            channel.to_string(),
            msg_id.to_string(),
            reply.map(str::to_string),
        );
        self.with(move |c| {
            let tx = c.savepoint()?;
            for (k, v) in &kv {
                tx.prepare_cached(
                    "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, NULL)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = NULL",
                )?
                .execute(params![k, v])?;
            }
            tx.prepare_cached(
                "UPDATE dedup SET state = 'done', reply = ?3 WHERE channel = ?1 AND msg_id = ?2",
            )?
            .execute(params![channel, msg_id, reply])?;
            tx.commit()
        })
        .await
    }

    async fn dedup_peek_with(
        &self,
        channel: &str,
        msg_id: &str,
        keys: Vec<String>,
    ) -> StoreResult<(DedupState, Vec<Option<String>>)> {
        let (channel, msg_id) = (channel.to_string(), msg_id.to_string());
        let now = now_ms();
        self.with_quick_read(move |c| {
            // One statement for the dedup row and the keys: it is one read transaction, and
            // four statements (with BEGIN and COMMIT around them) cost several times more.
            let mut stmt = c.prepare_cached(&peek_sql(keys.len()))?;
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&channel, &msg_id, &now];
            args.extend(keys.iter().map(|k| k as &dyn rusqlite::ToSql));
            let mut rows = stmt.query(args.as_slice())?;
            let mut state = DedupState::New;
            let mut values: Vec<Option<String>> = vec![None; keys.len()];
            while let Some(row) = rows.next()? {
                let kind: String = row.get(0)?;
                if kind == "d" {
                    let s: String = row.get(1)?;
                    state = if s == "done" {
                        DedupState::Done(row.get(2)?)
                    } else {
                        DedupState::InProgress
                    };
                } else {
                    let key: String = row.get(1)?;
                    let value: Option<String> = row.get(2)?;
                    for (k, v) in keys.iter().zip(values.iter_mut()) {
                        if *k == key {
                            *v = value.clone();
                        }
                    }
                }
            }
            Ok((state, values))
        })
        .await
    }

    async fn dedup_record(&self, rec: DedupRecord) -> StoreResult<()> {
        self.dedup_record_many(vec![rec]).await
    }

    async fn dedup_record_many(&self, recs: Vec<DedupRecord>) -> StoreResult<()> {
        let now = now_ms();
        let purge = self.purge_due(now);
        self.with(move |c| {
            let tx = c.savepoint()?;
            if purge {
                tx.prepare_cached("DELETE FROM dedup WHERE expires_at < ?1")?
                    .execute(params![now])?;
            }
            for rec in &recs {
                for (k, v) in &rec.kv {
                    upsert_kv(&tx, k, v, None)?;
                }
                // An unexpired row of the same message (a claim or another delivery's
                // result) stays as it is.
                tx.prepare_cached(
                    "INSERT INTO dedup (channel, msg_id, state, reply, created_at, expires_at)
                     VALUES (?1, ?2, 'done', ?3, ?4, ?5)
                     ON CONFLICT (channel, msg_id) DO UPDATE
                     SET state = 'done', reply = excluded.reply, created_at = excluded.created_at,
                         expires_at = excluded.expires_at
                     WHERE dedup.expires_at < excluded.created_at",
                )?
                .execute(params![
                    rec.channel,
                    rec.msg_id,
                    rec.reply,
                    now,
                    now + rec.ttl.as_millis() as i64
                ])?;
            }
            tx.commit()
        })
        .await
    }

    async fn outbox_enqueue(&self, msg: NewOutboxMessage) -> StoreResult<i64> {
        self.with(move |c| {
            let tx = c.savepoint()?;
            let id = insert_outbox(&tx, &msg, now_ms())?;
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    async fn outbox_enqueue_many(&self, msgs: Vec<NewOutboxMessage>) -> StoreResult<Vec<i64>> {
        self.with(move |c| {
            let now = now_ms();
            let tx = c.savepoint()?;
            let ids = msgs
                .iter()
                .map(|m| insert_outbox(&tx, m, now))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
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
        let f = fence.cloned();
        let r = self
            .with(move |c| {
                let now = now_ms();
                let tx = c.savepoint()?;
                if let Some(f) = &f
                    && !delivery_sqlite::fence_holds(&tx, f, now)?
                {
                    return Ok(None);
                }
                let ids = msgs
                    .iter()
                    .map(|m| insert_outbox(&tx, m, now))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for (k, v) in &state {
                    delivery_sqlite::set_kept(&tx, k, v)?;
                }
                tx.commit()?;
                Ok(Some(ids))
            })
            .await?;
        // Only a stale fence refuses (`None`).
        r.ok_or_else(|| StoreError::Fenced(fence.map(Fence::to_string).unwrap_or_default()))
    }

    async fn outbox_due(&self, now: i64, limit: usize) -> StoreResult<Vec<OutboxMessage>> {
        self.with(move |c| {
            let sql = format!(
                "SELECT {OUTBOX_COLS} FROM outbox o WHERE status = 'pending'
                   AND id = (SELECT MIN(id) FROM outbox i WHERE i.status = 'pending'
                             AND i.channel = o.channel AND i.target = o.target)
                   AND next_attempt_at <= ?1
                 ORDER BY id LIMIT ?2"
            );
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(params![now, limit as i64], row_to_outbox)?;
            rows.collect()
        })
        .await
    }

    async fn outbox_pending_for(
        &self,
        channel: &str,
        target: &str,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let (channel, target) = (channel.to_string(), target.to_string());
        self.with(move |c| {
            let sql = format!(
                "SELECT {OUTBOX_COLS} FROM outbox WHERE status = 'pending' AND channel = ?1 AND target = ?2 ORDER BY id"
            );
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(params![channel, target], row_to_outbox)?;
            rows.collect()
        })
        .await
    }

    async fn outbox_fold(
        &self,
        ids: Vec<i64>,
        digest: Vec<NewOutboxMessage>,
    ) -> StoreResult<Option<Vec<i64>>> {
        self.with(move |c| {
            let now = now_ms();
            let tx = c.savepoint()?;
            for id in &ids {
                let n = tx.execute(
                    "DELETE FROM outbox WHERE id = ?1 AND status = 'pending' AND attempts = 0",
                    [id],
                )?;
                if n != 1 {
                    return Ok(None); // dropping `tx` rolls back
                }
            }
            let mut out = Vec::new();
            for msg in digest {
                tx.execute(
                    "INSERT INTO outbox (channel, target, payload, dedup_key, next_attempt_at, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![msg.channel, msg.target, msg.payload, msg.dedup_key, now],
                )?;
                out.push(tx.last_insert_rowid());
            }
            tx.commit()?;
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
        let note = note.map(str::to_string);
        self.with(move |c| {
            c.execute(
                "UPDATE outbox SET status = ?2, attempts = attempts + 1, done_at = ?3,
                   last_error = COALESCE(?4, last_error) WHERE id = ?1",
                params![id, status.as_str(), now_ms(), note],
            )?;
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
        let error = error.to_string();
        self.with(move |c| {
            c.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                params![id, error, next_attempt_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> StoreResult<Vec<OutboxMessage>> {
        self.with(move |c| {
            let sql = format!(
                "SELECT {OUTBOX_COLS} FROM outbox WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2"
            );
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(params![status.map(|s| s.as_str()), limit as i64], row_to_outbox)?;
            rows.collect()
        })
        .await
    }

    async fn outbox_counts(&self) -> StoreResult<OutboxCounts> {
        self.with(|c| {
            let mut counts = OutboxCounts::default();
            let mut st = c.prepare_cached("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (s, n) = row?;
                counts.add_row(&s, n);
            }
            Ok(counts)
        })
        .await
    }

    async fn prune(&self, done_before: i64) -> StoreResult<u64> {
        self.with(move |c| {
            let tx = c.savepoint()?;
            let mut n = tx.execute(
                "DELETE FROM outbox WHERE status IN ('sent', 'dead') AND done_at < ?1",
                params![done_before],
            )?;
            n += tx.execute(
                "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at < ?1",
                params![now_ms()],
            )?;
            n += delivery_sqlite::prune_send_log(&tx, now_ms())?;
            tx.commit()?;
            Ok(n as u64)
        })
        .await
    }

    async fn audit_append(&self, e: AuditEntry) -> StoreResult<()> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO audit (at, user, channel, role, command, host, target, result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.at, e.user, e.channel, e.role, e.command, e.host, e.target, e.result
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn audit_recent(&self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.with(move |c| {
            let mut st = c.prepare_cached(
                "SELECT at, user, channel, role, command, host, target, result FROM audit ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit as i64], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    user: r.get(1)?,
                    channel: r.get(2)?,
                    role: r.get(3)?,
                    command: r.get(4)?,
                    host: r.get(5)?,
                    target: r.get(6)?,
                    result: r.get(7)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.with_read(move |c| kv_read(c, &key, now_ms())).await
    }

    async fn kv_set(&self, key: &str, value: &str, ttl: Option<Duration>) -> StoreResult<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.with(move |c| {
            let expires = ttl.map(|t| now_ms() + t.as_millis() as i64);
            upsert_kv(c, &key, &value, expires)
        })
        .await
    }

    async fn kv_set_many(
        &self,
        items: Vec<(String, String)>,
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        self.with(move |c| {
            let expires = ttl.map(|t| now_ms() + t.as_millis() as i64);
            let tx = c.savepoint()?;
            for (k, v) in &items {
                upsert_kv(&tx, k, v, expires)?;
            }
            tx.commit()
        })
        .await
    }

    async fn kv_claim(&self, key: &str, value: &str, ttl: Duration) -> StoreResult<Option<String>> {
        let (key, value) = (key.to_string(), value.to_string());
        // One writer thread: the read and the write cannot interleave with another claim.
        self.with(move |c| {
            let now = now_ms();
            if let Some(existing) = kv_read(c, &key, now)? {
                return Ok(Some(existing));
            }
            upsert_kv(c, &key, &value, Some(now + ttl.as_millis() as i64))?;
            Ok(None)
        })
        .await
    }

    async fn kv_delete(&self, key: &str) -> StoreResult<()> {
        let key = key.to_string();
        self.with(move |c| {
            c.execute("DELETE FROM kv WHERE key = ?1", [key])?;
            Ok(())
        })
        .await
    }

    async fn kv_scan(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        let prefix = prefix.to_string();
        self.with(move |c| {
            let mut st = c.prepare_cached(
                "SELECT key, value FROM kv WHERE substr(key, 1, length(?1)) = ?1
                   AND (expires_at IS NULL OR expires_at > ?2) ORDER BY key",
            )?;
            let rows = st.query_map(params![prefix, now_ms()], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    async fn quiz_record(&self, rec: QuizRecord) -> StoreResult<()> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO quiz (user, topic, area, coverage, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![rec.user, rec.topic, rec.area, rec.coverage, rec.at],
            )?;
            Ok(())
        })
        .await
    }

    async fn quiz_history(&self, user: &str) -> StoreResult<Vec<QuizRecord>> {
        let user = user.to_string();
        self.with(move |c| {
            let mut st = c.prepare_cached(
                "SELECT user, topic, area, coverage, at FROM quiz WHERE user = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([user], |r| {
                Ok(QuizRecord {
                    user: r.get(0)?,
                    topic: r.get(1)?,
                    area: r.get(2)?,
                    coverage: r.get(3)?,
                    at: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn lease_acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> StoreResult<Option<i64>> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.with(move |c| {
            let now = now_ms();
            delivery_sqlite::lease_acquire(c, &name, &holder, now + ttl.as_millis() as i64, now)
        })
        .await
    }

    async fn lease_release(&self, name: &str, holder: &str) -> StoreResult<()> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.with(move |c| delivery_sqlite::lease_release(c, &name, &holder))
            .await
    }

    async fn lease_reset(&self, name: &str) -> StoreResult<()> {
        let name = name.to_string();
        self.with(move |c| {
            c.execute("UPDATE lease SET expires_at = 0 WHERE name = ?1", [name])?;
            Ok(())
        })
        .await
    }

    async fn outbox_claim(
        &self,
        fence: &Fence,
        id: i64,
        per_minute: Option<u32>,
        now: i64,
    ) -> StoreResult<Claim> {
        let f = fence.clone();
        let r = self
            .with(move |c| delivery_sqlite::outbox_claim(c, &f, id, per_minute, now))
            .await;
        delivery_sqlite::unfence(r, fence)
    }

    async fn outbox_settle(&self, fence: &Fence, id: i64, settle: Settle) -> StoreResult<()> {
        let f = fence.clone();
        let r = self
            .with(move |c| delivery_sqlite::outbox_settle(c, &f, id, &settle, now_ms()))
            .await;
        delivery_sqlite::unfence(r, fence)
    }

    async fn outbox_sends_since(
        &self,
        channel: &str,
        target: &str,
        since: i64,
    ) -> StoreResult<u64> {
        let (channel, target) = (channel.to_string(), target.to_string());
        self.with_read(move |c| delivery_sqlite::sends_since(c, &channel, &target, since))
            .await
    }

    async fn kv_set_fenced(&self, fence: &Fence, key: &str, value: &str) -> StoreResult<()> {
        let (f, key, value) = (fence.clone(), key.to_string(), value.to_string());
        let r = self
            .with(move |c| delivery_sqlite::kv_set_fenced(c, &f, &key, &value, now_ms()))
            .await;
        delivery_sqlite::unfence(r, fence)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.with(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
        })
        .await
    }

    async fn flush(&self) -> StoreResult<()> {
        self.with(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .optional()
                .map(|_| ())
        })
        .await
    }
}

/// The read of [`Store::dedup_peek_with`] for `keys` keys: the message's unexpired dedup row
/// (`'d'`) and the unexpired values of the keys (`'k'`). Built once for the usual counts.
fn peek_sql(keys: usize) -> std::borrow::Cow<'static, str> {
    static COMMON: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    crate::store::sql_for_keys(&COMMON, keys, build_peek_sql)
}

fn build_peek_sql(keys: usize) -> String {
    let mut sql = String::from(
        "SELECT 'd', state, reply FROM dedup
         WHERE channel = ?1 AND msg_id = ?2 AND expires_at >= ?3",
    );
    if keys > 0 {
        let marks: Vec<String> = (0..keys).map(|i| format!("?{}", i + 4)).collect();
        sql.push_str(&format!(
            " UNION ALL SELECT 'k', key, value FROM kv
             WHERE key IN ({}) AND (expires_at IS NULL OR expires_at > ?3)",
            marks.join(", ")
        ));
    }
    sql
}
