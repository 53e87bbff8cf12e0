//! WeCom self-built app end to end: the test plays Tencent (encrypting callbacks with the
//! app's token/key/CorpID) and the fake Tencent API receives late replies.

use crate::support::TestServer;
use crate::support::fake_tencent::FakeTencent;
use std::collections::HashMap;
use wxcrypt::MsgCrypt;

pub const CORP: &str = "ww5823bf96d3bd56c7";
pub const SECRET: &str = "corp-secret-for-tests";
pub const TOKEN: &str = "QDG6eK";
pub const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

pub fn config(fake: &FakeTencent, passive_ms: u64) -> String {
    format!(
        r#"
[wecom.app]
corp_id = "{CORP}"
agent_id = 1000002
secret = "{SECRET}"
token = "{TOKEN}"
encoding_aes_key = "{KEY}"
passive_reply_ms = {passive_ms}

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

/// Tencent's side of the callback.
pub struct Peer {
    pub crypt: MsgCrypt,
    pub url: String,
    pub http: reqwest::Client,
}

pub fn now() -> String {
    chrono::Utc::now().timestamp().to_string()
}

pub fn text_xml(user: &str, msg_id: &str, content: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId><AgentID>1000002</AgentID></xml>",
        now()
    )
}

impl Peer {
    pub fn new(server: &TestServer) -> Self {
        Peer {
            crypt: MsgCrypt::from_config(TOKEN, KEY, CORP).unwrap(),
            url: server.url("/wecom/app"),
            http: reqwest::Client::new(),
        }
    }

    /// The POST Tencent would send for `plain`: (query, body).
    pub fn envelope(&self, plain: &str) -> (Vec<(String, String)>, String) {
        let ts = now();
        let nonce = "1372623149".to_string();
        let env = self
            .crypt
            .encrypt_reply_envelope(plain, &ts, &nonce)
            .unwrap();
        let body = format!(
            "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>",
            env.encrypt
        );
        (
            vec![
                ("msg_signature".into(), env.msg_signature),
                ("timestamp".into(), ts),
                ("nonce".into(), nonce),
            ],
            body,
        )
    }

    pub async fn post_raw(&self, query: &[(String, String)], body: String) -> (u16, String) {
        let r = self
            .http
            .post(&self.url)
            .query(query)
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn post(&self, plain: &str) -> (u16, String) {
        let (q, b) = self.envelope(plain);
        self.post_raw(&q, b).await
    }

    /// Verifies and decrypts wedock's encrypted reply; returns its fields.
    pub fn open_reply(&self, body: &str) -> HashMap<String, String> {
        let env = wedock::channel::xml::parse_flat(body).expect("reply envelope");
        let plain = self
            .crypt
            .decrypt_message(
                &env["MsgSignature"],
                &env["TimeStamp"],
                &env["Nonce"],
                &env["Encrypt"],
            )
            .expect("reply verifies and decrypts");
        wedock::channel::xml::parse_flat(&plain).expect("reply XML")
    }
}

async fn start(passive_ms: u64) -> (FakeTencent, TestServer, Peer) {
    let fake = FakeTencent::start(CORP, SECRET, "wxunused", "unused").await;
    let server = TestServer::start(&config(&fake, passive_ms)).await;
    let peer = Peer::new(&server);
    (fake, server, peer)
}

#[tokio::test]
async fn url_verification_answers_the_plaintext_echostr() {
    let (_fake, server, peer) = start(3000).await;
    let ts = now();
    let echostr = peer.crypt.encrypt(b"1616140317555161061").unwrap();
    let sig = peer.crypt.signature(&ts, "263014780", &echostr);
    let r = reqwest::Client::new()
        .get(server.url("/wecom/app"))
        .query(&[
            ("msg_signature", sig.as_str()),
            ("timestamp", ts.as_str()),
            ("nonce", "263014780"),
            ("echostr", echostr.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "1616140317555161061");

    // A literal `+` left unencoded in the query still verifies.
    let raw = format!(
        "{}?msg_signature={sig}&timestamp={ts}&nonce=263014780&echostr={echostr}",
        server.url("/wecom/app")
    );
    let r = reqwest::get(raw).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "1616140317555161061");
}

#[tokio::test]
async fn official_vector_verifies_with_the_window_disabled() {
    let fake = FakeTencent::start(CORP, SECRET, "wxunused", "unused").await;
    // The vector's CorpID, and its 2014 timestamp accepted by disabling the window.
    let cfg = config(&fake, 3000)
        .replace(CORP, "wx5823bf96d3bd56c7")
        .replace("[outbox]", "timestamp_window_secs = 0\n\n[outbox]");
    let server = TestServer::start(&cfg).await;
    let r = reqwest::Client::new()
        .get(server.url("/wecom/app"))
        .query(&[
            ("msg_signature", "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"),
            ("timestamp", "1409659589"),
            ("nonce", "263014780"),
            (
                "echostr",
                "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "1616140317555161061");
}

#[tokio::test]
async fn text_question_is_answered_passively_and_encrypted() {
    let (fake, _server, peer) = start(3000).await;
    let (status, body) = peer.post(&text_xml("zhangsan", "1001", "/ping")).await;
    assert_eq!(status, 200, "{body}");
    let reply = peer.open_reply(&body);
    assert_eq!(reply["ToUserName"], "zhangsan");
    assert_eq!(reply["FromUserName"], CORP);
    assert_eq!(reply["MsgType"], "text");
    assert!(reply["Content"].contains("pong"), "{reply:?}");
    // A knowledge question in Chinese gets a Chinese answer.
    let (_, body) = peer
        .post(&text_xml("zhangsan", "1002", "怎么查看容器日志"))
        .await;
    let reply = peer.open_reply(&body);
    assert!(
        reply["Content"].chars().any(wedock::i18n::is_han),
        "{reply:?}"
    );
    // Nothing went through the API.
    assert!(fake.requests("/cgi-bin/message/send").is_empty());
}

/// WeChat shows text messages as they are: a knowledge answer arrives as plain text — no
/// bold markers, fences, backticks or link syntax — with its code lines intact, passively and
/// through message/send alike.
#[tokio::test]
async fn knowledge_answers_arrive_as_plain_text() {
    for (passive_ms, id) in [(3000, "1101"), (0, "1102")] {
        let (fake, _server, peer) = start(passive_ms).await;
        let (_, body) = peer
            .post(&text_xml("zhangsan", id, "CMD 和 ENTRYPOINT 有什么区别"))
            .await;
        let content = if passive_ms > 0 {
            peer.open_reply(&body)["Content"].clone()
        } else {
            let sent = fake.wait_delivered("/cgi-bin/message/send", 1).await;
            sent[0]["text"]["content"].as_str().unwrap().to_string()
        };
        for syntax in ["**", "```", "`", "]("] {
            assert!(!content.contains(syntax), "{syntax:?} in {content}");
        }
        assert!(content.contains("简答："), "{content}");
        assert!(
            content.contains("ENTRYPOINT [\"curl\", \"-s\"]"),
            "{content}"
        );
        // The source file wraps mid-sentence; the bubble must not.
        assert!(
            content.contains("“固定要执行的程序”，CMD 提供"),
            "{content}"
        );
    }
}

/// With `format = "markdown"` the app sends WeCom markdown through message/send (a passive
/// reply can only be text): bold and links stay, code blocks become code spans, and container
/// output in a command reply is escaped so it cannot mention or link.
#[tokio::test]
async fn markdown_format_sends_wecom_markdown() {
    let fake = FakeTencent::start(CORP, SECRET, "wxunused", "unused").await;
    let cfg = config(&fake, 3000).replace(
        "passive_reply_ms = 3000",
        "passive_reply_ms = 3000\nformat = \"markdown\"",
    );
    let server = TestServer::start(&cfg).await;
    let peer = Peer::new(&server);
    let (status, body) = peer
        .post(&text_xml(
            "zhangsan",
            "1201",
            "CMD 和 ENTRYPOINT 有什么区别",
        ))
        .await;
    assert_eq!((status, body.as_str()), (200, ""), "no passive reply");
    let sent = fake.wait_delivered("/cgi-bin/message/send", 1).await;
    assert_eq!(sent[0]["msgtype"], "markdown", "{}", sent[0]);
    let content = sent[0]["markdown"]["content"].as_str().unwrap();
    assert!(content.contains("**简答：**"), "{content}");
    assert!(
        !content.contains("```"),
        "no code blocks in the subset: {content}"
    );
    assert!(
        content.contains("`ENTRYPOINT [\"curl\", \"-s\"]`"),
        "{content}"
    );
    assert!(content.len() <= 2048);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn slow_answer_is_sent_late_through_message_send() {
    // A zero window: every answer misses it and goes through the API.
    let (fake, _server, peer) = start(0).await;
    let (status, body) = peer.post(&text_xml("lisi", "2001", "/ping")).await;
    assert_eq!((status, body.as_str()), (200, ""));
    let sent = fake.wait_delivered("/cgi-bin/message/send", 1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["touser"], "lisi");
    assert_eq!(sent[0]["msgtype"], "text");
    assert_eq!(sent[0]["agentid"], 1000002);
    assert!(
        sent[0]["text"]["content"]
            .as_str()
            .unwrap()
            .contains("pong")
    );
    assert_eq!(fake.token_fetches(), 1);
}

#[tokio::test]
async fn retry_storm_of_one_message_runs_it_once() {
    // Late path: three concurrent deliveries of one MsgId → one execution, one send.
    let (fake, _server, peer) = start(0).await;
    let plain = text_xml("wangwu", "3001", "/ping");
    let (q, b) = peer.envelope(&plain);
    let (a, b2, c) = tokio::join!(
        peer.post_raw(&q, b.clone()),
        peer.post_raw(&q, b.clone()),
        peer.post_raw(&q, b.clone())
    );
    for (status, body) in [a, b2, c] {
        assert_eq!((status, body.as_str()), (200, ""));
    }
    fake.wait_delivered("/cgi-bin/message/send", 1).await;
    // A fourth, later retry is still not answered again.
    let (status, body) = peer.post_raw(&q, b).await;
    assert_eq!((status, body.as_str()), (200, ""));
    // Let any wrongly queued duplicate surface before counting.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.delivered("/cgi-bin/message/send").len(), 1);
}

#[tokio::test]
async fn retry_storm_within_the_window_gets_one_identical_answer() {
    let (fake, _server, peer) = start(3000).await;
    let (q, b) = peer.envelope(&text_xml("zhaoliu", "3002", "what is a container"));
    let (a, b2, c) = tokio::join!(
        peer.post_raw(&q, b.clone()),
        peer.post_raw(&q, b.clone()),
        peer.post_raw(&q, b.clone())
    );
    let contents: Vec<String> = [a, b2, c]
        .iter()
        .map(|(s, body)| {
            assert_eq!(*s, 200);
            peer.open_reply(body)["Content"].clone()
        })
        .collect();
    assert!(!contents[0].is_empty());
    assert!(contents.iter().all(|c| c == &contents[0]), "{contents:?}");
    assert!(fake.requests("/cgi-bin/message/send").is_empty());
}

#[tokio::test]
async fn expired_token_is_refreshed_once_and_the_send_retried() {
    let (fake, _server, peer) = start(0).await;
    peer.post(&text_xml("sunqi", "4001", "/ping")).await;
    fake.wait_delivered("/cgi-bin/message/send", 1).await;
    fake.expire_tokens();
    peer.post(&text_xml("sunqi", "4002", "/whoami")).await;
    let sent = fake.wait_delivered("/cgi-bin/message/send", 2).await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1]["text"]["content"]
            .as_str()
            .unwrap()
            .contains("wecom:sunqi")
    );
    // One 42001, one refresh, then success.
    let sends = fake.requests("/cgi-bin/message/send");
    assert_eq!(sends.len(), 3);
    assert_eq!(fake.token_fetches(), 2);
    assert_ne!(
        sends[1].query["access_token"],
        sends[2].query["access_token"]
    );
}

#[tokio::test]
async fn concurrent_sends_with_an_expired_token_refresh_it_once() {
    let (fake, _server, peer) = start(0).await;
    peer.post(&text_xml("u0", "4100", "/ping")).await;
    fake.wait_delivered("/cgi-bin/message/send", 1).await;
    fake.expire_tokens();
    // Five users at once: the outbox sends to different targets concurrently.
    let posts: Vec<_> = (1..=5)
        .map(|i| {
            let xml = text_xml(&format!("u{i}"), &format!("41{i:02}"), "/ping");
            let (q, b) = peer.envelope(&xml);
            let peer = &peer;
            async move { peer.post_raw(&q, b).await }
        })
        .collect();
    futures::future::join_all(posts).await;
    let sent = fake.wait_delivered("/cgi-bin/message/send", 6).await;
    assert_eq!(sent.len(), 6);
    assert_eq!(fake.token_fetches(), 2, "one initial fetch, one refresh");
}

#[tokio::test]
async fn platform_errors_dead_letter_with_errcode_and_transient_ones_retry() {
    let (fake, server, peer) = start(0).await;
    // -1 (system busy) is retried; 81013 (no valid recipient) is dead-lettered.
    fake.inject_send_errors(&[-1, 81013]);
    peer.post(&text_xml("zhouba", "5001", "/ping")).await;
    for _ in 0..200 {
        if fake.requests("/cgi-bin/message/send").len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let sends = fake.requests("/cgi-bin/message/send");
    assert_eq!(sends.len(), 2, "system busy retried once, then dead");
    // The dead letter carries the platform's errcode and errmsg.
    let store = wedock::store::SqliteStore::open(&server.dir.path().join("data")).unwrap();
    let mut dead = Vec::new();
    for _ in 0..200 {
        use wedock::store::{OutboxStatus, Store};
        dead = store
            .outbox_list(Some(OutboxStatus::Dead), 10)
            .await
            .unwrap();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(dead.len(), 1);
    let why = dead[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("81013") && why.contains("injected"), "{why}");
    assert!(fake.delivered("/cgi-bin/message/send").is_empty());
}

#[tokio::test]
async fn events_and_unsupported_types_get_polite_replies() {
    let (_fake, _server, peer) = start(3000).await;
    let enter = format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event><EventKey><![CDATA[]]></EventKey><AgentID>1000002</AgentID></xml>",
        now()
    );
    let (status, body) = peer.post(&enter).await;
    assert_eq!(status, 200);
    assert!(peer.open_reply(&body)["Content"].contains("/help"));

    let image = format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[u1]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/y]]></PicUrl><MediaId><![CDATA[m]]></MediaId><MsgId>6001</MsgId><AgentID>1000002</AgentID></xml>",
        now()
    );
    let (_, body) = peer.post(&image).await;
    let c = peer.open_reply(&body)["Content"].clone();
    assert!(c.contains("image") && c.contains("暂不支持"), "{c}");

    let click = enter.replace("enter_agent", "click");
    let (status, body) = peer.post(&click).await;
    assert_eq!((status, body.as_str()), (200, ""));
}

#[tokio::test]
async fn bad_input_is_rejected_with_a_reason_and_counted() {
    let (_fake, server, peer) = start(3000).await;
    let plain = text_xml("eve", "7001", "/ping");
    let (q, body) = peer.envelope(&plain);
    let with = |k: &str, v: &str| -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.clone(), if a == k { v.to_string() } else { b.clone() }))
            .collect()
    };

    // Wrong signature.
    let (s, t) = peer
        .post_raw(&with("msg_signature", &"0".repeat(40)), body.clone())
        .await;
    assert_eq!((s, t.as_str()), (403, "bad_signature"));
    // Stale timestamp (signature recomputed so only the time is wrong).
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    let env = peer
        .crypt
        .encrypt_reply_envelope(&plain, &old, "1")
        .unwrap();
    let b = format!("<xml><Encrypt><![CDATA[{}]]></Encrypt></xml>", env.encrypt);
    let qq = vec![
        ("msg_signature".to_string(), env.msg_signature),
        ("timestamp".to_string(), old),
        ("nonce".to_string(), "1".to_string()),
    ];
    let (s, t) = peer.post_raw(&qq, b).await;
    assert_eq!((s, t.as_str()), (403, "stale_timestamp"));

    // Correctly signed garbage of each kind.
    let signed = |encrypt: &str| {
        let ts = now();
        let sig = peer.crypt.signature(&ts, "9", encrypt);
        (
            vec![
                ("msg_signature".to_string(), sig),
                ("timestamp".to_string(), ts),
                ("nonce".to_string(), "9".to_string()),
            ],
            format!("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"),
        )
    };
    let (qq, b) = signed("%%%not base64%%%");
    assert_eq!(peer.post_raw(&qq, b).await, (400, "bad_base64".into()));
    let (qq, b) = signed("YWJj");
    assert_eq!(peer.post_raw(&qq, b).await, (400, "bad_ciphertext".into()));
    // 32 zero bytes under this key decrypt to garbage padding.
    let (qq, b) = signed("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(peer.post_raw(&qq, b).await.0, 400);
    // Encrypted for another corp.
    let other = MsgCrypt::from_config(TOKEN, KEY, "wwSomeoneElse").unwrap();
    let (qq, b) = signed(&other.encrypt(plain.as_bytes()).unwrap());
    assert_eq!(peer.post_raw(&qq, b).await, (403, "wrong_receiveid".into()));
    // A valid ciphertext of malformed / entity-laden XML.
    let (qq, b) = signed(&peer.crypt.encrypt(b"<xml><Content>").unwrap());
    assert_eq!(peer.post_raw(&qq, b).await, (400, "bad_xml".into()));
    let xxe = r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><FromUserName>a</FromUserName><Content>&e;</Content></xml>"#;
    let (qq, b) = signed(&peer.crypt.encrypt(xxe.as_bytes()).unwrap());
    assert_eq!(peer.post_raw(&qq, b).await, (400, "bad_xml".into()));
    // Envelope with a DTD / not XML at all.
    let (s, t) = peer
        .post_raw(&q, format!("<!DOCTYPE x><xml>{body}</xml>"))
        .await;
    assert_eq!((s, t.as_str()), (400, "bad_envelope"));
    let (s, _) = peer.post_raw(&q, "{\"not\": \"xml\"".into()).await;
    assert_eq!(s, 400);
    // Missing parameters; oversize body.
    let (s, t) = peer.post_raw(&[], body.clone()).await;
    assert_eq!((s, t.as_str()), (400, "missing_params"));
    let (s, _) = peer.post_raw(&q, "x".repeat(100 * 1024)).await;
    assert_eq!(s, 413);
    // Over the server-wide limit (512 KiB): refused before the handler, still 413.
    let (s, _) = peer.post_raw(&q, "x".repeat(600 * 1024)).await;
    assert_eq!(s, 413);

    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in [
        "bad_signature",
        "stale_timestamp",
        "bad_base64",
        "wrong_receiveid",
        "bad_xml",
        "oversize_body",
    ] {
        assert!(
            metrics.contains(&format!("wedock_rejected_total{{reason=\"{reason}\"}}")),
            "metric for {reason} missing"
        );
    }
    // And the server still answers real messages.
    let (s, body) = peer.post(&text_xml("eve", "7002", "/ping")).await;
    assert_eq!(s, 200);
    assert!(peer.open_reply(&body)["Content"].contains("pong"));
}

/// A key rollover: wedock has the new EncodingAESKey and keeps the previous one. Tencent
/// still encrypting with the old key is understood and answered with the old key; messages
/// with the new key are answered with the new key; a third key is refused.
#[tokio::test]
async fn key_rollover_accepts_the_previous_key_and_answers_with_it() {
    const NEW: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
    const OTHER: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    let fake = FakeTencent::start(CORP, SECRET, "wxunused", "unused").await;
    let cfg = config(&fake, 3000).replace(
        &format!("encoding_aes_key = \"{KEY}\""),
        &format!("encoding_aes_key = \"{NEW}\"\nencoding_aes_key_previous = \"{KEY}\""),
    );
    let server = TestServer::start(&cfg).await;
    let old = Peer::new(&server);
    let new = Peer {
        crypt: MsgCrypt::from_config(TOKEN, NEW, CORP).unwrap(),
        ..Peer::new(&server)
    };

    let (s, body) = old.post(&text_xml("roll1", "9001", "/ping")).await;
    assert_eq!(s, 200, "{body}");
    assert!(old.open_reply(&body)["Content"].contains("pong"));
    let (s, body) = new.post(&text_xml("roll2", "9002", "/ping")).await;
    assert_eq!(s, 200, "{body}");
    assert!(new.open_reply(&body)["Content"].contains("pong"));
    // The reply to a new-key message is not readable with the old key.
    let env = wedock::channel::xml::parse_flat(&body).unwrap();
    assert!(
        old.crypt
            .decrypt_message(
                &env["MsgSignature"],
                &env["TimeStamp"],
                &env["Nonce"],
                &env["Encrypt"]
            )
            .is_err()
    );

    // URL verification with the old key still works during the rollover.
    let ts = now();
    let echostr = old.crypt.encrypt(b"echo-old-key").unwrap();
    let sig = old.crypt.signature(&ts, "11", &echostr);
    let r = reqwest::Client::new()
        .get(server.url("/wecom/app"))
        .query(&[
            ("msg_signature", sig.as_str()),
            ("timestamp", ts.as_str()),
            ("nonce", "11"),
            ("echostr", echostr.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "echo-old-key");

    // Neither key: refused as before.
    let other = Peer {
        crypt: MsgCrypt::from_config(TOKEN, OTHER, CORP).unwrap(),
        ..Peer::new(&server)
    };
    let (s, _) = other.post(&text_xml("roll3", "9003", "/ping")).await;
    assert_eq!(s, 400);
}

/// An app set to JSON in the console: JSON envelope, JSON message (vector WC7's shape, with
/// numbers as numbers), and an encrypted JSON reply.
#[tokio::test]
async fn json_format_callback_is_answered_in_json() {
    let (_fake, _server, peer) = start(3000).await;
    let plain = format!(
        r#"{{"ToUserName":"{CORP}","FromUserName":"jsonuser","CreateTime": {},"MsgType":"text","Content":"/ping","MsgId":4561255354251345930,"AgentID": 1000002}}"#,
        now()
    );
    let ts = now();
    let env = peer
        .crypt
        .encrypt_reply_envelope(&plain, &ts, "5151")
        .unwrap();
    // Tencent's JSON samples capitalise the envelope keys too.
    let body = serde_json::json!({"ToUserName": CORP, "Encrypt": env.encrypt, "AgentID": 1000002});
    let q = vec![
        ("msg_signature".to_string(), env.msg_signature),
        ("timestamp".to_string(), ts),
        ("nonce".to_string(), "5151".to_string()),
    ];
    let (s, text) = peer.post_raw(&q, body.to_string()).await;
    assert_eq!(s, 200, "{text}");
    let e: serde_json::Value = serde_json::from_str(&text).expect("JSON reply envelope");
    let reply = peer
        .crypt
        .decrypt_message(
            e["msgsignature"].as_str().unwrap(),
            e["timestamp"].as_str().unwrap(),
            e["nonce"].as_str().unwrap(),
            e["encrypt"].as_str().unwrap(),
        )
        .expect("reply verifies");
    let v: serde_json::Value = serde_json::from_str(&reply).expect("JSON reply");
    assert_eq!(v["ToUserName"], "jsonuser");
    assert_eq!(v["FromUserName"], CORP);
    assert_eq!(v["MsgType"], "text");
    assert!(v["Content"].as_str().unwrap().contains("pong"), "{v}");

    // A JSON message that does not parse is refused with its reason.
    let ts = now();
    let env = peer
        .crypt
        .encrypt_reply_envelope("{\"MsgType\": ", &ts, "5152")
        .unwrap();
    let q = vec![
        ("msg_signature".to_string(), env.msg_signature),
        ("timestamp".to_string(), ts),
        ("nonce".to_string(), "5152".to_string()),
    ];
    let body = serde_json::json!({"encrypt": env.encrypt});
    let (s, text) = peer.post_raw(&q, body.to_string()).await;
    assert_eq!((s, text.as_str()), (400, "bad_json"));
}
