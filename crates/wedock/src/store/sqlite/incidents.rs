//! Alert records on SQLite (see `store/incidents.rs`). Their schema is a part of its own,
//! versioned in `schema_part`, so it evolves apart from the core migrations.

use super::{SqliteStore, db};
use crate::store::incidents::*;
use crate::store::{StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

const PART: &str = "incidents";

/// Migrations of this part, applied in order.
const MIGRATIONS: &[&str] = &["CREATE TABLE alert_record (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        fingerprint TEXT NOT NULL,
        source TEXT NOT NULL,
        subject TEXT NOT NULL,
        severity TEXT NOT NULL,
        host TEXT,
        place TEXT,
        cause TEXT,
        labels TEXT NOT NULL,
        matchers TEXT NOT NULL,
        group_key TEXT NOT NULL,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        resolved_at INTEGER,
        acked_by TEXT,
        acked_at INTEGER,
        silenced_by TEXT,
        silenced_until INTEGER,
        silence_id TEXT
    );
    CREATE UNIQUE INDEX alert_record_open ON alert_record(fingerprint) WHERE resolved_at IS NULL;
    CREATE INDEX alert_record_last ON alert_record(last_at);
    CREATE INDEX alert_record_silence ON alert_record(silence_id);"];

/// Brings this part's tables up to date (called once at open, after the core migrations).
pub(super) fn migrate(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_part (name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    )
    .map_err(db)?;
    let version: i64 = conn
        .query_row(
            "SELECT version FROM schema_part WHERE name = ?1",
            [PART],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?
        .unwrap_or(0);
    let version = usize::try_from(version).unwrap_or(0);
    if version > MIGRATIONS.len() {
        return Err(StoreError::Db(format!(
            "the {PART} schema version {version} is newer than this wedock ({}); refusing to touch it",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.unchecked_transaction().map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.execute(
            "INSERT INTO schema_part (name, version) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET version = excluded.version",
            params![PART, (i + 1) as i64],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRecord> {
    Ok(AlertRecord {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        source: r.get(2)?,
        subject: r.get(3)?,
        severity: r.get(4)?,
        host: r.get(5)?,
        place: r.get(6)?,
        cause: r.get(7)?,
        labels: r.get(8)?,
        matchers: r.get(9)?,
        group_key: r.get(10)?,
        first_at: r.get(11)?,
        last_at: r.get(12)?,
        resolved_at: r.get(13)?,
        acked_by: r.get(14)?,
        acked_at: r.get(15)?,
        silenced_by: r.get(16)?,
        silenced_until: r.get(17)?,
        silence_id: r.get(18)?,
    })
}

fn get(c: &Connection, id: i64) -> rusqlite::Result<Option<AlertRecord>> {
    c.query_row(
        &format!("SELECT {RECORD_COLS} FROM alert_record WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
}

fn observe_one(c: &Connection, o: &AlertObservation) -> rusqlite::Result<Option<AlertRecord>> {
    if !o.firing {
        return c
            .query_row(
                &format!(
                    "UPDATE alert_record SET resolved_at = ?2, last_at = ?2
                     WHERE fingerprint = ?1 AND resolved_at IS NULL RETURNING {RECORD_COLS}"
                ),
                params![o.fingerprint, o.at],
                row,
            )
            .optional();
    }
    c.query_row(
        &format!(
            "INSERT INTO alert_record (fingerprint, source, subject, severity, host, place, cause,
                 labels, matchers, group_key, first_at, last_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
             ON CONFLICT(fingerprint) WHERE resolved_at IS NULL DO UPDATE SET
                 subject = excluded.subject, severity = excluded.severity,
                 host = excluded.host, place = excluded.place,
                 cause = coalesce(excluded.cause, alert_record.cause),
                 labels = excluded.labels, matchers = excluded.matchers,
                 group_key = excluded.group_key,
                 last_at = max(alert_record.last_at, excluded.last_at)
             RETURNING {RECORD_COLS}"
        ),
        params![
            o.fingerprint,
            o.source,
            o.subject,
            o.severity,
            o.host,
            o.place,
            o.cause,
            o.labels,
            o.matchers,
            o.group_key,
            o.at
        ],
        row,
    )
    .map(Some)
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn alert_observe(
        &self,
        batch: Vec<AlertObservation>,
    ) -> StoreResult<Vec<Option<AlertRecord>>> {
        self.with(move |c| {
            let tx = c.savepoint()?;
            let out = batch
                .iter()
                .map(|o| observe_one(&tx, o))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn alert_get(&self, id: i64) -> StoreResult<Option<AlertRecord>> {
        self.with_read(move |c| get(c, id)).await
    }

    async fn alert_recent(&self, limit: usize) -> StoreResult<Vec<AlertRecord>> {
        self.with_read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {RECORD_COLS} FROM alert_record ORDER BY last_at DESC, id DESC LIMIT ?1"
            ))?;
            st.query_map([limit as i64], row)?.collect()
        })
        .await
    }

    async fn alert_unacked(&self, since: i64, limit: usize) -> StoreResult<Vec<AlertRecord>> {
        self.with_read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {RECORD_COLS} FROM alert_record
                 WHERE resolved_at IS NULL AND acked_by IS NULL AND first_at >= ?1
                 ORDER BY first_at, id LIMIT ?2"
            ))?;
            st.query_map(params![since, limit as i64], row)?.collect()
        })
        .await
    }

    async fn alert_ack(&self, id: i64, by: &str, at: i64) -> StoreResult<AckOutcome> {
        let by = by.to_string();
        self.with(move |c| {
            let changed = c.execute(
                "UPDATE alert_record SET acked_by = ?2, acked_at = ?3 WHERE id = ?1 AND acked_by IS NULL",
                params![id, by, at],
            )?;
            Ok(match (get(c, id)?, changed) {
                (None, _) => AckOutcome::NotFound,
                (Some(r), 1) => AckOutcome::Acked(r),
                (Some(r), _) => AckOutcome::Already(r),
            })
        })
        .await
    }

    async fn alert_silence(
        &self,
        ids: Vec<i64>,
        mark: Option<SilenceMark>,
    ) -> StoreResult<Vec<AlertRecord>> {
        self.with(move |c| {
            let tx = c.savepoint()?;
            let mut out = Vec::new();
            for id in ids {
                let (by, until, sid) = match &mark {
                    Some(m) => (Some(&m.by), Some(m.until), Some(&m.silence_id)),
                    None => (None, None, None),
                };
                tx.execute(
                    "UPDATE alert_record SET silenced_by = ?2, silenced_until = ?3, silence_id = ?4 WHERE id = ?1",
                    params![id, by, until, sid],
                )?;
                if let Some(r) = get(&tx, id)? {
                    out.push(r);
                }
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn alert_by_silence(&self, silence_id: &str) -> StoreResult<Vec<AlertRecord>> {
        let sid = silence_id.to_string();
        self.with_read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {RECORD_COLS} FROM alert_record WHERE silence_id = ?1 ORDER BY id"
            ))?;
            st.query_map([sid], row)?.collect()
        })
        .await
    }
}
