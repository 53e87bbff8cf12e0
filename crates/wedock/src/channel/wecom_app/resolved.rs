//! A sent alert card changes in place when its alert resolves.
//!
//! `message/update_template_card` needs a single-use `response_code`. Clicks bring one each;
//! the send itself brings one more (wecom-template-card.md §1.4, §3). So without any click a
//! card can still be changed once: that code is kept (`cards:code:RECORD:TASK` in the kv,
//! 71 h of its 72 h life) and spent on the resolution — everyone's copy turns into the
//! resolved card instead of a new message arriving. When there is no code (never kept,
//! expired, used, or the card went to other users) the short line "✅ #12 api-3 resolved"
//! goes instead, as before.

use super::cards::{CODE_INVALID, text_payload};
use crate::app::App;
use crate::channel::token::{ApiError, TokenSource, delivery_of};
use crate::outbox::Delivery;
use crate::store::incidents::AlertRecord;
use serde_json::{Value, json};
use std::time::Duration;

const CODE_PREFIX: &str = "cards:code:";
/// A send's code lives 72 h; it is kept a little less.
const CODE_KEEP: Duration = Duration::from_secs(71 * 3600);

fn code_prefix(record: i64) -> String {
    format!("{CODE_PREFIX}{record}:")
}

/// Where the send code of card `task` (about `record`) is kept.
pub(super) fn code_key(record: i64, task: &str) -> String {
    format!("{}{task}", code_prefix(record))
}

/// After a card was sent: keeps the send's response code for its alert's resolution.
pub async fn remember_send(app: &App, payload: &str, response: &Value) {
    let Some(code) = response.get("response_code").and_then(Value::as_str) else {
        return;
    };
    let Ok(sent) = serde_json::from_str::<Value>(payload) else {
        return;
    };
    let task = sent["template_card"]["task_id"].as_str().unwrap_or("");
    let Some(record) = crate::render::card::record_of_task(task) else {
        return;
    };
    let value = json!({"code": code, "touser": sent["touser"], "task_id": task}).to_string();
    let key = code_key(record, task);
    if let Err(e) = app.store.kv_set(&key, &value, Some(CODE_KEEP)).await {
        tracing::warn!(error = %e, "wecom app: could not keep a card's response code");
    }
}

/// The outbox payload for "alert `r` resolved" to `users`: the card update when a code was
/// kept, else `fallback_line` as text (decided at delivery, when the code is known).
pub fn payload(agent_id: i64, users: &str, r: &AlertRecord, fallback_line: &str) -> String {
    json!({
        "card_resolved": {"record": r.id, "touser": users, "agentid": agent_id},
        "fallback": serde_json::from_str::<Value>(&text_payload(agent_id, users, fallback_line))
            .unwrap_or_default(),
    })
    .to_string()
}

/// Delivers a [`payload`]; `None` for any other payload.
pub async fn deliver(app: &App, tokens: &TokenSource, payload: &str) -> Option<Delivery> {
    let v: Value = serde_json::from_str(payload).ok()?;
    let what = v.get("card_resolved")?;
    let fallback = v.get("fallback").map(Value::to_string).unwrap_or_default();
    let (Some(record), Some(users), Some(agent_id)) = (
        what["record"].as_i64(),
        what["touser"].as_str(),
        what["agentid"].as_i64(),
    ) else {
        return Some(Delivery::Dead(
            "card_resolved payload without its fields".into(),
        ));
    };
    match update_cards(app, tokens, record, users, agent_id).await {
        Ok(true) => {
            metrics::counter!("wedock_card_resolutions_total", "how" => "update").increment(1);
            Some(Delivery::Sent)
        }
        Ok(false) => {
            metrics::counter!("wedock_card_resolutions_total", "how" => "message").increment(1);
            Some(delivery_of(
                tokens.post_json("/cgi-bin/message/send", &fallback).await,
            ))
        }
        Err(d) => Some(d),
    }
}

/// Spends the kept codes of `record`'s cards to `users`; true when one card was updated.
async fn update_cards(
    app: &App,
    tokens: &TokenSource,
    record: i64,
    users: &str,
    agent_id: i64,
) -> Result<bool, Delivery> {
    let store = app.store.as_ref();
    let kept = store
        .kv_scan(&code_prefix(record))
        .await
        .map_err(|e| Delivery::Retry {
            reason: e.to_string(),
            after: None,
        })?;
    let Some(r) = store.alert_get(record).await.ok().flatten() else {
        return Ok(false);
    };
    let lang = crate::i18n::Lang::parse(&app.config.alerts.lang).unwrap_or_default();
    let mut updated = false;
    for (key, v) in kept {
        let Ok(k) = serde_json::from_str::<Value>(&v) else {
            continue;
        };
        if k["touser"].as_str() != Some(users) {
            continue;
        }
        let (code, task) = (
            k["code"].as_str().unwrap_or(""),
            k["task_id"].as_str().unwrap_or(""),
        );
        let card = crate::render::card::template_card(&r, "", task, crate::store::now_ms(), lang);
        updated |= spend_code(app, tokens, &key, agent_id, code, &card).await?;
    }
    Ok(updated)
}

/// Changes a sent card for all its recipients to `card` with the kept code stored at `key`;
/// true when it changed. The code is forgotten whatever the platform says (single use: a
/// retry must not spend it again), except on a transient failure, where the code may still
/// be good and the retry needs it.
pub(super) async fn spend_code(
    app: &App,
    tokens: &TokenSource,
    key: &str,
    agent_id: i64,
    code: &str,
    card: &Value,
) -> Result<bool, Delivery> {
    let body = json!({
        "atall": 1,
        "agentid": agent_id,
        "response_code": code,
        "template_card": card,
    });
    let updated = match tokens
        .post_json("/cgi-bin/message/update_template_card", &body.to_string())
        .await
    {
        Ok(_) => true,
        Err(ApiError::Transient(reason)) => {
            return Err(Delivery::Retry {
                reason,
                after: None,
            });
        }
        Err(ApiError::Platform { errcode, .. }) if errcode == CODE_INVALID => false,
        Err(e) => {
            tracing::warn!(error = %e, "wecom app: card update refused");
            false
        }
    };
    let _ = app.store.kv_delete(key).await;
    Ok(updated)
}
