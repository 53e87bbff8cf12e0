//! Personal WeChat through the `wechatbot-webhook` gateway — at the user's own risk:
//! personal-account protocols can get the account banned; WeCom is the recommended route.
//!
//! * `POST /gateway/wechatbot`: the gateway's multipart callback (fields `type`, `content`,
//!   `source` (JSON), `isMentioned`, `isMsgFromSelf`). Our own messages are ignored; in a room
//!   only messages that @-mention the bot are answered, with the mention stripped. The reply
//!   goes back in the JSON response body the gateway understands:
//!   `{"success": true, "data": {"type": "text", "content": "…"}}`.
//! * Pushes (outbox sender `wechatbot`): `POST {base_url}/webhook/msg/v2?token=…` with
//!   `{"to": name, "isRoom": bool, "data": {"type": "text", "content": "…"}}`.
//! * `callback_token` (required, at least 16 characters) must be given as `?token=` on the
//!   callback URL; anything else is refused with 401.
//!
//! Identities: `wechatbot:alias:NAME` when the bot's account gave the contact an alias
//! (备注名, `from.payload.alias`), which only that account can set; otherwise
//! `wechatbot:<display name>`, which anyone can choose, so such senders act as guest. Groups
//! are `wechatbot:<topic>` and are named by anyone too: every group message acts as guest.

use super::callback::CallbackQuery;
use super::{CALLBACK_BODY_LIMIT, reject};
use crate::app::App;
use crate::identity::Role;
use crate::message::Incoming;
use crate::outbox::{Delivery, Sender};
use crate::state::AppState;
use crate::store::{NewOutboxMessage, OutboxMessage};
use async_trait::async_trait;
use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const CHANNEL: &str = "wechatbot";
pub const SENDER: &str = "wechatbot";

pub fn routes(app: &App) -> Option<axum::Router<AppState>> {
    app.config.gateway.wechatbot.as_ref()?;
    app.health
        .set("wechatbot", true, false, "callback at /gateway/wechatbot");
    Some(axum::Router::new().route("/gateway/wechatbot", post(receive)))
}

fn no_reply() -> Response {
    Json(json!({"success": false})).into_response()
}

async fn receive(
    State(s): State<AppState>,
    CallbackQuery(q): CallbackQuery,
    req: Request,
) -> Response {
    let app = s.app().clone();
    let Some(cfg) = app.config.gateway.wechatbot.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Required by the config check; absent (a config built in code) refuses everything.
    let expected = cfg.callback_token.as_ref().map_or("", |t| t.expose());
    let given = q.get("token").map(String::as_str).unwrap_or("");
    if expected.is_empty() || !constant_eq(given.as_bytes(), expected.as_bytes()) {
        return reject(
            CHANNEL,
            "bad_token",
            StatusCode::UNAUTHORIZED,
            &"callback token missing or wrong",
        );
    }
    let mut form = match Multipart::from_request(req, &()).await {
        Ok(m) => m,
        Err(e) => return reject(CHANNEL, "bad_multipart", StatusCode::BAD_REQUEST, &e),
    };
    let mut fields = std::collections::HashMap::<String, String>::new();
    let mut total = 0usize;
    loop {
        match form.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or("").to_string();
                // Files (type=file) carry binary content: not read, not needed.
                if f.file_name().is_some() {
                    fields.insert(name, String::new());
                    continue;
                }
                match f.text().await {
                    Ok(t) => {
                        total += t.len();
                        if total > CALLBACK_BODY_LIMIT {
                            return reject(
                                CHANNEL,
                                "oversize_body",
                                StatusCode::PAYLOAD_TOO_LARGE,
                                &format!("form over {CALLBACK_BODY_LIMIT} bytes"),
                            );
                        }
                        fields.insert(name, t);
                    }
                    Err(e) => {
                        return reject(CHANNEL, "bad_multipart", StatusCode::BAD_REQUEST, &e);
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return reject(CHANNEL, "bad_multipart", StatusCode::BAD_REQUEST, &e),
        }
    }
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    if get("isMsgFromSelf") == "1" {
        return no_reply();
    }
    let source: Value = match serde_json::from_str(get("source")) {
        Ok(v) => v,
        Err(e) => return reject(CHANNEL, "bad_json", StatusCode::BAD_REQUEST, &e),
    };
    let Some(sender) = Contact::of(&source) else {
        return reject(
            CHANNEL,
            "bad_message",
            StatusCode::BAD_REQUEST,
            &"source without a sender",
        );
    };
    let room = source["room"]["payload"]["topic"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    match get("type") {
        "text" => {}
        // Login/logout and other system events, friendship requests: nothing to say.
        t if t.starts_with("system_event") || t == "friendship" || t == "unknown" => {
            return no_reply();
        }
        other => {
            if room.is_some() {
                return no_reply();
            }
            let lang = super::user_lang(&app, &format!("{CHANNEL}:{}", sender.user)).await;
            return text_reply(&super::unsupported(lang, other));
        }
    }
    if room.is_some() && get("isMentioned") != "1" {
        return no_reply();
    }
    let text = if room.is_some() {
        super::aibot_message::strip_mentions(get("content"))
    } else {
        get("content").to_string()
    };
    // Nicknames and group names can be chosen by anyone: only an alias the bot's own account
    // gave the contact, outside a group, may carry more than the lowest role.
    let role_cap = (!sender.aliased || room.is_some()).then_some(Role::Guest);
    let msg = Incoming {
        channel: CHANNEL.into(),
        user: sender.user,
        chat: room,
        text,
        msg_id: None,
        granted_role: None,
        role_cap,
    };
    match s.pipeline.handle(msg).await {
        // WeChat shows text as it is: Markdown answers go out as plain text.
        Some(r) => text_reply(&r.rendered(crate::render::Target::Plain)),
        None => no_reply(),
    }
}

/// Who sent a callback, as the gateway's `source.from` (a Wechaty contact) describes them.
struct Contact {
    /// `alias:NAME` when the bot's account gave the contact an alias (备注名), else the
    /// display name (or, without one, the contact id).
    user: String,
    aliased: bool,
}

/// A non-blank string value, as sent.
fn text(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.trim().is_empty())
}

impl Contact {
    fn of(source: &Value) -> Option<Contact> {
        let from = &source["from"];
        if let Some(alias) = text(&from["payload"]["alias"]) {
            return Some(Contact {
                user: format!("alias:{alias}"),
                aliased: true,
            });
        }
        let name = text(&from["payload"]["name"]).or_else(|| text(&from["id"]))?;
        // A nickname chosen to look like an alias identity must not share its state
        // (language, pending confirmation).
        let user = if name.starts_with("alias:") {
            format!("nick:{name}")
        } else {
            name.to_string()
        };
        Some(Contact {
            user,
            aliased: false,
        })
    }
}

fn text_reply(content: &str) -> Response {
    Json(json!({"success": true, "data": {"type": "text", "content": content}})).into_response()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An outbox message to a person (by name) or a room (by topic).
pub fn push_message(to: &str, is_room: bool, text: &str) -> NewOutboxMessage {
    NewOutboxMessage {
        channel: SENDER.into(),
        target: to.to_string(),
        payload: json!({"to": to, "isRoom": is_room, "data": {"type": "text", "content": text}})
            .to_string(),
        dedup_key: None,
    }
}

pub struct WechatbotSender {
    url: String,
    token: crate::secret::Secret,
    http: reqwest::Client,
}

pub fn sender(app: &Arc<App>) -> Option<WechatbotSender> {
    let cfg = app.config.gateway.wechatbot.as_ref()?;
    Some(WechatbotSender {
        url: format!("{}/webhook/msg/v2", super::token::base_str(&cfg.base_url)),
        token: crate::secret::Secret::new(cfg.token.expose()),
        http: super::token::http_client(),
    })
}

#[async_trait]
impl Sender for WechatbotSender {
    fn channel(&self) -> &str {
        SENDER
    }
    async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
        let req = self
            .http
            .post(&self.url)
            .query(&[("token", self.token.expose())]);
        let resp = match super::post_payload(req, &msg.payload, "gateway unreachable").await {
            Ok(r) => r,
            Err(retry) => return retry,
        };
        let status = resp.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Delivery::Retry {
                reason: format!("gateway HTTP {status}"),
                after: Some(Duration::from_secs(5)),
            };
        }
        let v: Value = resp.json().await.unwrap_or_default();
        if status.is_success() && v["success"] == true {
            Delivery::Sent
        } else {
            Delivery::Dead(format!(
                "gateway HTTP {status}: {}",
                v["message"].as_str().unwrap_or("refused")
            ))
        }
    }
}
