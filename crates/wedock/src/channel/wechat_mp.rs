//! WeChat Official Account (公众号) at `GET|POST /wechat/mp`, in the mode of
//! `[wechat.mp] mode` (default `safe` with an EncodingAESKey, else `plain`).
//!
//! * GET: URL verification — 3-part `signature`, echo `echostr` verbatim.
//! * safe mode: a POST needs `encrypt_type=aes` and a `msg_signature` over `<Encrypt>`; the
//!   plaintext is decrypted (receive id = AppID) and replies are encrypted. Anything else
//!   (a plaintext POST under a valid URL `signature`, the downgrade) is refused.
//! * compatible mode: the body carries the plaintext fields next to `<Encrypt>`; only the
//!   authenticated ciphertext is read (whatever `encrypt_type` says) and replies are
//!   encrypted. A POST without a valid encrypted part is refused.
//! * plain mode: `signature` checked, the body is the message XML, replies are plain XML.
//!   The signature does not cover the body, so senders are capped at guest, and a signature
//!   carries one body only (seen signatures are kept in the shared store).
//! * 5-second rule: the answer is returned passively when ready within `passive_reply_ms`,
//!   otherwise the response is `success` and the answer follows as a customer-service
//!   message through the outbox (sender `wechat_mp`). Retries of a message still being
//!   processed wait for the same result; a message is never answered twice.
//!
//! Identities are `wechat:<OpenID>`.

use super::callback::{CallbackMessage, CallbackPost, CallbackQuery};
use super::respond::{Answer, Responder};
use super::token::{TokenKind, TokenSource, delivery_of};
use super::{CALLBACK_BODY_LIMIT, reject};
use crate::app::App;
use crate::config::MpMode;
use crate::identity::Role;
use crate::message::Reply;
use crate::outbox::{Delivery, Sender};
use crate::state::AppState;
use crate::store::{NewOutboxMessage, OutboxMessage};
use async_trait::async_trait;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wxcrypt::{MsgCrypt, ReceiveId};

pub const CHANNEL: &str = "wechat";
pub const SENDER: &str = "wechat_mp";
/// Customer-service text limit used for splitting, in UTF-8 bytes.
pub const TEXT_LIMIT: usize = 2048;

pub struct WechatMp {
    token: String,
    mode: MpMode,
    /// Present in compatible/safe mode.
    crypt: Option<super::KeyRing>,
    window: Duration,
    responder: Responder,
}

pub fn routes(app: &App) -> Option<axum::Router<AppState>> {
    let cfg = app.config.wechat.mp.as_ref()?;
    let mode = cfg.mode();
    let key = cfg
        .encoding_aes_key
        .as_ref()
        .filter(|_| mode != MpMode::Plain);
    let crypt = match key {
        Some(k) => match super::KeyRing::new(
            cfg.token.expose(),
            k.expose(),
            cfg.encoding_aes_key_previous.as_ref().map(|k| k.expose()),
            ReceiveId::new(cfg.app_id.clone()),
        ) {
            Ok(keys) => Some(keys),
            Err(e) => {
                tracing::error!(error = %e, "wechat.mp disabled: bad encoding_aes_key");
                return None;
            }
        },
        None => None,
    };
    let state = Arc::new(WechatMp {
        token: cfg.token.expose().to_string(),
        mode,
        crypt,
        window: Duration::from_millis(cfg.passive_reply_ms),
        responder: Responder::default(),
    });
    app.health.set(
        "wechat_mp",
        true,
        false,
        format!("callback at /wechat/mp ({} mode)", mode.as_str()),
    );
    Some(
        axum::Router::new()
            .route("/wechat/mp", get(verify).post(receive))
            .layer(Extension(state)),
    )
}

async fn verify(
    State(s): State<AppState>,
    Extension(m): Extension<Arc<WechatMp>>,
    CallbackQuery(q): CallbackQuery,
) -> Response {
    let [sig, ts, nonce, echo] = match super::verification_params(s.app(), CHANNEL, &q, "signature")
    {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    if wxcrypt::verify_plain_signature(sig, &m.token, ts, nonce).is_err() {
        return reject(
            CHANNEL,
            "bad_signature",
            StatusCode::FORBIDDEN,
            &"signature mismatch",
        );
    }
    // A plain-mode POST must not reuse this signature with a body of its choosing.
    if m.mode == MpMode::Plain
        && let Err(refused) =
            claim_signature(s.app(), sig, ts, nonce, &body_digest(echo.as_bytes())).await
    {
        return refused;
    }
    (StatusCode::OK, echo.to_string()).into_response()
}

async fn receive(Extension(m): Extension<Arc<WechatMp>>, post: CallbackPost) -> Response {
    let CallbackPost { s, q, body } = post;
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
    let posted = Posted {
        q: &q,
        ts,
        nonce,
        body: &body,
    };
    let opened = match m.mode {
        MpMode::Plain => open_plain(&s, &m, &posted).await,
        MpMode::Compatible | MpMode::Safe => open_encrypted(&m, &posted),
    };
    let Opened {
        plain,
        crypt: reply_crypt,
        role_cap,
    } = match opened {
        Ok(o) => o,
        Err(refused) => return *refused,
    };
    let fields = match super::xml::parse_flat(&plain) {
        Ok(f) => f,
        Err(e) => return reject(CHANNEL, "bad_xml", StatusCode::BAD_REQUEST, &e),
    };
    let message = match CallbackMessage::new(CHANNEL, &fields) {
        Ok(m) => m,
        Err(refused) => return *refused,
    };
    let user = &message.user;
    let account = message.field("ToUserName");
    let app = s.app();
    let reply_mode = Mode {
        crypt: reply_crypt,
        nonce,
    };
    let text = match message.field("MsgType") {
        "text" => message.field("Content").to_string(),
        "event" => {
            return match message.field("Event") {
                "subscribe" => {
                    let lang = super::user_lang(app, &message.identity).await;
                    reply_mode.text(user, account, super::welcome(lang))
                }
                _ => success(),
            };
        }
        other => {
            let lang = super::user_lang(app, &message.identity).await;
            return reply_mode.text(user, account, &super::unsupported(lang, other));
        }
    };
    let msg_id = message.msg_id();
    let msg = message.incoming(CHANNEL, text, &msg_id, role_cap);
    // The user's message opens the customer-service window the late reply must fit in.
    let opened = crate::store::now_ms();
    let late_user = user.clone();
    let late_id = msg_id.clone();
    let late = Box::new(move |r: &Reply| {
        with_window(
            send_messages(&late_user, &format!("reply:{late_id}"), &text_parts(r), 0),
            opened,
        )
    });
    match m.responder.respond(&s, msg, m.window, late).await {
        Answer::Passive(reply) => {
            let parts = text_parts(&reply);
            let extras = send_messages(user, &format!("reply:{msg_id}"), &parts, 1);
            super::callback::queue_rest(&s, with_window(extras, opened)).await;
            reply_mode.text(user, account, parts.first().map_or("", String::as_str))
        }
        Answer::Nothing => success(),
    }
}

/// A message body that passed the configured mode's checks.
struct Opened<'a> {
    /// The message XML (decrypted in compatible and safe mode).
    plain: String,
    /// The key that opened it: replies are encrypted with it.
    crypt: Option<&'a MsgCrypt>,
    role_cap: Option<Role>,
}

type Refused = Box<Response>;

/// A message POST as received, its timestamp already checked: what each mode opens.
struct Posted<'r> {
    q: &'r HashMap<String, String>,
    ts: &'r str,
    nonce: &'r str,
    body: &'r [u8],
}

/// [`reject`] for this channel, boxed: a refusal is the rare, large error case.
fn refuse(reason: &'static str, status: StatusCode, detail: &dyn std::fmt::Display) -> Refused {
    Box::new(reject(CHANNEL, reason, status, detail))
}

/// Compatible and safe mode: only a valid `Encrypt` element under `msg_signature` counts.
/// Safe mode also requires `encrypt_type=aes`, as WeChat always sends it; compatible mode
/// decrypts whatever the query says, so stripping `encrypt_type` from a captured request
/// gets neither its plaintext fields trusted nor a plaintext reply.
fn open_encrypted<'a>(m: &'a WechatMp, p: &Posted<'_>) -> Result<Opened<'a>, Refused> {
    let Posted { q, ts, nonce, body } = *p;
    let Some(keys) = &m.crypt else {
        return Err(refuse(
            "not_configured",
            StatusCode::BAD_REQUEST,
            &"wechat.mp.encoding_aes_key is not set",
        ));
    };
    let aes = q.get("encrypt_type").is_some_and(|t| t == "aes");
    let sig = match q.get("msg_signature") {
        Some(sig) if aes || m.mode == MpMode::Compatible => sig,
        _ => {
            return Err(refuse(
                "downgrade",
                StatusCode::FORBIDDEN,
                &format!(
                    "{} mode: a message needs encrypt_type=aes and a msg_signature over its \
                     Encrypt element; plaintext is refused",
                    m.mode.as_str()
                ),
            ));
        }
    };
    match keys.open(|c| c.decrypt_envelope(sig, ts, nonce, body)) {
        Ok((plain, crypt)) => Ok(Opened {
            plain,
            crypt: Some(crypt),
            role_cap: None,
        }),
        Err(e) => {
            let (reason, status) = super::crypt_reason(&e);
            Err(refuse(reason, status, &format!("{e} ({})", e.code())))
        }
    }
}

/// Plain mode: the 3-part `signature` authenticates the request but not the body (that is
/// the protocol), so the sender acts as a guest, and one signature carries one body only.
async fn open_plain<'a>(
    s: &AppState,
    m: &'a WechatMp,
    p: &Posted<'_>,
) -> Result<Opened<'a>, Refused> {
    let Posted { q, ts, nonce, body } = *p;
    if q.get("encrypt_type").is_some_and(|t| t == "aes") {
        return Err(refuse(
            "wrong_mode",
            StatusCode::BAD_REQUEST,
            &"encrypted message but wechat.mp.mode is plain",
        ));
    }
    let sig = q.get("signature").map(String::as_str).unwrap_or("");
    if wxcrypt::verify_plain_signature(sig, &m.token, ts, nonce).is_err() {
        return Err(refuse(
            "bad_signature",
            StatusCode::FORBIDDEN,
            &"signature mismatch",
        ));
    }
    let Ok(plain) = String::from_utf8(body.to_vec()) else {
        return Err(refuse(
            "bad_xml",
            StatusCode::BAD_REQUEST,
            &"body is not UTF-8",
        ));
    };
    claim_signature(s.app(), sig, ts, nonce, &body_digest(body))
        .await
        .map_err(Box::new)?;
    Ok(Opened {
        plain,
        crypt: None,
        role_cap: Some(Role::Guest),
    })
}

fn body_digest(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(body))
}

/// Records that the plain-mode URL signature (`sig`, `ts`, `nonce`) carried the body with
/// `digest`, in the store every replica shares, for as long as the timestamp is accepted.
/// The same signature with another body (a signature copied from an access log onto forged
/// XML) is refused; an identical retry passes and gets the dedup answer.
async fn claim_signature(
    app: &App,
    sig: &str,
    ts: &str,
    nonce: &str,
    digest: &str,
) -> Result<(), Response> {
    let key = format!("mp_signature:{sig}:{ts}:{nonce}");
    match app.store.kv_claim(&key, digest, claim_ttl(app, ts)).await {
        Ok(None) => Ok(()),
        Ok(Some(first)) if first == digest => Ok(()),
        Ok(Some(_)) => Err(reject(
            CHANNEL,
            "signature_reuse",
            StatusCode::FORBIDDEN,
            &"this URL signature already carried another body",
        )),
        Err(e) => Err(reject(
            CHANNEL,
            "store_unavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            &e,
        )),
    }
}

/// How long a seen signature is kept: until its timestamp leaves the accepted window (a
/// week when the window check is off).
fn claim_ttl(app: &App, ts: &str) -> Duration {
    let window = app.config.api.timestamp_window_secs as i64;
    let Ok(ts) = ts.parse::<i64>() else {
        return Duration::from_secs(60);
    };
    if window == 0 {
        return Duration::from_secs(7 * 24 * 3600);
    }
    let left = ts.saturating_add(window) - super::now_secs() + 60;
    Duration::from_secs(left.clamp(60, 2 * window + 60) as u64)
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

/// A reply as WeChat shows it: plain text (no Markdown syntax), in parts within the limit.
pub fn text_parts(reply: &Reply) -> Vec<String> {
    reply.parts(crate::render::Target::Plain, TEXT_LIMIT)
}

/// Customer-service text payloads for the reply's `parts`, skipping the first `skip` parts.
pub fn send_messages(
    user: &str,
    key: &str,
    parts: &[String],
    skip: usize,
) -> Vec<NewOutboxMessage> {
    super::callback::part_messages(SENDER, user, key, parts, skip, |part| {
        serde_json::json!({
            "touser": user,
            "msgtype": "text",
            "text": {"content": part},
        })
    })
}

/// The customer-service window (wechat-protocol.md §3): a user's message allows
/// [`SERVICE_BUDGET`] messages within [`SERVICE_WINDOW_MS`].
pub const SERVICE_WINDOW_MS: i64 = 48 * 3600 * 1000;
pub const SERVICE_BUDGET: u32 = 5;
/// Payload field carrying when the window opened; removed before the payload is sent.
const WINDOW_FIELD: &str = "wedock_window_opened_at";

/// Marks customer-service payloads with the time the user's message opened the window.
pub fn with_window(mut msgs: Vec<NewOutboxMessage>, opened_at: i64) -> Vec<NewOutboxMessage> {
    for m in &mut msgs {
        if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&m.payload)
            && let Some(o) = v.as_object_mut()
        {
            o.insert(WINDOW_FIELD.into(), opened_at.into());
            m.payload = v.to_string();
        }
    }
    msgs
}

/// Decides whether one more customer-service message fits the user's window. `stored` is
/// the recorded `"<opened_at>:<used>"` of the user's latest window, `opened_at` the window
/// of this message (a newer user message opens a new window with a fresh budget). `Ok`
/// carries the state to record once it is sent, `Err` why it cannot be sent.
pub fn service_budget(stored: Option<&str>, opened_at: i64, now: i64) -> Result<String, String> {
    let (from, used) = stored
        .and_then(|s| s.split_once(':'))
        .and_then(|(f, u)| Some((f.parse::<i64>().ok()?, u.parse::<u32>().ok()?)))
        .unwrap_or((i64::MIN, 0));
    let (from, used) = if opened_at > from {
        (opened_at, 0)
    } else {
        (from, used)
    };
    if now - from > SERVICE_WINDOW_MS {
        return Err(format!(
            "customer-service window closed: the user's last message was {} h ago (limit 48 h); \
             WeChat would refuse it with 45015",
            (now - from) / 3_600_000
        ));
    }
    if used >= SERVICE_BUDGET {
        return Err(format!(
            "customer-service budget used: {SERVICE_BUDGET} messages per user message within 48 h"
        ));
    }
    Ok(format!("{from}:{}", used + 1))
}

/// Delivers customer-service messages with the account's access token.
pub struct WechatMpSender {
    tokens: TokenSource,
    store: Arc<dyn crate::store::Store>,
}

pub fn sender(app: &Arc<App>) -> Option<WechatMpSender> {
    let cfg = app.config.wechat.mp.as_ref()?;
    let kind = TokenKind::wechat(&cfg.app_id, cfg.app_secret.expose());
    Some(WechatMpSender {
        tokens: TokenSource::for_app(app, kind),
        store: app.store.clone(),
    })
}

#[async_trait]
impl Sender for WechatMpSender {
    fn channel(&self) -> &str {
        SENDER
    }
    async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
        let Ok(mut body) = serde_json::from_str::<serde_json::Value>(&msg.payload) else {
            return Delivery::Dead("payload is not JSON".into());
        };
        let opened_at = body
            .as_object_mut()
            .and_then(|o| o.remove(WINDOW_FIELD))
            .and_then(|v| v.as_i64());
        // Checked here, not at enqueue: a message may wait in the outbox (retries, a
        // restart) until its window has closed. Outside it, it is recorded as undeliverable
        // with the reason instead of being retried.
        let budget_key = format!("cs_budget:{}", msg.target);
        let next_state = match opened_at {
            Some(at) => {
                let stored = self.store.kv_get(&budget_key).await.ok().flatten();
                match service_budget(stored.as_deref(), at, crate::store::now_ms()) {
                    Ok(next) => Some(next),
                    Err(why) => {
                        tracing::warn!(reason = %why, "customer-service message not sent");
                        metrics::counter!("wedock_undeliverable_total", "reason" => "service_window").increment(1);
                        return Delivery::Undelivered(why);
                    }
                }
            }
            None => None,
        };
        let result = self
            .tokens
            .post_json("/cgi-bin/message/custom/send", &body.to_string())
            .await;
        match result {
            Ok(_) => {
                if let Some(next) = next_state {
                    let ttl = Duration::from_millis(SERVICE_WINDOW_MS as u64);
                    let _ = self.store.kv_set(&budget_key, &next, Some(ttl)).await;
                }
                Delivery::Sent
            }
            // Permanent for this message and not worth a dead letter's alarm: the user's
            // window closed (or they unfollowed), or the quota is used up.
            Err(super::token::ApiError::Platform { errcode, errmsg })
                if errcode == 45015 || errcode == 45047 =>
            {
                let why = if errcode == 45015 {
                    "the 48-hour customer-service window closed or the user unfollowed"
                } else {
                    "the customer-service message quota for this user is used up"
                };
                Delivery::Undelivered(format!("errcode {errcode}: {errmsg} ({why})"))
            }
            other => delivery_of(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn service_window_allows_five_messages_within_48_hours() {
        let t0 = 1_000 * H;
        let mut state = None::<String>;
        for _ in 0..SERVICE_BUDGET {
            state = Some(service_budget(state.as_deref(), t0, t0 + H).unwrap());
        }
        let err = service_budget(state.as_deref(), t0, t0 + H).unwrap_err();
        assert!(err.contains("budget"), "{err}");
        // A newer user message opens a new window with a fresh budget.
        assert_eq!(
            service_budget(state.as_deref(), t0 + 2 * H, t0 + 2 * H).unwrap(),
            format!("{}:1", t0 + 2 * H)
        );
        // An older message's reply counts against the newer window.
        let newer = format!("{}:{SERVICE_BUDGET}", t0 + 2 * H);
        assert!(service_budget(Some(&newer), t0, t0 + 3 * H).is_err());
        // Past 48 hours: closed, with the reason.
        let err = service_budget(None, t0, t0 + 49 * H).unwrap_err();
        assert!(err.contains("48"), "{err}");
        // Garbage state is treated as none.
        assert!(service_budget(Some("x:y"), t0, t0).is_ok());
    }

    #[test]
    fn window_field_is_added_to_payloads() {
        let msgs = with_window(send_messages("o1", "k", &["hi".to_string()], 0), 42);
        let v: serde_json::Value = serde_json::from_str(&msgs[0].payload).unwrap();
        assert_eq!(v[WINDOW_FIELD], 42);
        assert_eq!(v["touser"], "o1");
    }
}
