//! Alerts end to end against the fake group robot: errcode handling, Alertmanager and hook
//! receivers, mutes and `/alerts` from chat, and digest folding under the rate limit.

use crate::support::TestServer;
use crate::support::fake_robot::FakeRobot;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use wedock::alert::{Alert, Engine, Severity};
use wedock::config::Config;
use wedock::outbox::Outbox;

const WAIT: Duration = Duration::from_secs(15);

pub fn config(fake: &FakeRobot, alerts_extra: &str, tail: &str) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    format!(
        r#"
[docker]
enabled = false

[api]
robot_base = "{base}"

[outbox]
initial_backoff_ms = 20
max_backoff_ms = 200

[[wecom.robots]]
name = "ops"
key = "K-ops"

[[wecom.robots]]
name = "bad"
key = "K-bad"
format = "text"

[alerts]
lang = "en"
rate_limited_retry_ms = 50
alertmanager_token = "amtoken"
alertmanager_basic_user = "am"
alertmanager_basic_password = "ampass"
{alerts_extra}

[alerts.hooks.ci]
token = "hooktoken"
targets = ["ops"]

[alerts.hooks.broken]
token = "hooktoken"
targets = ["bad"]
{tail}
"#,
        base = fake.base()
    )
}

async fn post(s: &TestServer, path: &str, auth: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(s.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.expect("request");
    let code = r.status().as_u16();
    let v = r.json().await.unwrap_or(Value::Null);
    (code, v)
}

async fn hook(s: &TestServer, name: &str, body: Value) -> (u16, Value) {
    post(
        s,
        &format!("/hooks/{name}"),
        Some("Bearer hooktoken"),
        &body.to_string(),
    )
    .await
}

async fn chat_text(s: &TestServer, text: &str) -> String {
    s.chat(text).await["reply"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let end = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < end {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn robot_errcodes_retry_break_and_dead_letter() {
    let fake = FakeRobot::start().await;
    fake.inject("K-ops", 45009, "api freq out of limit");
    let s = TestServer::start(&config(&fake, "", "")).await;

    // 45009: waits and retries, then delivers.
    let (code, v) = hook(&s, "ci", json!({"text": "deploy finished", "id": "d1"})).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["messages"], 1);
    assert!(
        fake.wait_for("K-ops", WAIT, |p| p
            .iter()
            .any(|p| p.content.contains("deploy finished")))
            .await
    );
    assert_eq!(fake.answers("K-ops"), vec![45009, 0]);
    assert_eq!(fake.posts("K-ops")[0].msgtype, "markdown");

    // 93000: the robot is marked broken and reported; later messages are not posted.
    fake.invalidate("K-bad");
    assert_eq!(hook(&s, "broken", json!({"text": "first"})).await.0, 200);
    eventually("robot:bad reported broken", async || {
        let r: Value = s.readyz().await;
        r["components"]["robot:bad"]["ready"] == false
            && r["components"]["robot:bad"]["detail"]
                .as_str()
                .unwrap_or("")
                .contains("93000")
    })
    .await;
    assert_eq!(hook(&s, "broken", json!({"text": "second"})).await.0, 200);
    eventually("both dead-lettered", async || {
        let t = chat_text(&s, "/outbox --dead").await;
        t.matches("bad").count() >= 2 && t.contains("marked broken")
    })
    .await;
    assert_eq!(fake.answers("K-bad"), vec![93000]);

    // Any other errcode: dead-lettered with errcode and errmsg.
    fake.inject("K-ops", 40008, "invalid message type");
    assert_eq!(hook(&s, "ci", json!({"text": "odd one"})).await.0, 200);
    eventually("40008 dead-lettered", async || {
        chat_text(&s, "/outbox --dead")
            .await
            .contains("errcode 40008: invalid message type")
    })
    .await;

    // /alerts lists what was sent and how it went.
    let t = chat_text(&s, "/alerts").await;
    assert!(t.contains("deploy finished") || t.contains("ci"), "{t}");
    assert!(t.contains("sent") && t.contains("dead"), "{t}");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn hook_and_alertmanager_auth_and_bad_payloads() {
    let fake = FakeRobot::start().await;
    let s = TestServer::start(&config(&fake, "", "")).await;
    let (code, _) = post(&s, "/hooks/ci", Some("Bearer nope"), r#"{"text":"x"}"#).await;
    assert_eq!(code, 401);
    let (code, v) = hook(&s, "ci", json!({"txt": "x"})).await;
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("txt"), "{v}");
    let (code, _) = hook(&s, "nope", json!({"text": "x"})).await;
    assert_eq!(code, 404);
    // Token in the query string works too.
    let (code, _) = post(
        &s,
        "/hooks/ci?token=hooktoken",
        None,
        r#"{"text":"via query"}"#,
    )
    .await;
    assert_eq!(code, 200);

    let (code, _) = post(&s, "/alertmanager", None, "{}").await;
    assert_eq!(code, 401);
    let (code, _) = post(&s, "/alertmanager", Some("Bearer wrong"), "{}").await;
    assert_eq!(code, 401);
    let (code, v) = post(&s, "/alertmanager", Some("Bearer amtoken"), "{not json").await;
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("invalid JSON"), "{v}");
    let (code, v) = post(
        &s,
        "/alertmanager",
        Some("Basic YW06YW1wYXNz"), // am:ampass
        r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"severity":"critical"}}]}"#,
    )
    .await;
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("alertname"), "{v}");
    s.stop().await.unwrap();
}

fn am_payload(status: &str, alerts: &[(&str, &str)]) -> String {
    let list: Vec<Value> = alerts
        .iter()
        .map(|(name, instance)| {
            json!({
                "status": status,
                "labels": {"alertname": name, "instance": instance, "severity": "critical", "job": "node"},
                "annotations": {"summary": format!("{name} on {instance}")},
                "startsAt": "2026-11-25T10:00:00Z",
                "endsAt": if status == "resolved" { "2026-11-25T10:05:00Z" } else { "0001-01-01T00:00:00Z" },
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": format!("fp-{name}-{instance}"),
            })
        })
        .collect();
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"HighLoad\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "wedock",
        "groupLabels": {"alertname": "HighLoad"},
        "commonLabels": {"alertname": "HighLoad"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list,
    })
    .to_string()
}

#[tokio::test]
async fn alertmanager_firing_grouped_and_resolved_reach_the_robot() {
    let fake = FakeRobot::start().await;
    let s = TestServer::start(&config(&fake, "", "")).await;
    let (code, v) = post(
        &s,
        "/alertmanager",
        Some("Bearer amtoken"),
        &am_payload(
            "firing",
            &[("HighLoad", "node-a:9100"), ("HighLoad", "node-b:9100")],
        ),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    // One group → one message per robot, listing both.
    assert_eq!(v["messages"], 2, "{v}");
    assert!(fake.wait_for("K-ops", WAIT, |p| !p.is_empty()).await);
    let first = &fake.posts("K-ops")[0].content;
    assert!(
        first.contains("node-a:9100") && first.contains("node-b:9100"),
        "{first}"
    );
    assert!(
        first.contains("🔴") && first.contains("HighLoad on node-a"),
        "{first}"
    );
    assert!(fake.wait_for("K-bad", WAIT, |p| !p.is_empty()).await);
    assert_eq!(fake.posts("K-bad")[0].msgtype, "text");
    assert!(!fake.posts("K-bad")[0].content.contains("<font"));

    // The same firing again within the dedup window is not repeated.
    let (_, v) = post(
        &s,
        "/alertmanager",
        Some("Bearer amtoken"),
        &am_payload("firing", &[("HighLoad", "node-a:9100")]),
    )
    .await;
    assert_eq!(v["messages"], 0, "{v}");
    assert_eq!(v["suppressed"], 1, "{v}");

    let (code, v) = post(
        &s,
        "/alertmanager",
        Some("Bearer amtoken"),
        &am_payload("resolved", &[("HighLoad", "node-a:9100")]),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["messages"], 2, "{v}");
    assert!(
        fake.wait_for("K-ops", WAIT, |p| p.len() == 2
            && p[1].content.contains("✅"))
            .await
    );
    assert!(
        fake.posts("K-ops")[1]
            .content
            .contains("Resolved: HighLoad")
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn a_still_firing_alert_is_repeated_after_the_route_interval() {
    let fake = FakeRobot::start().await;
    let tail = r#"
[[alerts.routes]]
name = "reminders"
targets = ["ops"]
repeat_interval = "1s"
"#;
    let s = TestServer::start(&config(&fake, "", tail)).await;
    let firing = am_payload("firing", &[("DiskFull", "node-c:9100")]);
    let (_, v) = post(&s, "/alertmanager", Some("Bearer amtoken"), &firing).await;
    assert_eq!(v["messages"], 1, "{v}");
    // Alertmanager resends the same group (same startsAt) on its own repeat interval.
    let (_, v) = post(&s, "/alertmanager", Some("Bearer amtoken"), &firing).await;
    assert_eq!(v["suppressed"], 1, "within the interval: {v}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, v) = post(&s, "/alertmanager", Some("Bearer amtoken"), &firing).await;
    assert_eq!(v["messages"], 1, "{v}");
    assert!(
        fake.wait_for("K-ops", WAIT, |p| p
            .iter()
            .filter(|p| p.content.contains("node-c:9100"))
            .count()
            == 2)
            .await,
        "the reminder must reach the group, not be taken for a replay: {}",
        fake.text("K-ops")
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn mutes_from_chat_silence_matching_alerts() {
    let fake = FakeRobot::start().await;
    // A route that sends hook alerts through the routes (no direct targets).
    let tail = r#"
[alerts.hooks.open]
token = "hooktoken"
"#;
    let s = TestServer::start(&config(&fake, "", tail)).await;
    let t = chat_text(&s, "/mute api-* 30m").await;
    assert!(t.contains("api-*") && t.contains("/unmute m"), "{t}");
    let id = t.split("/unmute ").nth(1).unwrap().trim().to_string();
    let list = chat_text(&s, "/mutes").await;
    // Who muted and until when.
    assert!(
        list.contains(&id) && list.contains("admin") && list.contains(':'),
        "{list}"
    );
    let (_, v) = hook(&s, "open", json!({"text": "boom", "title": "api-7"})).await;
    assert_eq!(
        (v["messages"].as_u64(), v["suppressed"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );
    let (_, v) = hook(&s, "open", json!({"text": "boom", "title": "db-1"})).await;
    assert_eq!(v["messages"], 2, "{v}");
    let t = chat_text(&s, "/unmute nope").await;
    assert!(t.contains("No mute") || t.contains("没有编号"), "{t}");
    let t = chat_text(&s, &format!("/unmute {id}")).await;
    assert!(t.contains("removed") || t.contains("已取消"), "{t}");
    let (_, v) = hook(&s, "open", json!({"text": "boom again", "title": "api-7"})).await;
    assert_eq!(v["messages"], 2, "{v}");
    let t = chat_text(&s, "/mutes").await;
    assert!(
        t.contains("Nothing is muted") || t.contains("没有静音"),
        "{t}"
    );
    // Bad durations get a clear answer.
    let t = chat_text(&s, "/mute api forever").await;
    assert!(t.contains("duration") || t.contains("时长"), "{t}");
    s.stop().await.unwrap();
}

pub fn die(name: &str, project: &str, seq: usize) -> Alert {
    let mut a = Alert::new(
        "docker",
        "die",
        Severity::Critical,
        format!("test|{name}|{seq}"),
    );
    a.host = Some("local".into());
    a.container = Some(name.into());
    a.project = Some(project.into());
    a.exit_code = Some(1);
    a.fingerprint = format!("docker|local|{name}|down");
    a.group_key = format!("docker|local|{project}|die");
    a.logs = Some("starting\npanic: cannot connect to db\n".into());
    a
}

/// An engine and outbox on a store in `dir`, with the robot sender pointing at `fake`.
pub async fn engine(
    fake: &FakeRobot,
    dir: &std::path::Path,
    extra: &str,
) -> (Arc<Engine>, Arc<Outbox>) {
    let p = dir.join("wedock.toml");
    std::fs::write(&p, config(fake, extra, "")).unwrap();
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.join("data").display()),
    )];
    let cfg = Config::load(Some(&p), env).unwrap();
    let app = wedock::cli::build_app(cfg).await.unwrap();
    let mut outbox = Outbox::new(app.store.clone(), app.config.outbox.clone());
    wedock::channel::register_senders(&app, &mut outbox);
    let outbox = Arc::new(outbox);
    (Arc::new(Engine::new(app, outbox.clone())), outbox)
}

#[tokio::test]
async fn burst_of_200_deaths_fits_the_robot_budget_and_mentions_all() {
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, outbox) = engine(&fake, dir.path(), "").await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let leader = wedock::leader::Leader::solo(engine.app.store.clone()).await;
    let worker = tokio::spawn(outbox.clone().run(leader, async move {
        let _ = stop_rx.await;
    }));
    // 200 deaths, each its own event (no grouping window), while the worker is sending.
    for i in 0..200 {
        engine
            .submit(vec![die(
                &format!("burst-{i:03}"),
                &format!("p{}", i % 7),
                i,
            )])
            .await
            .unwrap();
    }
    let all = |posts: &[crate::support::fake_robot::Post]| {
        let text: String = posts.iter().map(|p| p.content.as_str()).collect();
        (0..200).all(|i| text.contains(&format!("burst-{i:03} ")))
    };
    // The budget: 20 messages per minute; what does not fit waits in a digest for the
    // next minute instead of being dropped.
    assert!(
        fake.wait_for("K-ops", Duration::from_secs(80), all).await,
        "not all mentioned: {} posts",
        fake.posts("K-ops").len()
    );
    let posts = fake.posts("K-ops");
    for (i, p) in posts.iter().enumerate() {
        let in_window = posts[i..]
            .iter()
            .filter(|q| q.at.duration_since(p.at) < Duration::from_secs(60))
            .count();
        assert!(in_window <= 20, "{in_window} messages within a minute");
    }
    assert!(posts.len() <= 30, "{} messages", posts.len());
    // At the minute boundary the platform's window may close a moment after ours: a 45009
    // then is retried, never dropped.
    let c = engine.app.store.outbox_counts().await.unwrap();
    assert_eq!(c.dead, 0, "{c:?}");
    assert!(posts.iter().all(|p| p.content.len() <= 4096));
    assert!(
        posts.iter().any(|p| p.content.contains("Alert digest")),
        "expected a digest"
    );
    // The text robot got the same 200, within its 2048-byte limit.
    assert!(fake.wait_for("K-bad", Duration::from_secs(10), all).await);
    assert!(fake.posts("K-bad").len() <= 30);
    assert!(fake.posts("K-bad").iter().all(|p| p.content.len() <= 2048));
    let _ = stop_tx.send(());
    worker.await.unwrap();
}

#[tokio::test]
async fn deaths_of_one_project_in_one_batch_are_one_message() {
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, outbox) = engine(&fake, dir.path(), "").await;
    let batch: Vec<Alert> = (0..30)
        .map(|i| die(&format!("shop-{i:02}"), "shop", i))
        .collect();
    let done = engine.submit(batch).await.unwrap();
    assert_eq!(done.messages, 2); // one per robot
    let leader = wedock::leader::Leader::solo(engine.app.store.clone()).await;
    outbox.tick(&leader).await.unwrap();
    assert!(fake.wait_for("K-ops", WAIT, |p| !p.is_empty()).await);
    let posts = fake.posts("K-ops");
    assert_eq!(posts.len(), 1);
    assert!(
        posts[0].content.contains("30 in shop"),
        "{}",
        posts[0].content
    );
    assert!((0..30).all(|i| posts[0].content.contains(&format!("shop-{i:02}"))));
    // Replaying the same events after a restart (fresh engine, a source that crashed before
    // saving its cursor) adds no outbox rows: the dedup key is derived from the events.
    let fresh = Engine::new(engine.app.clone(), outbox.clone());
    let again: Vec<Alert> = (0..30)
        .map(|i| die(&format!("shop-{i:02}"), "shop", i))
        .collect();
    fresh.submit(again).await.unwrap();
    let c = engine.app.store.outbox_counts().await.unwrap();
    assert_eq!(c.pending + c.sent, 2, "{c:?}");
}

#[tokio::test]
async fn concurrent_webhook_submissions_are_written_together_but_never_merged() {
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _outbox) = engine(&fake, dir.path(), "").await;
    // Five requests whose alerts share a group (one project) and a sixth repeating the first:
    // written together, each request still gets its own message per robot and its own counts.
    let mut calls = Vec::new();
    for i in [0usize, 1, 2, 3, 4, 0] {
        let engine = engine.clone();
        calls.push(tokio::spawn(async move {
            let a = die(&format!("shop-{i}"), "shop", i);
            engine.submit_coalesced(vec![a]).await.unwrap()
        }));
    }
    let mut done = Vec::new();
    for c in calls {
        done.push(c.await.unwrap());
    }
    let repeats: Vec<_> = done.iter().filter(|d| d.suppressed == 1).collect();
    assert_eq!(repeats.len(), 1, "the repeat is suppressed once: {done:?}");
    assert_eq!(repeats[0].messages, 0, "{done:?}");
    let sent: Vec<_> = done.iter().filter(|d| d.suppressed == 0).collect();
    assert_eq!(sent.len(), 5, "{done:?}");
    assert!(
        sent.iter().all(|d| d.messages == 2),
        "one per robot: {done:?}"
    );
    let c = engine.app.store.outbox_counts().await.unwrap();
    assert_eq!(c.pending, 10, "{c:?}");
    // The same, certainly written together: one call with six submissions.
    let dir = tempfile::tempdir().unwrap();
    let (together, _outbox) = self::engine(&fake, dir.path(), "").await;
    let segments = [0usize, 1, 2, 3, 4, 0]
        .map(|i| vec![die(&format!("shop-{i}"), "shop", i)])
        .to_vec();
    let done = together.submit_many(segments, Vec::new()).await.unwrap();
    let counts: Vec<(usize, usize)> = done.iter().map(|d| (d.messages, d.suppressed)).collect();
    assert_eq!(counts, [(2, 0), (2, 0), (2, 0), (2, 0), (2, 0), (0, 1)]);
    let c = together.app.store.outbox_counts().await.unwrap();
    assert_eq!(c.pending, 10, "one message per submission and robot: {c:?}");
}
