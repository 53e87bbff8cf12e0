//! Alert records on PostgreSQL (see `store/incidents.rs`). Their schema is a part of its own,
//! versioned in `schema_part` under its own advisory lock, so it evolves apart from the core
//! migrations. Acknowledging is one conditional `UPDATE`, so two replicas handling two clicks
//! at once cannot both win.

use super::{PostgresStore, db};
use crate::store::incidents::*;
use crate::store::{StoreError, StoreResult};
use async_trait::async_trait;
use tokio_postgres::{GenericClient, Row};

const PART: &str = "incidents";
/// Advisory lock key for this part's migrations ("wdinc" in ASCII).
const LOCK: i64 = 0x77_6469_6e63;

const MIGRATIONS: &[&str] = &["CREATE TABLE alert_record (
        id BIGSERIAL PRIMARY KEY,
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
        first_at BIGINT NOT NULL,
        last_at BIGINT NOT NULL,
        resolved_at BIGINT,
        acked_by TEXT,
        acked_at BIGINT,
        silenced_by TEXT,
        silenced_until BIGINT,
        silence_id TEXT
    );
    CREATE UNIQUE INDEX alert_record_open ON alert_record(fingerprint) WHERE resolved_at IS NULL;
    CREATE INDEX alert_record_last ON alert_record(last_at);
    CREATE INDEX alert_record_silence ON alert_record(silence_id);"];

impl PostgresStore {
    /// Brings this part's tables up to date (called once at open, after the core migrations).
    pub(super) async fn migrate_incidents(&self) -> StoreResult<()> {
        let mut c = self.client().await?;
        let c: &mut tokio_postgres::Client = &mut c;
        c.execute("SELECT pg_advisory_lock($1)", &[&LOCK])
            .await
            .map_err(db)?;
        let result = async {
            c.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_part (name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
            )
            .await
            .map_err(db)?;
            let version: i32 = c
                .query_opt("SELECT version FROM schema_part WHERE name = $1", &[&PART])
                .await
                .map_err(db)?
                .map(|r| r.get(0))
                .unwrap_or(0);
            let version = usize::try_from(version).unwrap_or(0);
            if version > MIGRATIONS.len() {
                return Err(StoreError::Db(format!(
                    "the {PART} schema version {version} is newer than this wedock ({})",
                    MIGRATIONS.len()
                )));
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
                let tx = c.transaction().await.map_err(db)?;
                tx.batch_execute(sql).await.map_err(db)?;
                tx.execute(
                    "INSERT INTO schema_part (name, version) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version",
                    &[&PART, &((i + 1) as i32)],
                )
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
            }
            Ok(())
        }
        .await;
        let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&LOCK]).await;
        result
    }
}

fn record(r: &Row) -> AlertRecord {
    AlertRecord {
        id: r.get(0),
        fingerprint: r.get(1),
        source: r.get(2),
        subject: r.get(3),
        severity: r.get(4),
        host: r.get(5),
        place: r.get(6),
        cause: r.get(7),
        labels: r.get(8),
        matchers: r.get(9),
        group_key: r.get(10),
        first_at: r.get(11),
        last_at: r.get(12),
        resolved_at: r.get(13),
        acked_by: r.get(14),
        acked_at: r.get(15),
        silenced_by: r.get(16),
        silenced_until: r.get(17),
        silence_id: r.get(18),
    }
}

async fn get(c: &impl GenericClient, id: i64) -> StoreResult<Option<AlertRecord>> {
    Ok(c.query_opt(
        &format!("SELECT {RECORD_COLS} FROM alert_record WHERE id = $1"),
        &[&id],
    )
    .await
    .map_err(db)?
    .map(|r| record(&r)))
}

async fn observe_one(
    c: &impl GenericClient,
    o: &AlertObservation,
) -> StoreResult<Option<AlertRecord>> {
    if !o.firing {
        return Ok(c
            .query_opt(
                &format!(
                    "UPDATE alert_record SET resolved_at = $2, last_at = $2
                     WHERE fingerprint = $1 AND resolved_at IS NULL RETURNING {RECORD_COLS}"
                ),
                &[&o.fingerprint, &o.at],
            )
            .await
            .map_err(db)?
            .map(|r| record(&r)));
    }
    let r = c
        .query_one(
            &format!(
                "INSERT INTO alert_record (fingerprint, source, subject, severity, host, place, cause,
                     labels, matchers, group_key, first_at, last_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
                 ON CONFLICT (fingerprint) WHERE resolved_at IS NULL DO UPDATE SET
                     subject = EXCLUDED.subject, severity = EXCLUDED.severity,
                     host = EXCLUDED.host, place = EXCLUDED.place,
                     cause = coalesce(EXCLUDED.cause, alert_record.cause),
                     labels = EXCLUDED.labels, matchers = EXCLUDED.matchers,
                     group_key = EXCLUDED.group_key,
                     last_at = greatest(alert_record.last_at, EXCLUDED.last_at)
                 RETURNING {RECORD_COLS}"
            ),
            &[
                &o.fingerprint,
                &o.source,
                &o.subject,
                &o.severity,
                &o.host,
                &o.place,
                &o.cause,
                &o.labels,
                &o.matchers,
                &o.group_key,
                &o.at,
            ],
        )
        .await
        .map_err(db)?;
    Ok(Some(record(&r)))
}

#[async_trait]
impl IncidentStore for PostgresStore {
    async fn alert_observe(
        &self,
        batch: Vec<AlertObservation>,
    ) -> StoreResult<Vec<Option<AlertRecord>>> {
        self.timed(async {
            let mut c = self.client().await?;
            let tx = tokio_postgres::Client::transaction(&mut c)
                .await
                .map_err(db)?;
            // Sent together: the connection pipelines them (one round trip for the batch, not
            // one per alert) and the server still runs them in order, so two observations of
            // one fingerprint in a batch apply one after the other.
            let out =
                futures::future::try_join_all(batch.iter().map(|o| observe_one(&tx, o))).await?;
            tx.commit().await.map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn alert_get(&self, id: i64) -> StoreResult<Option<AlertRecord>> {
        self.timed(async {
            let c = self.client().await?;
            get(&**c, id).await
        })
        .await
    }

    async fn alert_recent(&self, limit: usize) -> StoreResult<Vec<AlertRecord>> {
        self.timed(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {RECORD_COLS} FROM alert_record ORDER BY last_at DESC, id DESC LIMIT $1"
                    ),
                    &[&(limit as i64)],
                )
                .await
                .map_err(db)?;
            Ok(rows.iter().map(record).collect())
        })
        .await
    }

    async fn alert_unacked(&self, since: i64, limit: usize) -> StoreResult<Vec<AlertRecord>> {
        self.timed(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {RECORD_COLS} FROM alert_record
                         WHERE resolved_at IS NULL AND acked_by IS NULL AND first_at >= $1
                         ORDER BY first_at, id LIMIT $2"
                    ),
                    &[&since, &(limit as i64)],
                )
                .await
                .map_err(db)?;
            Ok(rows.iter().map(record).collect())
        })
        .await
    }

    async fn alert_ack(&self, id: i64, by: &str, at: i64) -> StoreResult<AckOutcome> {
        self.timed(async {
            let c = self.client().await?;
            let changed = c
                .execute(
                    "UPDATE alert_record SET acked_by = $2, acked_at = $3 WHERE id = $1 AND acked_by IS NULL",
                    &[&id, &by, &at],
                )
                .await
                .map_err(db)?;
            Ok(match (get(&**c, id).await?, changed) {
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
        self.timed(async {
            let mut c = self.client().await?;
            let tx = tokio_postgres::Client::transaction(&mut c).await.map_err(db)?;
            let (by, until, sid) = match &mark {
                Some(m) => (Some(m.by.as_str()), Some(m.until), Some(m.silence_id.as_str())),
                None => (None, None, None),
            };
            let mut out = Vec::new();
            for id in ids {
                tx.execute(
                    "UPDATE alert_record SET silenced_by = $2, silenced_until = $3, silence_id = $4 WHERE id = $1",
                    &[&id, &by, &until, &sid],
                )
                .await
                .map_err(db)?;
                if let Some(r) = get(&tx, id).await? {
                    out.push(r);
                }
            }
            tx.commit().await.map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn alert_by_silence(&self, silence_id: &str) -> StoreResult<Vec<AlertRecord>> {
        self.timed(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    &format!(
                        "SELECT {RECORD_COLS} FROM alert_record WHERE silence_id = $1 ORDER BY id"
                    ),
                    &[&silence_id],
                )
                .await
                .map_err(db)?;
            Ok(rows.iter().map(record).collect())
        })
        .await
    }
}
