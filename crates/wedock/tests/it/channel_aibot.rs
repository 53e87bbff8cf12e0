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
    server.readyz().await
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
    // The component details of /readyz need a console login.
    let client = crate::support::console_client(&config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(wedock::serve::run_with(config, listener, async move {
        let _ = rx.await;
    }));
    // Five refused subscribes, then it stops and says why.
    let mut detail = String::new();
    for _ in 0..400 {
        if let Ok(r) = client.get(format!("http://{addr}/readyz")).send().await {
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

mod callback {
    //! Callback mode: JSON envelopes with the empty receive id, stream refresh callbacks.
    use crate::support::TestServer;
    use serde_json::{Value, json};
    use wxcrypt::{EncodingAesKey, MsgCrypt, ReceiveId};

    const TOKEN: &str = "aibotToken1";
    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    fn crypt() -> MsgCrypt {
        MsgCrypt::new(
            TOKEN,
            EncodingAesKey::decode(KEY).unwrap(),
            ReceiveId::Empty,
        )
    }

    async fn server(passive_ms: u64) -> TestServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        TestServer::start(&format!(
            "[wecom.aibot]\nmode = \"callback\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{KEY}\"\npassive_reply_ms = {passive_ms}\n"
        ))
        .await
    }

    /// POSTs `msg` the way WeCom does and opens the encrypted JSON reply.
    async fn post(server: &TestServer, msg: &Value) -> (u16, Value) {
        let c = crypt();
        let ts = chrono::Utc::now().timestamp().to_string();
        let env = c
            .encrypt_reply_envelope(&msg.to_string(), &ts, "77")
            .unwrap();
        let r = reqwest::Client::new()
            .post(server.url("/wecom/aibot"))
            .query(&[
                ("msg_signature", env.msg_signature.as_str()),
                ("timestamp", ts.as_str()),
                ("nonce", "77"),
            ])
            .body(json!({"encrypt": env.encrypt}).to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        if status != 200 || text.is_empty() {
            return (status, json!(text));
        }
        let e: Value = serde_json::from_str(&text).unwrap();
        let plain = c
            .decrypt_message(
                e["msgsignature"].as_str().unwrap(),
                e["timestamp"].as_str().unwrap(),
                e["nonce"].as_str().unwrap(),
                e["encrypt"].as_str().unwrap(),
            )
            .expect("reply verifies");
        (status, serde_json::from_str(&plain).unwrap())
    }

    fn text(msgid: &str, group: bool, content: &str) -> Value {
        let mut v = json!({
            "msgid": msgid, "aibotid": "AIBOTID", "chattype": if group {"group"} else {"single"},
            "from": {"userid": "zhangsan"}, "response_url": "https://example.invalid/r",
            "msgtype": "text", "text": {"content": content},
        });
        if group {
            v["chatid"] = json!("wrkChat1");
        }
        v
    }

    #[tokio::test]
    async fn late_answer_goes_once_through_response_url() {
        use crate::support::fake_tencent::FakeTencent;
        let fake = FakeTencent::start("ww", "s", "wx", "s").await;
        // A slow answer (fake LLM, 1.2 s) against a 300 ms stream window.
        let llm = super::slow::slow_llm(std::time::Duration::from_millis(1200)).await;
        let server = TestServer::start(&format!(
            "[wecom.aibot]\nmode = \"callback\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{KEY}\"\npassive_reply_ms = 0\nstream_window_ms = 300\n\n[llm]\nbase_url = \"{llm}\"\nmodel = \"m\"\ntimeout_ms = 10000\n\n[api]\nwecom_base = \"{}\"\n\n[outbox]\ninitial_backoff_ms = 20\nmax_backoff_ms = 200\n",
            fake.base()
        ))
        .await;
        let mut msg = text("m9", false, super::slow::Q);
        msg["response_url"] = json!(format!(
            "{}/cgi-bin/aibot/response?response_code=RC9",
            fake.base()
        ));
        let (_, v) = post(&server, &msg).await;
        assert_eq!(v["stream"]["finish"], false);
        let id = v["stream"]["id"].as_str().unwrap().to_string();
        let refresh = json!({"msgid": "r9", "aibotid": "AIBOTID", "chattype": "single",
            "from": {"userid": "zhangsan"}, "msgtype": "stream", "stream": {"id": id}});
        // Past the window, a refresh finishes the stream with a note.
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let (_, v) = post(&server, &refresh).await;
        assert_eq!(v["stream"]["finish"], true);
        let note = v["stream"]["content"].as_str().unwrap();
        assert!(note.contains("单独的消息"), "{note}");
        // The answer follows once through response_url, as markdown.
        let sent = fake.wait_delivered("/cgi-bin/aibot/response", 1).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["msgtype"], "markdown");
        assert!(
            sent[0]["markdown"]["content"]
                .as_str()
                .unwrap()
                .starts_with(super::slow::ANSWER),
            "{}",
            sent[0]
        );
        // Later refreshes keep the stream finished and do not send it again.
        let (_, v) = post(&server, &refresh).await;
        assert_eq!(v["stream"]["finish"], true);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(fake.requests("/cgi-bin/aibot/response").len(), 1);
    }

    #[tokio::test]
    async fn response_url_off_the_wecom_host_is_never_called() {
        use crate::support::fake_tencent::FakeTencent;
        let fake = FakeTencent::start("ww", "s", "wx", "s").await;
        let llm = super::slow::slow_llm(std::time::Duration::from_millis(600)).await;
        let server = TestServer::start(&format!(
            "[wecom.aibot]\nmode = \"callback\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{KEY}\"\npassive_reply_ms = 0\nstream_window_ms = 100\n\n[llm]\nbase_url = \"{llm}\"\nmodel = \"m\"\ntimeout_ms = 10000\n\n[api]\nwecom_base = \"https://qyapi.weixin.qq.com\"\n"
        ))
        .await;
        let mut msg = text("m10", false, super::slow::Q);
        msg["response_url"] = json!(format!(
            "{}/cgi-bin/aibot/response?response_code=RC10",
            fake.base()
        ));
        let (_, v) = post(&server, &msg).await;
        let id = v["stream"]["id"].as_str().unwrap().to_string();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let refresh = json!({"msgid": "r10", "aibotid": "AIBOTID", "chattype": "single",
            "from": {"userid": "zhangsan"}, "msgtype": "stream", "stream": {"id": id}});
        let (_, v) = post(&server, &refresh).await;
        assert_eq!(v["stream"]["finish"], true);
        tokio::time::sleep(std::time::Duration::from_millis(900)).await;
        assert!(fake.requests("/cgi-bin/aibot/response").is_empty());
    }

    #[tokio::test]
    async fn key_rollover_accepts_the_previous_key() {
        const NEW: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
        let server = TestServer::start(&format!(
            "[wecom.aibot]\nmode = \"callback\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{NEW}\"\nencoding_aes_key_previous = \"{KEY}\"\npassive_reply_ms = 3000\n"
        ))
        .await;
        // `post` encrypts with the previous key and opens the reply with it.
        let (s, v) = post(&server, &text("m11", false, "/whoami")).await;
        assert_eq!(s, 200, "{v}");
        assert!(
            v["stream"]["content"]
                .as_str()
                .unwrap()
                .contains("aibot:zhangsan"),
            "{v}"
        );
    }

    #[tokio::test]
    async fn url_verification_uses_the_empty_receive_id() {
        let server = server(1000).await;
        let c = crypt();
        let ts = chrono::Utc::now().timestamp().to_string();
        let echo = c.encrypt(b"echo-123").unwrap();
        let sig = c.signature(&ts, "5", &echo);
        let r = reqwest::Client::new()
            .get(server.url("/wecom/aibot"))
            .query(&[
                ("msg_signature", sig.as_str()),
                ("timestamp", ts.as_str()),
                ("nonce", "5"),
                ("echostr", echo.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "echo-123");
    }

    #[tokio::test]
    async fn mentioned_group_message_is_answered_in_the_first_response() {
        let server = server(3000).await;
        let (s, v) = post(&server, &text("m1", true, "@RobotA /whoami")).await;
        assert_eq!(s, 200);
        assert_eq!(v["msgtype"], "stream");
        assert_eq!(v["stream"]["finish"], true);
        assert!(
            v["stream"]["content"]
                .as_str()
                .unwrap()
                .contains("aibot:zhangsan"),
            "{v}"
        );
    }

    /// Sends WeCom's refresh callbacks for stream `id` until one finishes it; returns the
    /// distinct non-empty contents shown before that, and the finishing response.
    async fn refresh_until_finished(server: &TestServer, id: &str) -> (Vec<String>, Value) {
        let refresh = json!({"msgid": "r1", "aibotid": "AIBOTID", "chattype": "single",
            "from": {"userid": "zhangsan"}, "msgtype": "stream", "stream": {"id": id}});
        let mut shown: Vec<String> = Vec::new();
        for _ in 0..250 {
            let (_, v) = post(server, &refresh).await;
            if v["stream"]["finish"] == true {
                return (shown, v);
            }
            let so_far = v["stream"]["content"].as_str().unwrap_or("").to_string();
            if !so_far.is_empty() && shown.last() != Some(&so_far) {
                shown.push(so_far);
            }
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
        panic!("stream {id} never finished; shown so far: {shown:?}");
    }

    #[tokio::test]
    async fn slow_answer_arrives_on_stream_refresh() {
        let server = server(0).await;
        let (_, v) = post(&server, &text("m2", false, "/ping")).await;
        assert_eq!(v["stream"]["finish"], false);
        let id = v["stream"]["id"].as_str().unwrap().to_string();
        let (_, last) = refresh_until_finished(&server, &id).await;
        assert_eq!(last["stream"]["id"], id.as_str());
        assert!(
            last["stream"]["content"].as_str().unwrap().contains("pong"),
            "{last}"
        );
    }

    #[tokio::test]
    async fn refreshes_show_an_llm_answer_while_it_streams_in() {
        use crate::support::fake_llm::{Ending, StreamingLlm};
        let pieces = ["ENTRYPOINT 固定程序，", "CMD 给默认参数", " [1]。"];
        let llm =
            StreamingLlm::start(&pieces, std::time::Duration::from_millis(300), Ending::Done).await;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server = TestServer::start(&format!(
            "[wecom.aibot]\nmode = \"callback\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{KEY}\"\npassive_reply_ms = 0\n\n[llm]\nbase_url = \"{}\"\nmodel = \"m\"\ntimeout_ms = 10000\n",
            llm.base_url
        ))
        .await;
        let (_, v) = post(&server, &text("m9", false, super::slow::Q)).await;
        assert_eq!(v["stream"]["finish"], false);
        let id = v["stream"]["id"].as_str().unwrap().to_string();
        let full = pieces.concat();
        let (partials, last) = refresh_until_finished(&server, &id).await;
        // Refreshes before the end showed the text so far, growing, each a prefix.
        assert!(partials.len() >= 2, "{partials:?}");
        for p in &partials {
            assert!(
                full.starts_with(p.as_str()),
                "{p} is not a prefix of {full}"
            );
        }
        let content = last["stream"]["content"].as_str().unwrap();
        assert!(content.starts_with(&full), "{last}");
        assert!(content.contains("📚"), "{last}");
        assert_eq!(llm.requests()[0]["stream"], true);
    }

    #[tokio::test]
    async fn enter_chat_is_welcomed_and_bad_json_refused() {
        let server = server(1000).await;
        let ev = json!({"msgid": "e1", "aibotid": "AIBOTID", "from": {"userid": "u"},
            "msgtype": "event", "event": {"eventtype": "enter_chat"}});
        let (_, v) = post(&server, &ev).await;
        assert_eq!(v["msgtype"], "text");
        assert!(v["text"]["content"].as_str().unwrap().contains("/help"));
        // A correctly encrypted plaintext that is not JSON.
        let c = crypt();
        let ts = chrono::Utc::now().timestamp().to_string();
        let env = c.encrypt_reply_envelope("{not json", &ts, "1").unwrap();
        let r = reqwest::Client::new()
            .post(server.url("/wecom/aibot"))
            .query(&[
                ("msg_signature", env.msg_signature.as_str()),
                ("timestamp", ts.as_str()),
                ("nonce", "1"),
            ])
            .body(json!({"encrypt": env.encrypt}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.text().await.unwrap(), "bad_json");
    }
}

#[tokio::test]
async fn queued_push_goes_out_over_the_live_connection() {
    use wedock::store::Store;
    let fake = FakeAibot::start(BOT, SECRET).await;
    let server = TestServer::start(&config(&fake, SECRET)).await;
    fake.wait_until("subscribe", |f| f.subscribes() == 1).await;
    // The platform only accepts pushes to a conversation someone has written in.
    let cb = fake.inject_text("zhangsan", Some("wrkGroup1"), "/ping");
    fake.wait_until("reply", |f| {
        f.replies_to(&cb)
            .iter()
            .any(|r| r["body"]["stream"]["finish"] == true)
    })
    .await;
    // What an alert would do: queue a push to a group chat in the durable outbox.
    let store = wedock::store::SqliteStore::open(&server.dir.path().join("data")).unwrap();
    store
        .outbox_enqueue(wedock::channel::aibot_ws::push_message(
            "wrkGroup1",
            true,
            "**web** restarted",
        ))
        .await
        .unwrap();
    fake.wait_until("aibot_send_msg", |f| {
        f.frames().iter().any(|x| x["cmd"] == "aibot_send_msg")
    })
    .await;
    let push = fake
        .frames()
        .into_iter()
        .find(|x| x["cmd"] == "aibot_send_msg")
        .unwrap();
    assert_eq!(push["body"]["chatid"], "wrkGroup1");
    assert_eq!(push["body"]["chat_type"], 2);
    assert_eq!(push["body"]["msgtype"], "markdown");
    assert_eq!(push["body"]["markdown"]["content"], "**web** restarted");
    // Acked with errcode 0: recorded as sent.
    for _ in 0..200 {
        if store.outbox_counts().await.unwrap().sent == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("push not recorded as sent");
}

pub(crate) mod slow {
    //! Slow answers: the stream is kept alive, and an answer the stream can no longer carry
    //! arrives as a proactive message. The slowness comes from a fake LLM endpoint.
    use super::{BOT, SECRET};
    use crate::support::TestServer;
    use crate::support::fake_tencent::aibot::FakeAibot;
    use std::time::Duration;

    pub const Q: &str = "CMD 和 ENTRYPOINT 有什么区别";
    pub const ANSWER: &str = "ENTRYPOINT 固定程序，CMD 给默认参数 [1]。";

    /// An OpenAI-compatible endpoint that answers after `delay`.
    pub async fn slow_llm(delay: Duration) -> String {
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move || async move {
                tokio::time::sleep(delay).await;
                axum::Json(serde_json::json!({
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
                                 "finish_reason": "stop"}]
                }))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}/v1")
    }

    async fn start(fake: &FakeAibot, keepalive_ms: u64, window_ms: u64) -> TestServer {
        let llm = slow_llm(Duration::from_millis(1200)).await;
        start_with_llm(fake, &llm, keepalive_ms, window_ms).await
    }

    async fn start_with_llm(
        fake: &FakeAibot,
        llm: &str,
        keepalive_ms: u64,
        window_ms: u64,
    ) -> TestServer {
        let server = TestServer::start(&format!(
            r#"
[wecom.aibot]
mode = "websocket"
bot_id = "{BOT}"
secret = "{SECRET}"
heartbeat_secs = 30
reconnect_min_ms = 50
stream_keepalive_ms = {keepalive_ms}
stream_window_ms = {window_ms}

[llm]
base_url = "{llm}"
model = "m"
timeout_ms = 10000

[api]
aibot_ws_url = "{}"
"#,
            fake.url()
        ))
        .await;
        fake.wait_until("subscribe", |f| f.subscribes() == 1).await;
        server
    }

    fn finished(fake: &FakeAibot, cb: &str) -> bool {
        fake.replies_to(cb)
            .iter()
            .any(|r| r["body"]["stream"]["finish"] == true)
    }

    #[tokio::test]
    async fn slow_answer_keeps_the_stream_alive_until_it_is_ready() {
        let fake = FakeAibot::start(BOT, SECRET).await;
        let _server = start(&fake, 200, 60_000).await;
        let cb = fake.inject_text("lisi", None, Q);
        fake.wait_until("final frame", |f| finished(f, &cb)).await;
        let frames = fake.replies_to(&cb);
        let id = &frames[0]["body"]["stream"]["id"];
        assert!(frames.iter().all(|f| &f["body"]["stream"]["id"] == id));
        let open = frames
            .iter()
            .filter(|f| f["body"]["stream"]["finish"] == false)
            .count();
        // Opening frame plus refreshes every 200 ms during the 1.2 s answer.
        assert!(open >= 4, "{frames:?}");
        let last = frames.last().unwrap();
        assert_eq!(last["body"]["stream"]["finish"], true);
        assert!(
            last["body"]["stream"]["content"]
                .as_str()
                .unwrap()
                .starts_with(ANSWER),
            "{last}"
        );
        assert!(fake.pushes().is_empty());
    }

    #[tokio::test]
    async fn an_llm_answer_is_shown_while_it_streams_in() {
        use crate::support::fake_llm::{Ending, StreamingLlm};
        let pieces = [
            "ENTRYPOINT 固定程序，",
            "CMD 给默认参数",
            "，docker run 的参数",
            "替换 CMD [1]。",
        ];
        let llm = StreamingLlm::start(&pieces, Duration::from_millis(400), Ending::Done).await;
        let fake = FakeAibot::start(BOT, SECRET).await;
        // Keep-alives far apart: every frame in between comes from the streamed text.
        let _server = start_with_llm(&fake, &llm.base_url, 60_000, 120_000).await;
        let cb = fake.inject_text("lisi", None, Q);
        fake.wait_until("final frame", |f| finished(f, &cb)).await;
        let frames = fake.replies_to(&cb);
        let full = pieces.concat();
        let partials: Vec<&str> = frames
            .iter()
            .filter(|f| f["body"]["stream"]["finish"] == false)
            .filter_map(|f| f["body"]["stream"]["content"].as_str())
            .filter(|c| *c != "…")
            .collect();
        assert!(partials.len() >= 2, "{frames:?}");
        for pair in partials.windows(2) {
            assert!(pair[1].len() > pair[0].len(), "{partials:?}");
        }
        for p in &partials {
            assert!(full.starts_with(p), "{p} is not a prefix of {full}");
        }
        let last = frames.last().unwrap();
        assert_eq!(last["body"]["stream"]["finish"], true);
        let content = last["body"]["stream"]["content"].as_str().unwrap();
        assert!(content.starts_with(&full), "{last}");
        assert!(content.contains("📚"), "{last}");
        assert!(fake.pushes().is_empty());
    }

    #[tokio::test]
    async fn expired_stream_falls_back_to_a_proactive_message() {
        let fake = FakeAibot::start(BOT, SECRET).await;
        // No refresh before the answer is ready; the platform closes idle streams at 300 ms.
        let server = start(&fake, 30_000, 60_000).await;
        fake.set_stream_windows(Duration::from_millis(300), Duration::from_secs(600));
        let cb = fake.inject_text("lisi", None, Q);
        fake.wait_until("push", |f| !f.pushes().is_empty()).await;
        // The final frame was tried (and refused with 846608) before the push.
        assert!(finished(&fake, &cb));
        let push = &fake.pushes()[0];
        assert_eq!(push["body"]["chatid"], "lisi");
        assert_eq!(push["body"]["chat_type"], 1);
        assert_eq!(push["body"]["msgtype"], "markdown");
        assert!(
            push["body"]["markdown"]["content"]
                .as_str()
                .unwrap()
                .starts_with(ANSWER),
            "{push}"
        );
        use wedock::store::Store;
        let store = wedock::store::SqliteStore::open(&server.dir.path().join("data")).unwrap();
        for _ in 0..200 {
            if store.outbox_counts().await.unwrap().sent == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("fallback push not recorded as sent");
    }

    #[tokio::test]
    async fn answer_later_than_the_window_finishes_the_stream_and_follows_as_a_push() {
        let fake = FakeAibot::start(BOT, SECRET).await;
        let _server = start(&fake, 150, 400).await;
        let cb = fake.inject_text("wangwu", Some("wrkGroup9"), Q);
        fake.wait_until("push", |f| !f.pushes().is_empty()).await;
        let frames = fake.replies_to(&cb);
        let last = frames.last().unwrap();
        assert_eq!(last["body"]["stream"]["finish"], true);
        let note = last["body"]["stream"]["content"].as_str().unwrap();
        assert!(note.contains("单独的消息"), "{note}");
        assert!(!note.contains(ANSWER));
        // Exactly one finishing frame: the note; the answer came as one group push.
        let finishing = frames
            .iter()
            .filter(|f| f["body"]["stream"]["finish"] == true)
            .count();
        assert_eq!(finishing, 1);
        let pushes = fake.pushes();
        assert_eq!(pushes.len(), 1);
        assert_eq!(pushes[0]["body"]["chatid"], "wrkGroup9");
        assert_eq!(pushes[0]["body"]["chat_type"], 2);
        assert!(
            pushes[0]["body"]["markdown"]["content"]
                .as_str()
                .unwrap()
                .starts_with(ANSWER)
        );
    }
}
