//! A fake iLink server (Tencent's personal-WeChat bot API) following the behaviour model of
//! `wechat-ilink.md` §17: QR login states driven by the test, a long-poll `getupdates` that
//! holds requests and hands each message out once (an old cursor does not replay), context
//! tokens that must be the user's newest, about 10 bot messages per user message and a 24 h
//! window (both answered `ret -2`), silent loss (`ret 0` without `message_id`) and -14 for a
//! dead token. It records every call for assertions. Thresholds marked invented in the spec
//! are fields here.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// First message id handed out: above 2^53, so a client parsing through f64 would break.
const FIRST_MESSAGE_ID: u64 = 7_497_484_083_968_569_736;
const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct Sent {
    pub to: String,
    pub text: String,
    pub context_token: String,
    pub client_id: String,
    /// `delivered`, `dropped` (silent loss), `refused:<rule>`, `expired`.
    pub outcome: String,
    pub message_id: Option<u64>,
    pub uin: String,
    pub auth_type: String,
}

#[derive(Debug, Clone)]
struct Bot {
    bot_id: String,
    token: String,
    owner: String,
    valid: bool,
}

#[derive(Debug, Clone, Default)]
struct Conv {
    last_inbound_ms: i64,
    sends: u32,
    token: String,
}

#[derive(Debug, Clone, PartialEq)]
enum QrState {
    Wait,
    Scanned,
    /// One `scaned_but_redirect` is answered, then polls must come to the second host.
    Redirect,
    Redirected,
    NeedCode(String),
    Expired,
    Confirmed(Value),
}

#[derive(Debug)]
struct Qr {
    code: String,
    state: QrState,
    local_tokens: Vec<String>,
}

#[derive(Default)]
struct Inner {
    clock_offset_ms: i64,
    bots: Vec<Bot>,
    convs: HashMap<(String, String), Conv>,
    /// Per bot: every inbound message ever queued, and how many were handed out.
    inbox: HashMap<String, Vec<Value>>,
    watermark: HashMap<String, usize>,
    next_message_id: u64,
    qrs: Vec<Qr>,
    sent: Vec<Sent>,
    /// Cursors received on getupdates, in order.
    cursors: Vec<String>,
    active_polls: usize,
    /// Authenticated polls, and every poll including refused ones.
    polls: usize,
    poll_calls: usize,
    /// Status polls by listener: (listener index, status answered).
    status_polls: Vec<(usize, String)>,
    typing: Vec<(String, i64)>,
    notify_calls: Vec<String>,
    silent_drop: Vec<String>,
    /// Queued `getupdates` answers returned before normal handling (fault injection).
    scripted_updates: Vec<Value>,
}

#[derive(Clone)]
pub struct FakeIlink {
    pub addr: SocketAddr,
    /// The data-centre host a redirect sends QR polls to.
    pub redirect_addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
    /// How long `getupdates` holds an empty poll.
    pub hold: Duration,
    /// Bot messages per user message before `ret -2`.
    pub per_inbound: u32,
    /// -14 also carries `ret: -14` (both shapes are seen).
    pub expiry_with_ret: bool,
}

#[derive(Clone)]
struct Served {
    fake: FakeIlink,
    listener: usize,
}

impl FakeIlink {
    pub async fn start() -> FakeIlink {
        Self::start_with(10, false).await
    }

    pub async fn start_with(per_inbound: u32, expiry_with_ret: bool) -> FakeIlink {
        let l1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeIlink {
            addr: l1.local_addr().unwrap(),
            redirect_addr: l2.local_addr().unwrap(),
            inner: Arc::new(Mutex::new(Inner {
                next_message_id: FIRST_MESSAGE_ID,
                ..Inner::default()
            })),
            changed: Arc::new(Notify::new()),
            hold: Duration::from_millis(300),
            per_inbound,
            expiry_with_ret,
        };
        for (i, l) in [l1, l2].into_iter().enumerate() {
            let app = Router::new()
                .route("/ilink/bot/get_bot_qrcode", get(get_qr).post(post_qr))
                .route("/ilink/bot/get_qrcode_status", get(qr_status))
                .route("/ilink/bot/getupdates", post(get_updates))
                .route("/ilink/bot/sendmessage", post(send_message))
                .route("/ilink/bot/getconfig", post(get_config))
                .route("/ilink/bot/sendtyping", post(send_typing))
                .route("/ilink/bot/msg/notifystart", post(notify_start))
                .route("/ilink/bot/msg/notifystop", post(notify_stop))
                .with_state(Served {
                    fake: fake.clone(),
                    listener: i,
                });
            tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            });
        }
        fake
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.lock().clock_offset_ms
    }

    fn bump(&self) {
        self.changed.notify_waiters();
    }

    // ---- test controls -------------------------------------------------------------

    /// A bot bound to `owner` without a QR login (for tests that start bound).
    pub fn add_bot(&self, owner: &str) -> (String, String) {
        let n = self.lock().bots.len();
        let bot_id = format!("{:012x}@im.bot", 0x8de9e2c2b044u64 + n as u64);
        let token = format!("tok-{n}-{}", hex::encode(rand::random::<[u8; 8]>()));
        self.lock().bots.push(Bot {
            bot_id: bot_id.clone(),
            token: token.clone(),
            owner: owner.into(),
            valid: true,
        });
        (bot_id, token)
    }

    /// How many QR codes were handed out.
    pub fn qr_count(&self) -> usize {
        self.lock().qrs.len()
    }

    fn set_qr(&self, state: QrState) {
        if let Some(q) = self.lock().qrs.last_mut() {
            q.state = state;
        }
        self.bump();
    }

    pub fn expire_qr(&self) {
        self.set_qr(QrState::Expired);
    }
    pub fn scan(&self) {
        self.set_qr(QrState::Scanned);
    }
    pub fn redirect(&self) {
        self.set_qr(QrState::Redirect);
    }
    pub fn require_code(&self, code: &str) {
        self.set_qr(QrState::NeedCode(code.into()));
    }

    /// The scanning user confirms: a new bot for `user`, unless a token of this client for
    /// that user's bot came in `local_token_list` (then `binded_redirect`). A new binding
    /// kills the user's older bots (they start answering -14).
    pub fn confirm(&self, user: &str) {
        let mut g = self.lock();
        let Some(local) = g.qrs.last().map(|q| q.local_tokens.clone()) else {
            return;
        };
        let known = g
            .bots
            .iter()
            .any(|b| b.valid && b.owner == user && local.contains(&b.token));
        let state = if known {
            QrState::Confirmed(json!({"status": "binded_redirect"}))
        } else {
            for b in g.bots.iter_mut().filter(|b| b.owner == user) {
                b.valid = false;
            }
            let n = g.bots.len();
            let bot_id = format!("{:012x}@im.bot", 0x1a2b3c4d5e6fu64 + n as u64);
            let token = format!("tok-{n}-{}", hex::encode(rand::random::<[u8; 8]>()));
            g.bots.push(Bot {
                bot_id: bot_id.clone(),
                token: token.clone(),
                owner: user.into(),
                valid: true,
            });
            QrState::Confirmed(json!({
                "status": "confirmed", "bot_token": token, "ilink_bot_id": bot_id,
                "baseurl": format!("http://{}", self.addr), "ilink_user_id": user,
            }))
        };
        if let Some(q) = g.qrs.last_mut() {
            q.state = state;
        }
        drop(g);
        self.bump();
    }

    /// Kills every token (as if it timed out server-side).
    pub fn expire_tokens(&self) {
        for b in self.lock().bots.iter_mut() {
            b.valid = false;
        }
        self.bump();
    }

    pub fn silent_drop(&self, user: &str) {
        self.lock().silent_drop.push(user.into());
    }

    /// Moves the virtual clock forward (the 24 h window).
    pub fn advance(&self, d: Duration) {
        self.lock().clock_offset_ms += d.as_millis() as i64;
    }

    /// A text message from `user` to the newest valid bot; returns its message id. With
    /// `id_as_string` the id is sent as a JSON string (some paths quote it).
    pub fn inject_text(&self, user: &str, text: &str, id_as_string: bool) -> u64 {
        let now = self.now_ms();
        let mut g = self.lock();
        let bot = g
            .bots
            .iter()
            .rev()
            .find(|b| b.valid)
            .map(|b| b.bot_id.clone())
            .expect("a valid bot");
        let id = g.next_message_id;
        g.next_message_id += 1;
        let token = format!(
            "AARz{}",
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 99]>())
        );
        let conv = g.convs.entry((bot.clone(), user.into())).or_default();
        conv.last_inbound_ms = now;
        conv.sends = 0;
        conv.token = token.clone();
        let seq = g.inbox.get(&bot).map_or(0, Vec::len) + 1;
        let msg = json!({
            "seq": seq,
            "message_id": if id_as_string { json!(id.to_string()) } else { json!(id) },
            "from_user_id": user,
            "to_user_id": bot,
            "create_time_ms": now,
            "session_id": "s-1",
            "message_type": 1,
            "message_state": 2,
            "item_list": [{"type": 1, "text_item": {"text": text}}],
            "context_token": token,
        });
        g.inbox.entry(bot).or_default().push(msg);
        drop(g);
        self.bump();
        id
    }

    /// Hands the pending messages of the newest valid bot out without a client, as if a poll
    /// answer reached a process that died before doing anything else with it.
    pub fn take_pending(&self) -> Vec<Value> {
        let mut g = self.lock();
        let Some(bot) = g
            .bots
            .iter()
            .rev()
            .find(|b| b.valid)
            .map(|b| b.bot_id.clone())
        else {
            return Vec::new();
        };
        let all = g.inbox.get(&bot).cloned().unwrap_or_default();
        let mark = g.watermark.get(&bot).copied().unwrap_or(0);
        g.watermark.insert(bot, all.len());
        all[mark..].to_vec()
    }

    /// Queues the message with this id again (the server has been seen redelivering).
    pub fn redeliver(&self, message_id: u64) {
        let mut g = self.lock();
        let found = g.inbox.iter().find_map(|(bot, msgs)| {
            msgs.iter()
                .find(|m| m["message_id"].as_u64() == Some(message_id))
                .map(|m| (bot.clone(), m.clone()))
        });
        if let Some((bot, m)) = found {
            g.inbox.entry(bot).or_default().push(m);
        }
        drop(g);
        self.bump();
    }

    /// The next `getupdates` answers `body` instead.
    pub fn script_update(&self, body: Value) {
        self.lock().scripted_updates.push(body);
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }
    pub fn delivered_to(&self, user: &str) -> Vec<String> {
        self.sent()
            .into_iter()
            .filter(|s| s.to == user && s.outcome == "delivered")
            .map(|s| s.text)
            .collect()
    }
    pub fn cursors(&self) -> Vec<String> {
        self.lock().cursors.clone()
    }
    pub fn polls(&self) -> usize {
        self.lock().polls
    }
    pub fn poll_calls(&self) -> usize {
        self.lock().poll_calls
    }
    pub fn active_polls(&self) -> usize {
        self.lock().active_polls
    }
    pub fn status_polls(&self) -> Vec<(usize, String)> {
        self.lock().status_polls.clone()
    }
    pub fn typing(&self) -> Vec<(String, i64)> {
        self.lock().typing.clone()
    }
    pub fn notify_calls(&self) -> Vec<String> {
        self.lock().notify_calls.clone()
    }

    /// Waits until `f` holds (5 s at most).
    pub async fn wait_for(&self, what: &str, f: impl Fn(&FakeIlink) -> bool) {
        // 15 s: generous for a loaded CI machine; a passing wait returns as soon as it holds.
        for _ in 0..750 {
            if f(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fake iLink: timed out waiting for {what}");
    }

    fn expired_body(&self) -> Value {
        if self.expiry_with_ret {
            json!({"ret": -14, "errcode": -14, "errmsg": "session timeout"})
        } else {
            json!({"errcode": -14, "errmsg": "session timeout"})
        }
    }

    /// The valid bot a bearer token belongs to.
    fn auth(&self, headers: &HeaderMap) -> Option<String> {
        let token = headers
            .get("authorization")?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        self.lock()
            .bots
            .iter()
            .find(|b| b.valid && b.token == token)
            .map(|b| b.bot_id.clone())
    }
}

fn new_qr(fake: &FakeIlink, local_tokens: Vec<String>) -> Json<Value> {
    let code = hex::encode(rand::random::<[u8; 16]>());
    fake.lock().qrs.push(Qr {
        code: code.clone(),
        state: QrState::Wait,
        local_tokens,
    });
    Json(json!({
        "qrcode": code,
        "qrcode_img_content": format!("{}/q/fake?qrcode={code}&bot_type=3", fake.base()),
    }))
}

async fn get_qr(State(s): State<Served>) -> Json<Value> {
    new_qr(&s.fake, Vec::new())
}

async fn post_qr(State(s): State<Served>, body: Option<Json<Value>>) -> Json<Value> {
    let tokens = body
        .and_then(|b| {
            b.0["local_token_list"].as_array().map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default();
    new_qr(&s.fake, tokens)
}

async fn qr_status(
    State(s): State<Served>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let fake = &s.fake;
    let code = q.get("qrcode").cloned().unwrap_or_default();
    let deadline = tokio::time::Instant::now() + fake.hold;
    let mut first = true;
    loop {
        let notified = fake.changed.notified();
        let answer = {
            let mut g = fake.lock();
            let Some(qr) = g.qrs.iter_mut().find(|x| x.code == code) else {
                g.status_polls.push((s.listener, "expired".into()));
                return Json(json!({"status": "expired"}));
            };
            let a = match &qr.state {
                QrState::Wait => None,
                QrState::Scanned => Some(json!({"status": "scaned"})),
                QrState::Redirect => {
                    qr.state = QrState::Redirected;
                    Some(json!({"status": "scaned_but_redirect",
                        "redirect_host": fake.redirect_addr.to_string()}))
                }
                QrState::Redirected => Some(json!({"status": "scaned"})),
                QrState::NeedCode(c) => {
                    if q.get("verify_code") == Some(c) {
                        qr.state = QrState::Scanned;
                        Some(json!({"status": "scaned"}))
                    } else {
                        Some(json!({"status": "need_verifycode"}))
                    }
                }
                QrState::Expired => Some(json!({"status": "expired"})),
                QrState::Confirmed(v) => Some(v.clone()),
            };
            // `scaned` is news once; later polls hold like `wait` until something changes.
            let a = match a {
                Some(v) if v["status"] == "scaned" && !first => None,
                other => other,
            };
            if let Some(v) = &a {
                let st = v["status"].as_str().unwrap_or("").to_string();
                g.status_polls.push((s.listener, st));
            }
            a
        };
        if let Some(v) = answer {
            return Json(v);
        }
        first = false;
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            fake.lock().status_polls.push((s.listener, "wait".into()));
            return Json(json!({"status": "wait"}));
        }
    }
}

struct PollGuard(FakeIlink);
impl Drop for PollGuard {
    fn drop(&mut self) {
        self.0.lock().active_polls -= 1;
    }
}

async fn get_updates(
    State(s): State<Served>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let fake = s.fake.clone();
    fake.lock().poll_calls += 1;
    let Some(bot) = fake.auth(&headers) else {
        return Json(fake.expired_body());
    };
    {
        let mut g = fake.lock();
        g.polls += 1;
        g.active_polls += 1;
        g.cursors
            .push(body["get_updates_buf"].as_str().unwrap_or("<none>").into());
        if !g.scripted_updates.is_empty() {
            let v = g.scripted_updates.remove(0);
            g.active_polls -= 1;
            return Json(v);
        }
    }
    let _guard = PollGuard(fake.clone());
    let hold_ms = fake.hold.as_millis() as i64;
    let deadline = tokio::time::Instant::now() + fake.hold;
    loop {
        let notified = fake.changed.notified();
        {
            let mut g = fake.lock();
            if !g.bots.iter().any(|b| b.bot_id == bot && b.valid) {
                drop(g);
                return Json(fake.expired_body());
            }
            let all = g.inbox.get(&bot).cloned().unwrap_or_default();
            let mark = g.watermark.get(&bot).copied().unwrap_or(0);
            if all.len() > mark {
                // At most once: the watermark moves as the answer is built, whatever
                // cursor came in.
                let end = all.len().min(mark + 20);
                g.watermark.insert(bot.clone(), end);
                let cursor = base64::engine::general_purpose::STANDARD.encode(format!("w:{end}"));
                return Json(json!({
                    "ret": 0, "msgs": all[mark..end], "get_updates_buf": cursor,
                    "longpolling_timeout_ms": hold_ms,
                }));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            let mark = fake.lock().watermark.get(&bot).copied().unwrap_or(0);
            let cursor = base64::engine::general_purpose::STANDARD.encode(format!("w:{mark}"));
            return Json(json!({
                "ret": 0, "msgs": [], "get_updates_buf": cursor,
                "longpolling_timeout_ms": hold_ms,
            }));
        }
    }
}

async fn send_message(
    State(s): State<Served>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let fake = &s.fake;
    let now = fake.now_ms();
    let msg = &body["msg"];
    let to = msg["to_user_id"].as_str().unwrap_or("").to_string();
    let mut rec = Sent {
        to: to.clone(),
        text: msg["item_list"][0]["text_item"]["text"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        context_token: msg["context_token"].as_str().unwrap_or("").to_string(),
        client_id: msg["client_id"].as_str().unwrap_or("").to_string(),
        outcome: String::new(),
        message_id: None,
        uin: headers
            .get("x-wechat-uin")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        auth_type: headers
            .get("authorizationtype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    };
    let Some(bot) = fake.auth(&headers) else {
        rec.outcome = "expired".into();
        fake.lock().sent.push(rec);
        return Json(fake.expired_body());
    };
    let mut g = fake.lock();
    let items = msg["item_list"].as_array().map_or(0, Vec::len);
    let refuse = |g: &mut Inner, mut rec: Sent, rule: &str, body: Value| {
        rec.outcome = format!("refused:{rule}");
        g.sent.push(rec);
        Json(body)
    };
    if to.is_empty() || items == 0 {
        return refuse(&mut g, rec, "shape", json!({"ret": -2}));
    }
    let per_inbound = fake.per_inbound;
    let silent = g.silent_drop.contains(&to);
    let Some(conv) = g.convs.get(&(bot.clone(), to.clone())).cloned() else {
        return refuse(
            &mut g,
            rec,
            "unknown_user",
            json!({"ret": -2, "errmsg": "prepare failed"}),
        );
    };
    if rec.context_token.is_empty() || rec.context_token != conv.token {
        return refuse(
            &mut g,
            rec,
            "context_token",
            json!({"ret": -2, "errmsg": "prepare failed"}),
        );
    }
    if now - conv.last_inbound_ms > DAY_MS {
        return refuse(
            &mut g,
            rec,
            "window",
            json!({"ret": -2, "errmsg": "prepare failed"}),
        );
    }
    if conv.sends >= per_inbound {
        return refuse(&mut g, rec, "quota", json!({"ret": -2}));
    }
    if rec.text.len() > 16_384 {
        return refuse(&mut g, rec, "too_long", json!({"ret": -2}));
    }
    if let Some(c) = g.convs.get_mut(&(bot, to)) {
        c.sends += 1;
    }
    if silent {
        rec.outcome = "dropped".into();
        g.sent.push(rec);
        return Json(json!({"ret": 0}));
    }
    let id = g.next_message_id;
    g.next_message_id += 1;
    rec.outcome = "delivered".into();
    rec.message_id = Some(id);
    g.sent.push(rec);
    Json(json!({"ret": 0, "message_id": id}))
}

async fn get_config(
    State(s): State<Served>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    if s.fake.auth(&headers).is_none() {
        return Json(s.fake.expired_body());
    }
    let Some(user) = body["ilink_user_id"].as_str().filter(|u| !u.is_empty()) else {
        return Json(json!({"ret": -2, "errmsg": "ilink_user_id required"}));
    };
    let ticket = base64::engine::general_purpose::STANDARD.encode(user.as_bytes());
    Json(json!({"ret": 0, "typing_ticket": ticket}))
}

async fn send_typing(
    State(s): State<Served>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    if s.fake.auth(&headers).is_none() {
        return Json(s.fake.expired_body());
    }
    let Some(user) = body["ilink_user_id"].as_str().filter(|u| !u.is_empty()) else {
        return Json(json!({"ret": -2, "errmsg": "ilink_user_id required"}));
    };
    let expected = base64::engine::general_purpose::STANDARD.encode(user.as_bytes());
    let status = body["status"].as_i64().unwrap_or(0);
    if body["typing_ticket"].as_str() != Some(expected.as_str()) || !(1..=2).contains(&status) {
        return Json(json!({"ret": -2}));
    }
    s.fake.lock().typing.push((user.to_string(), status));
    Json(json!({"ret": 0}))
}

async fn notify_start(State(s): State<Served>, headers: HeaderMap) -> Json<Value> {
    if s.fake.auth(&headers).is_none() {
        return Json(s.fake.expired_body());
    }
    s.fake.lock().notify_calls.push("start".into());
    Json(json!({"ret": 0, "errmsg": ""}))
}

async fn notify_stop(State(s): State<Served>, headers: HeaderMap) -> Json<Value> {
    if s.fake.auth(&headers).is_none() {
        return Json(s.fake.expired_body());
    }
    s.fake.lock().notify_calls.push("stop".into());
    Json(json!({"ret": 0, "errmsg": ""}))
}
