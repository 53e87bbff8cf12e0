//! WeCom intelligent robot, callback (API) mode at `GET|POST /wecom/aibot`.
//!
//! * GET: URL verification as for WeCom apps, with the empty receive id.
//! * POST: JSON envelope `{"encrypt": …}` (receive id empty). A text message starts a stream
//!   (id derived from the msgid): when the answer is ready within `passive_reply_ms` the
//!   first response already carries it with `finish: true`; otherwise the stream opens empty
//!   and WeCom's refresh callbacks (`msgtype: "stream"`) get the answer once it is ready.
//!   Group messages arrive only when the bot is @-mentioned; the mention is stripped.
//! * `enter_chat` gets a welcome; other message types a polite "not supported yet".
//!
//! Identities are `aibot:<userid>`, the same as in long-connection mode.

use super::reject;
use crate::app::App;
use crate::config::AibotMode;
use crate::message::Incoming;
use crate::server::AppState;
use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use wxcrypt::{EncodingAesKey, MsgCrypt, ReceiveId};

use super::aibot_ws::{CHANNEL, STREAM_LIMIT, strip_mentions};

/// WeCom stops refreshing a stream 6 minutes after the user's message.
const STREAM_TTL: Duration = Duration::from_secs(7 * 60);

pub struct AibotCallback {
    crypt: MsgCrypt,
    window: Duration,
    streams: Mutex<HashMap<String, Stream>>,
}

/// When a stream started, and its answer once ready.
type Stream = (Instant, watch::Receiver<Option<String>>);

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
    let key = match EncodingAesKey::decode(key.expose()) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "wecom.aibot disabled: bad encoding_aes_key");
            return None;
        }
    };
    let state = Arc::new(AibotCallback {
        crypt: MsgCrypt::new(token.expose(), key, ReceiveId::Empty),
        window: Duration::from_millis(cfg.passive_reply_ms),
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
    RawQuery(q): RawQuery,
) -> Response {
    let q = super::wecom_app::query_map(q);
    let (Some(sig), Some(ts), Some(nonce), Some(echo)) = (
        q.get("msg_signature"),
        q.get("timestamp"),
        q.get("nonce"),
        q.get("echostr"),
    ) else {
        return reject(
            CHANNEL,
            "missing_params",
            StatusCode::BAD_REQUEST,
            &"URL verification needs msg_signature, timestamp, nonce, echostr",
        );
    };
    if let Err((reason, detail)) = super::check_timestamp(s.app(), ts) {
        return reject(CHANNEL, reason, StatusCode::FORBIDDEN, &detail);
    }
    match b
        .crypt
        .verify_url(sig, ts, nonce, &super::wecom_app::b64_param(echo))
    {
        Ok(plain) => (StatusCode::OK, plain).into_response(),
        Err(e) => {
            let (reason, status) = super::crypt_reason(&e);
            reject(CHANNEL, reason, status, &format!("{e} ({})", e.code()))
        }
    }
}

async fn receive(
    State(s): State<AppState>,
    Extension(b): Extension<Arc<AibotCallback>>,
    RawQuery(q): RawQuery,
    body: axum::body::Body,
) -> Response {
    let q = super::wecom_app::query_map(q);
    let plain = match super::open_encrypted_callback(s.app(), CHANNEL, &b.crypt, &q, body).await {
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
    let user = v["from"]["userid"].as_str().unwrap_or("").to_string();
    let identity = format!("{CHANNEL}:{user}");
    let reply = match v["msgtype"].as_str().unwrap_or("") {
        "stream" => {
            // A refresh: the latest state of our stream.
            let id = v["stream"]["id"].as_str().unwrap_or("").to_string();
            let state = b.current(&id);
            match state {
                Some(Some(content)) => stream(&id, true, &content),
                Some(None) => stream(&id, false, ""),
                // Unknown or expired: close it rather than leave the bubble spinning.
                None => stream(&id, true, ""),
            }
        }
        "event" => match v["event"]["eventtype"].as_str() {
            Some("enter_chat") => {
                let lang = super::user_lang(&app, &identity).await;
                json!({"msgtype": "text", "text": {"content": super::welcome(lang)}})
            }
            _ => return StatusCode::OK.into_response(),
        },
        "text" | "mixed" | "voice" => {
            if user.is_empty() {
                return reject(
                    CHANNEL,
                    "bad_message",
                    StatusCode::BAD_REQUEST,
                    &"message without from.userid",
                );
            }
            let text = match v["msgtype"].as_str() {
                Some("text") => v["text"]["content"].as_str().unwrap_or("").to_string(),
                Some("voice") => v["voice"]["content"].as_str().unwrap_or("").to_string(),
                _ => v["mixed"]["msg_item"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["text"]["content"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            let group = v["chattype"].as_str() == Some("group");
            let msg_id = v["msgid"].as_str().unwrap_or("").to_string();
            let msg = Incoming {
                channel: CHANNEL.into(),
                user,
                chat: group
                    .then(|| v["chatid"].as_str().map(str::to_string))
                    .flatten(),
                text: if group { strip_mentions(&text) } else { text },
                msg_id: (!msg_id.is_empty()).then(|| msg_id.clone()),
                granted_role: None,
            };
            let id = format!(
                "stream-{}",
                if msg_id.is_empty() {
                    super::aibot_ws::new_req_id("m")
                } else {
                    msg_id
                }
            );
            let mut rx = b.start(&s, &id, msg);
            if !b.window.is_zero() {
                let _ = tokio::time::timeout(b.window, rx.wait_for(|r| r.is_some())).await;
            }
            let done = rx.borrow().clone();
            match done {
                Some(content) => stream(&id, true, &content),
                None => stream(&id, false, ""),
            }
        }
        other => {
            let lang = super::user_lang(&app, &identity).await;
            stream(
                &super::aibot_ws::new_req_id("stream"),
                true,
                &super::unsupported(lang, other),
            )
        }
    };
    let now = super::now_secs().to_string();
    match b
        .crypt
        .encrypt_reply_json(&reply.to_string(), &now, &super::reply_nonce(nonce))
    {
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
    let content = crate::render::split_by_bytes(content, STREAM_LIMIT)
        .into_iter()
        .next()
        .unwrap_or_default();
    json!({"msgtype": "stream", "stream": {"id": id, "finish": finish, "content": content}})
}

impl AibotCallback {
    /// Starts (or joins, for a redelivered message) the stream `id`.
    fn start(&self, s: &AppState, id: &str, msg: Incoming) -> watch::Receiver<Option<String>> {
        let Ok(mut streams) = self.streams.lock() else {
            let (_, rx) = watch::channel(Some(String::new()));
            return rx;
        };
        streams.retain(|_, (at, _)| at.elapsed() < STREAM_TTL);
        if let Some((_, rx)) = streams.get(id) {
            return rx.clone();
        }
        let (tx, rx) = watch::channel(None);
        streams.insert(id.to_string(), (Instant::now(), rx.clone()));
        let pipeline = s.pipeline.clone();
        tokio::spawn(async move {
            let reply = pipeline.handle(msg).await.map(|r| r.reply);
            let _ = tx.send(Some(reply.unwrap_or_default()));
        });
        rx
    }

    /// `None`: unknown stream; `Some(None)`: still working; `Some(Some(text))`: done.
    fn current(&self, id: &str) -> Option<Option<String>> {
        let streams = self.streams.lock().ok()?;
        streams.get(id).map(|(_, rx)| rx.borrow().clone())
    }
}
