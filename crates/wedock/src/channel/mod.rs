//! Channel adapters: each platform turns its wire format into [`crate::message::Incoming`]
//! and delivers [`crate::message::Reply`] back, passively or through the outbox.
//!
//! | channel | callback | outbox sender | `Incoming.channel` |
//! |---|---|---|---|
//! | WeCom self-built app | `GET/POST /wecom/app` | `wecom_app` (`message/send`) | `wecom` |
//! | WeChat Official Account | `GET/POST /wechat/mp` | `wechat_mp` (customer-service send) | `wechat` |
//! | personal WeChat (wechatbot-webhook) | `POST /gateway/wechatbot` | `wechatbot` (`/webhook/msg/v2`) | `wechatbot` |
//! | personal WeChat (Tencent iLink bot API) | long-poll from `weixin.accounts` | `weixin` (`sendmessage`) | `weixin` |
//! | WeCom intelligent robot | WebSocket to `api.aibot_ws_url`, or `GET/POST /wecom/aibot` | `aibot` (`aibot_send_msg`, long connection only) | `aibot` |

pub mod aibot_callback;
pub mod aibot_cards;
pub mod aibot_message;
pub mod aibot_ws;
pub(crate) mod callback;
pub mod ilink;
pub mod respond;
pub mod token;
pub mod wechat_mp;
pub mod wechatbot;
pub mod wecom_app;
pub mod xml;

use crate::app::App;
use crate::i18n::Lang;
use crate::outbox::Outbox;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// HTTP callback routes of every enabled channel.
pub fn routes(app: &App) -> axum::Router<AppState> {
    let mut r = axum::Router::new();
    if let Some(w) = wecom_app::routes(app) {
        r = r.merge(w);
    }
    if let Some(m) = wechat_mp::routes(app) {
        r = r.merge(m);
    }
    if let Some(b) = wechatbot::routes(app) {
        r = r.merge(b);
    }
    if let Some(b) = aibot_callback::routes(app) {
        r = r.merge(b);
    }
    if app.config.weixin.enabled && app.config.server.console {
        r = r.merge(ilink::console::routes());
    }
    r
}

/// Registers the outbox senders of every enabled channel.
pub fn register_senders(app: &Arc<App>, outbox: &mut Outbox) {
    robot::register(app, outbox);
    if let Some(s) = wecom_app::sender(app) {
        outbox.add_sender(Arc::new(s));
    }
    if let Some(s) = wechat_mp::sender(app) {
        outbox.add_sender(Arc::new(s));
    }
    if let Some(s) = aibot_ws::sender(app) {
        outbox.add_sender(Arc::new(s));
    }
    if let Some(s) = wechatbot::sender(app) {
        outbox.add_sender(Arc::new(s));
    }
    if let Some(s) = ilink::sender(app) {
        outbox.add_sender(Arc::new(s));
    }
    if let Some(s) = aibot_callback::response_sender(app) {
        outbox.add_sender(Arc::new(s));
    }
}

/// State shared between a channel's callbacks, its sender and its background task.
#[derive(Default)]
pub struct Shared {
    /// The intelligent-robot long connection, when up.
    pub aibot: aibot_ws::Link,
    /// Personal-WeChat conversation locks, typing tickets and the console's login.
    pub weixin: ilink::Shared,
}

/// This process's [`Shared`] channel state, kept in the app.
pub fn shared(app: &App) -> &Shared {
    let slot = app
        .channel_state
        .get_or_init(|| Box::new(Shared::default()));
    match slot.downcast_ref::<Shared>() {
        Some(s) => s,
        // Only this function fills the slot, always with a `Shared`.
        None => unreachable!("app.channel_state holds a channel::Shared"),
    }
}

pub mod robot;

/// Starts background tasks (long connections, pollers) of enabled channels; they stop when
/// `shutdown` flips to true.
pub fn spawn(
    state: &AppState,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    aibot_ws::spawn(state, shutdown).into_iter().collect()
}

/// After this replica stopped leading: its long connections are closed on purpose, which is
/// not a readiness problem (the leader holds them).
pub fn standby(app: &App) {
    if aibot_ws::ws_config(app).is_some() {
        app.health.set(
            "aibot",
            true,
            false,
            "standby: the leader holds the connection",
        );
    }
}

/// Refuses a callback: one log line with the reason, one metric, a short body naming it.
/// Never echoes secrets or the request body.
pub(crate) fn reject(
    channel: &str,
    reason: &'static str,
    status: StatusCode,
    detail: &dyn std::fmt::Display,
) -> Response {
    tracing::warn!(channel, reason, %detail, status = status.as_u16(), "callback rejected");
    metrics::counter!("wedock_rejected_total", "reason" => reason).increment(1);
    let mut res = (status, reason).into_response();
    res.extensions_mut().insert(crate::state::RejectionCounted);
    res
}

/// The metric reason and HTTP status of a crypto failure.
pub(crate) fn crypt_reason(e: &wxcrypt::Error) -> (&'static str, StatusCode) {
    use wxcrypt::Error as E;
    match e {
        E::ValidateSignature => ("bad_signature", StatusCode::FORBIDDEN),
        E::ValidateReceiveId => ("wrong_receiveid", StatusCode::FORBIDDEN),
        E::ParseEnvelope(_) => ("bad_envelope", StatusCode::BAD_REQUEST),
        E::DecodeBase64 => ("bad_base64", StatusCode::BAD_REQUEST),
        E::DecryptAes(_) => ("bad_ciphertext", StatusCode::BAD_REQUEST),
        E::IllegalBuffer(_) => ("bad_padding", StatusCode::BAD_REQUEST),
        _ => ("crypto_error", StatusCode::BAD_REQUEST),
    }
}

/// Checks a callback timestamp against `api.timestamp_window_secs` (0 disables the check).
pub(crate) fn check_timestamp(app: &App, ts: &str) -> Result<(), (&'static str, String)> {
    let Ok(secs) = ts.parse::<i64>() else {
        return Err(("bad_timestamp", "timestamp is not a number".into()));
    };
    let window = app.config.api.timestamp_window_secs as i64;
    if window == 0 {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp();
    if (now - secs).abs() > window {
        return Err((
            "stale_timestamp",
            format!(
                "timestamp is {}s away from now (window {window}s)",
                now - secs
            ),
        ));
    }
    Ok(())
}

/// The four parameters of a URL-verification GET (`sig_name` is `signature` for the Official
/// Account, `msg_signature` for WeCom), with the timestamp checked; a refusal otherwise.
pub(crate) fn verification_params<'q>(
    app: &App,
    channel: &str,
    q: &'q std::collections::HashMap<String, String>,
    sig_name: &str,
) -> Result<[&'q str; 4], Box<Response>> {
    let (Some(sig), Some(ts), Some(nonce), Some(echo)) = (
        q.get(sig_name),
        q.get("timestamp"),
        q.get("nonce"),
        q.get("echostr"),
    ) else {
        return Err(Box::new(reject(
            channel,
            "missing_params",
            StatusCode::BAD_REQUEST,
            &format!("URL verification needs {sig_name}, timestamp, nonce, echostr"),
        )));
    };
    if let Err((reason, detail)) = check_timestamp(app, ts) {
        return Err(Box::new(reject(
            channel,
            reason,
            StatusCode::FORBIDDEN,
            &detail,
        )));
    }
    Ok([sig, ts, nonce, echo])
}

/// Answers the URL verification of an encrypted WeCom callback (self-built app, AI bot):
/// the decrypted `echostr`, as plain text, or a refusal.
pub(crate) fn answer_encrypted_verification(
    app: &App,
    channel: &str,
    keys: &KeyRing,
    q: &std::collections::HashMap<String, String>,
) -> Response {
    let [sig, ts, nonce, echo] = match verification_params(app, channel, q, "msg_signature") {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let echo = wecom_app::b64_param(echo);
    match keys.open(|c| c.verify_url(sig, ts, nonce, &echo)) {
        Ok((plain, _)) => {
            tracing::info!(channel, "URL verification answered");
            (StatusCode::OK, plain).into_response()
        }
        Err(e) => {
            let (reason, status) = crypt_reason(&e);
            reject(channel, reason, status, &format!("{e} ({})", e.code()))
        }
    }
}

/// The language a user last wrote in (for replies to events, which carry no text).
pub(crate) async fn user_lang(app: &App, identity: &str) -> Lang {
    match app.store.kv_get(&format!("lang:{identity}")).await {
        Ok(Some(code)) => Lang::parse(&code).unwrap_or_default(),
        _ => Lang::default(),
    }
}

pub(crate) fn welcome(lang: Lang) -> &'static str {
    t!(lang, "channel.welcome")
}

pub(crate) fn unsupported(lang: Lang, what: &str) -> String {
    t!(lang, "channel.unsupported", what = what)
}

/// Current Unix time in seconds, as the decimal string the envelopes want.
pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Reads a request body up to `limit` bytes; an oversize or broken body is rejected with a
/// log line and a metric.
pub(crate) async fn read_body(
    channel: &str,
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        reject(
            channel,
            "oversize_body",
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body over {limit} bytes or unreadable: {e}"),
        )
    })
}

/// The EncodingAESKey of a callback and, during a key rollover, the previous one.
///
/// WeChat's FAQ (wechat-protocol.md §1.1): keep the current and the previous key; when the
/// current one cannot open a message, try the previous one, and encrypt the reply with
/// whichever key worked. The signature does not depend on the key, so only decryption
/// failures (bad padding, wrong receive id after decrypting with the wrong key) fall back.
pub(crate) struct KeyRing {
    pub current: wxcrypt::MsgCrypt,
    pub previous: Option<wxcrypt::MsgCrypt>,
}

impl KeyRing {
    /// Builds the ring from the configured keys.
    pub fn new(
        token: &str,
        key: &str,
        previous: Option<&str>,
        receive_id: wxcrypt::ReceiveId,
    ) -> Result<Self, wxcrypt::Error> {
        let make = |k: &str| {
            wxcrypt::EncodingAesKey::decode(k)
                .map(|k| wxcrypt::MsgCrypt::new(token, k, receive_id.clone()))
        };
        Ok(KeyRing {
            current: make(key)?,
            previous: previous.map(make).transpose()?,
        })
    }

    /// Runs `f` with the current key, then with the previous one if the current key cannot
    /// open the message. Returns the result and the key that opened it (for the reply); on
    /// failure, the current key's error.
    pub fn open<T>(
        &self,
        f: impl Fn(&wxcrypt::MsgCrypt) -> wxcrypt::Result<T>,
    ) -> wxcrypt::Result<(T, &wxcrypt::MsgCrypt)> {
        use wxcrypt::Error as E;
        match f(&self.current) {
            Ok(v) => Ok((v, &self.current)),
            Err(e @ (E::DecryptAes(_) | E::IllegalBuffer(_) | E::ValidateReceiveId)) => {
                match &self.previous {
                    Some(prev) => match f(prev) {
                        Ok(v) => {
                            metrics::counter!("wedock_previous_key_used_total").increment(1);
                            tracing::info!(
                                "callback opened with the previous EncodingAESKey (key rollover in progress)"
                            );
                            Ok((v, prev))
                        }
                        Err(_) => Err(e),
                    },
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// Opens an encrypted WeCom callback (`msg_signature`, `timestamp`, `nonce` in the query, the
/// envelope in the body): checks the parameters and the timestamp window, reads the body within
/// [`CALLBACK_BODY_LIMIT`] and verifies and decrypts it (with the previous key too during a
/// rollover). Returns the plaintext and the key to encrypt the reply with; `Err` is the
/// rejection to answer with.
pub(crate) async fn open_encrypted_callback<'k>(
    app: &App,
    channel: &str,
    keys: &'k KeyRing,
    q: &std::collections::HashMap<String, String>,
    body: axum::body::Body,
) -> Result<(String, &'k wxcrypt::MsgCrypt), Response> {
    let (Some(sig), Some(ts), Some(nonce)) =
        (q.get("msg_signature"), q.get("timestamp"), q.get("nonce"))
    else {
        return Err(reject(
            channel,
            "missing_params",
            StatusCode::BAD_REQUEST,
            &"a message needs msg_signature, timestamp, nonce",
        ));
    };
    if let Err((reason, detail)) = check_timestamp(app, ts) {
        return Err(reject(channel, reason, StatusCode::FORBIDDEN, &detail));
    }
    let body = read_body(channel, body, CALLBACK_BODY_LIMIT).await?;
    keys.open(|c| c.decrypt_envelope(sig, ts, nonce, &body))
        .map_err(|e| {
            let (reason, status) = crypt_reason(&e);
            reject(channel, reason, status, &format!("{e} ({})", e.code()))
        })
}

/// POSTs an outbox payload as JSON for the senders that own their HTTP call (robot webhooks,
/// the wechatbot gateway). A transport failure becomes a retry whose reason names only the
/// kind of failure: reqwest's message can carry the URL, and webhook keys and tokens live there.
pub(crate) async fn post_payload(
    req: reqwest::RequestBuilder,
    payload: &str,
    who: &str,
) -> Result<reqwest::Response, crate::outbox::Delivery> {
    let sent = req
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(payload.to_string())
        .send()
        .await;
    sent.map_err(|e| {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        crate::outbox::Delivery::Retry {
            reason: format!("{who}: {kind}"),
            after: None,
        }
    })
}

/// Largest callback body accepted (Tencent's messages are a few KiB).
pub(crate) const CALLBACK_BODY_LIMIT: usize = 64 * 1024;

/// A nonce safe to echo in a reply envelope, else a fresh numeric one.
pub(crate) fn reply_nonce(nonce: &str) -> String {
    if !nonce.is_empty() && nonce.len() <= 64 && nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        nonce.to_string()
    } else {
        use rand::Rng;
        rand::rng()
            .random_range(100_000_000u64..1_000_000_000)
            .to_string()
    }
}
