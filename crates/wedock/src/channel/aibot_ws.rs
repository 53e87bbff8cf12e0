//! WeCom intelligent robot (智能机器人), long-connection (WebSocket) mode — see
//! `wecom-aibot-ws.md`. No public callback URL is needed.
//!
//! * Connect to `api.aibot_ws_url`, send `aibot_subscribe` {bot_id, secret}, and count the
//!   bot online only after the subscribe ack (reported as health component `aibot`).
//! * Heartbeat: an application `ping` every `heartbeat_secs`; two unanswered pings mean the
//!   link is dead and it is reconnected.
//! * Reconnect with exponential backoff (backon: `reconnect_min_ms` doubling to 30 s, with
//!   jitter); the counter resets after a successful subscribe. Five failed subscribes in a
//!   row stop the channel (wrong bot_id/secret will not fix itself).
//! * The kick: `disconnected_event` means another instance subscribed with this bot. This
//!   instance closes its socket and does **not** reconnect, so two instances never fight.
//! * Messages (`aibot_msg_callback`): group messages arrive only when the bot is @-mentioned;
//!   leading mentions are stripped before routing, and the chat id becomes `Incoming.chat`.
//!   Replies are streamed with `aibot_respond_msg` on the callback's req_id: an opening
//!   frame, an LLM answer's text so far as it arrives (at most one frame per 300 ms), then
//!   the full answer with `finish: true`. Frames of one req_id are sent one at a time, each
//!   waiting for its ack.
//! * `enter_chat` gets a welcome (`aibot_respond_welcome_msg`); `template_card_event` (a
//!   click on an alert card) runs its command and updates the card (`aibot_cards.rs`).
//! * Proactive pushes (outbox sender `aibot`) use `aibot_send_msg` on the live connection.

use super::aibot_message::AibotBody;
use crate::app::App;
use crate::config::{AibotConfig, AibotMode};
use crate::message::Progress;
use crate::outbox::{Delivery, Sender};
use crate::state::AppState;
use crate::store::{NewOutboxMessage, OutboxMessage};
use async_trait::async_trait;
use backon::BackoffBuilder;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

pub const CHANNEL: &str = "aibot";
pub const SENDER: &str = "aibot";
/// Stream content limit, UTF-8 bytes.
pub const STREAM_LIMIT: usize = 20480;
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Shortest gap between two frames showing an answer's text so far.
const PARTIAL_INTERVAL: Duration = Duration::from_millis(300);
const MAX_AUTH_FAILURES: u32 = 5;

type Ack = oneshot::Sender<(i64, String)>;

/// The live connection, shared by the connection task and the outbox sender.
#[derive(Default)]
pub struct Link {
    inner: Mutex<Option<LinkInner>>,
}

struct LinkInner {
    tx: mpsc::Sender<Message>,
    pending: Arc<Mutex<HashMap<String, VecDeque<Ack>>>>,
}

impl Link {
    /// Sends one request frame and waits for its ack: `(errcode, errmsg)`.
    pub async fn request(&self, frame: Value) -> Result<(i64, String), String> {
        let req_id = frame["headers"]["req_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (tx, pending) = {
            let g = self.inner.lock().map_err(|_| "link lock poisoned")?;
            let Some(l) = g.as_ref() else {
                return Err("not connected".into());
            };
            (l.tx.clone(), l.pending.clone())
        };
        send_frame(&tx, &pending, &req_id, frame).await
    }

    fn set(&self, v: Option<LinkInner>) {
        if let Ok(mut g) = self.inner.lock() {
            *g = v;
        }
    }
}

async fn send_frame(
    tx: &mpsc::Sender<Message>,
    pending: &Mutex<HashMap<String, VecDeque<Ack>>>,
    req_id: &str,
    frame: Value,
) -> Result<(i64, String), String> {
    let (ack_tx, ack_rx) = oneshot::channel();
    if let Ok(mut p) = pending.lock() {
        p.entry(req_id.to_string()).or_default().push_back(ack_tx);
    }
    tx.send(Message::text(frame.to_string()))
        .await
        .map_err(|_| "connection closed".to_string())?;
    match tokio::time::timeout(ACK_TIMEOUT, ack_rx).await {
        Ok(Ok(ack)) => Ok(ack),
        Ok(Err(_)) => Err("connection closed before the ack".into()),
        Err(_) => Err("no ack within 5 s".into()),
    }
}

pub fn new_req_id(prefix: &str) -> String {
    use rand::Rng;
    format!(
        "{prefix}_{}_{:08x}",
        crate::store::now_ms(),
        rand::rng().random::<u32>()
    )
}

pub(crate) fn ws_config(app: &App) -> Option<&AibotConfig> {
    app.config
        .wecom
        .aibot
        .as_ref()
        .filter(|c| c.mode == AibotMode::Websocket)
}

enum Ended {
    Shutdown,
    Kicked,
    AuthFailed(String),
    Lost(String),
}

pub fn spawn(
    state: &AppState,
    shutdown: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let cfg = ws_config(state.app())?.clone();
    let state = state.clone();
    Some(tokio::spawn(run(state, cfg, shutdown)))
}

async fn run(state: AppState, cfg: AibotConfig, mut shutdown: watch::Receiver<bool>) {
    let app = state.app().clone();
    app.health.set("aibot", false, true, "connecting");
    let backoff = || {
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(cfg.reconnect_min_ms.max(1)))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .without_max_times()
            .build()
    };
    let mut delays = backoff();
    let mut auth_failures = 0u32;
    loop {
        let (ended, subscribed) = connect_and_serve(&state, &cfg, &mut shutdown).await;
        crate::channel::shared(&app).aibot.set(None);
        if subscribed {
            delays = backoff();
            auth_failures = 0;
        }
        let reason = match ended {
            Ended::Shutdown => {
                app.health.set("aibot", false, false, "stopped");
                return;
            }
            Ended::Kicked => {
                tracing::warn!(
                    "aibot: another instance connected with this bot (disconnected_event); staying off"
                );
                metrics::counter!("wedock_aibot_disconnects_total", "reason" => "kicked")
                    .increment(1);
                // Not required any more: this instance is a standby now.
                app.health.set(
                    "aibot",
                    false,
                    false,
                    "stopped: kicked by another instance using the same bot",
                );
                return;
            }
            Ended::AuthFailed(why) => {
                auth_failures += 1;
                metrics::counter!("wedock_aibot_disconnects_total", "reason" => "auth")
                    .increment(1);
                if auth_failures >= MAX_AUTH_FAILURES {
                    tracing::error!(reason = %why, "aibot: subscribe refused {auth_failures} times; giving up (check wecom.aibot.bot_id / secret)");
                    app.health
                        .set("aibot", false, true, format!("subscribe refused: {why}"));
                    return;
                }
                why
            }
            Ended::Lost(why) => {
                metrics::counter!("wedock_aibot_disconnects_total", "reason" => "lost")
                    .increment(1);
                why
            }
        };
        let wait = delays.next().unwrap_or(Duration::from_secs(30));
        tracing::warn!(reason = %reason, retry_in_ms = wait.as_millis() as u64, "aibot: connection lost; reconnecting");
        app.health
            .set("aibot", false, true, format!("reconnecting: {reason}"));
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => {
                app.health.set("aibot", false, false, "stopped");
                return;
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One connection: subscribe, then serve until it ends. Returns why, and whether the
/// subscribe succeeded.
async fn connect_and_serve(
    state: &AppState,
    cfg: &AibotConfig,
    shutdown: &mut watch::Receiver<bool>,
) -> (Ended, bool) {
    let app = state.app().clone();
    let url = app.config.api.aibot_ws_url.as_str().to_string();
    let connect = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url.as_str()),
    );
    let ws = match connect.await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return (Ended::Lost(format!("connect failed: {e}")), false),
        Err(_) => return (Ended::Lost("connect timed out".into()), false),
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(256);
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let pending: Arc<Mutex<HashMap<String, VecDeque<Ack>>>> = Arc::default();

    // Subscribe and wait for its ack before anything else.
    let req_id = new_req_id("aibot_subscribe");
    let sub = json!({
        "cmd": "aibot_subscribe",
        "headers": {"req_id": req_id},
        "body": {
            "bot_id": cfg.bot_id.clone().unwrap_or_default(),
            "secret": cfg.secret.as_ref().map(|s| s.expose().to_string()).unwrap_or_default(),
        },
    });
    if tx.send(Message::text(sub.to_string())).await.is_err() {
        writer.abort();
        return (Ended::Lost("socket closed".into()), false);
    }
    let ack = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = stream.next().await {
            let Ok(m) = m else { return None };
            if let Some(v) = parse_frame(&m)
                && v["headers"]["req_id"] == req_id.as_str()
            {
                return Some(v);
            }
        }
        None
    })
    .await;
    let ack = match ack {
        Ok(Some(v)) => v,
        Ok(None) => {
            writer.abort();
            return (Ended::Lost("socket closed during subscribe".into()), false);
        }
        Err(_) => {
            writer.abort();
            return (Ended::Lost("no subscribe ack within 10 s".into()), false);
        }
    };
    let errcode = ack["errcode"].as_i64().unwrap_or(-1);
    if errcode != 0 {
        // The server keeps a refused socket open: close it ourselves.
        writer.abort();
        let why = format!(
            "errcode {errcode}: {}",
            ack["errmsg"].as_str().unwrap_or("")
        );
        tracing::error!(reason = %why, "aibot: subscribe refused");
        return (Ended::AuthFailed(why), false);
    }
    tracing::info!("aibot: subscribed; online");
    app.health
        .set("aibot", true, true, "online (long connection)");
    crate::channel::shared(&app).aibot.set(Some(LinkInner {
        tx: tx.clone(),
        pending: pending.clone(),
    }));

    let mut heartbeat = tokio::time::interval(Duration::from_secs(cfg.heartbeat_secs.max(1)));
    heartbeat.tick().await;
    let missed = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let ended = loop {
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => break Ended::Shutdown,
            _ = heartbeat.tick() => {
                use std::sync::atomic::Ordering;
                if missed.load(Ordering::SeqCst) >= 2 {
                    break Ended::Lost("two heartbeats unanswered".into());
                }
                missed.fetch_add(1, Ordering::SeqCst);
                let id = new_req_id("ping");
                let frame = json!({"cmd": "ping", "headers": {"req_id": id}});
                let (tx2, p2, m2) = (tx.clone(), pending.clone(), missed.clone());
                tokio::spawn(async move {
                    if let Ok((0, _)) = send_frame(&tx2, &p2, &id, frame).await {
                        m2.store(0, Ordering::SeqCst);
                    }
                });
            }
            frame = stream.next() => {
                let m = match frame {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => break Ended::Lost(format!("socket error: {e}")),
                    None => break Ended::Lost("socket closed by the server".into()),
                };
                if let Message::Close(_) = m {
                    break Ended::Lost("close frame from the server".into());
                }
                let Some(v) = parse_frame(&m) else { continue };
                match v["cmd"].as_str() {
                    Some("aibot_msg_callback" | "aibot_event_callback") => {
                        match super::aibot_message::parse_frame(&v) {
                            Ok((_, AibotBody::Disconnected)) => break Ended::Kicked,
                            Ok((cb, body)) => {
                                let (s, t, p) = (state.clone(), tx.clone(), pending.clone());
                                tokio::spawn(async move { on_callback(s, t, p, cb, body, v).await });
                            }
                            Err(why) => {
                                tracing::warn!(reason = why, "aibot: callback dropped");
                                metrics::counter!("wedock_rejected_total", "reason" => "bad_message")
                                    .increment(1);
                            }
                        }
                    }
                    Some(other) => tracing::debug!(cmd = other, "aibot: unknown command ignored"),
                    None => {
                        // A response: hand it to whoever waits for this req_id.
                        let id = v["headers"]["req_id"].as_str().unwrap_or("").to_string();
                        let waiter = pending.lock().ok().and_then(|mut p| {
                            let q = p.get_mut(&id)?;
                            let w = q.pop_front();
                            if q.is_empty() {
                                p.remove(&id);
                            }
                            w
                        });
                        match waiter {
                            Some(w) => {
                                let _ = w.send((
                                    v["errcode"].as_i64().unwrap_or(-1),
                                    v["errmsg"].as_str().unwrap_or("").to_string(),
                                ));
                            }
                            None => tracing::debug!("aibot: unmatched response dropped"),
                        }
                    }
                }
            }
        }
    };
    crate::channel::shared(&app).aibot.set(None);
    if let Ok(mut p) = pending.lock() {
        p.clear(); // fails every pending ack: "connection closed"
    }
    drop(tx);
    // Let the writer flush and close (bounded), then make sure it is gone.
    let _ = tokio::time::timeout(Duration::from_millis(500), writer).await;
    (ended, true)
}

/// JSON from a text or binary frame; on failure retries without raw control characters
/// (the server has been seen sending them inside strings).
fn parse_frame(m: &Message) -> Option<Value> {
    let bytes: &[u8] = match m {
        Message::Text(t) => t.as_bytes(),
        Message::Binary(b) => b,
        _ => return None,
    };
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v.is_object().then_some(v);
    }
    let cleaned: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !matches!(b, 0x00..=0x08 | 0x0B..=0x1F))
        .collect();
    match serde_json::from_slice::<Value>(&cleaned) {
        Ok(v) if v.is_object() => Some(v),
        _ => {
            tracing::warn!("aibot: unparsable frame dropped");
            metrics::counter!("wedock_rejected_total", "reason" => "bad_json").increment(1);
            None
        }
    }
}

/// Answers one push: a message through the pipeline on a reply stream, the rest directly.
async fn on_callback(
    state: AppState,
    tx: mpsc::Sender<Message>,
    pending: Arc<Mutex<HashMap<String, VecDeque<Ack>>>>,
    cb: String,
    body: AibotBody,
    frame: Value,
) {
    let m = match body {
        AibotBody::Message(m) => m,
        AibotBody::Unsupported { user, msgtype } => {
            let text = super::unsupported(
                super::aibot_message::user_lang(state.app(), &user).await,
                &msgtype,
            );
            respond_stream(&tx, &pending, &cb, &text).await;
            return;
        }
        AibotBody::EnterChat { user } => {
            let frame = json!({
                "cmd": "aibot_respond_welcome_msg",
                "headers": {"req_id": cb},
                "body": {"msgtype": "text", "text": {"content": super::welcome(super::aibot_message::user_lang(state.app(), &user).await)}},
            });
            let _ = send_frame(&tx, &pending, &cb, frame).await;
            return;
        }
        AibotBody::CardClick => {
            let respond = |frame: Value| send_frame(&tx, &pending, &cb, frame);
            let body = frame["body"].clone();
            super::aibot_cards::on_click(state, cb.clone(), body, respond).await;
            return;
        }
        // The long connection has no stream polling; the kick is handled by the connection.
        AibotBody::StreamRefresh { .. } | AibotBody::Disconnected | AibotBody::OtherEvent => {
            return;
        }
    };
    let lang = crate::i18n::Lang::detect(&m.text);
    let msgid = m.msg_id.clone();
    // Where a proactive message reaches this conversation: the group, or the user.
    let push_group = m.chat.is_some();
    let push_to = m.chat.clone().unwrap_or_else(|| m.user.clone());
    let msg = m.incoming();
    let (keepalive, window) =
        ws_config(state.app()).map_or((Duration::from_secs(240), Duration::from_secs(330)), |c| {
            (
                Duration::from_millis(c.stream_keepalive_ms.max(50)),
                Duration::from_millis(c.stream_window_ms.max(50)),
            )
        });
    let stream = Stream {
        tx: &tx,
        pending: &pending,
        cb: &cb,
        id: new_req_id("stream"),
    };
    // Open the bubble at once so the user sees the bot working.
    let mut open = stream.frame("…", false).await.is_ok();
    let opened = tokio::time::Instant::now();
    let mut last_frame = opened;
    let pipeline = state.pipeline.clone();
    let (progress, mut partial) = Progress::channel();
    let mut work = tokio::spawn(async move { pipeline.handle_streaming(msg, &progress).await });
    let mut partials_live = true;
    // While the answer is prepared, show its text so far (an LLM answer streaming in), and
    // otherwise refresh the stream so the platform does not close it as idle; past our
    // window, finish it with a note and push the answer when it comes.
    let reply = loop {
        if !open {
            break (&mut work).await.ok().flatten();
        }
        let deadline = (last_frame + keepalive).min(opened + window);
        tokio::select! {
            r = &mut work => break r.ok().flatten(),
            _ = tokio::time::sleep_until(deadline) => {}
            changed = partial.changed(), if partials_live => {
                if changed.is_err() {
                    partials_live = false;
                    continue;
                }
                // At most one frame per interval: each waits for its ack, and the platform
                // shows only the latest snapshot anyway.
                let due = last_frame + PARTIAL_INTERVAL;
                tokio::select! {
                    r = &mut work => break r.ok().flatten(),
                    _ = tokio::time::sleep_until(due) => {}
                }
                let so_far = within_stream_limit(&partial.borrow_and_update());
                if stream.frame(&so_far, false).await.is_err() {
                    metrics::counter!("wedock_aibot_stream_fallback_total", "reason" => "partial")
                        .increment(1);
                    open = false;
                }
                last_frame = tokio::time::Instant::now();
                continue;
            }
        }
        if opened.elapsed() >= window {
            let note = t!(lang, "channel.answer_follows");
            let _ = stream.frame(note, true).await;
            metrics::counter!("wedock_aibot_stream_fallback_total", "reason" => "window")
                .increment(1);
            open = false;
        } else {
            // A keep-alive repeats what the bubble shows (the text so far, if any).
            let shown = match within_stream_limit(&partial.borrow()) {
                so_far if so_far.is_empty() => "…".to_string(),
                so_far => so_far,
            };
            if stream.frame(&shown, false).await.is_err() {
                // Refused (846608: the platform closed it) or unacknowledged: the answer
                // goes out as a proactive message instead.
                metrics::counter!("wedock_aibot_stream_fallback_total", "reason" => "keepalive")
                    .increment(1);
                open = false;
            }
            last_frame = tokio::time::Instant::now();
        }
    };
    // Stream bubbles render markdown: container output must not add links or mentions.
    let content = reply.map(|r| r.markdown_text()).unwrap_or_default();
    let parts = crate::render::split_by_bytes(&content, STREAM_LIMIT);
    // The stream carries the first part; what it cannot carry (a closed stream, or text
    // beyond the 20480-byte limit) follows through `aibot_send_msg`, so nothing is lost.
    let mut pushed_from = parts.len().min(1);
    if open {
        let first = parts.first().map_or("", String::as_str);
        if let Err(why) = stream.frame(first, true).await {
            tracing::warn!(reason = %why, "aibot: final stream frame failed; sending the answer as a proactive message");
            metrics::counter!("wedock_aibot_stream_fallback_total", "reason" => "final")
                .increment(1);
            pushed_from = 0;
        }
    } else {
        pushed_from = 0;
    }
    let key = msgid.unwrap_or_else(|| cb.clone());
    for (i, part) in parts.iter().enumerate().skip(pushed_from) {
        let mut m = push_message(&push_to, push_group, part);
        m.dedup_key = Some(format!("{SENDER}:reply:{key}:{i}"));
        if let Err(e) = state.outbox.enqueue(m).await {
            tracing::error!(error = %e, "aibot: could not queue the answer");
        }
    }
}

/// What a stream frame can show of `text`: its first part within the stream's byte limit,
/// cut on a line boundary.
pub(crate) fn within_stream_limit(text: &str) -> String {
    crate::render::split_by_bytes(text, STREAM_LIMIT)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// One reply stream on a callback's req_id. Frames are sent one at a time, each waiting for
/// its ack (the platform acks a req_id's frames in order).
struct Stream<'a> {
    tx: &'a mpsc::Sender<Message>,
    pending: &'a Mutex<HashMap<String, VecDeque<Ack>>>,
    cb: &'a str,
    id: String,
}

impl Stream<'_> {
    /// Sends a snapshot of the stream; `Err` says why it was not accepted (the errcode, e.g.
    /// 846608 when the platform closed the stream, or a missing ack).
    async fn frame(&self, content: &str, finish: bool) -> Result<(), String> {
        let frame = json!({
            "cmd": "aibot_respond_msg",
            "headers": {"req_id": self.cb},
            "body": {"msgtype": "stream", "stream": {"id": self.id, "finish": finish, "content": content}},
        });
        match send_frame(self.tx, self.pending, self.cb, frame).await {
            Ok((0, _)) => Ok(()),
            Ok((code, msg)) => {
                tracing::warn!(errcode = code, errmsg = %msg, finish, "aibot: stream frame refused");
                Err(format!("errcode {code}: {msg}"))
            }
            Err(e) => {
                tracing::warn!(error = %e, finish, "aibot: stream frame not acknowledged");
                Err(e)
            }
        }
    }
}

async fn respond_stream(
    tx: &mpsc::Sender<Message>,
    pending: &Mutex<HashMap<String, VecDeque<Ack>>>,
    cb: &str,
    text: &str,
) {
    let frame = json!({
        "cmd": "aibot_respond_msg",
        "headers": {"req_id": cb},
        "body": {"msgtype": "stream", "stream": {"id": new_req_id("stream"), "finish": true, "content": text}},
    });
    let _ = send_frame(tx, pending, cb, frame).await;
}

/// An outbox message pushing markdown to a chat (`chat_type` 2) or a user (1).
pub fn push_message(chatid: &str, group: bool, markdown: &str) -> NewOutboxMessage {
    NewOutboxMessage {
        channel: SENDER.into(),
        target: chatid.to_string(),
        payload: json!({
            "chatid": chatid,
            "chat_type": if group { 2 } else { 1 },
            "msgtype": "markdown",
            "markdown": {"content": markdown},
        })
        .to_string(),
        dedup_key: None,
    }
}

/// Delivers proactive pushes through the live connection.
pub struct AibotSender {
    app: Arc<App>,
}

pub fn sender(app: &Arc<App>) -> Option<AibotSender> {
    ws_config(app)?;
    Some(AibotSender { app: app.clone() })
}

#[async_trait]
impl Sender for AibotSender {
    fn channel(&self) -> &str {
        SENDER
    }
    fn per_minute(&self, _target: &str) -> Option<u32> {
        // 30 messages per conversation per minute (846607 beyond).
        Some(30)
    }
    /// The intelligent robot renders full Markdown.
    fn alert_format(&self, _target: &str) -> crate::render::Format {
        crate::render::Format::Markdown
    }
    fn shows_cards(&self) -> bool {
        true
    }
    fn card_payloads(
        &self,
        target: &str,
        card: &crate::outbox::payload::AlertCard<'_>,
    ) -> Option<Vec<String>> {
        super::aibot_cards::alert_payloads(target, card)
    }
    async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
        let Ok(body) = serde_json::from_str::<Value>(&msg.payload) else {
            return Delivery::Dead("payload is not JSON".into());
        };
        // Alert bodies name the message only; the target is the chat.
        let body = super::aibot_cards::with_chat(body, &msg.target);
        let frame = json!({
            "cmd": "aibot_send_msg",
            "headers": {"req_id": new_req_id("aibot_send_msg")},
            "body": body,
        });
        match crate::channel::shared(&self.app).aibot.request(frame).await {
            Ok((0, _)) => Delivery::Sent,
            Ok((846607, m)) => Delivery::Retry {
                reason: format!("errcode 846607: {m}"),
                after: Some(Duration::from_secs(60)),
            },
            Ok((code, m)) => Delivery::Dead(format!("errcode {code}: {m}")),
            Err(why) => Delivery::Retry {
                reason: why,
                after: Some(Duration::from_secs(2)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_with_control_characters_are_repaired() {
        let m = Message::text("{\"cmd\":\"x\u{1}\",\"headers\":{\"req_id\":\"a\"}}");
        assert_eq!(parse_frame(&m).unwrap()["cmd"], "x");
        assert!(parse_frame(&Message::text("[1]")).is_none());
        assert!(parse_frame(&Message::text("{")).is_none());
    }
}
