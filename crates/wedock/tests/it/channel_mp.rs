//! WeChat Official Account end to end: plain, compatible and safe modes, the 5-second rule,
//! and retries that never run or answer a message twice.

use crate::support::TestServer;
use crate::support::fake_tencent::FakeTencent;
use std::collections::HashMap;
use wxcrypt::MsgCrypt;

pub const APP_ID: &str = "wxa1b2c3d4e5f60718";
pub const APP_SECRET: &str = "mp-secret-for-tests";
pub const TOKEN: &str = "mpToken123";
pub const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

pub fn config(fake: &FakeTencent, passive_ms: u64, with_key: bool) -> String {
    let key = if with_key {
        format!("encoding_aes_key = \"{KEY}\"\n")
    } else {
        String::new()
    };
    format!(
        r#"
[wechat.mp]
app_id = "{APP_ID}"
app_secret = "{APP_SECRET}"
token = "{TOKEN}"
{key}passive_reply_ms = {passive_ms}

[api]
wecom_base = "{base}"
wechat_base = "{base}"

[outbox]
initial_backoff_ms = 20
max_backoff_ms = 200
"#,
        base = fake.base()
    )
}

pub fn now() -> String {
    chrono::Utc::now().timestamp().to_string()
}

pub fn text_xml(user: &str, msg_id: &str, content: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>",
        now()
    )
}

/// A fresh nonce per request, as WeChat sends: a plain-mode URL signature carries one body.
pub fn fresh_nonce() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(4242);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .to_string()
}

pub fn plain_query(user: &str) -> Vec<(String, String)> {
    let ts = now();
    let nonce = fresh_nonce();
    vec![
        (
            "signature".into(),
            wxcrypt::plain_signature(TOKEN, &ts, &nonce),
        ),
        ("timestamp".into(), ts),
        ("nonce".into(), nonce),
        ("openid".into(), user.into()),
    ]
}

pub async fn post(server: &TestServer, q: &[(String, String)], body: String) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(server.url("/wechat/mp"))
        .query(q)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub fn crypt() -> MsgCrypt {
    MsgCrypt::from_config(TOKEN, KEY, APP_ID).unwrap()
}

/// A safe-mode (or, with `compatible`, compatible-mode) POST: query and body.
fn encrypted(plain: &str, compatible: bool) -> (Vec<(String, String)>, String) {
    let c = crypt();
    let mut q = plain_query("oUser");
    let (ts, nonce) = (q[1].1.clone(), q[2].1.clone());
    let env = c.encrypt_reply_envelope(plain, &ts, &nonce).unwrap();
    q.push(("encrypt_type".into(), "aes".into()));
    q.push(("msg_signature".into(), env.msg_signature));
    let inner = if compatible {
        // Compatible mode: plaintext fields and Encrypt side by side.
        plain
            .trim_start_matches("<xml>")
            .trim_end_matches("</xml>")
            .to_string()
    } else {
        "<ToUserName><![CDATA[gh_test]]></ToUserName>".to_string()
    };
    (
        q,
        format!(
            "<xml>{inner}<Encrypt><![CDATA[{}]]></Encrypt></xml>",
            env.encrypt
        ),
    )
}

pub fn open(body: &str) -> HashMap<String, String> {
    let env = wedock::channel::xml::parse_flat(body).expect("envelope");
    let plain = crypt()
        .decrypt_message(
            &env["MsgSignature"],
            &env["TimeStamp"],
            &env["Nonce"],
            &env["Encrypt"],
        )
        .expect("reply verifies");
    wedock::channel::xml::parse_flat(&plain).unwrap()
}

#[tokio::test]
async fn url_verification_echoes_echostr_after_checking_the_signature() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&config(&fake, 4000, true)).await;
    let mut q = plain_query("x");
    q.retain(|(k, _)| k != "openid");
    q.push(("echostr".into(), "4375120948345356249".into()));
    let r = reqwest::Client::new()
        .get(server.url("/wechat/mp"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "4375120948345356249");
    q[0].1 = "0".repeat(40);
    let r = reqwest::Client::new()
        .get(server.url("/wechat/mp"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn plain_mode_answers_with_plain_xml() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&config(&fake, 4000, false)).await;
    let (s, body) = post(
        &server,
        &plain_query("oUser"),
        text_xml("oUser", "11", "/ping"),
    )
    .await;
    assert_eq!(s, 200);
    let reply = wedock::channel::xml::parse_flat(&body).unwrap();
    assert_eq!(reply["ToUserName"], "oUser");
    assert_eq!(reply["FromUserName"], "gh_test");
    assert!(reply["Content"].contains("pong"));
    // A forged plain-mode request is refused.
    let mut q = plain_query("oUser");
    q[0].1 = "f".repeat(40);
    let (s, _) = post(&server, &q, text_xml("oUser", "12", "/ping")).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn safe_and_compatible_modes_answer_encrypted() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&config(&fake, 4000, true)).await;
    let (q, b) = encrypted(&text_xml("oUser", "21", "/ping"), false);
    let (s, body) = post(&server, &q, b).await;
    assert_eq!(s, 200);
    let reply = open(&body);
    assert_eq!(reply["ToUserName"], "oUser");
    assert!(reply["Content"].contains("pong"));

    let (q, b) = encrypted(&text_xml("oUser", "22", "/whoami"), true);
    let (s, body) = post(&server, &q, b).await;
    assert_eq!(s, 200);
    assert!(open(&body)["Content"].contains("wechat:oUser"));

    // With a key the default is safe mode: a plaintext-only request is a downgrade.
    let (s, body) = post(
        &server,
        &plain_query("oUser"),
        text_xml("oUser", "23", "/ping"),
    )
    .await;
    assert_eq!((s, body.as_str()), (403, "downgrade"));

    // Encrypted for another AppID.
    let other = MsgCrypt::from_config(TOKEN, KEY, "wxOther").unwrap();
    let mut q = plain_query("oUser");
    let (ts, nonce) = (q[1].1.clone(), q[2].1.clone());
    let env = other
        .encrypt_reply_envelope(&text_xml("oUser", "24", "/ping"), &ts, &nonce)
        .unwrap();
    q.push(("encrypt_type".into(), "aes".into()));
    q.push(("msg_signature".into(), env.msg_signature));
    let (s, t) = post(
        &server,
        &q,
        format!("<xml><Encrypt><![CDATA[{}]]></Encrypt></xml>", env.encrypt),
    )
    .await;
    assert_eq!((s, t.as_str()), (403, "wrong_receiveid"));
}

#[tokio::test]
async fn late_answer_says_success_then_sends_one_customer_service_message() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&config(&fake, 0, true)).await;
    let (q, b) = encrypted(&text_xml("oLate", "31", "/ping"), false);
    // WeChat's retries: the original and two more, concurrently.
    let (r1, r2, r3) = tokio::join!(
        post(&server, &q, b.clone()),
        post(&server, &q, b.clone()),
        post(&server, &q, b.clone())
    );
    for r in [r1, r2, r3] {
        assert_eq!(r, (200, "success".to_string()));
    }
    let sent = fake.wait_delivered("/cgi-bin/message/custom/send", 1).await;
    assert_eq!(sent[0]["touser"], "oLate");
    assert_eq!(sent[0]["msgtype"], "text");
    assert!(
        sent[0]["text"]["content"]
            .as_str()
            .unwrap()
            .contains("pong")
    );
    let (r, _) = post(&server, &q, b).await;
    assert_eq!(r, 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.delivered("/cgi-bin/message/custom/send").len(), 1);
    // The stable-token endpoint was used with the account's credentials, in normal mode.
    assert!(fake.requests("/cgi-bin/token").is_empty());
    let t = fake.requests("/cgi-bin/stable_token");
    assert_eq!(t.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&t[0].body).unwrap();
    assert_eq!(body["appid"], APP_ID);
    assert_eq!(body["grant_type"], "client_credential");
    assert_eq!(body["force_refresh"], false);
}

#[tokio::test]
async fn refused_stable_token_is_force_refreshed_once() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&config(&fake, 0, true)).await;
    let (q, b) = encrypted(&text_xml("oTok", "41", "/ping"), false);
    assert_eq!(post(&server, &q, b).await, (200, "success".to_string()));
    fake.wait_delivered("/cgi-bin/message/custom/send", 1).await;
    // The platform now refuses the token (40001) that normal mode still returns.
    fake.refuse_tokens();
    let (q, b) = encrypted(&text_xml("oTok", "42", "/ping"), false);
    assert_eq!(post(&server, &q, b).await, (200, "success".to_string()));
    let sent = fake.wait_delivered("/cgi-bin/message/custom/send", 2).await;
    assert_eq!(sent.len(), 2);
    let forces: Vec<bool> = fake
        .requests("/cgi-bin/stable_token")
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["force_refresh"] == true
        })
        .collect();
    // First fetch, the normal-mode refresh that returned the refused token, one forced.
    assert_eq!(forces, vec![false, false, true]);
}

#[tokio::test]
async fn late_reply_outside_the_service_window_is_recorded_undeliverable() {
    use wedock::store::{OutboxStatus, Store};
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&config(&fake, 0, true)).await;
    fake.close_service_window();
    let (q, b) = encrypted(&text_xml("oGone", "51", "/ping"), false);
    assert_eq!(post(&server, &q, b).await, (200, "success".to_string()));
    let store = wedock::store::SqliteStore::open(&server.dir.path().join("data")).unwrap();
    let mut found = None;
    for _ in 0..200 {
        let u = store
            .outbox_list(Some(OutboxStatus::Undelivered), 10)
            .await
            .unwrap();
        if let Some(m) = u.into_iter().next() {
            found = Some(m);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let m = found.expect("recorded as undeliverable");
    let why = m.last_error.unwrap_or_default();
    assert!(why.contains("45015") && why.contains("48-hour"), "{why}");
    // Not retried: one attempt, nothing pending, nothing dead.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.requests("/cgi-bin/message/custom/send").len(), 1);
    let c = store.outbox_counts().await.unwrap();
    assert_eq!((c.pending, c.dead, c.undelivered), (0, 0, 1));
    // The window marker never reaches the platform.
    let body = &fake.requests("/cgi-bin/message/custom/send")[0].body;
    assert!(!body.contains("wedock_window"), "{body}");
}

#[tokio::test]
async fn subscribe_event_is_welcomed_and_other_events_get_success() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&config(&fake, 4000, false)).await;
    let ev = |e: &str| {
        format!(
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oNew]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{e}]]></Event></xml>",
            now()
        )
    };
    let (_, body) = post(&server, &plain_query("oNew"), ev("subscribe")).await;
    assert!(wedock::channel::xml::parse_flat(&body).unwrap()["Content"].contains("/help"));
    let (s, body) = post(&server, &plain_query("oNew"), ev("unsubscribe")).await;
    assert_eq!((s, body.as_str()), (200, "success"));
}

#[tokio::test]
async fn key_rollover_accepts_the_previous_key_in_safe_mode() {
    const NEW: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let cfg = config(&fake, 4000, true).replace(
        &format!("encoding_aes_key = \"{KEY}\""),
        &format!("encoding_aes_key = \"{NEW}\"\nencoding_aes_key_previous = \"{KEY}\""),
    );
    let server = TestServer::start(&cfg).await;
    // WeChat still encrypts with the previous key (the test's `crypt()`).
    let (q, b) = encrypted(&text_xml("oRoll", "61", "/ping"), false);
    let (s, body) = post(&server, &q, b).await;
    assert_eq!(s, 200, "{body}");
    // The reply is encrypted with the key that opened the message.
    assert!(open(&body)["Content"].contains("pong"));
}
