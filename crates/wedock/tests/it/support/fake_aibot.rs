//! The intelligent-robot long-connection server, following the behaviour model of wecom-aibot-ws.md
//! §20: subscribe with bot_id + secret (853000 on bad credentials, socket kept open), `ping`
//! acks, one owner connection per bot (a newer subscribe kicks the older one with
//! `disconnected_event`, then drops it without a close frame), callbacks injected by the
//! test, replies acked in order and recorded. Reply validation: unknown req_id → 846605, a
//! second reply after a non-stream one → 846606, a stream updated after `finish` or past its
//! idle/total window (6 / 10 minutes, shortened by `set_stream_windows`) → 846608; pushes
//! (`aibot_send_msg`) only to conversations a user has written in. Knobs: drop the socket,
//! kick, stop acking pings, stream windows.

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
    /// Card click events by req_id: when they were sent (§12: an update within 5 s).
    card_events: HashMap<String, Instant>,
    /// Click req_ids already answered with an update (one update per event).
    updated: HashSet<String>,
    update_window: Duration,
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
            card_events: HashMap::new(),
            updated: HashSet::new(),
            update_window: Duration::from_secs(5),
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

    /// A click on a card's button (`template_card_event`, nested as the docs show); returns
    /// the event's req_id.
    pub fn inject_card_click(
        &self,
        user: &str,
        group_chat: Option<&str>,
        key: &str,
        task_id: &str,
    ) -> String {
        let mut g = self.shared.inner.lock().unwrap();
        g.seq += 1;
        let req_id = format!("{:032x}", 0xce00 + g.seq);
        let mut body = json!({
            "msgid": format!("evt{}", g.seq),
            "create_time": 0,
            "aibotid": self.shared.bot_id,
            "chattype": if group_chat.is_some() { "group" } else { "single" },
            "from": {"userid": user},
            "msgtype": "event",
            "event": {"eventtype": "template_card_event", "template_card_event":
                {"card_type": "button_interaction", "event_key": key, "task_id": task_id}},
        });
        if let Some(c) = group_chat {
            body["chatid"] = json!(c);
        }
        g.card_events.insert(req_id.clone(), Instant::now());
        let frame =
            json!({"cmd": "aibot_event_callback", "headers": {"req_id": req_id}, "body": body});
        if let Some((_, tx)) = &g.owner {
            let _ = tx.send(Out::Frame(frame));
        }
        req_id
    }

    /// Shortens the card update window (§12: 5 s).
    pub fn set_update_window(&self, d: Duration) {
        self.shared.inner.lock().unwrap().update_window = d;
    }

    /// Card updates (`aibot_respond_update_msg`) the platform accepted, in order.
    pub fn accepted_updates(&self) -> Vec<Value> {
        let g = self.shared.inner.lock().unwrap();
        g.frames
            .iter()
            .filter(|f| f["cmd"] == "aibot_respond_update_msg")
            .filter(|f| {
                g.updated
                    .contains(f["headers"]["req_id"].as_str().unwrap_or(""))
            })
            .cloned()
            .collect()
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
                        if !g.known_chats.contains(v["body"]["chatid"].as_str().unwrap_or("")) {
                            (-3, "chat unknown to this bot")
                        } else if v["body"]["msgtype"] == "template_card"
                            && crate::support::fake_cards::validate(&v["body"]["template_card"], false).is_err()
                        {
                            (42031, "invalid template_card")
                        } else {
                            (0, "ok")
                        }
                    }
                    // §12: only for a card event's req_id, once, within the window.
                    Some("aibot_respond_update_msg") => {
                        let id = req_id.as_str().unwrap_or("").to_string();
                        match g.card_events.get(&id) {
                            None => (846605, "invalid req_id"),
                            Some(at) if at.elapsed() > g.update_window => (846605, "invalid req_id"),
                            Some(_) if g.updated.contains(&id) => {
                                (846606, "request already responded, cannot respond again")
                            }
                            Some(_) if v["body"]["response_type"] != "update_template_card"
                                || crate::support::fake_cards::validate(&v["body"]["template_card"], true).is_err() =>
                            {
                                (40008, "invalid message type")
                            }
                            Some(_) => {
                                g.updated.insert(id);
                                (0, "ok")
                            }
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
