//! The embedded store: one SQLite database in WAL mode under the data directory.

use super::*;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: the foundation tables.
    "CREATE TABLE dedup (
        channel TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        state TEXT NOT NULL,
        reply TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (channel, msg_id)
    );
    CREATE INDEX dedup_expiry ON dedup(expires_at);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        target TEXT NOT NULL,
        payload TEXT NOT NULL,
        dedup_key TEXT UNIQUE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        done_at INTEGER
    );
    CREATE INDEX outbox_pending ON outbox(status, channel, target, id);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        user TEXT NOT NULL,
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
        expires_at INTEGER
    );
    CREATE TABLE quiz (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        topic TEXT NOT NULL,
        area TEXT NOT NULL,
        coverage REAL NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX quiz_user ON quiz(user);",
    // 2: leases for leader election between processes sharing the database.
    "CREATE TABLE lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );",
];

pub struct SqliteStore {
    /// The one writer connection lives on its own thread (SQLite allows one writer at a time
    /// anyway); jobs reach it through this queue. Also reads in transactions.
    writer: std::sync::mpsc::Sender<WriteJob>,
    /// Read-only connections for point reads on the message path, so a `kv_get` does not
    /// queue behind writes: in WAL mode readers see every committed write and never block the
    /// writer. Empty for an in-memory store (its data lives in the one connection).
    readers: Vec<Arc<Mutex<Connection>>>,
    next_reader: AtomicUsize,
    /// When expired dedup rows were last purged (ms); the purge runs at most every
    /// [`DEDUP_PURGE_EVERY_MS`], not on every message.
    last_purge: AtomicI64,
    path: PathBuf,
}

/// How many read-only connections a file-backed store opens.
const READERS: usize = 2;
/// Most write jobs committed together in one transaction.
const MAX_GROUP: usize = 64;

/// A job for the writer thread: it runs inside the group's transaction and returns how to
/// report its result once the group's fate is known — a write is acknowledged only after
/// the transaction holding it committed.
type WriteJob =
    Box<dyn FnOnce(&mut Connection) -> Box<dyn FnOnce(Result<(), String>) + Send> + Send>;

/// The writer thread: takes every job already queued (up to [`MAX_GROUP`]) and commits them
/// as one transaction (group commit). Under concurrent messages most commits then carry
/// several dedup claims and results instead of one each, and no job waits on a mutex behind
/// a pile of blocking threads. Each job works inside its own savepoint, so one job's error
/// rolls back only its own changes. Ends when the store (the queue's sender) is dropped.
fn writer_loop(mut conn: Connection, jobs: std::sync::mpsc::Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // One job commits by itself (its savepoint outside a transaction is one). If the
        // group transaction cannot start (another process holds the write lock past the busy
        // timeout), the jobs run one by one, each in its own transaction, as before.
        let mut grouped = group.len() > 1 && conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let mut in_group = Vec::with_capacity(group.len());
        for job in group {
            // A panicking job loses only its own answer (its caller sees an error), not the
            // writer thread.
            let report =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn))).ok();
            if grouped && conn.is_autocommit() {
                // An error (disk full, I/O) rolled the whole group back: everything so far
                // is lost and reported so; the rest runs one job per transaction.
                grouped = false;
                let lost = "the group transaction was rolled back by an error".to_string();
                for r in in_group.drain(..).chain(report) {
                    r(Err(lost.clone()));
                }
                continue;
            }
            match report {
                Some(r) if grouped => in_group.push(r),
                Some(r) => r(Ok(())),
                None => {}
            }
        }
        if grouped {
            let outcome = conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                format!("group commit failed: {e}")
            });
            for r in in_group {
                r(outcome.clone());
            }
        }
    }
}

const DEDUP_PURGE_EVERY_MS: i64 = 10_000;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) `wedock.sqlite3` in `data_dir` and runs migrations.
    /// A file that is not a database is reported, never overwritten.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        let open_err = |reason: String| StoreError::Open {
            path: data_dir.display().to_string(),
            reason,
        };
        crate::private_fs::private_dir(data_dir)
            .map_err(|e| open_err(format!("cannot create data directory: {e}")))?;
        let path = data_dir.join("wedock.sqlite3");
        let probe = data_dir.join(".write-test");
        std::fs::write(&probe, b"")
            .map_err(|e| open_err(format!("data directory is not writable: {e}")))?;
        let _ = std::fs::remove_file(&probe);
        // An empty file is an empty database: creating it 0600 here makes SQLite give the
        // WAL and SHM files the same mode; older, looser files are tightened.
        match crate::private_fs::create_private(&path, b"") {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(open_err(format!("cannot create the database file: {e}")));
            }
            _ => {}
        }
        let tighten = || {
            for f in crate::private_fs::sqlite_files(&path) {
                if let Err(e) = crate::private_fs::tighten(&f) {
                    tracing::warn!(reason = "db_file_mode", path = %f.display(), "cannot make the file 0600: {e}");
                }
            }
        };
        tighten();
        let conn = Connection::open(&path).map_err(|e| open_err(e.to_string()))?;
        let mut store = Self::init(conn, path.clone()).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: match e {
                StoreError::Db(r) => r,
                StoreError::Open { reason, .. } => reason,
            },
        })?;
        tighten();
        // Opened after the migrations so the readers see the final schema.
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|r| {
                r.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(r)
            })
            .map_err(|e| open_err(format!("cannot open a read connection: {e}")))?;
            store.readers.push(Arc::new(Mutex::new(r)));
        }
        Ok(store)
    }

    /// An in-memory store for tests and `wedock ask` without a data directory.
    pub fn in_memory() -> StoreResult<Self> {
        let conn = Connection::open_in_memory().map_err(db)?;
        Self::init(conn, PathBuf::from(":memory:"))
    }

    fn init(conn: Connection, path: PathBuf) -> StoreResult<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        // Reading the schema first surfaces "file is not a database" before any write.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(db)?;
        if check != "ok" {
            return Err(StoreError::Db(format!("database is corrupted: {check}")));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let version = usize::try_from(version).unwrap_or(0);
        if version > MIGRATIONS.len() {
            return Err(StoreError::Db(format!(
                "database schema version {version} is newer than this wedock ({}); refusing to touch it",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.unchecked_transaction().map_err(db)?;
            tx.execute_batch(sql).map_err(db)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        let (writer, jobs) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("wedock-sqlite-writer".into())
            .spawn(move || writer_loop(conn, jobs))
            .map_err(|e| StoreError::Db(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            writer,
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
            last_purge: AtomicI64::new(0),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer connection (on the writer thread, off the async runtime) and
    /// returns its result once the transaction holding it has committed.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn: &mut Connection| {
            let r = f(conn);
            Box::new(move |group: Result<(), String>| {
                let _ = done.send(match (r, group) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(db(e)),
                    (Ok(_), Err(e)) => Err(StoreError::Db(e)),
                });
            })
        });
        self.writer
            .send(job)
            .map_err(|_| StoreError::Db("store writer stopped".into()))?;
        result
            .await
            .map_err(|_| StoreError::Db("store task failed".into()))?
    }

    /// Runs a read-only `f` on a reader connection (the writer when there is none).
    async fn with_read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        if self.readers.is_empty() {
            return self.with(f).await;
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = self.readers[i].clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Db("store lock poisoned".into()))?;
            f(&mut guard).map_err(db)
        })
        .await
        .map_err(|e| StoreError::Db(format!("store task failed: {e}")))?
    }

    /// Whether this call should purge expired dedup rows (at most every few seconds).
    fn purge_due(&self, now: i64) -> bool {
        let last = self.last_purge.load(Ordering::Relaxed);
        now - last >= DEDUP_PURGE_EVERY_MS
            && self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// The dedup claim of [`Store::dedup_begin`], inside the caller's transaction. Rows past
/// their expiry count as absent even before the purge removes them.
fn dedup_claim(
    tx: &Connection,
    channel: &str,
    msg_id: &str,
    ttl: Duration,
    stale_after: Duration,
    now: i64,
    purge: bool,
) -> rusqlite::Result<DedupState> {
    if purge {
        tx.prepare_cached("DELETE FROM dedup WHERE expires_at < ?1")?
            .execute(params![now])?;
    }
    let existing: Option<(String, Option<String>, i64)> = tx
        .prepare_cached(
            "SELECT state, reply, created_at FROM dedup
             WHERE channel = ?1 AND msg_id = ?2 AND expires_at >= ?3",
        )?
        .query_row(params![channel, msg_id, now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    Ok(match existing {
        Some((s, reply, _)) if s == "done" => DedupState::Done(reply),
        Some((_, _, created)) if now - created < stale_after.as_millis() as i64 => {
            DedupState::InProgress
        }
        _ => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO dedup (channel, msg_id, state, reply, created_at, expires_at)
                 VALUES (?1, ?2, 'processing', NULL, ?3, ?4)",
            )?
            .execute(params![channel, msg_id, now, now + ttl.as_millis() as i64])?;
            DedupState::New
        }
    })
}

fn kv_read(c: &Connection, key: &str, now: i64) -> rusqlite::Result<Option<String>> {
    c.prepare_cached(
        "SELECT value FROM kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
    )?
    .query_row(params![key, now], |r| r.get(0))
    .optional()
}

/// Inserts one outbox row, or returns the id of the row that already has its dedup key.
fn insert_outbox(c: &Connection, msg: &NewOutboxMessage, now: i64) -> rusqlite::Result<i64> {
    if let Some(key) = &msg.dedup_key {
        let existing: Option<i64> = c
            .query_row("SELECT id FROM outbox WHERE dedup_key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(id) = existing {
            return Ok(id);
        }
    }
    c.prepare_cached(
        "INSERT INTO outbox (channel, target, payload, dedup_key, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![
        msg.channel,
        msg.target,
        msg.payload,
        msg.dedup_key,
        now
    ])?;
    Ok(c.last_insert_rowid())
}

fn upsert_kv(c: &Connection, key: &str, value: &str, expires: Option<i64>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
    )?
    .execute(params![key, value, expires])?;
    Ok(())
}

fn row_to_outbox(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxMessage> {
    let status: String = r.get("status")?;
    Ok(OutboxMessage {
        id: r.get("id")?,
        channel: r.get("channel")?,
        target: r.get("target")?,
        payload: r.get("payload")?,
        dedup_key: r.get("dedup_key")?,
        status: OutboxStatus::parse(&status).unwrap_or(OutboxStatus::Pending),
        attempts: r.get::<_, i64>("attempts")?.max(0) as u32,
        next_attempt_at: r.get("next_attempt_at")?,
        last_error: r.get("last_error")?,
        created_at: r.get("created_at")?,
        done_at: r.get("done_at")?,
    })
}

const OUTBOX_COLS: &str = "id, channel, target, payload, dedup_key, status, attempts, next_attempt_at, last_error, created_at, done_at";

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

    async fn lease_acquire(&self, name: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.with(move |c| {
            let now = now_ms();
            let changed = c.execute(
                "INSERT INTO lease (name, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE lease.holder = excluded.holder OR lease.expires_at < ?4",
                params![name, holder, now + ttl.as_millis() as i64, now],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn lease_release(&self, name: &str, holder: &str) -> StoreResult<()> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.with(move |c| {
            c.execute(
                "DELETE FROM lease WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )?;
            Ok(())
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(target: &str, key: Option<&str>) -> NewOutboxMessage {
        NewOutboxMessage {
            channel: "robot".into(),
            target: target.into(),
            payload: "{}".into(),
            dedup_key: key.map(str::to_string),
        }
    }

    /// Jobs queued while the writer is busy commit together; one failing job rolls back only
    /// its own changes, and every job is acknowledged only once its group committed.
    #[tokio::test]
    async fn grouped_writes_commit_together_and_a_failing_one_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        // Hold the writer so the next jobs queue up and form one group.
        let busy = s.with(|_| {
            std::thread::sleep(std::time::Duration::from_millis(150));
            Ok(())
        });
        let writes = (0..20).map(|i| {
            s.with(move |c| {
                let sp = c.savepoint()?;
                upsert_kv(&sp, &format!("k{i}"), "v", None)?;
                if i == 7 {
                    sp.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                }
                sp.commit()
            })
        });
        let (busy, results) = tokio::join!(busy, futures::future::join_all(writes));
        busy.unwrap();
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), i != 7, "job {i}: {r:?}");
        }
        drop(s);
        // What was acknowledged is on disk; the failed job's own write is not.
        let again = SqliteStore::open(dir.path()).unwrap();
        for i in 0..20 {
            let v = again.kv_get(&format!("k{i}")).await.unwrap();
            assert_eq!(v.is_some(), i != 7, "k{i}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_of_the_same_message_yield_one_new() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let ttl = Duration::from_secs(60);
        let stale = Duration::from_secs(30);
        let claims = (0..400).map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let id = (i % 100).to_string();
                s.dedup_begin("c", &id, ttl, stale).await.unwrap()
            })
        });
        let states: Vec<DedupState> = futures::future::join_all(claims)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let new = states.iter().filter(|st| **st == DedupState::New).count();
        assert_eq!(new, 100, "each message id is claimed exactly once");
    }

    #[tokio::test]
    async fn dedup_states() {
        let s = SqliteStore::in_memory().unwrap();
        let ttl = Duration::from_secs(60);
        let stale = Duration::from_secs(30);
        assert_eq!(
            s.dedup_begin("c", "1", ttl, stale).await.unwrap(),
            DedupState::New
        );
        assert_eq!(
            s.dedup_begin("c", "1", ttl, stale).await.unwrap(),
            DedupState::InProgress
        );
        assert_eq!(
            s.dedup_begin("other", "1", ttl, stale).await.unwrap(),
            DedupState::New
        );
        s.dedup_finish("c", "1", Some("hi")).await.unwrap();
        assert_eq!(
            s.dedup_begin("c", "1", ttl, stale).await.unwrap(),
            DedupState::Done(Some("hi".into()))
        );
        // An abandoned claim (crash mid-processing) can be taken over.
        assert_eq!(
            s.dedup_begin("c", "2", ttl, Duration::ZERO).await.unwrap(),
            DedupState::New
        );
        assert_eq!(
            s.dedup_begin("c", "2", ttl, Duration::ZERO).await.unwrap(),
            DedupState::New
        );
    }

    #[tokio::test]
    async fn outbox_keeps_per_target_order_and_dedups() {
        let s = SqliteStore::in_memory().unwrap();
        let a1 = s.outbox_enqueue(msg("a", Some("k1"))).await.unwrap();
        let a2 = s.outbox_enqueue(msg("a", None)).await.unwrap();
        let b1 = s.outbox_enqueue(msg("b", None)).await.unwrap();
        assert_eq!(s.outbox_enqueue(msg("a", Some("k1"))).await.unwrap(), a1);
        let due = s.outbox_due(now_ms() + 1, 10).await.unwrap();
        assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a1, b1]);
        // a1 waits for a retry: a2 must not overtake it.
        s.outbox_retry_later(a1, "45009", now_ms() + 60_000)
            .await
            .unwrap();
        let due = s.outbox_due(now_ms() + 1, 10).await.unwrap();
        assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), vec![b1]);
        s.outbox_finish(a1, OutboxStatus::Sent, None).await.unwrap();
        let due = s.outbox_due(now_ms() + 1, 10).await.unwrap();
        assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), vec![a2, b1]);
        s.outbox_finish(b1, OutboxStatus::Dead, Some("93000"))
            .await
            .unwrap();
        let counts = s.outbox_counts().await.unwrap();
        assert_eq!((counts.pending, counts.sent, counts.dead), (1, 1, 1));
        let dead = s.outbox_list(Some(OutboxStatus::Dead), 10).await.unwrap();
        assert_eq!(dead[0].last_error.as_deref(), Some("93000"));
    }

    #[tokio::test]
    async fn outbox_fold_replaces_atomically() {
        let s = SqliteStore::in_memory().unwrap();
        let a = s.outbox_enqueue(msg("t", Some("a"))).await.unwrap();
        let b = s.outbox_enqueue(msg("t", Some("b"))).await.unwrap();
        let new = s
            .outbox_fold(vec![a, b], vec![msg("t", Some("d"))])
            .await
            .unwrap()
            .unwrap();
        let pending = s.outbox_pending_for("robot", "t").await.unwrap();
        assert_eq!(pending.iter().map(|m| m.id).collect::<Vec<_>>(), new);
        // A row that is gone makes the whole fold a no-op.
        assert!(
            s.outbox_fold(vec![new[0], a], vec![msg("t", None)])
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(s.outbox_pending_for("robot", "t").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn reopen_keeps_data_and_corrupt_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            s.kv_set("cursor", "42", None).await.unwrap();
            s.flush().await.unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.kv_get("cursor").await.unwrap().as_deref(), Some("42"));
        drop(s);

        let bad = tempfile::tempdir().unwrap();
        let garbage = vec![0x5au8; 8192];
        std::fs::write(bad.path().join("wedock.sqlite3"), &garbage).unwrap();
        let err = SqliteStore::open(bad.path()).err().expect("must refuse");
        assert!(err.to_string().contains("not a database"), "{err}");
        assert_eq!(
            std::fs::read(bad.path().join("wedock.sqlite3")).unwrap(),
            garbage
        );
    }

    #[tokio::test]
    async fn kv_ttl_and_scan() {
        let s = SqliteStore::in_memory().unwrap();
        s.kv_set("a:1", "x", None).await.unwrap();
        s.kv_set("a:2", "y", Some(Duration::from_millis(0)))
            .await
            .unwrap();
        s.kv_set("b:1", "z", None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            s.kv_scan("a:").await.unwrap(),
            vec![("a:1".into(), "x".into())]
        );
        assert_eq!(s.kv_get("a:2").await.unwrap(), None);
    }
}
