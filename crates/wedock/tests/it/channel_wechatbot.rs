//! The personal-WeChat bridge: wechatbot-webhook's multipart callback in, JSON reply out.

use crate::support::TestServer;
use serde_json::{Value, json};

pub fn config() -> String {
    r#"
[gateway.wechatbot]
base_url = "http://127.0.0.1:9"
token = "gateway-token"
callback_token = "cbsecret-0123456789"
"#
    .to_string()
}

/// The gateway's `source` field: Wechaty's room and contact payloads. `alias` is the 备注名
/// the bot's account gave the contact ("" when none, as the gateway sends it).
pub fn source_with_alias(name: &str, alias: &str, room: Option<&str>) -> String {
    json!({
        "room": room.map_or(json!(""), |t| json!({"id": "@@r1", "payload": {"id": "@@r1", "topic": t, "memberIdList": ["@u1", "@me"]}})),
        "to": {"id": "@me", "payload": {"name": "wedock"}},
        "from": {"id": "@u1", "payload": {"id": "@u1", "name": name, "alias": alias, "gender": 1, "friend": true}},
    })
    .to_string()
}

fn source(name: &str, room: Option<&str>) -> String {
    source_with_alias(name, "", room)
}

pub async fn post(server: &TestServer, token: &str, fields: &[(&str, String)]) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.clone());
    }
    let r = reqwest::Client::new()
        .post(server.url(&format!("/gateway/wechatbot?token={token}")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(json!(text)))
}

pub fn text(
    content: &str,
    name: &str,
    room: Option<&str>,
    mentioned: bool,
    own: bool,
) -> Vec<(&'static str, String)> {
    vec![
        ("type", "text".into()),
        ("content", content.into()),
        ("source", source(name, room)),
        ("isMentioned", if mentioned { "1" } else { "0" }.into()),
        ("isMsgFromSelf", if own { "1" } else { "0" }.into()),
    ]
}

#[tokio::test]
async fn direct_and_mentioned_room_messages_are_answered_in_the_response() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = TestServer::start(&config()).await;
    let (s, v) = post(
        &server,
        "cbsecret-0123456789",
        &text("/whoami", "Alice", None, false, false),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["success"], true);
    assert_eq!(v["data"]["type"], "text");
    assert!(
        v["data"]["content"]
            .as_str()
            .unwrap()
            .contains("wechatbot:Alice"),
        "{v}"
    );

    let (_, v) = post(
        &server,
        "cbsecret-0123456789",
        &text("@wedock /ping", "Bob", Some("ops"), true, false),
    )
    .await;
    assert!(
        v["data"]["content"].as_str().unwrap().contains("pong"),
        "{v}"
    );

    // Not mentioned in a room, or our own message: no reply.
    let (_, v) = post(
        &server,
        "cbsecret-0123456789",
        &text("/ping", "Bob", Some("ops"), false, false),
    )
    .await;
    assert_eq!(v["success"], false);
    let (_, v) = post(
        &server,
        "cbsecret-0123456789",
        &text("/ping", "wedock", None, false, true),
    )
    .await;
    assert_eq!(v["success"], false);
}

#[tokio::test]
async fn bad_callbacks_are_refused() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = TestServer::start(&config()).await;
    let (s, _) = post(&server, "wrong", &text("/ping", "Eve", None, false, false)).await;
    assert_eq!(s, 401);
    let mut f = text("/ping", "Eve", None, false, false);
    f[2].1 = "{not json".into();
    let (s, v) = post(&server, "cbsecret-0123456789", &f).await;
    assert_eq!((s, v), (400, json!("bad_json")));
    let r = reqwest::Client::new()
        .post(server.url("/gateway/wechatbot?token=cbsecret-0123456789"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn queued_push_is_posted_to_the_gateway() {
    use std::sync::{Arc, Mutex};
    use wedock::store::Store;
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A stand-in for the gateway's /webhook/msg/v2.
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/webhook/msg/v2",
        axum::routing::post(
            move |q: axum::extract::RawQuery, body: axum::Json<Value>| async move {
                s2.lock().unwrap().push((q.0.unwrap_or_default(), body.0));
                axum::Json(json!({"success": true, "message": "Message sent successfully"}))
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server =
        TestServer::start(&config().replace("http://127.0.0.1:9", &format!("http://{addr}"))).await;
    let store = wedock::store::SqliteStore::open(&server.dir.path().join("data")).unwrap();
    store
        .outbox_enqueue(wedock::channel::wechatbot::push_message(
            "ops",
            true,
            "web restarted",
        ))
        .await
        .unwrap();
    for _ in 0..200 {
        if !seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "token=gateway-token");
    assert_eq!(
        got[0].1,
        json!({"to": "ops", "isRoom": true, "data": {"type": "text", "content": "web restarted"}})
    );
}
