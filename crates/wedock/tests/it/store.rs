//! One conformance suite for every `Store` implementation: the embedded SQLite store always,
//! and PostgreSQL when `WEDOCK_TEST_PG_URL` points at a server (`.ci/run` starts one).

use std::sync::Arc;
use std::time::Duration;
use wedock::store::{
    AuditEntry, DedupRecord, DedupState, NewOutboxMessage, OutboxStatus, PgOptions, PostgresStore,
    QuizRecord, SqliteStore, Store, now_ms, pg_connect,
};

fn msg(target: &str, key: Option<&str>, payload: &str) -> NewOutboxMessage {
    NewOutboxMessage {
        channel: "robot".into(),
        target: target.into(),
        payload: payload.into(),
        dedup_key: key.map(str::to_string),
    }
}

async fn conformance(store: Arc<dyn Store>) {
    let ttl = Duration::from_secs(60);
    let stale = Duration::from_secs(60);
    // Dedup: first claim wins, concurrent claims see InProgress, finished ones replay.
    let mut claims = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        claims.push(tokio::spawn(async move {
            s.dedup_begin("wecom", "m-1", ttl, stale).await.unwrap()
        }));
    }
    let mut new = 0;
    for c in claims {
        match c.await.unwrap() {
            DedupState::New => new += 1,
            DedupState::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(new, 1, "exactly one claim may win");
    store
        .dedup_finish("wecom", "m-1", Some("{\"r\":1}"))
        .await
        .unwrap();
    assert_eq!(
        store.dedup_begin("wecom", "m-1", ttl, stale).await.unwrap(),
        DedupState::Done(Some("{\"r\":1}".into()))
    );
    // Abandoned claims can be taken over.
    assert_eq!(
        store
            .dedup_begin("wecom", "m-2", ttl, Duration::ZERO)
            .await
            .unwrap(),
        DedupState::New
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(
        store
            .dedup_begin("wecom", "m-2", ttl, Duration::ZERO)
            .await
            .unwrap(),
        DedupState::New
    );

    dedup_peek_and_record(&store).await;

    // Outbox: per-target order, dedup keys, retry scheduling, dead letters, counts.
    let a1 = store
        .outbox_enqueue(msg("a", Some("k1"), "a1"))
        .await
        .unwrap();
    let a2 = store.outbox_enqueue(msg("a", None, "a2")).await.unwrap();
    let b1 = store.outbox_enqueue(msg("b", None, "b1")).await.unwrap();
    assert_eq!(
        store
            .outbox_enqueue(msg("a", Some("k1"), "dup"))
            .await
            .unwrap(),
        a1
    );
    let due: Vec<i64> = store
        .outbox_due(now_ms() + 1, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(due, vec![a1, b1]);
    store
        .outbox_retry_later(a1, "45009 rate limited", now_ms() + 60_000)
        .await
        .unwrap();
    let due: Vec<i64> = store
        .outbox_due(now_ms() + 1, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(due, vec![b1], "a2 must not overtake a1");
    let pending_a = store.outbox_pending_for("robot", "a").await.unwrap();
    assert_eq!(
        pending_a
            .iter()
            .map(|m| m.payload.as_str())
            .collect::<Vec<_>>(),
        vec!["a1", "a2"]
    );
    assert_eq!(pending_a[0].attempts, 1);
    assert_eq!(
        pending_a[0].last_error.as_deref(),
        Some("45009 rate limited")
    );
    store
        .outbox_finish(a1, OutboxStatus::Sent, None)
        .await
        .unwrap();
    store
        .outbox_finish(b1, OutboxStatus::Dead, Some("93000 invalid webhook"))
        .await
        .unwrap();
    store
        .outbox_finish(a2, OutboxStatus::Undelivered, Some("no msgid"))
        .await
        .unwrap();
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(
        (counts.pending, counts.sent, counts.dead, counts.undelivered),
        (0, 1, 1, 1)
    );
    let dead = store
        .outbox_list(Some(OutboxStatus::Dead), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("93000 invalid webhook"));
    assert_eq!(store.outbox_list(None, 10).await.unwrap().len(), 3);

    // Folding pending messages into a digest is all or nothing.
    let f1 = store.outbox_enqueue(msg("c", None, "f1")).await.unwrap();
    let f2 = store.outbox_enqueue(msg("c", None, "f2")).await.unwrap();
    let folded = store
        .outbox_fold(vec![f1, f2], vec![msg("c", Some("digest-1"), "digest")])
        .await
        .unwrap()
        .expect("both rows were pending");
    let pending_c = store.outbox_pending_for("robot", "c").await.unwrap();
    assert_eq!(pending_c.iter().map(|m| m.id).collect::<Vec<_>>(), folded);
    assert!(
        store
            .outbox_fold(vec![folded[0], f1], vec![msg("c", None, "x")])
            .await
            .unwrap()
            .is_none(),
        "a row that is gone makes the fold a no-op"
    );
    assert_eq!(
        store.outbox_pending_for("robot", "c").await.unwrap().len(),
        1
    );
    store
        .outbox_finish(folded[0], OutboxStatus::Sent, None)
        .await
        .unwrap();
    // A digest in several parts keeps their order (the sender sends by id).
    let f3 = store.outbox_enqueue(msg("d", None, "f3")).await.unwrap();
    let parts = ["part-1", "part-2", "part-3"].map(|p| msg("d", Some(p), p));
    let ids = store
        .outbox_fold(vec![f3], parts.to_vec())
        .await
        .unwrap()
        .expect("the row was pending");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let pending_d = store.outbox_pending_for("robot", "d").await.unwrap();
    let order: Vec<(i64, &str)> = pending_d
        .iter()
        .map(|m| (m.id, m.payload.as_str()))
        .collect();
    assert_eq!(
        order,
        ids.iter()
            .copied()
            .zip(["part-1", "part-2", "part-3"])
            .collect::<Vec<_>>()
    );
    for id in ids {
        store
            .outbox_finish(id, OutboxStatus::Sent, None)
            .await
            .unwrap();
    }

    // Audit: newest first.
    for (i, cmd) in ["docker restart api", "docker rm old"].iter().enumerate() {
        store
            .audit_append(AuditEntry {
                at: now_ms() + i as i64,
                user: "wecom:alice".into(),
                channel: "wecom".into(),
                role: "admin".into(),
                command: cmd.to_string(),
                host: Some("local".into()),
                target: Some("api".into()),
                result: "ok".into(),
            })
            .await
            .unwrap();
    }
    let audit = store.audit_recent(1).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].command, "docker rm old");

    // KV with expiry and prefix scan; values may hold any text.
    store
        .kv_set("cursor:local", "1700000000", None)
        .await
        .unwrap();
    store
        .kv_set("cursor:local", "1700000001", None)
        .await
        .unwrap();
    store
        .kv_set("cursor:other", "容器 ✓ 'quote\"", None)
        .await
        .unwrap();
    store
        .kv_set("cursor:gone", "x", Some(Duration::ZERO))
        .await
        .unwrap();
    store.kv_set("token:wecom", "t", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    assert_eq!(
        store.kv_get("cursor:local").await.unwrap().as_deref(),
        Some("1700000001")
    );
    assert_eq!(store.kv_get("cursor:gone").await.unwrap(), None);
    let scan = store.kv_scan("cursor:").await.unwrap();
    assert_eq!(
        scan,
        vec![
            ("cursor:local".to_string(), "1700000001".to_string()),
            ("cursor:other".to_string(), "容器 ✓ 'quote\"".to_string()),
        ]
    );

    // Batch writes: one call, same results as one by one.
    store
        .kv_set_many(
            vec![
                ("batch:1".to_string(), "一".to_string()),
                ("batch:2".to_string(), "two".to_string()),
                ("batch:1".to_string(), "uno".to_string()),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store.kv_scan("batch:").await.unwrap(),
        vec![
            ("batch:1".to_string(), "uno".to_string()),
            ("batch:2".to_string(), "two".to_string()),
        ]
    );
    let first = store
        .outbox_enqueue(msg("many", Some("many-k1"), "m0"))
        .await
        .unwrap();
    let ids = store
        .outbox_enqueue_many(vec![
            msg("many", Some("many-k2"), "m1"),
            msg("many", Some("many-k1"), "dup"),
            msg("many", None, "m2"),
        ])
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[1], first, "a known dedup key returns the existing id");
    assert!(first < ids[0] && ids[0] < ids[2], "{first} {ids:?}");
    let many: Vec<String> = store
        .outbox_pending_for("robot", "many")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(many, vec!["m0", "m1", "m2"]);

    // Housekeeping deletes finished messages older than the cut-off and expired keys only.
    store
        .outbox_finish(first, OutboxStatus::Sent, None)
        .await
        .unwrap();
    store
        .kv_set("prune:expired", "x", Some(Duration::ZERO))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    let kept_before = store.outbox_list(None, 1000).await.unwrap().len();
    assert!(store.prune(0).await.unwrap() >= 1, "expired keys go");
    assert_eq!(
        store.outbox_list(None, 1000).await.unwrap().len(),
        kept_before,
        "a cut-off of 0 keeps every message"
    );
    store.prune(now_ms() + 1).await.unwrap();
    let left: Vec<i64> = store
        .outbox_list(None, 1000)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert!(!left.contains(&first), "a sent message is pruned");
    assert!(
        left.contains(&ids[0]) && left.contains(&ids[2]),
        "pending ones stay"
    );
    assert_eq!(
        store.kv_get("batch:1").await.unwrap().as_deref(),
        Some("uno")
    );
    store.kv_delete("token:wecom").await.unwrap();
    assert_eq!(store.kv_get("token:wecom").await.unwrap(), None);

    // First writer wins a claim until it expires; later claims see its value.
    let ttl = Duration::from_secs(60);
    assert_eq!(store.kv_claim("seen:a", "body1", ttl).await.unwrap(), None);
    assert_eq!(
        store
            .kv_claim("seen:a", "body2", ttl)
            .await
            .unwrap()
            .as_deref(),
        Some("body1")
    );
    assert_eq!(
        store
            .kv_claim("seen:a", "body1", ttl)
            .await
            .unwrap()
            .as_deref(),
        Some("body1")
    );
    assert_eq!(
        store.kv_get("seen:a").await.unwrap().as_deref(),
        Some("body1")
    );
    // An expired claim is taken over.
    store
        .kv_claim("seen:b", "old", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(store.kv_claim("seen:b", "new", ttl).await.unwrap(), None);
    assert_eq!(
        store.kv_get("seen:b").await.unwrap().as_deref(),
        Some("new")
    );

    // Quiz progress.
    for (topic, cov) in [("docker-cmd-vs-entrypoint", 0.5), ("k8s-probes", 1.0)] {
        store
            .quiz_record(QuizRecord {
                user: "wecom:alice".into(),
                topic: topic.into(),
                area: "docker".into(),
                coverage: cov,
                at: now_ms(),
            })
            .await
            .unwrap();
    }
    let h = store.quiz_history("wecom:alice").await.unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[1].topic, "k8s-probes");
    assert!(store.quiz_history("wecom:bob").await.unwrap().is_empty());
    store.ping().await.unwrap();
    store.flush().await.unwrap();
}

/// The question path: a read that claims nothing, then the record written after the reply
/// (many at once share a commit), which never overwrites a claim or another result.
async fn dedup_peek_and_record(store: &Arc<dyn Store>) {
    let ttl = Duration::from_secs(60);
    let lang = "lang:wecom:peeker".to_string();
    store.kv_set(&lang, "en", None).await.unwrap();
    let (state, values) = store
        .dedup_peek_with("wecom", "q-1", vec![lang.clone(), "kv:absent".into()])
        .await
        .unwrap();
    assert_eq!(state, DedupState::New);
    assert_eq!(values, vec![Some("en".to_string()), None]);
    let records = (0..20).map(|i| {
        store.dedup_record(DedupRecord {
            channel: "wecom".into(),
            msg_id: format!("q-{i}"),
            ttl,
            reply: Some(format!("{{\"r\":{i}}}")),
            kv: vec![(lang.clone(), "zh".into())],
        })
    });
    for r in futures::future::join_all(records).await {
        r.unwrap();
    }
    let (state, values) = store
        .dedup_peek_with("wecom", "q-3", vec![lang.clone()])
        .await
        .unwrap();
    assert_eq!(state, DedupState::Done(Some("{\"r\":3}".into())));
    assert_eq!(values, vec![Some("zh".to_string())]);
    // A claim sees the record, as a retry of the question would.
    assert_eq!(
        store.dedup_begin("wecom", "q-3", ttl, ttl).await.unwrap(),
        DedupState::Done(Some("{\"r\":3}".into()))
    );
    // A peek claims nothing; a record does not overwrite a claim, and a peek sees the claim.
    store
        .dedup_peek_with("wecom", "c-1", Vec::new())
        .await
        .unwrap();
    assert_eq!(
        store.dedup_begin("wecom", "c-1", ttl, ttl).await.unwrap(),
        DedupState::New
    );
    store
        .dedup_record(DedupRecord {
            channel: "wecom".into(),
            msg_id: "c-1".into(),
            ttl,
            reply: Some("question".into()),
            kv: Vec::new(),
        })
        .await
        .unwrap();
    let (state, _) = store
        .dedup_peek_with("wecom", "c-1", Vec::new())
        .await
        .unwrap();
    assert_eq!(state, DedupState::InProgress);
    store
        .dedup_finish("wecom", "c-1", Some("command"))
        .await
        .unwrap();
    let (state, _) = store
        .dedup_peek_with("wecom", "c-1", Vec::new())
        .await
        .unwrap();
    assert_eq!(state, DedupState::Done(Some("command".into())));

    // Many reads at once (PostgreSQL answers reads that meet in one statement): each gets
    // its own message's state and its own keys' values, in its own order.
    for i in 0..8 {
        let lang = if i % 2 == 0 { "zh" } else { "en" };
        store
            .kv_set(&format!("lang:wecom:many{i}"), lang, None)
            .await
            .unwrap();
    }
    let peeks = (0..60).map(|i| {
        let keys = vec![format!("kv:absent{i}"), format!("lang:wecom:many{}", i % 8)];
        let id = format!("q-{}", i % 25);
        async move { (i, store.dedup_peek_with("wecom", &id, keys).await.unwrap()) }
    });
    for (i, (state, values)) in futures::future::join_all(peeks).await {
        let n = i % 25;
        let want = if n < 20 {
            DedupState::Done(Some(format!("{{\"r\":{n}}}")))
        } else {
            DedupState::New
        };
        assert_eq!(state, want, "read {i}");
        let lang = if (i % 8) % 2 == 0 { "zh" } else { "en" };
        assert_eq!(values, vec![None, Some(lang.to_string())], "read {i}");
    }
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Arc::new(SqliteStore::open(dir.path()).unwrap())).await;
}

/// `url` (a `postgres://` URL, query and all) naming database `name` instead.
pub fn with_dbname(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("WEDOCK_TEST_PG_URL must be a postgres:// URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// A fresh database on the test server, dropped afterwards.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let Ok(admin_url) = std::env::var("WEDOCK_TEST_PG_URL") else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but WEDOCK_TEST_PG_URL is not set");
            }
            eprintln!("SKIPPED postgres store tests: set WEDOCK_TEST_PG_URL to run them");
            return None;
        };
        // Tests run on threads of one process: the counter keeps two created in the same
        // millisecond apart.
        static CREATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("wedock_t_{}_{}_{n}", std::process::id(), now_ms());
        // The URL may ask for TLS (sslmode=verify-full&sslrootcert=…): connect as the store does.
        let c = pg_connect(&admin_url, &PgOptions::default())
            .await
            .expect("connect to WEDOCK_TEST_PG_URL");
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = with_dbname(&admin_url, &name);
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }

    pub async fn drop_db(self) {
        let c = pg_connect(&self.admin_url, &PgOptions::default())
            .await
            .unwrap();
        let _ = c
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

#[tokio::test]
async fn postgres_store_conforms_and_migrations_are_idempotent() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    {
        let store = PostgresStore::open(&db.url).await.unwrap();
        conformance(Arc::new(store)).await;
        // Re-opening runs no migration twice and keeps the data.
        let again = PostgresStore::open(&db.url).await.unwrap();
        assert_eq!(
            again.kv_get("cursor:local").await.unwrap().as_deref(),
            Some("1700000001")
        );
    }
    // Two replicas opening a fresh database at once do not trip over each other.
    let db2 = PgDatabase::create().await.unwrap();
    let (a, b) = tokio::join!(PostgresStore::open(&db2.url), PostgresStore::open(&db2.url));
    a.unwrap();
    b.unwrap();
    db.drop_db().await;
    db2.drop_db().await;
}

#[tokio::test]
async fn postgres_dedup_holds_across_two_replicas() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let r1: Arc<dyn Store> = Arc::new(PostgresStore::open(&db.url).await.unwrap());
    let r2: Arc<dyn Store> = Arc::new(PostgresStore::open(&db.url).await.unwrap());
    let ttl = Duration::from_secs(60);
    let mut wins = 0;
    for i in 0..50 {
        let id = format!("msg-{i}");
        let (x, y) = tokio::join!(
            r1.dedup_begin("wechat_mp", &id, ttl, ttl),
            r2.dedup_begin("wechat_mp", &id, ttl, ttl)
        );
        wins += [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|s| **s == DedupState::New)
            .count();
    }
    assert_eq!(wins, 50, "each message is claimed by exactly one replica");
    // Seen-signature claims too: of two replicas claiming at once with different bodies,
    // exactly one wins and the other sees its value.
    for i in 0..50 {
        let key = format!("mp_signature:{i}");
        let (x, y) = tokio::join!(
            r1.kv_claim(&key, "from-r1", ttl),
            r2.kv_claim(&key, "from-r2", ttl)
        );
        match (x.unwrap(), y.unwrap()) {
            (None, Some(v)) => assert_eq!(v, "from-r1"),
            (Some(v), None) => assert_eq!(v, "from-r2"),
            other => panic!("claim {i}: {other:?}"),
        }
    }
    db.drop_db().await;
}

/// A question's read looks its keys up by primary key, whatever the kv table holds. Written
/// as one `key = ANY(…)` the planner scanned all of kv (one row per user's language: 500
/// users, 500 rows compared three times per message) and that scan was most of the server's
/// time under load. Counted by the server itself: kv's sequential scans, which a backend
/// reports when it exits (so the store is dropped before reading them).
#[tokio::test]
async fn postgres_question_reads_do_not_scan_kv() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let admin = pg_connect(&db.url, &PgOptions::default()).await.unwrap();
    {
        let filler = PostgresStore::open(&db.url).await.unwrap();
        for u in 0..500 {
            filler
                .kv_set(&format!("lang:wecom:user{u}"), "zh", None)
                .await
                .unwrap();
        }
    }
    admin
        .batch_execute("ANALYZE kv; ANALYZE dedup")
        .await
        .unwrap();
    other_backends_gone(&admin).await;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::open(&db.url).await.unwrap());
    let scans_before = kv_seq_scans(&admin).await;
    for i in 0..200 {
        let u = i % 500;
        let keys = vec![
            format!("lang:wecom:user{u}"),
            format!("confirm:wecom:user{u}"),
            format!("quiz:wecom:user{u}"),
        ];
        let (state, values) = store
            .dedup_peek_with("wecom", &format!("m{i}"), keys)
            .await
            .unwrap();
        assert_eq!(state, DedupState::New);
        assert_eq!(values, vec![Some("zh".to_string()), None, None], "peek {i}");
    }
    drop(store);
    other_backends_gone(&admin).await;
    let scans = kv_seq_scans(&admin).await - scans_before;
    assert_eq!(
        scans, 0,
        "200 question reads scanned the whole kv table {scans} times"
    );
    drop(admin);
    db.drop_db().await;
}

/// Waits until only `c`'s own backend is left on its database: a store's connections close in
/// the background, and their counts arrive as they exit.
async fn other_backends_gone(c: &tokio_postgres::Client) {
    for _ in 0..100 {
        let open: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn kv_seq_scans(c: &tokio_postgres::Client) -> i64 {
    c.batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    c.query_one(
        "SELECT coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'kv'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// Questions' reads share one connection; when the server ends it (a restart, an
/// administrator terminating backends), the reads in flight on it and the ones after are
/// still answered, on a new connection.
#[tokio::test]
async fn postgres_question_reads_survive_the_server_ending_their_connection() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(PostgresStore::open(&db.url).await.unwrap());
    store.kv_set("lang:wecom:u", "en", None).await.unwrap();
    let admin = pg_connect(&db.url, &PgOptions::default()).await.unwrap();
    let peek_all = |round: usize| {
        let store = store.clone();
        async move {
            let reads = (0..20).map(|i| {
                let store = store.clone();
                async move {
                    store
                        .dedup_peek_with(
                            "wecom",
                            &format!("r{round}-{i}"),
                            vec!["lang:wecom:u".into(), "confirm:wecom:u".into()],
                        )
                        .await
                }
            });
            futures::future::join_all(reads).await
        }
    };
    for r in peek_all(0).await {
        assert_eq!(r.unwrap().1, vec![Some("en".into()), None]);
    }
    for round in 1..4 {
        let ended: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            ended >= 1,
            "round {round}: the store's connections were ended"
        );
        for (i, r) in peek_all(round).await.into_iter().enumerate() {
            let (state, values) = r.unwrap_or_else(|e| panic!("round {round}, read {i}: {e}"));
            assert_eq!(state, DedupState::New);
            assert_eq!(values, vec![Some("en".into()), None]);
        }
    }
    drop(admin);
    drop(store);
    db.drop_db().await;
}
