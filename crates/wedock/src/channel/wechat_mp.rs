//! WeChat Official Account (公众号) at `GET|POST /wechat/mp`.
//!
//! * GET: URL verification — 3-part `signature`, echo `echostr` verbatim.
//! * POST, plain mode (no `encrypt_type` or `encrypt_type=raw`): `signature` checked, the
//!   body is the message XML, replies are plain XML.
//! * POST, compatible / safe mode (`encrypt_type=aes`): `msg_signature` over `<Encrypt>`;
//!   the plaintext is decrypted (receive id = AppID) and replies are encrypted. In
//!   compatible mode the body also carries plaintext fields; they are ignored — only the
//!   authenticated ciphertext is trusted.
//! * 5-second rule: the answer is returned passively when ready within `passive_reply_ms`,
//!   otherwise the response is `success` and the answer follows as a customer-service
//!   message through the outbox (sender `wechat_mp`). Retries of a message still being
//!   processed wait for the same result; a message is never answered twice.
//!
//! Identities are `wechat:<OpenID>`.

use super::respond::{Answer, Responder};
use super::token::{TokenKind, TokenSource, delivery_of};
use super::wecom_app::query_map;
use super::{CALLBACK_BODY_LIMIT, reject};
use crate::app::App;
use crate::message::{Incoming, Reply};
use crate::outbox::{Delivery, Sender};
use crate::server::AppState;
use crate::store::{NewOutboxMessage, OutboxMessage};
use async_trait::async_trait;
use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use wxcrypt::{EncodingAesKey, MsgCrypt, ReceiveId};

pub const CHANNEL: &str = "wechat";
pub const SENDER: &str = "wechat_mp";
/// Customer-service text limit used for splitting, in UTF-8 bytes.
pub const TEXT_LIMIT: usize = 2048;

pub struct WechatMp {
    token: String,
    /// Present in compatible/safe mode.
    crypt: Option<MsgCrypt>,
    window: Duration,
    responder: Responder,
}

pub fn routes(app: &App) -> Option<axum::Router<AppState>> {
    let cfg = app.config.wechat.mp.as_ref()?;
    let crypt = match &cfg.encoding_aes_key {
        Some(k) => match EncodingAesKey::decode(k.expose()) {
            Ok(key) => Some(MsgCrypt::new(
                cfg.token.expose(),
                key,
                ReceiveId::new(cfg.app_id.clone()),
            )),
            Err(e) => {
                tracing::error!(error = %e, "wechat.mp disabled: bad encoding_aes_key");
                return None;
            }
        },
        None => None,
    };
    let state = Arc::new(WechatMp {
        token: cfg.token.expose().to_string(),
        crypt,
        window: Duration::from_millis(cfg.passive_reply_ms),
        responder: Responder::default(),
    });
    app.health
        .set("wechat_mp", true, false, "callback at /wechat/mp");
    Some(
        axum::Router::new()
            .route("/wechat/mp", get(verify).post(receive))
            .layer(Extension(state)),
    )
}

async fn verify(
    State(s): State<AppState>,
    Extension(m): Extension<Arc<WechatMp>>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = query_map(q);
    let (Some(sig), Some(ts), Some(nonce), Some(echo)) = (
        q.get("signature"),
        q.get("timestamp"),
        q.get("nonce"),
        q.get("echostr"),
    ) else {
        return reject(
            CHANNEL,
            "missing_params",
            StatusCode::BAD_REQUEST,
            &"URL verification needs signature, timestamp, nonce, echostr",
        );
    };
    if let Err((reason, detail)) = super::check_timestamp(s.app(), ts) {
        return reject(CHANNEL, reason, StatusCode::FORBIDDEN, &detail);
    }
    if wxcrypt::verify_plain_signature(sig, &m.token, ts, nonce).is_err() {
        return reject(
            CHANNEL,
            "bad_signature",
            StatusCode::FORBIDDEN,
            &"signature mismatch",
        );
    }
    (StatusCode::OK, echo.clone()).into_response()
}

async fn receive(
    State(s): State<AppState>,
    Extension(m): Extension<Arc<WechatMp>>,
    RawQuery(q): RawQuery,
    body: axum::body::Body,
) -> Response {
    let q = query_map(q);
    let (Some(ts), Some(nonce)) = (q.get("timestamp"), q.get("nonce")) else {
        return reject(
            CHANNEL,
            "missing_params",
            StatusCode::BAD_REQUEST,
            &"a message needs timestamp and nonce",
        );
    };
    if let Err((reason, detail)) = super::check_timestamp(s.app(), ts) {
        return reject(CHANNEL, reason, StatusCode::FORBIDDEN, &detail);
    }
    let body = match super::read_body(CHANNEL, body, CALLBACK_BODY_LIMIT).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let encrypted = q.get("encrypt_type").is_some_and(|t| t == "aes");
    let plain = if encrypted {
        let Some(crypt) = &m.crypt else {
            return reject(
                CHANNEL,
                "not_configured",
                StatusCode::BAD_REQUEST,
                &"encrypted message but wechat.mp.encoding_aes_key is not set",
            );
        };
        let Some(sig) = q.get("msg_signature") else {
            return reject(
                CHANNEL,
                "missing_params",
                StatusCode::BAD_REQUEST,
                &"encrypted message without msg_signature",
            );
        };
        match crypt.decrypt_envelope(sig, ts, nonce, &body) {
            Ok(p) => p,
            Err(e) => {
                let (reason, status) = super::crypt_reason(&e);
                return reject(CHANNEL, reason, status, &format!("{e} ({})", e.code()));
            }
        }
    } else {
        // Plain mode: the 3-part signature authenticates the request (not the body — that is
        // the protocol; safe mode is the recommended setting).
        let sig = q.get("signature").map(String::as_str).unwrap_or("");
        if wxcrypt::verify_plain_signature(sig, &m.token, ts, nonce).is_err() {
            return reject(
                CHANNEL,
                "bad_signature",
                StatusCode::FORBIDDEN,
                &"signature mismatch",
            );
        }
        if m.crypt.is_some() && !q.contains_key("encrypt_type") {
            tracing::debug!(
                "plain message while an EncodingAESKey is configured (compatible mode)"
            );
        }
        match String::from_utf8(body.to_vec()) {
            Ok(t) => t,
            Err(_) => {
                return reject(
                    CHANNEL,
                    "bad_xml",
                    StatusCode::BAD_REQUEST,
                    &"body is not UTF-8",
                );
            }
        }
    };
    let fields = match super::xml::parse_flat(&plain) {
        Ok(f) => f,
        Err(e) => return reject(CHANNEL, "bad_xml", StatusCode::BAD_REQUEST, &e),
    };
    let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let user = field("FromUserName").to_string();
    let account = field("ToUserName").to_string();
    if user.is_empty() {
        return reject(
            CHANNEL,
            "bad_message",
            StatusCode::BAD_REQUEST,
            &"message without FromUserName",
        );
    }
    let app = s.app();
    let identity = format!("{CHANNEL}:{user}");
    let reply_mode = Mode {
        crypt: if encrypted { m.crypt.as_ref() } else { None },
        nonce,
    };
    let text = match field("MsgType") {
        "text" => field("Content").to_string(),
        "event" => {
            return match field("Event") {
                "subscribe" => {
                    let lang = super::user_lang(app, &identity).await;
                    reply_mode.text(&user, &account, super::welcome(lang))
                }
                _ => success(),
            };
        }
        other => {
            let lang = super::user_lang(app, &identity).await;
            return reply_mode.text(&user, &account, &super::unsupported(lang, other));
        }
    };
    let msg_id = match field("MsgId") {
        "" => format!("{user}:{}", field("CreateTime")),
        id => id.to_string(),
    };
    let msg = Incoming {
        channel: CHANNEL.into(),
        user: user.clone(),
        chat: None,
        text,
        msg_id: Some(msg_id.clone()),
        granted_role: None,
    };
    let late_user = user.clone();
    let late_id = msg_id.clone();
    let late = Box::new(move |r: &Reply| {
        send_messages(&late_user, &format!("reply:{late_id}"), &r.reply, 0)
    });
    match m.responder.respond(&s, msg, m.window, late).await {
        Answer::Passive(reply) => {
            let parts = crate::render::split_by_bytes(&reply.reply, TEXT_LIMIT);
            for extra in send_messages(&user, &format!("reply:{msg_id}"), &reply.reply, 1) {
                if let Err(e) = s.outbox.enqueue(extra).await {
                    tracing::error!(error = %e, "could not queue a reply part");
                }
            }
            reply_mode.text(&user, &account, parts.first().map_or("", String::as_str))
        }
        Answer::Nothing => success(),
    }
}

/// The body WeChat takes as "received, no reply" (sent unencrypted even in safe mode).
fn success() -> Response {
    (StatusCode::OK, "success").into_response()
}

struct Mode<'a> {
    crypt: Option<&'a MsgCrypt>,
    nonce: &'a str,
}

impl Mode<'_> {
    fn text(&self, user: &str, account: &str, content: &str) -> Response {
        let now = super::now_secs();
        let xml = super::xml::text_reply(user, account, now, content);
        let body = match self.crypt {
            None => xml,
            Some(c) => {
                match c.encrypt_reply_xml(&xml, &now.to_string(), &super::reply_nonce(self.nonce)) {
                    Ok(env) => env,
                    Err(e) => {
                        tracing::error!(error = %e, "could not encrypt a passive reply");
                        return success();
                    }
                }
            }
        };
        (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response()
    }
}

/// Customer-service text payloads, split at the limit, skipping the first `skip` parts.
pub fn send_messages(user: &str, key: &str, text: &str, skip: usize) -> Vec<NewOutboxMessage> {
    crate::render::split_by_bytes(text, TEXT_LIMIT)
        .into_iter()
        .enumerate()
        .skip(skip)
        .map(|(i, part)| NewOutboxMessage {
            channel: SENDER.into(),
            target: user.to_string(),
            payload: serde_json::json!({
                "touser": user,
                "msgtype": "text",
                "text": {"content": part},
            })
            .to_string(),
            dedup_key: Some(format!("{SENDER}:{key}:{i}")),
        })
        .collect()
}

/// Delivers customer-service messages with the account's access token.
pub struct WechatMpSender {
    tokens: TokenSource,
}

pub fn sender(app: &Arc<App>) -> Option<WechatMpSender> {
    let cfg = app.config.wechat.mp.as_ref()?;
    Some(WechatMpSender {
        tokens: TokenSource::new(
            TokenKind::Wechat {
                app_id: cfg.app_id.clone(),
                secret: crate::secret::Secret::new(cfg.app_secret.expose()),
            },
            &app.config.api.wechat_base,
            app.store.clone(),
        ),
    })
}

#[async_trait]
impl Sender for WechatMpSender {
    fn channel(&self) -> &str {
        SENDER
    }
    async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
        // 45015 (48-hour window closed) and 45047 (quota) are permanent for this message.
        delivery_of(
            self.tokens
                .post_json("/cgi-bin/message/custom/send", &msg.payload)
                .await,
        )
    }
}
