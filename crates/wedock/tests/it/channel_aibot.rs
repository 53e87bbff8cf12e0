//! WeCom intelligent robot, long-connection mode, against the fake WebSocket server.

use crate::support::TestServer;
use crate::support::fake_tencent::aibot::FakeAibot;

const BOT: &str = "aibTestBot01";
const SECRET: &str = "aibot-secret-for-tests";

fn config(fake: &FakeAibot, secret: &str) -> String {
    format!(
        r#"
[wecom.aibot]
mode = "websocket"
bot_id = "{BOT}"
secret = "{secret}"
heartbeat_secs = 1
reconnect_min_ms = 50

[api]
aibot_ws_url = "{}"
"#,
        fake.url()
    )
}

async fn readyz(server: &TestServer) -> serde_json::Value {
    reqwest::get(server.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn group_message_is_answered_with_a_stream_and_the_mention_stripped() {
    let fake = FakeAibot::start(BOT, SECRET).await;
    let server = TestServer::start(&config(&fake, SECRET)).await;
    fake.wait_until("subscribe", |f| f.subscribes() == 1).await;
    let sub = &fake.frames()[0];
    assert_eq!(sub["cmd"], "aibot_subscribe");
    assert_eq!(sub["body"]["bot_id"], BOT);
    assert_eq!(readyz(&server).await["components"]["aibot"]["ready"], true);

    let cb = fake.inject_text("zhangsan", Some("wrkGroup1"), "/whoami");
    fake.wait_until("final frame", |f| {
        f.replies_to(&cb)
            .iter()
            .any(|r| r["body"]["stream"]["finish"] == true)
    })
    .await;
    let frames = fake.replies_to(&cb);
    assert_eq!(
        frames.len(),
        2,
        "opening frame, then the answer: {frames:?}"
    );
    assert_eq!(frames[0]["body"]["stream"]["finish"], false);
    let id = &frames[0]["body"]["stream"]["id"];
    assert_eq!(&frames[1]["body"]["stream"]["id"], id);
    let content = frames[1]["body"]["stream"]["content"].as_str().unwrap();
    // The mention was stripped (the command parsed) and the sender is the aibot user.
    assert!(content.contains("aibot:zhangsan"), "{content}");

    // Single chat: answered too.
    let cb = fake.inject_text("lisi", None, "/ping");
    fake.wait_until("reply", |f| {
        f.replies_to(&cb)
            .iter()
            .any(|r| r["body"]["stream"]["finish"] == true)
    })
    .await;
    let last = fake.replies_to(&cb).pop().unwrap();
    assert!(
        last["body"]["stream"]["content"]
            .as_str()
            .unwrap()
            .contains("pong")
    );
}

#[tokio::test]
async fn heartbeats_are_sent_and_a_dropped_socket_is_reconnected() {
    let fake = FakeAibot::start(BOT, SECRET).await;
    let _server = TestServer::start(&config(&fake, SECRET)).await;
    fake.wait_until("subscribe", |f| f.subscribes() == 1).await;
    fake.wait_until("a ping", |f| f.frames().iter().any(|x| x["cmd"] == "ping"))
        .await;
    fake.drop_connection();
    fake.wait_until("resubscribe", |f| f.subscribes() == 2)
        .await;
    let cb = fake.inject_text("wangwu", None, "/ping");
    fake.wait_until("reply after reconnect", |f| {
        f.replies_to(&cb)
            .iter()
            .any(|r| r["body"]["stream"]["finish"] == true)
    })
    .await;
}

#[tokio::test]
async fn unanswered_heartbeats_declare_the_link_dead() {
    let fake = FakeAibot::start(BOT, SECRET).await;
    let _server = TestServer::start(&config(&fake, SECRET)).await;
    fake.wait_until("subscribe", |f| f.subscribes() == 1).await;
    fake.stop_acking_pings();
    // Two missed pings (1 s apart) → reconnect.
    fake.wait_until("resubscribe", |f| f.subscribes() >= 2)
        .await;
}

#[tokio::test]
async fn a_kick_stops_the_bot_without_fighting_back() {
    let fake = FakeAibot::start(BOT, SECRET).await;
    let server = TestServer::start(&config(&fake, SECRET)).await;
    fake.wait_until("subscribe", |f| f.subscribes() == 1).await;
    fake.kick();
    let mut detail = String::new();
    for _ in 0..200 {
        let r = readyz(&server).await;
        detail = r["components"]["aibot"]["detail"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if detail.contains("kicked") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(detail.contains("kicked"), "{detail}");
    // Reconnect delays start at 50 ms: give a fighting client ample chance to show itself.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(fake.subscribes(), 1);
}

#[tokio::test]
async fn refused_subscribe_is_retried_with_backoff_then_given_up() {
    let fake = FakeAibot::start(BOT, SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("wedock.toml");
    std::fs::write(&cfg_path, config(&fake, "wrong-secret")).unwrap();
    let config = wedock::config::Config::load(
        Some(&cfg_path),
        vec![(
            "WEDOCK_STORE__DATA_DIR".to_string(),
            format!("\"{}\"", dir.path().join("data").display()),
        )],
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(wedock::serve::run_with(config, listener, async move {
        let _ = rx.await;
    }));
    // Five refused subscribes, then it stops and says why.
    let mut detail = String::new();
    for _ in 0..400 {
        if let Ok(r) = reqwest::get(format!("http://{addr}/readyz")).await {
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            detail = v["components"]["aibot"]["detail"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if detail.starts_with("subscribe refused") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(detail.contains("853000"), "{detail}");
    let attempts = fake
        .frames()
        .iter()
        .filter(|f| f["cmd"] == "aibot_subscribe")
        .count();
    assert_eq!(attempts, 5);
    // The secret never shows in readiness output.
    assert!(!detail.contains("wrong-secret"));
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}
