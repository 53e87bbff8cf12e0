//! Alert records in both stores: one open record per fingerprint, a resolution closes it and
//! the next firing opens a new one; acknowledging is first-writer-wins, also between two
//! PostgreSQL replicas; silences are marked and found by their id.

use crate::store::PgDatabase;
use std::sync::Arc;
use wedock::store::incidents::{AckOutcome, AlertObservation, SilenceMark};
use wedock::store::{IncidentStore, PostgresStore, SqliteStore, Store, now_ms};

fn obs(fp: &str, firing: bool) -> AlertObservation {
    AlertObservation {
        fingerprint: fp.into(),
        source: "docker".into(),
        subject: "api-3".into(),
        severity: "critical".into(),
        host: Some("local".into()),
        place: None,
        cause: firing.then(|| "exit 137".to_string()),
        labels: r#"{"team":"pay"}"#.into(),
        matchers: "{}".into(),
        group_key: String::new(),
        firing,
        at: now_ms(),
    }
}

async fn conformance(store: Arc<dyn Store>) {
    let first = store
        .alert_observe(vec![obs("fp-a", true), obs("fp-b", true)])
        .await
        .unwrap();
    let a = first[0].clone().expect("a record");
    let b = first[1].clone().expect("a record");
    assert_ne!(a.id, b.id);
    assert!(a.is_firing() && a.acked_by.is_none());
    // The same problem again refreshes the open record, same id; a resolution without an
    // open record is nothing.
    let again = store
        .alert_observe(vec![obs("fp-a", true), obs("fp-none", false)])
        .await
        .unwrap();
    assert_eq!(again[0].as_ref().map(|r| r.id), Some(a.id));
    assert_eq!(again[1], None);

    match store.alert_ack(a.id, "wecom:op1", 1000).await.unwrap() {
        AckOutcome::Acked(r) => assert_eq!(r.acked_by.as_deref(), Some("wecom:op1")),
        other => panic!("{other:?}"),
    }
    match store.alert_ack(a.id, "wecom:op2", 2000).await.unwrap() {
        AckOutcome::Already(r) => {
            assert_eq!(r.acked_by.as_deref(), Some("wecom:op1"));
            assert_eq!(r.acked_at, Some(1000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.alert_ack(999_999, "wecom:op1", 1).await.unwrap(),
        AckOutcome::NotFound
    );

    let until = now_ms() + 3_600_000;
    let marked = store
        .alert_silence(
            vec![a.id, b.id],
            Some(SilenceMark {
                by: "wecom:op1".into(),
                until,
                silence_id: "m0abc".into(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(marked.len(), 2);
    assert!(marked.iter().all(|r| r.silenced_at(now_ms())));
    let by_id = store.alert_by_silence("m0abc").await.unwrap();
    assert_eq!(
        by_id.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    store.alert_silence(vec![b.id], None).await.unwrap();
    assert_eq!(store.alert_by_silence("m0abc").await.unwrap().len(), 1);

    // Resolution closes the record and keeps its history; the next firing is a new record.
    let closed = store.alert_observe(vec![obs("fp-a", false)]).await.unwrap();
    let closed = closed[0].clone().expect("closed record");
    assert_eq!(closed.id, a.id);
    assert!(!closed.is_firing());
    assert_eq!(closed.acked_by.as_deref(), Some("wecom:op1"));
    assert_eq!(closed.cause.as_deref(), Some("exit 137"));
    let reopened = store.alert_observe(vec![obs("fp-a", true)]).await.unwrap();
    let reopened = reopened[0].clone().unwrap();
    assert!(reopened.id > b.id && reopened.acked_by.is_none());

    let recent = store.alert_recent(10).await.unwrap();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0].id, reopened.id, "newest first");
    assert_eq!(store.alert_get(a.id).await.unwrap(), Some(closed));
}

#[tokio::test]
async fn sqlite_alert_records_conform_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Arc::new(SqliteStore::open(dir.path()).unwrap())).await;
    let again = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(again.alert_recent(10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn postgres_alert_records_conform_and_one_replica_wins_each_ack() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let r1: Arc<dyn Store> = Arc::new(PostgresStore::open(&db.url).await.unwrap());
    conformance(r1.clone()).await;
    let r2: Arc<dyn Store> = Arc::new(PostgresStore::open(&db.url).await.unwrap());
    let mut won = 0;
    for i in 0..30 {
        let rec = r1
            .alert_observe(vec![obs(&format!("race-{i}"), true)])
            .await
            .unwrap()[0]
            .clone()
            .unwrap();
        let (x, y) = tokio::join!(
            r1.alert_ack(rec.id, "wecom:a", 1),
            r2.alert_ack(rec.id, "wecom:b", 2)
        );
        won += [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|o| matches!(o, AckOutcome::Acked(_)))
            .count();
    }
    assert_eq!(won, 30, "each alert is acknowledged exactly once");
    db.drop_db().await;
}
