//! WeCom intelligent robot, callback (API) mode at `GET|POST /wecom/aibot`.
//!
//! * GET: URL verification as for WeCom apps, with the empty receive id.
//! * POST: JSON envelope `{"encrypt": …}` (receive id empty). A text message starts a stream
//!   (id derived from the msgid): when the answer is ready within `passive_reply_ms` the
//!   first response already carries it with `finish: true`; otherwise the stream opens empty
//!   and WeCom's refresh callbacks (`msgtype: "stream"`) get the answer once it is ready —
//!   and, before that, an LLM answer's text so far.
//!   Group messages arrive only when the bot is @-mentioned; the mention is stripped.
//! * `enter_chat` gets a welcome; other message types a polite "not supported yet".
//! * An answer not ready `stream_window_ms` after the message (WeCom stops polling about six
//!   minutes in) finishes the stream on the next refresh with a note; the answer then goes
//!   out once through the message's `response_url` (outbox sender `aibot_response`; usable
//!   once, for an hour). The URL must be on the `api.wecom_base` host: it came inside an
//!   authenticated callback, and the check keeps a forged one from aiming wedock elsewhere.
//!
//! Identities are `aibot:<userid>`, the same as in long-connection mode.

use super::callback::{CallbackPost, CallbackQuery};
use super::reject;
use crate::app::App;
use crate::config::AibotMode;
use crate::message::{Incoming, Progress};
use crate::outbox::{Delivery, Sender};
use crate::state::AppState;
use crate::store::{NewOutboxMessage, OutboxMessage};
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use wxcrypt::ReceiveId;

use super::aibot_message::AibotBody;
use super::aibot_ws::{CHANNEL, within_stream_limit};

/// WeCom stops refreshing a stream 6 minutes after the user's message.
const STREAM_TTL: Duration = Duration::from_secs(7 * 60);

pub struct AibotCallback {
    keys: super::KeyRing,
    window: Duration,
    /// After this, a refresh finishes the stream and the answer goes via `response_url`.
    stream_window: Duration,
    /// The only host a `response_url` may point at.
    wecom_host: Option<String>,
    streams: Mutex<HashMap<String, Stream>>,
}

/// When a stream started, its answer once ready, its text so far while an LLM answer streams
/// in, and whether the answer was handed over to `response_url` (decided once, under the
/// lock, against the answer arriving).
type Stream = (
    Instant,
    watch::Receiver<Option<String>>,
    watch::Receiver<String>,
    Arc<tokio::sync::Mutex<bool>>,
);

/// Outbox sender that posts late answers to a callback's `response_url`.
pub const RESPONSE_SENDER: &str = "aibot_response";

pub fn routes(app: &App) -> Option<axum::Router<AppState>> {
    let cfg = app
        .config
        .wecom
        .aibot
        .as_ref()
        .filter(|c| c.mode == AibotMode::Callback)?;
    let (Some(token), Some(key)) = (&cfg.token, &cfg.encoding_aes_key) else {
        return None;
    };
    let keys = match super::KeyRing::new(
        token.expose(),
        key.expose(),
        cfg.encoding_aes_key_previous.as_ref().map(|k| k.expose()),
        ReceiveId::Empty,
    ) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "wecom.aibot disabled: bad encoding_aes_key");
            return None;
        }
    };
    let state = Arc::new(AibotCallback {
        keys,
        window: Duration::from_millis(cfg.passive_reply_ms),
        stream_window: Duration::from_millis(cfg.stream_window_ms),
        wecom_host: app.config.api.wecom_base.host_str().map(str::to_string),
        streams: Mutex::default(),
    });
    app.health
        .set("aibot", true, false, "callback at /wecom/aibot");
    Some(
        axum::Router::new()
            .route("/wecom/aibot", get(verify).post(receive))
            .layer(Extension(state)),
    )
}

async fn verify(
    State(s): State<AppState>,
    Extension(b): Extension<Arc<AibotCallback>>,
    CallbackQuery(q): CallbackQuery,
) -> Response {
    super::answer_encrypted_verification(s.app(), CHANNEL, &b.keys, &q)
}

async fn receive(Extension(b): Extension<Arc<AibotCallback>>, post: CallbackPost) -> Response {
    let CallbackPost { s, q, body } = post;
    let (plain, crypt) =
        match super::open_encrypted_callback(s.app(), CHANNEL, &b.keys, &q, body).await {
            Ok(p) => p,
            Err(r) => return r,
        };
    // Present: the callback was refused above otherwise.
    let nonce = q.get("nonce").map_or("", String::as_str);
    let v: Value = match serde_json::from_str(&plain) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return reject(
                CHANNEL,
                "bad_json",
                StatusCode::BAD_REQUEST,
                &"message is not a JSON object",
            );
        }
        Err(e) => return reject(CHANNEL, "bad_json", StatusCode::BAD_REQUEST, &e),
    };
    let app = s.app().clone();
    let reply = match super::aibot_message::parse(&v) {
        Err(why) => return reject(CHANNEL, "bad_message", StatusCode::BAD_REQUEST, &why),
        Ok(AibotBody::StreamRefresh { id, user }) => match b.current(&id).await {
            Some(Refresh::Done(content)) => stream(&id, true, &content),
            Some(Refresh::Working(so_far)) => stream(&id, false, &so_far),
            Some(Refresh::HandedOver) => {
                let note = t!(
                    super::aibot_message::user_lang(&app, &user).await,
                    "channel.answer_follows"
                );
                stream(&id, true, note)
            }
            // Unknown or expired: close it rather than leave the bubble spinning.
            None => stream(&id, true, ""),
        },
        Ok(AibotBody::EnterChat { user }) => {
            let welcome = super::welcome(super::aibot_message::user_lang(&app, &user).await);
            json!({"msgtype": "text", "text": {"content": welcome}})
        }
        // wedock sends cards only over the long connection (`aibot_send_msg`), so a click here
        // has nothing to update; the kick and the other events need no answer.
        Ok(AibotBody::CardClick | AibotBody::Disconnected | AibotBody::OtherEvent) => {
            return StatusCode::OK.into_response();
        }
        Ok(AibotBody::Unsupported { user, msgtype }) => {
            let note =
                super::unsupported(super::aibot_message::user_lang(&app, &user).await, &msgtype);
            stream(&super::aibot_ws::new_req_id("stream"), true, &note)
        }
        Ok(AibotBody::Message(m)) => {
            let msg = m.incoming();
            let id = format!(
                "stream-{}",
                match &m.msg_id {
                    Some(id) => id.clone(),
                    None => super::aibot_ws::new_req_id("m"),
                }
            );
            let response_url = v["response_url"]
                .as_str()
                .filter(|u| b.response_url_allowed(u))
                .map(str::to_string);
            let mut rx = b.start(&s, &id, msg, response_url);
            if !b.window.is_zero() {
                let _ = tokio::time::timeout(b.window, rx.wait_for(|r| r.is_some())).await;
            }
            let done = rx.borrow().clone();
            match done {
                Some(content) => stream(&id, true, &content),
                None => stream(&id, false, ""),
            }
        }
    };
    let now = super::now_secs().to_string();
    match crypt.encrypt_reply_json(&reply.to_string(), &now, &super::reply_nonce(nonce)) {
        Ok(env) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            env,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not encrypt an aibot reply");
            StatusCode::OK.into_response()
        }
    }
}

fn stream(id: &str, finish: bool, content: &str) -> Value {
    let content = within_stream_limit(content);
    json!({"msgtype": "stream", "stream": {"id": id, "finish": finish, "content": content}})
}

/// What a stream refresh finds.
enum Refresh {
    /// Not ready; the text so far (empty unless an LLM answer is streaming in).
    Working(String),
    Done(String),
    /// The stream window is over; the answer goes (or went) through `response_url`.
    HandedOver,
}

impl AibotCallback {
    /// Only URLs on the configured WeCom API host, over http(s).
    fn response_url_allowed(&self, u: &str) -> bool {
        let ok = url::Url::parse(u).is_ok_and(|url| {
            matches!(url.scheme(), "https" | "http")
                && url.host_str().is_some()
                && url.host_str().map(str::to_string) == self.wecom_host
        });
        if !ok {
            tracing::warn!(
                channel = CHANNEL,
                "response_url not on the WeCom API host; ignored"
            );
            metrics::counter!("wedock_rejected_total", "reason" => "bad_response_url").increment(1);
        }
        ok
    }

    /// Starts (or joins, for a redelivered message) the stream `id`.
    fn start(
        &self,
        s: &AppState,
        id: &str,
        msg: Incoming,
        response_url: Option<String>,
    ) -> watch::Receiver<Option<String>> {
        let Ok(mut streams) = self.streams.lock() else {
            let (_, rx) = watch::channel(Some(String::new()));
            return rx;
        };
        streams.retain(|_, (at, _, _, _)| at.elapsed() < STREAM_TTL);
        if let Some((_, rx, _, _)) = streams.get(id) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(None);
        let (progress, so_far) = Progress::channel();
        let handed_over = Arc::new(tokio::sync::Mutex::new(false));
        streams.insert(
            id.to_string(),
            (Instant::now(), rx.clone(), so_far, handed_over.clone()),
        );
        let pipeline = s.pipeline.clone();
        let outbox = s.outbox.clone();
        let user = msg.user.clone();
        let key = format!("{RESPONSE_SENDER}:{id}");
        tokio::spawn(async move {
            let reply = pipeline
                .handle_streaming(msg, &progress)
                .await
                .map(|r| r.markdown_text());
            let content = reply.unwrap_or_default();
            let late = handed_over.lock().await;
            let _ = tx.send(Some(content.clone()));
            if *late && !content.is_empty() {
                match response_url {
                    Some(url) => {
                        let m = response_message(&user, &url, &content, &key);
                        if let Err(e) = outbox.enqueue(m).await {
                            tracing::error!(error = %e, "aibot: could not queue the late answer");
                        }
                    }
                    None => {
                        tracing::warn!(
                            channel = CHANNEL,
                            "late answer lost: the stream closed and the message had no usable response_url"
                        );
                        metrics::counter!("wedock_undeliverable_total", "reason" => "no_response_url")
                            .increment(1);
                    }
                }
            }
        });
        rx
    }

    /// The state of stream `id` for a refresh; past the stream window an unfinished answer
    /// is handed over to `response_url` (once; later refreshes see the same).
    async fn current(&self, id: &str) -> Option<Refresh> {
        let (at, rx, so_far, handed_over) = {
            let streams = self.streams.lock().ok()?;
            streams.get(id).cloned()?
        };
        let mut late = handed_over.lock().await;
        if let Some(done) = rx.borrow().clone() {
            return Some(if *late {
                Refresh::HandedOver
            } else {
                Refresh::Done(done)
            });
        }
        if *late || at.elapsed() >= self.stream_window {
            if !*late {
                metrics::counter!("wedock_aibot_stream_fallback_total", "reason" => "window")
                    .increment(1);
            }
            *late = true;
            return Some(Refresh::HandedOver);
        }
        let so_far = so_far.borrow().clone();
        Some(Refresh::Working(so_far))
    }
}

/// An outbox message posting `content` (markdown) to a callback's one-shot `response_url`.
fn response_message(user: &str, url: &str, content: &str, key: &str) -> NewOutboxMessage {
    let first = within_stream_limit(content);
    NewOutboxMessage {
        channel: RESPONSE_SENDER.into(),
        target: user.to_string(),
        payload: json!({
            "url": url,
            "expires_at": crate::store::now_ms() + RESPONSE_URL_TTL_MS,
            "body": {"msgtype": "markdown", "markdown": {"content": first}},
        })
        .to_string(),
        dedup_key: Some(key.to_string()),
    }
}

/// A `response_url` is valid for one hour (wechat-protocol.md §6).
const RESPONSE_URL_TTL_MS: i64 = 3_600_000;

/// Posts late answers to `response_url` (plain JSON, not encrypted).
pub struct ResponseSender {
    http: reqwest::Client,
}

pub fn response_sender(app: &Arc<App>) -> Option<ResponseSender> {
    app.config
        .wecom
        .aibot
        .as_ref()
        .filter(|c| c.mode == AibotMode::Callback)?;
    Some(ResponseSender {
        http: super::token::http_client(),
    })
}

#[async_trait::async_trait]
impl Sender for ResponseSender {
    fn channel(&self) -> &str {
        RESPONSE_SENDER
    }
    async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
        let Ok(v) = serde_json::from_str::<Value>(&msg.payload) else {
            return Delivery::Dead("payload is not JSON".into());
        };
        let (Some(url), Some(body)) = (v["url"].as_str(), v.get("body")) else {
            return Delivery::Dead("payload without url or body".into());
        };
        if v["expires_at"]
            .as_i64()
            .is_some_and(|t| t < crate::store::now_ms())
        {
            return Delivery::Undelivered("response_url expired (valid for one hour)".into());
        }
        let resp = match self.http.post(url).json(body).send().await {
            Ok(r) => r,
            Err(e) => {
                return Delivery::Retry {
                    reason: format!("request failed: {}", e.without_url()),
                    after: None,
                };
            }
        };
        let status = resp.status();
        if status.is_server_error() {
            return Delivery::Retry {
                reason: format!("HTTP {status}"),
                after: None,
            };
        }
        let v: Value = match resp.json().await {
            Ok(v) => v,
            Err(e) => {
                return Delivery::Dead(format!(
                    "HTTP {status}, unreadable body: {}",
                    e.without_url()
                ));
            }
        };
        match v["errcode"].as_i64().unwrap_or(0) {
            0 => Delivery::Sent,
            // The URL works once: any refusal is final.
            code => Delivery::Dead(format!(
                "errcode {code}: {}",
                v["errmsg"].as_str().unwrap_or("")
            )),
        }
    }
}
