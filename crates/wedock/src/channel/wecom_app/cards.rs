//! Alert cards through the self-built app: the `message/send` body of a `template_card`
//! (button_interaction, to users — `appchat/send` takes no cards), the click callback
//! (`template_card_event`), and the card update after a click.
//!
//! A click runs the command its button stands for through the pipeline, exactly as if the
//! clicker had typed it (dedup, role, scopes, audit). The callback is answered at once with
//! an empty 200 (WeCom retries after 5 s); the result goes out through the outbox:
//! - done: `message/update_template_card` with the event's single-use `ResponseCode` and
//!   `atall: 1`, so everyone's copy shows "✅ 张三 10:42 认领";
//! - refused or failed: a text to the clicker only, saying why; the card does not change;
//! - the code expired or was used (60140): the same short line as a text instead.

use super::{CHANNEL, SENDER, WecomApp};
use crate::message::{Incoming, ReplyKind};
use crate::outbox::payload::AlertCard;
use crate::state::AppState;
use crate::store::NewOutboxMessage;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The errcode of an invalid, expired or already used `response_code`.
pub const CODE_INVALID: i64 = 60140;

/// A `message/send` body carrying `card` to `user`.
pub fn card_payload(agent_id: i64, user: &str, card: &Value) -> String {
    json!({
        "touser": user,
        "msgtype": "template_card",
        "agentid": agent_id,
        "template_card": card,
    })
    .to_string()
}

/// A `message/send` text body to `user`.
pub fn text_payload(agent_id: i64, user: &str, content: &str) -> String {
    json!({
        "touser": user,
        "msgtype": "text",
        "agentid": agent_id,
        "text": {"content": content},
    })
    .to_string()
}

/// An outbox payload that updates a sent card for all its recipients, and says `fallback`
/// to the clicker instead when the code no longer works.
pub fn update_payload(
    agent_id: i64,
    response_code: &str,
    card: &Value,
    clicker: &str,
    fallback: &str,
) -> String {
    json!({
        "update_template_card": {
            "atall": 1,
            "agentid": agent_id,
            "response_code": response_code,
            "template_card": card,
        },
        "fallback": serde_json::from_str::<Value>(&text_payload(agent_id, clicker, fallback))
            .unwrap_or_default(),
    })
    .to_string()
}

/// Handles a `template_card_event`: runs the clicked button's command in the background
/// and answers the callback at once.
pub(super) fn click(
    s: &AppState,
    w: &WecomApp,
    user: &str,
    fields: &HashMap<String, String>,
) -> Response {
    let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let Some(command) = crate::render::card::command_of_key(field("EventKey")) else {
        metrics::counter!("wedock_rejected_total", "reason" => "card_key").increment(1);
        tracing::info!(
            channel = CHANNEL,
            "card click with a key no card of ours has"
        );
        return StatusCode::OK.into_response();
    };
    let code = field("ResponseCode").to_string();
    let task = field("TaskId").to_string();
    // Events carry no MsgId: the platform's retries of one click share sender, time and
    // code; a second click is a new event (and a harmless second command).
    let msg_id = format!("card:{user}:{}:{}", field("CreateTime"), code);
    let msg = Incoming {
        channel: CHANNEL.into(),
        user: user.to_string(),
        chat: None,
        text: command.clone(),
        msg_id: Some(msg_id.clone()),
        granted_role: None,
        role_cap: None,
    };
    let s = s.clone();
    let user = user.to_string();
    let agent_id = w.agent_id;
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let Some(reply) = s.pipeline.handle(msg).await else {
            return;
        };
        let app = s.app();
        let lang = reply.lang;
        let record = match crate::render::card::record_of(&command) {
            Some(id) => app.store.alert_get(id).await.ok().flatten(),
            None => None,
        };
        let first_line = reply.reply.lines().next().unwrap_or("").to_string();
        let out = match (reply.kind, record) {
            (ReplyKind::Error, _) | (_, None) => {
                // Refused or failed (or a command about no card, like /diagnose): only the
                // clicker is told, the card stays as it is for everyone. A refused click is
                // audited with its reason (a typed command's role refusal is only counted).
                if reply.kind == ReplyKind::Error {
                    let identity = format!("{CHANNEL}:{user}");
                    let role = app
                        .policy
                        .role_of(&identity, None)
                        .map_or("guest", |r| r.as_str());
                    let entry = crate::store::AuditEntry {
                        at: crate::store::now_ms(),
                        user: identity,
                        channel: CHANNEL.into(),
                        role: role.to_string(),
                        command: format!("{command} (card)"),
                        host: None,
                        target: None,
                        result: format!("refused: {first_line}"),
                    };
                    if let Err(e) = app.store.audit_append(entry).await {
                        tracing::error!(error = %e, "could not audit a refused card click");
                    }
                }
                let to = super::AppTarget {
                    agent_id,
                    user: user.clone(),
                    markdown: false,
                };
                super::send_messages(&to, &format!("click:{msg_id}"), &to.parts(&reply), 0)
            }
            (_, Some(r)) => {
                let card = super::living::card_after_click(app, &task, &r, lang).await;
                vec![NewOutboxMessage {
                    channel: SENDER.into(),
                    target: user.clone(),
                    payload: update_payload(agent_id, &code, &card, &user, &first_line),
                    dedup_key: Some(format!("{SENDER}:click:{msg_id}")),
                }]
            }
        };
        if let Err(e) = s.outbox.enqueue_many(out).await {
            tracing::error!(error = %e, "could not queue a card update");
        }
        metrics::histogram!("wedock_card_click_seconds").record(started.elapsed().as_secs_f64());
    });
    StatusCode::OK.into_response()
}

/// The `message/send` bodies of an alert message to `users` (`u1|u2`).
pub fn alert_payloads(agent_id: i64, users: &str, msg: &AlertCard<'_>) -> Vec<String> {
    let own = own_payloads(agent_id, users, msg);
    match &msg.living {
        // A group's messages change its one living card where they can (`living.rs`).
        Some(group)
            if !msg.records.is_empty() && (msg.card.is_some() || !msg.resolved.is_empty()) =>
        {
            let ids: Vec<i64> = msg.records.iter().map(|r| r.id).collect();
            vec![super::living::payload(
                agent_id,
                users,
                group,
                &ids,
                !msg.any_firing,
                own,
            )]
        }
        _ => own,
    }
}

/// [`alert_payloads`] of a message on its own: its button card when one was built; when
/// every alert of it is a resolution, each old card changes in place or one short line says
/// it; else the text in parts.
fn own_payloads(agent_id: i64, users: &str, msg: &AlertCard<'_>) -> Vec<String> {
    if !msg.resolved.is_empty() {
        // Each card turns into its resolved state with the code its send brought, or this
        // line goes instead (`resolved.rs`).
        return msg
            .resolved
            .iter()
            .map(|r| {
                let line = t!(
                    msg.lang,
                    "card.resolved_line",
                    id = r.id,
                    subject = r.subject
                );
                super::resolved::payload(agent_id, users, r, &line)
            })
            .collect();
    }
    if let Some(card) = msg.card {
        return vec![card_payload(agent_id, users, card)];
    }
    crate::render::split_by_bytes(msg.content, super::TEXT_LIMIT)
        .into_iter()
        .map(|part| text_payload(agent_id, users, &part))
        .collect()
}
