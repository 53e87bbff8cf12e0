//! The embedded store: one SQLite database in WAL mode under the data directory.

mod incidents;

use super::*;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
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
    // 3: the lease epoch (fencing token) and the per-target send log.
    super::delivery_sqlite::MIGRATION,
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
    /// One permit per reader: how many reads may wait in the blocking pool at once. Without
    /// it every concurrent read took a blocking thread of its own only to wait there for one
    /// of the two connections: a load that repeated messages ran 36 threads instead of 13,
    /// each keeping its stack and allocator pages, and 5 MB more resident
    /// (docs/performance.md). Reads beyond the permits wait as tasks, which cost nothing.
    reader_slots: tokio::sync::Semaphore,
    /// When expired dedup rows were last purged (ms); the purge runs at most every
    /// [`DEDUP_PURGE_EVERY_MS`], not on every message.
    last_purge: AtomicI64,
    /// Write jobs sent to the writer thread since the store opened ([`SqliteStore::writes`]).
    writes: AtomicU64,
    path: PathBuf,
}

/// How many read-only connections a file-backed store opens.
const READERS: usize = 2;
/// Page cache of each read connection, in KiB (negative, as `PRAGMA cache_size` takes it).
/// SQLite's default, 2 MB a connection, filled up under load as the dedup table grew: in a
/// 20 s load test wedock's anonymous memory peaked at 21 MB instead of 27. A reader looks
/// rows up by primary key, so what it reuses is the b-trees' upper pages, and the file's
/// pages stay in the OS's cache either way.
const READER_CACHE_KIB: i64 = -256;
/// Page cache of the writer connection, in KiB. The default 2 MB filled up too: the writer
/// inserts each message's dedup record at a random place in a table that grows by thousands of
/// rows a second, so beyond the b-trees' upper pages little of it is ever hit again. With 512
/// KiB peak anonymous memory under the load test was 1.5-2 MB lower, and throughput the same
/// over five 16 s runs (docs/performance.md). Set on a file-backed store only: an in-memory
/// database keeps the default, its cache being where its data lives.
const WRITER_CACHE_KIB: i64 = -512;
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
    writer_jobs(&mut conn, jobs);
    close_serialised(conn);
}

/// Closing connections to one database from two threads at once can deadlock inside SQLite's
/// unix VFS (one thread holds the global VFS mutex and waits for the file's lock mutex, the
/// other the reverse, while the last connection checkpoints the WAL). Seen as a `wedock`
/// CLI command that never exited. Every close goes through this lock.
static CLOSE_LOCK: Mutex<()> = Mutex::new(());

fn close_serialised(conn: Connection) {
    let _one_at_a_time = CLOSE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "sqlite: closing a connection failed");
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // The readers are closed one by one under the close lock (the writer thread closes
        // its connection under it too once its queue ends with the store). A reader still
        // held by a blocking read is closed when that read lets go.
        for r in self.readers.drain(..) {
            match Arc::try_unwrap(r) {
                Ok(m) => close_serialised(m.into_inner().unwrap_or_else(|e| e.into_inner())),
                Err(shared) => drop(shared),
            }
        }
    }
}

/// The writer's job loop (see [`writer_loop`]); returns when the store is dropped.
fn writer_jobs(conn: &mut Connection, jobs: std::sync::mpsc::Receiver<WriteJob>) {
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
            let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn))).ok();
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
        let conn = Connection::open(&path)
            .and_then(|c| {
                c.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
                Ok(c)
            })
            .map_err(|e| open_err(e.to_string()))?;
        let mut store = Self::init(conn, path.clone()).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: match e {
                StoreError::Db(r) => r,
                StoreError::Open { reason, .. } => reason,
                e @ StoreError::Fenced(_) => e.to_string(),
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
                r.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
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
        incidents::migrate(&conn)?;
        let (writer, jobs) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("wedock-sqlite-writer".into())
            .spawn(move || writer_loop(conn, jobs))
            .map_err(|e| StoreError::Db(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            writer,
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
            reader_slots: tokio::sync::Semaphore::new(READERS),
            last_purge: AtomicI64::new(0),
            writes: AtomicU64::new(0),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many write jobs (each its own savepoint, committed in a group) this store has
    /// taken: what the message path's store cost is counted in.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// Runs `f` on the writer connection (on the writer thread, off the async runtime) and
    /// returns its result once the transaction holding it has committed.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.run_on_writer(f).await
    }

    /// [`SqliteStore::with`] without counting a write (reads of an in-memory store).
    async fn run_on_writer<T: Send + 'static>(
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
            return self.run_on_writer(f).await;
        }
        let _slot = self
            .reader_slots
            .acquire()
            .await
            .map_err(|_| StoreError::Db("store closed".into()))?;
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

    /// [`Self::with_read`] for the message path's point reads (a few indexed rows, tens of
    /// microseconds on a warm page cache): run on the calling task when a reader connection is
    /// free, which spares each message two thread wake-ups (a hand-off to the blocking pool and
    /// back; docs/performance.md). When every reader is busy it takes the blocking pool.
    async fn with_quick_read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        if let Some(mut guard) = (0..n).find_map(|k| self.readers[(start + k) % n].try_lock().ok())
        {
            return f(&mut guard).map_err(db);
        }
        self.with_read(f).await
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

mod store_impl;
#[cfg(test)]
mod tests;
