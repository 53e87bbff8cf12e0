//! The HTTP server: health, readiness, metrics, the console endpoint, limits, shutdown.

use crate::support::TestServer;
use reqwest::StatusCode;

#[tokio::test]
async fn health_ready_and_metrics() {
    let s = TestServer::start("").await;
    let c = s.client();
    let h = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    let r = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(body["components"]["store"]["ready"], true);

    // A message goes through the pipeline and shows up in the metrics.
    let reply = s.chat("/ping").await;
    assert_eq!(reply["kind"], "command");
    let m = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("wedock_messages_total"), "{m}");
    assert!(m.contains("wedock_reply_seconds"), "{m}");
    assert!(m.contains("wedock_outbox_depth"), "{m}");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn console_page_is_served_and_chat_uses_the_pipeline() {
    let s = TestServer::start("").await;
    let page = s
        .client()
        .get(s.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<form") && page.contains("api/chat"));
    let who = s.chat("/whoami").await;
    // Loopback console users act as the configured local user.
    assert!(who["reply"].as_str().unwrap().contains("admin"), "{who}");
    let hello = s.chat("你好").await;
    assert_eq!(hello["kind"], "answer");
    assert!(hello["reply"].as_str().unwrap().contains("wedock"));
}

#[tokio::test]
async fn oversize_and_malformed_bodies_are_rejected_cleanly() {
    let s = TestServer::start("").await;
    let c = s.client();
    // 1 MB message: over the body limit → 413, server keeps running.
    let big = "a".repeat(1024 * 1024);
    let r = c
        .post(s.url("/api/chat"))
        .json(&serde_json::json!({ "text": big }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Non-UTF-8 bytes → 400 with a reason.
    let r = c
        .post(s.url("/api/chat"))
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().is_some());
    // A long but accepted body with an over-long message gets a clear reply, not an error page.
    let long = "容".repeat(10_000);
    let reply = s.chat(&long).await;
    assert_eq!(reply["kind"], "error");
    assert!(reply["reply"].as_str().unwrap().contains("16384"));
    // Still healthy afterwards.
    assert_eq!(s.chat("/ping").await["kind"], "command");
}

#[tokio::test]
async fn confirmation_and_role_refusals_go_through_the_pipeline() {
    let s = TestServer::start("").await;
    // /audit needs admin; the loopback console is admin by default.
    let r = s.chat("/audit").await;
    assert_eq!(r["kind"], "command");
    let e = s.chat("/definitely-not-a-command").await;
    assert_eq!(e["kind"], "error");
}

#[tokio::test]
async fn state_survives_a_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let toml = format!("[store]\ndata_dir = \"{}\"\n", data.display());
    let s = TestServer::start(&toml).await;
    // The language preference is state written by the first message.
    s.chat("hello there").await;
    s.stop().await.unwrap();
    let s = TestServer::start(&toml).await;
    let r = s.chat("/ping").await;
    assert!(r["reply"].as_str().unwrap().contains("is up"), "{r}");
}
