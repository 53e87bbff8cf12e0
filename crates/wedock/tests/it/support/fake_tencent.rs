//! A fake Tencent platform for tests: the WeCom API (`gettoken`, `message/send`, the
//! intelligent robot's one-shot `aibot/response`) and the Official Account API (`token`,
//! `stable_token`, `message/custom/send`), faithful to the documented request and response
//! shapes (wechat-protocol.md §2.7, §3, §4.5, §4.6, §6). It records every request and can
//! inject errors: expired tokens (42001), invalid tokens (40014), tokens refused with 40001
//! that normal-mode `stable_token` still returns, a closed customer-service window (45015)
//! and arbitrary errcodes on the next sends.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, body::Bytes};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    issued: u32,
    valid: HashSet<String>,
    expired: HashSet<String>,
    send_errors: VecDeque<i64>,
    /// The Official Account's current stable token (§2.7: normal mode returns it again).
    stable: Option<String>,
    /// Tokens the send API refuses with 40001 although stable_token still hands them out.
    refused: HashSet<String>,
    /// Customer-service messages answer 45015 (48-hour window closed) when set.
    window_closed: bool,
    /// Template cards sent through the app, their views, response codes and updates.
    cards: super::fake_cards::Cards,
}

#[derive(Clone)]
struct Fake {
    inner: Arc<Mutex<Inner>>,
    corp_id: String,
    corp_secret: String,
    app_id: String,
    app_secret: String,
}

pub struct FakeTencent {
    pub addr: SocketAddr,
    fake: Fake,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTencent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn query_map(q: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

impl FakeTencent {
    /// Starts the fake; `corp_id`/`corp_secret` and `app_id`/`app_secret` are the
    /// credentials it accepts.
    pub async fn start(corp_id: &str, corp_secret: &str, app_id: &str, app_secret: &str) -> Self {
        // reqwest is built without a default TLS provider; tests' clients need one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let fake = Fake {
            inner: Arc::default(),
            corp_id: corp_id.into(),
            corp_secret: corp_secret.into(),
            app_id: app_id.into(),
            app_secret: app_secret.into(),
        };
        let app = Router::new()
            .route("/cgi-bin/gettoken", get(wecom_token))
            .route("/cgi-bin/token", get(wechat_token))
            .route("/cgi-bin/stable_token", post(stable_token))
            .route("/cgi-bin/aibot/response", post(aibot_response))
            .route("/cgi-bin/message/send", post(send))
            .route(
                "/cgi-bin/message/update_template_card",
                post(update_template_card),
            )
            .route("/cgi-bin/message/custom/send", post(send))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTencent { addr, fake, task }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request to `path`, in arrival order.
    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        let g = self.fake.inner.lock().unwrap();
        g.requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Messages accepted (errcode 0) by `path`, as JSON.
    pub fn delivered(&self, path: &str) -> Vec<Value> {
        let g = self.fake.inner.lock().unwrap();
        g.requests
            .iter()
            .filter(|r| r.path == path && r.query.contains_key("accepted"))
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect()
    }

    /// Waits until `path` has accepted `n` messages (or 10 s pass) and returns them.
    pub async fn wait_delivered(&self, path: &str, n: usize) -> Vec<Value> {
        for _ in 0..400 {
            let d = self.delivered(path);
            if d.len() >= n {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.delivered(path)
    }

    /// Token fetches so far (every token API).
    pub fn token_fetches(&self) -> usize {
        self.requests("/cgi-bin/gettoken").len()
            + self.requests("/cgi-bin/token").len()
            + self.requests("/cgi-bin/stable_token").len()
    }

    /// The send APIs refuse every token issued so far with 40001, while the stable-token
    /// endpoint keeps handing the current one out in normal mode (only `force_refresh`
    /// replaces it).
    pub fn refuse_tokens(&self) {
        let mut g = self.fake.inner.lock().unwrap();
        let all: Vec<String> = g.valid.iter().cloned().collect();
        g.refused.extend(all);
    }

    /// Customer-service sends answer 45015 from now on (the user's 48-hour window closed).
    pub fn close_service_window(&self) {
        self.fake.inner.lock().unwrap().window_closed = true;
    }

    /// Expires every issued token: the next call with one gets 42001.
    pub fn expire_tokens(&self) {
        let mut g = self.fake.inner.lock().unwrap();
        let all: Vec<String> = g.valid.drain().collect();
        g.expired.extend(all);
    }

    /// The next sends answer with these errcodes, in order.
    pub fn inject_send_errors(&self, codes: &[i64]) {
        self.fake
            .inner
            .lock()
            .unwrap()
            .send_errors
            .extend(codes.iter().copied());
    }
}

fn issue(f: &Fake, path: &str, q: HashMap<String, String>) -> Value {
    let mut g = f.inner.lock().unwrap();
    g.requests.push(Recorded {
        path: path.into(),
        query: q,
        body: String::new(),
    });
    g.issued += 1;
    let token = format!("TOKEN{}-{}", g.issued, "x".repeat(64));
    g.valid.insert(token.clone());
    json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})
}

async fn wecom_token(State(f): State<Fake>, RawQuery(q): RawQuery) -> Json<Value> {
    let q = query_map(q);
    if q.get("corpid") != Some(&f.corp_id) {
        return Json(json!({"errcode": 40013, "errmsg": "invalid corpid"}));
    }
    if q.get("corpsecret") != Some(&f.corp_secret) {
        return Json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    Json(issue(&f, "/cgi-bin/gettoken", q))
}

async fn wechat_token(State(f): State<Fake>, RawQuery(q): RawQuery) -> Json<Value> {
    let q = query_map(q);
    if q.get("grant_type").map(String::as_str) != Some("client_credential")
        || q.get("appid") != Some(&f.app_id)
    {
        return Json(json!({"errcode": 40013, "errmsg": "invalid appid"}));
    }
    if q.get("secret") != Some(&f.app_secret) {
        return Json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
    }
    Json(issue(&f, "/cgi-bin/token", q))
}

/// The intelligent robot's one-shot `response_url` (wechat-protocol.md §6): plain JSON,
/// usable once per response_code (the reuse errcode is invented: none is documented).
async fn aibot_response(State(f): State<Fake>, RawQuery(q): RawQuery, body: Bytes) -> Json<Value> {
    let mut q = query_map(q);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut g = f.inner.lock().unwrap();
    let code = q.get("response_code").cloned().unwrap_or_default();
    let used = g.requests.iter().any(|r| {
        r.path == "/cgi-bin/aibot/response"
            && r.query.get("response_code") == Some(&code)
            && r.query.contains_key("accepted")
    });
    let answer = if used || code.is_empty() {
        json!({"errcode": -1, "errmsg": "response_code used or missing"})
    } else {
        q.insert("accepted".into(), "1".into());
        json!({"errcode": 0, "errmsg": "ok"})
    };
    g.requests.push(Recorded {
        path: "/cgi-bin/aibot/response".into(),
        query: q,
        body,
    });
    Json(answer)
}

async fn stable_token(State(f): State<Fake>, body: Bytes) -> Json<Value> {
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let force = v["force_refresh"] == true;
    {
        let mut g = f.inner.lock().unwrap();
        let current = g.stable.clone().filter(|t| g.valid.contains(t));
        if v["grant_type"] != "client_credential" || v["appid"] != f.app_id.as_str() {
            return Json(json!({"errcode": 40013, "errmsg": "invalid appid"}));
        }
        if v["secret"] != f.app_secret.as_str() {
            return Json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
        }
        if let (Some(t), false) = (current, force) {
            g.requests.push(Recorded {
                path: "/cgi-bin/stable_token".into(),
                query: HashMap::new(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            return Json(json!({"access_token": t, "expires_in": 7000}));
        }
    }
    let mut issued = issue(&f, "/cgi-bin/stable_token", HashMap::new());
    let mut g = f.inner.lock().unwrap();
    if let Some(last) = g.requests.last_mut() {
        last.body = String::from_utf8_lossy(&body).into_owned();
    }
    g.stable = issued["access_token"].as_str().map(str::to_string);
    // The stable-token answer has no errcode on success.
    if let Some(o) = issued.as_object_mut() {
        o.remove("errcode");
        o.remove("errmsg");
    }
    Json(issued)
}

async fn send(
    State(f): State<Fake>,
    uri: axum::http::Uri,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Json<Value> {
    let mut q = query_map(q);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut g = f.inner.lock().unwrap();
    let token = q.get("access_token").cloned().unwrap_or_default();
    let answer = if g.expired.contains(&token) {
        json!({"errcode": 42001, "errmsg": "access_token expired"})
    } else if !g.valid.contains(&token) {
        json!({"errcode": 40014, "errmsg": "invalid access_token"})
    } else if g.refused.contains(&token) {
        json!({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
    } else if g.window_closed && uri.path() == "/cgi-bin/message/custom/send" {
        json!({"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"})
    } else if let Some(code) = g.send_errors.pop_front() {
        json!({"errcode": code, "errmsg": "injected"})
    } else if serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("touser").and_then(Value::as_str).map(str::to_string))
        .is_none()
    {
        json!({"errcode": 40003, "errmsg": "invalid touser"})
    } else if let Some(card) = serde_json::from_str::<Value>(&body)
        .ok()
        .filter(|v| v["msgtype"] == "template_card")
    {
        let a = g.cards.send(&card);
        if a["errcode"] == 0 {
            q.insert("accepted".into(), "1".into());
        }
        a
    } else {
        q.insert("accepted".into(), "1".into());
        json!({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": format!("m{}", g.requests.len())})
    };
    g.requests.push(Recorded {
        path: uri.path().to_string(),
        query: q,
        body,
    });
    Json(answer)
}

async fn update_template_card(
    State(f): State<Fake>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Json<Value> {
    let q = query_map(q);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut g = f.inner.lock().unwrap();
    let token = q.get("access_token").cloned().unwrap_or_default();
    let answer = if g.expired.contains(&token) {
        json!({"errcode": 42001, "errmsg": "access_token expired"})
    } else if !g.valid.contains(&token) {
        json!({"errcode": 40014, "errmsg": "invalid access_token"})
    } else {
        match serde_json::from_str::<Value>(&body) {
            Ok(v) => g.cards.update(&v),
            Err(_) => json!({"errcode": 40058, "errmsg": "invalid parameter: body is not JSON"}),
        }
    };
    g.requests.push(Recorded {
        path: "/cgi-bin/message/update_template_card".into(),
        query: q,
        body,
    });
    Json(answer)
}

/// The card hooks: what a recipient sees, clicks, the clock.
impl FakeTencent {
    /// Cards sent so far: (msgid, recipients).
    pub fn cards(&self) -> Vec<(String, Vec<String>)> {
        let g = self.fake.inner.lock().unwrap();
        g.cards
            .cards
            .iter()
            .map(|c| (c.msgid.clone(), c.recipients.clone()))
            .collect()
    }

    /// What `user` sees of card `msgid` now.
    pub fn card_view(&self, msgid: &str, user: &str) -> Option<Value> {
        let g = self.fake.inner.lock().unwrap();
        g.cards
            .cards
            .iter()
            .find(|c| c.msgid == msgid)
            .and_then(|c| c.views.get(user).cloned())
    }

    /// `user` clicks button `key` on card `msgid`: the decrypted `template_card_event` the
    /// platform would post (with a fresh single-use ResponseCode), or why the client could
    /// not click.
    pub fn click(
        &self,
        corp_id: &str,
        msgid: &str,
        user: &str,
        key: &str,
    ) -> Result<String, String> {
        let mut g = self.fake.inner.lock().unwrap();
        let (code, task) = g.cards.click(msgid, user, key)?;
        Ok(format!(
            "<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{task}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>1000002</AgentID></xml>",
            chrono::Utc::now().timestamp()
        ))
    }

    /// Moves the fake's clock forward (response codes expire against it).
    pub fn advance_clock(&self, by: Duration) {
        self.fake.inner.lock().unwrap().cards.skew += by;
    }

    /// Every `update_template_card` call with the errcode it got.
    pub fn card_updates(&self) -> Vec<(Value, i64)> {
        self.fake.inner.lock().unwrap().cards.updates.clone()
    }
}

/// The intelligent-robot long-connection server, following the behaviour model of wecom-aibot-ws.md
/// §20: subscribe with bot_id + secret (853000 on bad credentials, socket kept open), `ping`
/// acks, one owner connection per bot (a newer subscribe kicks the older one with
/// `disconnected_event`, then drops it without a close frame), callbacks injected by the
/// test, replies acked in order and recorded. Reply validation: unknown req_id → 846605, a
/// second reply after a non-stream one → 846606, a stream updated after `finish` or past its
/// idle/total window (6 / 10 minutes, shortened by `set_stream_windows`) → 846608; pushes
/// (`aibot_send_msg`) only to conversations a user has written in. Knobs: drop the socket,
/// kick, stop acking pings, stream windows.
pub mod aibot {
    use axum::extract::State;
    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use axum::response::Response;
    use serde_json::{Value, json};
    use std::collections::{HashMap, HashSet};
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    use tokio::sync::mpsc;

    enum Out {
        Frame(Value),
        /// Drop the TCP connection without a close frame.
        Drop,
    }

    struct Inner {
        next_conn: u64,
        owner: Option<(u64, mpsc::UnboundedSender<Out>)>,
        frames: Vec<Value>,
        subscribes_ok: usize,
        callbacks: HashSet<String>,
        ack_pings: bool,
        seq: u64,
        /// Reply streams by stream id (§10.1): first and last frame time, finished.
        streams: HashMap<String, StreamState>,
        /// Idle and total stream windows (§10.1: 6 and 10 minutes by default).
        stream_idle: Duration,
        stream_total: Duration,
        /// Callback req_ids consumed by a non-stream reply (§10.2 → 846606).
        consumed: HashSet<String>,
        /// Conversations a user has written in: group chat ids and user ids (§13).
        known_chats: HashSet<String>,
    }

    struct StreamState {
        first: Instant,
        last: Instant,
        finished: bool,
    }

    impl Default for Inner {
        fn default() -> Self {
            Inner {
                next_conn: 0,
                owner: None,
                frames: Vec::new(),
                subscribes_ok: 0,
                callbacks: HashSet::new(),
                ack_pings: true,
                seq: 0,
                streams: HashMap::new(),
                stream_idle: Duration::from_secs(360),
                stream_total: Duration::from_secs(600),
                consumed: HashSet::new(),
                known_chats: HashSet::new(),
            }
        }
    }

    impl Inner {
        /// Validates an `aibot_respond_msg` (§20 "Reply validation").
        fn respond(&mut self, req_id: &str, body: &Value) -> (i64, &'static str) {
            if !self.callbacks.contains(req_id) {
                return (846605, "invalid req_id");
            }
            if self.consumed.contains(req_id) {
                return (846606, "request already responded, cannot respond again");
            }
            if body["msgtype"] != "stream" {
                self.consumed.insert(req_id.to_string());
                return (0, "ok");
            }
            let Some(id) = body["stream"]["id"].as_str() else {
                return (-1, "stream.id missing");
            };
            let content = body["stream"]["content"].as_str().unwrap_or("");
            if content.len() > 20480 {
                // Invented code: the real one is not documented.
                return (-2, "content too long");
            }
            let now = Instant::now();
            let finish = body["stream"]["finish"] == true;
            let (idle, total) = (self.stream_idle, self.stream_total);
            match self.streams.get_mut(id) {
                None => {
                    self.streams.insert(
                        id.to_string(),
                        StreamState {
                            first: now,
                            last: now,
                            finished: finish,
                        },
                    );
                }
                Some(st) => {
                    if st.finished
                        || now.duration_since(st.last) > idle
                        || now.duration_since(st.first) > total
                    {
                        return (846608, "stream expired");
                    }
                    st.last = now;
                    st.finished = finish;
                }
            }
            (0, "ok")
        }
    }

    #[derive(Clone)]
    struct Shared {
        inner: Arc<Mutex<Inner>>,
        bot_id: String,
        secret: String,
    }

    pub struct FakeAibot {
        pub addr: SocketAddr,
        shared: Shared,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for FakeAibot {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl FakeAibot {
        pub async fn start(bot_id: &str, secret: &str) -> Self {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let shared = Shared {
                inner: Arc::new(Mutex::new(Inner::default())),
                bot_id: bot_id.into(),
                secret: secret.into(),
            };
            let app = axum::Router::new()
                .fallback(upgrade)
                .with_state(shared.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            FakeAibot { addr, shared, task }
        }

        pub fn url(&self) -> String {
            format!("ws://{}", self.addr)
        }

        pub fn subscribes(&self) -> usize {
            self.shared.inner.lock().unwrap().subscribes_ok
        }

        /// Frames received from clients, in order.
        pub fn frames(&self) -> Vec<Value> {
            self.shared.inner.lock().unwrap().frames.clone()
        }

        /// Shortens the stream windows: an update later than `idle` after the previous
        /// frame, or `total` after the first, is refused with 846608.
        pub fn set_stream_windows(&self, idle: Duration, total: Duration) {
            let mut g = self.shared.inner.lock().unwrap();
            g.stream_idle = idle;
            g.stream_total = total;
        }

        /// Proactive messages (`aibot_send_msg`) received, in order.
        pub fn pushes(&self) -> Vec<Value> {
            self.frames()
                .into_iter()
                .filter(|f| f["cmd"] == "aibot_send_msg")
                .collect()
        }

        pub fn stop_acking_pings(&self) {
            self.shared.inner.lock().unwrap().ack_pings = false;
        }

        pub async fn wait_until(&self, what: &str, f: impl Fn(&FakeAibot) -> bool) {
            for _ in 0..400 {
                if f(self) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("fake aibot: timed out waiting for {what}");
        }

        /// Delivers a user text message to the connected bot; returns the callback req_id.
        /// In a group the text is prefixed with the bot's mention, as WeCom does.
        pub fn inject_text(&self, user: &str, group_chat: Option<&str>, text: &str) -> String {
            let mut g = self.shared.inner.lock().unwrap();
            g.seq += 1;
            let req_id = format!("{:032x}", 0xcb00 + g.seq);
            let mut body = json!({
                "msgid": format!("msg{}", g.seq),
                "aibotid": self.shared.bot_id,
                "chattype": if group_chat.is_some() { "group" } else { "single" },
                "from": {"userid": user},
                "response_url": "http://127.0.0.1:1/unused",
                "msgtype": "text",
                "text": {"content": if group_chat.is_some() { format!("@wedock {text}") } else { text.to_string() }},
            });
            if let Some(c) = group_chat {
                body["chatid"] = json!(c);
            }
            g.known_chats.insert(group_chat.unwrap_or(user).to_string());
            g.callbacks.insert(req_id.clone());
            let frame =
                json!({"cmd": "aibot_msg_callback", "headers": {"req_id": req_id}, "body": body});
            if let Some((_, tx)) = &g.owner {
                let _ = tx.send(Out::Frame(frame));
            }
            req_id
        }

        /// Drops the owner's socket without a close frame (network loss).
        pub fn drop_connection(&self) {
            let mut g = self.shared.inner.lock().unwrap();
            if let Some((_, tx)) = g.owner.take() {
                let _ = tx.send(Out::Drop);
            }
        }

        /// What a second instance's subscribe does to the first: `disconnected_event`, then
        /// the socket is dropped a little later.
        pub fn kick(&self) {
            let mut g = self.shared.inner.lock().unwrap();
            if let Some((_, tx)) = g.owner.take() {
                kick(tx, &self.shared.bot_id);
            }
        }

        /// Reply frames (`aibot_respond_msg`) for one callback.
        pub fn replies_to(&self, req_id: &str) -> Vec<Value> {
            self.frames()
                .into_iter()
                .filter(|f| f["cmd"] == "aibot_respond_msg" && f["headers"]["req_id"] == req_id)
                .collect()
        }
    }

    fn kick(tx: mpsc::UnboundedSender<Out>, bot_id: &str) {
        let _ = tx.send(Out::Frame(json!({
            "cmd": "aibot_event_callback",
            "headers": {"req_id": "kick"},
            "body": {"msgid": "kick", "create_time": 0, "aibotid": bot_id, "msgtype": "event",
                     "event": {"eventtype": "disconnected_event"}},
        })));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = tx.send(Out::Drop);
        });
    }

    async fn upgrade(State(s): State<Shared>, ws: WebSocketUpgrade) -> Response {
        ws.on_upgrade(move |socket| serve(s, socket))
    }

    async fn serve(s: Shared, mut socket: WebSocket) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
        let conn = {
            let mut g = s.inner.lock().unwrap();
            g.next_conn += 1;
            g.next_conn
        };
        loop {
            tokio::select! {
                out = rx.recv() => match out {
                    Some(Out::Frame(v)) => {
                        if socket.send(Message::Text(v.to_string().into())).await.is_err() {
                            return;
                        }
                    }
                    Some(Out::Drop) | None => return,
                },
                m = socket.recv() => {
                    let Some(Ok(m)) = m else { return };
                    let Message::Text(t) = m else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                    let req_id = v["headers"]["req_id"].clone();
                    let answer = {
                    let mut g = s.inner.lock().unwrap();
                    g.frames.push(v.clone());
                    let subscribed = g.owner.as_ref().is_some_and(|(c, _)| *c == conn);
                    let (code, msg) = match v["cmd"].as_str() {
                        Some("aibot_subscribe") => {
                            if v["body"]["bot_id"] == s.bot_id.as_str() && v["body"]["secret"] == s.secret.as_str() {
                                if let Some((old, otx)) = g.owner.take() && old != conn {
                                    kick(otx, &s.bot_id);
                                }
                                g.owner = Some((conn, tx.clone()));
                                g.subscribes_ok += 1;
                                (0, "ok")
                            } else {
                                (853000, "invalid bot_id or secret")
                            }
                        }
                        _ if !subscribed => (-1, "not subscribed"),
                        Some("ping") if !g.ack_pings => (1, ""),
                        Some("ping") => (0, "ok"),
                        // §13: only conversations a user has written in (invented code).
                        Some("aibot_send_msg") => {
                            if g.known_chats.contains(v["body"]["chatid"].as_str().unwrap_or("")) {
                                (0, "ok")
                            } else {
                                (-3, "chat unknown to this bot")
                            }
                        }
                        Some("aibot_respond_msg") => {
                            let id = req_id.as_str().unwrap_or("").to_string();
                            g.respond(&id, &v["body"])
                        }
                        Some("aibot_respond_welcome_msg") => {
                            if g.callbacks.contains(req_id.as_str().unwrap_or("")) {
                                (0, "ok")
                            } else {
                                (846605, "invalid req_id")
                            }
                        }
                        _ => (-1, "unknown cmd"),
                    };
                    (code, msg)
                    };
                    // (1, "") marks a ping deliberately left unanswered.
                    let (code, msg) = answer;
                    if code == 1 {
                        continue;
                    }
                    let ack = json!({"headers": {"req_id": req_id}, "errcode": code, "errmsg": msg});
                    if socket.send(Message::Text(ack.to_string().into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
