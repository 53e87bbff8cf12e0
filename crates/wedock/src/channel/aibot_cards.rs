//! Alert cards through the intelligent robot (wecom-aibot-ws.md §9, §12, §13): the one way
//! to put buttons into a WeCom **group** (group robots have no button callbacks, and
//! `appchat/send` takes no cards).
//!
//! - An alert to `aibot:CHATID` is a `button_interaction` card sent with `aibot_send_msg`
//!   (the same card and buttons as the self-built app's, `render/card.rs`).
//! - A click arrives as an `aibot_event_callback` with `template_card_event`. Its key is the
//!   command the button stands for; it runs through the pipeline as the clicker in that chat
//!   (dedup, role, scopes, audit), exactly as if typed.
//! - Done: `aibot_respond_update_msg` on the event's req_id within its 5 s window replaces
//!   the card for everyone with its new state ("✅ 张三 10:42 认领"). Refused or failed: the
//!   card stays as it is for everyone and the reason goes to the clicker (the update with
//!   `userids: [clicker]` shows it on their copy only). When the update does not go through
//!   (window passed, connection lost), the same line is pushed as a short message instead.

use super::aibot_ws::{CHANNEL, SENDER, new_req_id};
use crate::message::{Incoming, ReplyKind};
use crate::outbox::payload::AlertCard;
use crate::state::AppState;
use serde_json::{Value, json};

/// The `aibot_send_msg` body of the alert card for chat `chatid`, when one of its alerts is
/// firing and has a record; `None`: the markdown text goes as usual (the sender fills in the
/// chat of a body without one).
pub fn alert_payloads(chatid: &str, msg: &AlertCard<'_>) -> Option<Vec<String>> {
    // A resolution only: the markdown line says it; the old card cannot be updated without
    // a click's req_id.
    let card = msg.card.filter(|_| msg.any_firing)?;
    Some(vec![
        json!({"chatid": chatid, "msgtype": "template_card", "template_card": card}).to_string(),
    ])
}

/// What a `template_card_event` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub user: String,
    /// The group's chatid; `None` in a single chat.
    pub chat: Option<String>,
    pub key: String,
    pub task_id: String,
    /// The platform's dedupe key of the event.
    pub msgid: String,
}

/// Reads a click event body; the per-type object is nested under `template_card_event`
/// (docs, real frames) or flat under `event` (one SDK's typings).
pub fn parse_click(body: &Value) -> Option<Click> {
    let event = &body["event"];
    let e = if event["template_card_event"].is_object() {
        &event["template_card_event"]
    } else {
        event
    };
    let s = |v: &Value| v.as_str().map(str::to_string).filter(|s| !s.is_empty());
    Some(Click {
        user: s(&body["from"]["userid"])?,
        chat: s(&body["chatid"]).filter(|_| body["chattype"].as_str() != Some("single")),
        key: s(&e["event_key"])?,
        task_id: s(&e["task_id"]).unwrap_or_default(),
        msgid: s(&body["msgid"]).unwrap_or_else(|| new_req_id("click")),
    })
}

/// The `aibot_respond_update_msg` frame on the event's req_id `cb`: the card for everyone,
/// or only for `only` (a refusal on the clicker's copy).
pub fn update_frame(cb: &str, card: &Value, only: Option<&str>) -> Value {
    let mut body = json!({"response_type": "update_template_card", "template_card": card});
    if let Some(u) = only {
        body["userids"] = json!([u]);
    }
    json!({"cmd": "aibot_respond_update_msg", "headers": {"req_id": cb}, "body": body})
}

/// Handles a card click: runs its command as the clicker and answers with the card's new
/// state. `respond` sends a frame on the live connection and returns its errcode.
pub async fn on_click<F, Fut>(state: AppState, cb: String, body: Value, respond: F)
where
    F: FnOnce(Value) -> Fut,
    Fut: std::future::Future<Output = Result<(i64, String), String>>,
{
    let started = std::time::Instant::now();
    let Some(click) = parse_click(&body) else {
        metrics::counter!("wedock_rejected_total", "reason" => "card_event").increment(1);
        tracing::info!(
            channel = CHANNEL,
            "card event without sender or key dropped"
        );
        return;
    };
    let Some(command) = crate::render::card::command_of_key(&click.key) else {
        metrics::counter!("wedock_rejected_total", "reason" => "card_key").increment(1);
        tracing::info!(
            channel = CHANNEL,
            "card click with a key no card of ours has"
        );
        return;
    };
    let msg = Incoming {
        channel: CHANNEL.into(),
        user: click.user.clone(),
        chat: click.chat.clone(),
        text: command.clone(),
        msg_id: Some(format!("card:{}", click.msgid)),
        granted_role: None,
        role_cap: None,
    };
    let Some(reply) = state.pipeline.handle(msg).await else {
        return; // a platform retry of a click already handled
    };
    let app = state.app().clone();
    let record = match crate::render::card::record_of(&command) {
        Some(id) => app.store.alert_get(id).await.ok().flatten(),
        None => None,
    };
    let line = reply.reply.lines().next().unwrap_or("").to_string();
    let now = crate::store::now_ms();
    let task_id = if click.task_id.is_empty() {
        record
            .as_ref()
            .map(|r| crate::render::card::new_task_id(r.id))
            .unwrap_or_default()
    } else {
        click.task_id.clone()
    };
    let refused = reply.kind == ReplyKind::Error;
    let frame = record.as_ref().map(|r| {
        let mut card = crate::render::card::template_card(r, "", &task_id, now, reply.lang);
        if refused {
            // The clicker's copy says why; everyone else's stays as it is.
            card["sub_title_text"] = json!(line);
        }
        update_frame(&cb, &card, refused.then_some(click.user.as_str()))
    });
    let updated = match frame {
        Some(f) => matches!(respond(f).await, Ok((0, _))),
        None => false,
    };
    if !updated {
        // The update did not go through (window passed, connection lost) or there is no
        // card to show: the same line as a short message to where the click was.
        let to = click.chat.clone().unwrap_or_else(|| click.user.clone());
        let text = if refused && click.chat.is_some() {
            format!("<@{}> {}", click.user, reply.reply)
        } else {
            reply.reply.clone()
        };
        let mut m = super::aibot_ws::push_message(&to, click.chat.is_some(), &text);
        m.dedup_key = Some(format!("{SENDER}:click:{}", click.msgid));
        if let Err(e) = state.outbox.enqueue(m).await {
            tracing::error!(error = %e, "aibot: could not queue a click answer");
        }
    }
    metrics::histogram!("wedock_card_click_seconds").record(started.elapsed().as_secs_f64());
}

/// Fills in the chat of a proactive body that has none (alert bodies carry the message
/// only; the outbox target names the chat).
pub fn with_chat(mut body: Value, target: &str) -> Value {
    if body
        .get("chatid")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        && let Some(o) = body.as_object_mut()
    {
        o.insert("chatid".into(), json!(target));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_are_read_nested_or_flat_and_bodies_get_their_chat() {
        let nested = json!({"msgid": "m1", "chatid": "wrGROUP", "chattype": "group",
            "from": {"userid": "zhangsan"},
            "event": {"eventtype": "template_card_event",
                      "template_card_event": {"card_type": "button_interaction", "event_key": "/ack 12", "task_id": "wd-12-1"}}});
        let c = parse_click(&nested).unwrap();
        assert_eq!(c.user, "zhangsan");
        assert_eq!(c.chat.as_deref(), Some("wrGROUP"));
        assert_eq!((c.key.as_str(), c.task_id.as_str()), ("/ack 12", "wd-12-1"));
        let flat = json!({"msgid": "m2", "chattype": "single", "from": {"userid": "lisi"},
            "event": {"eventtype": "template_card_event", "event_key": "/silence 12 1h", "task_id": "t"}});
        let c = parse_click(&flat).unwrap();
        assert_eq!(c.chat, None);
        assert_eq!(c.key, "/silence 12 1h");
        assert!(parse_click(&json!({"event": {"event_key": "/ack 1"}})).is_none());
        let b = with_chat(
            json!({"msgtype": "markdown", "markdown": {"content": "x"}}),
            "wrG",
        );
        assert_eq!(b["chatid"], "wrG");
        let b = with_chat(json!({"chatid": "keep", "msgtype": "markdown"}), "wrG");
        assert_eq!(b["chatid"], "keep");
        let f = update_frame("cb1", &json!({"task_id": "t"}), Some("lisi"));
        assert_eq!(f["cmd"], "aibot_respond_update_msg");
        assert_eq!(f["body"]["userids"], json!(["lisi"]));
        assert!(
            update_frame("cb1", &json!({}), None)["body"]
                .get("userids")
                .is_none()
        );
    }
}
