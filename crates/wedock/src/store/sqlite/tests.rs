//! The SQLite store's own behaviour: grouped writes, concurrent claims, reopening.

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

/// The OS threads of this process whose name starts with `prefix` (names are cut at 15 bytes).
fn threads_named(prefix: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Reads that find every connection busy wait for one as tasks: at most one blocking thread per
/// connection waits in SQLite's stead, not one per read (a load that repeated messages ran 36
/// threads instead of 13, each keeping its stack and allocator pages).
#[test]
fn reads_waiting_for_a_connection_take_no_thread_each() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("skipped: needs /proc to count threads");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wdk-read-slots")
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(SqliteStore::open(dir.path()).unwrap());
    rt.block_on(s.kv_set("k", "v", None)).unwrap();
    // Every read connection busy, as under a long read.
    let held: Vec<_> = s.readers.iter().map(|r| r.lock().unwrap()).collect();
    let reads: Vec<_> = (0..32)
        .map(|_| {
            let s = s.clone();
            rt.spawn(async move { s.kv_get("k").await })
        })
        .collect();
    // Long enough for each read to have taken a blocking thread, had it been given one.
    std::thread::sleep(Duration::from_millis(300));
    let blocking = threads_named("wdk-read-slots").saturating_sub(2);
    drop(held);
    for r in reads {
        let v = rt.block_on(r).unwrap().unwrap();
        assert_eq!(v.as_deref(), Some("v"));
    }
    assert!(
        blocking <= READERS,
        "{blocking} blocking threads waited for {READERS} connections"
    );
}
