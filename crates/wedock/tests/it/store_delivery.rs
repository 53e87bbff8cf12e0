//! The leader-only delivery state on both stores: lease epochs (fencing tokens) that a store
//! checks on every leader-only write, and the durable per-target send log the rate budget is
//! computed from.

use crate::store::PgDatabase;
use std::sync::Arc;
use std::time::Duration;
use wedock::store::{
    Claim, Fence, NewOutboxMessage, OutboxStatus, PostgresStore, Settle, SqliteStore, Store,
    StoreError, now_ms,
};

fn robot_msg(payload: &str) -> NewOutboxMessage {
    NewOutboxMessage {
        channel: "robot".into(),
        target: "ops".into(),
        payload: payload.into(),
        dedup_key: None,
    }
}

async fn take(store: &Arc<dyn Store>, holder: &str, ttl: Duration) -> Fence {
    let epoch = store
        .lease_acquire("leader", holder, ttl)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{holder} takes the lease"));
    Fence {
        lease: "leader".into(),
        holder: holder.into(),
        epoch,
    }
}

fn fenced<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Fenced(_)))
}

async fn delivery_conformance(store: Arc<dyn Store>) {
    // Epochs: a renewal keeps it, a takeover after expiry raises it, a release keeps the
    // row so the next epoch is higher still.
    let a = take(&store, "a", Duration::from_millis(300)).await;
    assert_eq!(take(&store, "a", Duration::from_millis(300)).await, a);
    assert_eq!(
        store
            .lease_acquire("leader", "b", Duration::from_secs(5))
            .await
            .unwrap(),
        None,
        "a held lease is not taken"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = take(&store, "b", Duration::from_secs(5)).await;
    assert!(b.epoch > a.epoch);

    // A stale fence can neither claim, settle nor move a cursor.
    let id = store.outbox_enqueue(robot_msg("m1")).await.unwrap();
    let now = now_ms();
    assert!(fenced(store.outbox_claim(&a, id, Some(2), now).await));
    let done = Settle::Finish {
        status: OutboxStatus::Sent,
        note: None,
    };
    assert!(fenced(store.outbox_settle(&a, id, done.clone()).await));
    assert!(fenced(
        store.kv_set_fenced(&a, "alerts:cursor:h", "7").await
    ));
    assert_eq!(store.kv_get("alerts:cursor:h").await.unwrap(), None);
    assert_eq!(
        store.outbox_sends_since("robot", "ops", 0).await.unwrap(),
        0
    );

    // The current fence claims within the window, and the window holds across "processes":
    // the log is all there is.
    assert_eq!(
        store.outbox_claim(&b, id, Some(2), now).await.unwrap(),
        Claim::Go
    );
    store.outbox_settle(&b, id, done.clone()).await.unwrap();
    assert_eq!(
        store.outbox_claim(&b, id, Some(2), now).await.unwrap(),
        Claim::Gone
    );
    let id2 = store.outbox_enqueue(robot_msg("m2")).await.unwrap();
    assert_eq!(
        store
            .outbox_claim(&b, id2, Some(2), now + 10)
            .await
            .unwrap(),
        Claim::Go
    );
    let id3 = store.outbox_enqueue(robot_msg("m3")).await.unwrap();
    assert_eq!(
        store
            .outbox_claim(&b, id3, Some(2), now + 20)
            .await
            .unwrap(),
        Claim::WaitUntil(now + wedock::store::SEND_WINDOW_MS),
        "the third send waits until the first leaves the window"
    );
    assert_eq!(
        store
            .outbox_sends_since("robot", "ops", now - 1)
            .await
            .unwrap(),
        2
    );
    // A claimed attempt counts at once (a digest never folds it).
    let m2 = store.outbox_pending_for("robot", "ops").await.unwrap();
    assert_eq!(m2.iter().find(|m| m.id == id2).unwrap().attempts, 1);
    // A retry keeps the message at the head of its target.
    store
        .outbox_settle(
            &b,
            id2,
            Settle::RetryAt {
                error: "45009 api freq out of limit".into(),
                at: now + 120_000,
            },
        )
        .await
        .unwrap();
    assert!(store.outbox_due(now + 60_001, 10).await.unwrap().is_empty());
    // Without a limit the log is not needed, the fence still is.
    assert_eq!(
        store.outbox_claim(&b, id3, None, now_ms()).await.unwrap(),
        Claim::Go
    );
    store
        .kv_set_fenced(&b, "alerts:cursor:h", "8")
        .await
        .unwrap();
    assert_eq!(
        store.kv_get("alerts:cursor:h").await.unwrap().as_deref(),
        Some("8")
    );

    // A clean release: the next holder (even the same one) gets a new epoch; the released
    // fence is stale.
    store.lease_release("leader", "b").await.unwrap();
    assert!(fenced(
        store.kv_set_fenced(&b, "alerts:cursor:h", "9").await
    ));
    let b2 = take(&store, "b", Duration::from_secs(5)).await;
    assert!(b2.epoch > b.epoch);
}

#[tokio::test]
async fn sqlite_fences_leader_writes_and_keeps_the_send_log() {
    let dir = tempfile::tempdir().unwrap();
    delivery_conformance(Arc::new(SqliteStore::open(dir.path()).unwrap())).await;
}

#[tokio::test]
async fn postgres_fences_leader_writes_and_keeps_the_send_log() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    delivery_conformance(Arc::new(PostgresStore::open(&db.url).await.unwrap())).await;
    db.drop_db().await;
}

/// A watcher's alerts and its bookkeeping are one transaction: both land, a stale fence
/// refuses both, a replayed batch adds no row and moves the bookkeeping on.
async fn state_conformance(store: Arc<dyn Store>) {
    let keyed = |p: &str| NewOutboxMessage {
        dedup_key: Some(format!("alert:{p}")),
        ..robot_msg(p)
    };
    let a = take(&store, "a", Duration::from_secs(30)).await;
    let ids = store
        .outbox_enqueue_with_state(
            Some(&a),
            vec![keyed("one"), keyed("two")],
            vec![
                ("alerts:cursor:h".into(), "5".into()),
                ("alerts:k8s:active:prod".into(), "[\"x\"]".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(store.outbox_counts().await.unwrap().pending, 2);
    assert_eq!(
        store.kv_get("alerts:cursor:h").await.unwrap().as_deref(),
        Some("5")
    );
    assert_eq!(
        store
            .kv_get("alerts:k8s:active:prod")
            .await
            .unwrap()
            .as_deref(),
        Some("[\"x\"]")
    );
    // The same batch again (a replay): the rows are found by their keys, the cursor moves.
    let again = store
        .outbox_enqueue_with_state(
            Some(&a),
            vec![keyed("one"), keyed("two")],
            vec![("alerts:cursor:h".into(), "6".into())],
        )
        .await
        .unwrap();
    assert_eq!(again, ids);
    assert_eq!(store.outbox_counts().await.unwrap().pending, 2);
    assert_eq!(
        store.kv_get("alerts:cursor:h").await.unwrap().as_deref(),
        Some("6")
    );

    // Another replica took over: the old leader's batch is refused as a whole.
    store.lease_release("leader", "a").await.unwrap();
    let b = take(&store, "b", Duration::from_secs(30)).await;
    assert!(fenced(
        store
            .outbox_enqueue_with_state(
                Some(&a),
                vec![keyed("three")],
                vec![("alerts:cursor:h".into(), "7".into())],
            )
            .await
    ));
    assert_eq!(store.outbox_counts().await.unwrap().pending, 2);
    assert_eq!(
        store.kv_get("alerts:cursor:h").await.unwrap().as_deref(),
        Some("6")
    );
    // The bookkeeping alone (a batch that queued nothing) is fenced too.
    assert!(fenced(
        store
            .outbox_enqueue_with_state(
                Some(&a),
                Vec::new(),
                vec![("alerts:cursor:h".into(), "8".into())]
            )
            .await
    ));
    // The new leader writes; without a campaign (no fence) the write is plain.
    store
        .outbox_enqueue_with_state(
            Some(&b),
            vec![keyed("three")],
            vec![("alerts:cursor:h".into(), "9".into())],
        )
        .await
        .unwrap();
    store
        .outbox_enqueue_with_state(None, Vec::new(), vec![("solo".into(), "1".into())])
        .await
        .unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().pending, 3);
    assert_eq!(
        store.kv_get("alerts:cursor:h").await.unwrap().as_deref(),
        Some("9")
    );
    assert_eq!(store.kv_get("solo").await.unwrap().as_deref(), Some("1"));
}

#[tokio::test]
async fn sqlite_commits_alerts_and_watcher_state_together() {
    let dir = tempfile::tempdir().unwrap();
    state_conformance(Arc::new(SqliteStore::open(dir.path()).unwrap())).await;
}

#[tokio::test]
async fn postgres_commits_alerts_and_watcher_state_together() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    state_conformance(Arc::new(PostgresStore::open(&db.url).await.unwrap())).await;
    db.drop_db().await;
}
