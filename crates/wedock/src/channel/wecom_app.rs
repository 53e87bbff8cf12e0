//! WeCom self-built app (企业微信自建应用) at `GET|POST /wecom/app`.
//!
//! * GET: URL verification — check `msg_signature` over the echostr, decrypt it, answer the
//!   plaintext only.
//! * POST: an encrypted XML message. Text goes through the pipeline; the answer is returned
//!   passively (encrypted) when ready within `passive_reply_ms`, otherwise the response is an
//!   empty 200 and the answer goes out through `message/send` (outbox sender `wecom_app`).
//!   `enter_agent` / `subscribe` get a welcome, other message types a polite "not supported".
//!
//! Identities are `wecom:<UserID>`.

pub mod cards;
pub mod living;
pub mod resolved;

use super::callback::{CallbackMessage, CallbackPost, CallbackQuery};
use super::reject;
use super::respond::{Answer, Responder};
use super::token::{TokenKind, TokenSource, delivery_of};
use crate::app::App;
use crate::config::AppFormat;
use crate::message::Reply;
use crate::outbox::payload::{AlertCard, Reach};
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
use wxcrypt::MsgCrypt;

pub const CHANNEL: &str = "wecom";
pub const SENDER: &str = "wecom_app";
/// `message/send` text limit, in UTF-8 bytes.
pub const TEXT_LIMIT: usize = 2048;

pub struct WecomApp {
    keys: super::KeyRing,
    corp_id: String,
    agent_id: i64,
    window: Duration,
    responder: Responder,
    /// `[wecom.app] format = "markdown"`: replies go as markdown messages.
    markdown: bool,
}

pub fn routes(app: &App) -> Option<axum::Router<AppState>> {
    let cfg = app.config.wecom.app.as_ref()?;
    let keys = match super::KeyRing::new(
        cfg.token.expose(),
        cfg.encoding_aes_key.expose(),
        cfg.encoding_aes_key_previous.as_ref().map(|k| k.expose()),
        wxcrypt::ReceiveId::new(cfg.corp_id.clone()),
    ) {
        Ok(k) => k,
        Err(e) => {
            // Config validation checks the key; this only guards against drift.
            tracing::error!(error = %e, "wecom.app disabled: bad encoding_aes_key");
            return None;
        }
    };
    let state = Arc::new(WecomApp {
        keys,
        corp_id: cfg.corp_id.clone(),
        agent_id: cfg.agent_id,
        // A passive reply can only be text: markdown replies all go through message/send.
        window: match cfg.format {
            AppFormat::Text => Duration::from_millis(cfg.passive_reply_ms),
            AppFormat::Markdown => Duration::ZERO,
        },
        responder: Responder::default(),
        markdown: cfg.format == AppFormat::Markdown,
    });
    app.health
        .set("wecom_app", true, false, "callback at /wecom/app");
    Some(
        axum::Router::new()
            .route("/wecom/app", get(verify).post(receive))
            .layer(Extension(state)),
    )
}

/// Base64 never contains a space: a space in a decoded query value was a literal `+` that
/// the form decoding turned into one.
pub(crate) fn b64_param(v: &str) -> String {
    v.replace(' ', "+")
}

async fn verify(
    State(s): State<AppState>,
    Extension(w): Extension<Arc<WecomApp>>,
    CallbackQuery(q): CallbackQuery,
) -> Response {
    super::answer_encrypted_verification(s.app(), CHANNEL, &w.keys, &q)
}

async fn receive(Extension(w): Extension<Arc<WecomApp>>, post: CallbackPost) -> Response {
    let CallbackPost { s, q, body } = post;
    let (plain, crypt) =
        match super::open_encrypted_callback(s.app(), CHANNEL, &w.keys, &q, body).await {
            Ok(p) => p,
            Err(r) => return r,
        };
    // Present: the callback was refused above otherwise.
    let nonce = q.get("nonce").map_or("", String::as_str);
    // The console lets an app receive JSON instead of XML (wechat-protocol.md §4.1, vector
    // WC7): same field names, JSON values. Replies follow the format of the message.
    let json = plain.trim_start().starts_with('{');
    let fields = if json {
        match json_fields(&plain) {
            Ok(f) => f,
            Err(e) => return reject(CHANNEL, "bad_json", StatusCode::BAD_REQUEST, &e),
        }
    } else {
        match super::xml::parse_flat(&plain) {
            Ok(f) => f,
            Err(e) => return reject(CHANNEL, "bad_xml", StatusCode::BAD_REQUEST, &e),
        }
    };
    let crypt = PassiveFormat { crypt, json };
    let message = match CallbackMessage::new(CHANNEL, &fields) {
        Ok(m) => m,
        Err(refused) => return *refused,
    };
    let user = &message.user;
    let app = s.app();
    let text = match message.field("MsgType") {
        "text" => message.field("Content").to_string(),
        "event" => {
            let event = message.field("Event");
            return match event {
                "template_card_event" => cards::click(&s, &w, user, &fields),
                "enter_agent" | "subscribe" => {
                    let lang = super::user_lang(app, &message.identity).await;
                    w.passive(crypt, user, super::welcome(lang), nonce)
                }
                // Menu clicks, location reports, contact changes: nothing to say.
                _ => {
                    tracing::debug!(channel = CHANNEL, event, "event ignored");
                    StatusCode::OK.into_response()
                }
            };
        }
        other => {
            let lang = super::user_lang(app, &message.identity).await;
            return w.passive(crypt, user, &super::unsupported(lang, other), nonce);
        }
    };
    let msg_id = message.msg_id();
    let msg = message.incoming(CHANNEL, text, &msg_id, None);
    let to = AppTarget {
        agent_id: w.agent_id,
        user: user.clone(),
        markdown: w.markdown,
    };
    let late_to = to.clone();
    let late_id = msg_id.clone();
    let late = Box::new(move |r: &Reply| {
        send_messages(&late_to, &format!("reply:{late_id}"), &late_to.parts(r), 0)
    });
    match w.responder.respond(&s, msg, w.window, late).await {
        Answer::Passive(reply) => {
            let parts = to.parts(&reply);
            // The first part answers passively; any further parts follow through the API.
            let rest = send_messages(&to, &format!("reply:{msg_id}"), &parts, 1);
            super::callback::queue_rest(&s, rest).await;
            w.passive(crypt, user, parts.first().map_or("", String::as_str), nonce)
        }
        Answer::Nothing => StatusCode::OK.into_response(),
    }
}

/// The flat fields of a JSON message (top-level scalars as strings).
fn json_fields(plain: &str) -> Result<HashMap<String, String>, String> {
    let v: serde_json::Value = serde_json::from_str(plain).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("message is not a JSON object")?;
    let mut out = HashMap::new();
    for (k, v) in obj {
        let s = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => continue,
        };
        // Tencent's JSON samples disagree on key case: use the documented spelling.
        let key = CANONICAL
            .iter()
            .find(|c| c.eq_ignore_ascii_case(k))
            .map_or_else(|| k.clone(), |c| (*c).to_string());
        out.insert(key, s);
    }
    Ok(out)
}

const CANONICAL: &[&str] = &[
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "AgentID",
    "Event",
    "EventKey",
    "TaskId",
    "CardType",
    "ResponseCode",
];

/// How to answer one callback: the key that opened it and the format it came in.
#[derive(Clone, Copy)]
struct PassiveFormat<'a> {
    crypt: &'a MsgCrypt,
    json: bool,
}

impl WecomApp {
    /// An encrypted passive text reply, in the format of the message.
    fn passive(&self, r: PassiveFormat<'_>, user: &str, content: &str, nonce: &str) -> Response {
        let now = super::now_secs();
        let nonce = super::reply_nonce(nonce);
        let sealed = if r.json {
            // The JSON reply mirrors the XML one field for field (uncertain: there is no
            // official JSON passive-reply sample for apps; the envelope is WeCom's JSON one).
            let plain = serde_json::json!({
                "ToUserName": user,
                "FromUserName": self.corp_id,
                "CreateTime": now,
                "MsgType": "text",
                "Content": content,
            });
            r.crypt
                .encrypt_reply_json(&plain.to_string(), &now.to_string(), &nonce)
                .map(|env| ("application/json", env))
        } else {
            let xml = super::xml::text_reply(user, &self.corp_id, now, content);
            r.crypt
                .encrypt_reply_xml(&xml, &now.to_string(), &nonce)
                .map(|env| ("application/xml", env))
        };
        match sealed {
            Ok((ctype, env)) => (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, ctype)],
                env,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "could not encrypt a passive reply");
                StatusCode::OK.into_response()
            }
        }
    }
}

/// Who a reply goes to through the app, and in which format.
#[derive(Clone)]
pub struct AppTarget {
    pub agent_id: i64,
    pub user: String,
    pub markdown: bool,
}

impl AppTarget {
    /// The reply as the app shows it, in parts within the 2048-byte limit: plain text (no
    /// Markdown syntax, as WeChat shows text as it is) or WeCom's markdown subset.
    pub fn parts(&self, reply: &Reply) -> Vec<String> {
        let target = if self.markdown {
            crate::render::Target::WecomMarkdown
        } else {
            crate::render::Target::Plain
        };
        reply.parts(target, TEXT_LIMIT)
    }
}

/// `message/send` payloads for the reply's `parts`, skipping the first `skip` parts.
/// Dedup keys make re-queuing the same reply a no-op.
pub fn send_messages(
    to: &AppTarget,
    key: &str,
    parts: &[String],
    skip: usize,
) -> Vec<NewOutboxMessage> {
    let kind = if to.markdown { "markdown" } else { "text" };
    super::callback::part_messages(SENDER, &to.user, key, parts, skip, |part| {
        serde_json::json!({
            "touser": to.user,
            "msgtype": kind,
            "agentid": to.agent_id,
            kind: {"content": part},
        })
    })
}

/// Delivers `message/send` payloads with the app's access token.
pub struct WecomAppSender {
    app: Arc<App>,
    tokens: TokenSource,
}

impl WecomAppSender {
    /// A card update after a click (`cards::update_payload`): `update_template_card` with
    /// the click's code; when the code is no longer valid (60140: used or past its window),
    /// the fallback text to the clicker instead. `None` for any other payload.
    async fn deliver_card_update(&self, msg: &OutboxMessage) -> Option<Delivery> {
        let v: serde_json::Value = serde_json::from_str(&msg.payload).ok()?;
        let update = v.get("update_template_card")?;
        let result = self
            .tokens
            .post_json("/cgi-bin/message/update_template_card", &update.to_string())
            .await;
        Some(match result {
            Err(super::token::ApiError::Platform { errcode, .. })
                if errcode == cards::CODE_INVALID =>
            {
                metrics::counter!("wedock_card_update_fallbacks_total").increment(1);
                let fallback = v.get("fallback").map(|f| f.to_string()).unwrap_or_default();
                delivery_of(
                    self.tokens
                        .post_json("/cgi-bin/message/send", &fallback)
                        .await,
                )
            }
            other => delivery_of(other),
        })
    }
}

pub fn sender(app: &Arc<App>) -> Option<WecomAppSender> {
    let cfg = app.config.wecom.app.as_ref()?;
    let kind = TokenKind::wecom(&cfg.corp_id, cfg.secret.expose());
    Some(WecomAppSender {
        app: app.clone(),
        tokens: TokenSource::for_app(app, kind),
    })
}

#[async_trait]
impl Sender for WecomAppSender {
    fn channel(&self) -> &str {
        SENDER
    }
    fn per_minute(&self, _target: &str) -> Option<u32> {
        // WeCom drops app messages beyond 30 per member per minute.
        Some(30)
    }
    fn shows_cards(&self) -> bool {
        true
    }
    /// Always in the app's own shape: the card, the resolution update, or the text.
    fn card_payloads(&self, target: &str, card: &AlertCard<'_>) -> Option<Vec<String>> {
        let agent_id = self.app.config.wecom.app.as_ref().map_or(0, |c| c.agent_id);
        Some(cards::alert_payloads(agent_id, target, card))
    }
    /// The app writes to members by the user ids the schedules use.
    fn direct_target(&self, user: &str) -> Option<(String, Reach)> {
        Some((user.to_string(), Reach::AnyUser))
    }
    async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
        if let Some(d) = self.deliver_card_update(msg).await {
            return d;
        }
        if let Some(d) = living::deliver(&self.app, &self.tokens, &msg.payload).await {
            return d;
        }
        deliver_one(&self.app, &self.tokens, &msg.payload).await
    }
}

/// Delivers one payload of the app's own shapes other than the living card: a card
/// resolution (`resolved.rs`), or a `message/send` body, keeping a sent card's response
/// code for its later update.
pub(super) async fn deliver_one(app: &App, tokens: &TokenSource, payload: &str) -> Delivery {
    if let Some(d) = resolved::deliver(app, tokens, payload).await {
        return d;
    }
    let result = tokens.post_json("/cgi-bin/message/send", payload).await;
    if let Ok(v) = &result {
        // errcode 0 but the user was not reachable: accepted, not delivered.
        if let Some(bad) = v.get("invaliduser").and_then(|u| u.as_str())
            && !bad.is_empty()
        {
            return Delivery::Undelivered(format!("invaliduser {bad}"));
        }
        if payload.contains("\"template_card\"") {
            resolved::remember_send(app, payload, v).await;
        }
    }
    delivery_of(result)
}
