//! One living card per alert group (an Alertmanager group, a compose project's burst, a
//! Kubernetes namespace): the card sent for a group's first message is updated in place as
//! alerts join or resolve, instead of a new card each time.
//!
//! The platform bounds how long a card can live. `message/update_template_card` needs a
//! single-use `response_code`, and the send brings one (wecom-template-card.md §3): without
//! clicks, a card changes once. So for a group:
//! - the first message is its card, as before (a burst's card lists all its alerts), and
//!   becomes the group's living card;
//! - the next change (an alert joins, one resolves) spends that card's code and shows the
//!   whole group on everyone's copy;
//! - once the code is spent, the next alert to join goes out as a new card showing the whole
//!   group, which becomes the living card (its send brings a new code); a resolution then
//!   goes out as one message of short lines ("✅ #12 node-1 resolved");
//! - a repeat that brings no new alert (the route's repeat interval) is a reminder, so it is
//!   a new card too.
//!
//! Clicks spend their own codes on their own updates (`cards.rs`), which show the group card
//! when the clicked card is one. What the living card holds is kept in the kv for the 71 h a
//! code lives.

use super::cards::{card_payload, text_payload};
use super::resolved::{code_key, spend_code};
use crate::app::App;
use crate::channel::token::TokenSource;
use crate::outbox::Delivery;
use crate::store::incidents::AlertRecord;
use crate::store::{StoreResult, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha1::Digest;
use std::time::Duration;

/// `cards:living:USERS:GROUP` → [`Living`].
const LIVING_PREFIX: &str = "cards:living:";
/// `cards:task:TASK` → the alert ids card `TASK` shows, for its clicks.
const TASK_PREFIX: &str = "cards:task:";
/// As long as the card's code lives (72 h), a little less.
const KEEP: Duration = Duration::from_secs(71 * 3600);
/// A group card lists at most this many alerts (it shows six rows; `/alerts` has the rest).
const MAX_ALERTS: usize = 50;

/// The living card of one group for one set of users.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Living {
    /// The record whose id the card's task id carries (its code is kept under it).
    rep: i64,
    task: String,
    /// The alerts it shows, in the order they joined.
    ids: Vec<i64>,
}

/// The outbox payload of an alert message to `users` about alerts `ids` of group `group`:
/// at delivery it updates the group's living card, or sends a new one, or `fallback` (the
/// message's own payloads) when there is no card to change. `resolution`: every alert of the
/// message resolved.
pub fn payload(
    agent_id: i64,
    users: &str,
    group: &str,
    ids: &[i64],
    resolution: bool,
    fallback: Vec<String>,
) -> String {
    let group = hex::encode(&sha1::Sha1::digest(group.as_bytes())[..10]);
    json!({
        "card_living": {
            "group": group,
            "touser": users,
            "agentid": agent_id,
            "ids": ids,
            "resolution": resolution,
        },
        "fallback": fallback,
    })
    .to_string()
}

fn retry(e: impl ToString) -> Delivery {
    Delivery::Retry {
        reason: e.to_string(),
        after: None,
    }
}

/// Delivers a [`payload`]; `None` for any other payload.
pub async fn deliver(app: &App, tokens: &TokenSource, payload: &str) -> Option<Delivery> {
    let v: Value = serde_json::from_str(payload).ok()?;
    let what = v.get("card_living")?;
    let (Some(group), Some(users), Some(agent_id), Some(ids)) = (
        what["group"].as_str(),
        what["touser"].as_str(),
        what["agentid"].as_i64(),
        what["ids"].as_array(),
    ) else {
        return Some(Delivery::Dead(
            "card_living payload without its fields".into(),
        ));
    };
    let ids: Vec<i64> = ids.iter().filter_map(Value::as_i64).collect();
    let resolution = what["resolution"].as_bool().unwrap_or(false);
    let fallback: Vec<String> = v["fallback"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let card = Group {
        app,
        tokens,
        key: format!("{LIVING_PREFIX}{users}:{group}"),
        users,
        agent_id,
    };
    Some(card.deliver(ids, resolution, fallback).await)
}

/// One group's living card for one set of users, while a message about it is delivered.
struct Group<'a> {
    app: &'a App,
    tokens: &'a TokenSource,
    /// Where its [`Living`] is kept.
    key: String,
    users: &'a str,
    agent_id: i64,
}

impl Group<'_> {
    async fn deliver(&self, ids: Vec<i64>, resolution: bool, fallback: Vec<String>) -> Delivery {
        let living = match self.living().await {
            Ok(l) => l,
            Err(e) => return retry(e),
        };
        let Some(living) = living else {
            return if resolution {
                // No card of this group to change: the message's own resolution payloads.
                self.fallback(&fallback).await
            } else if ids.len() > 1 {
                // A burst in one message: the card lists all of it.
                self.send_group(ids).await
            } else {
                self.send_first(&fallback, ids).await
            };
        };
        let mut all = living.ids.clone();
        for &id in &ids {
            if !all.contains(&id) && all.len() < MAX_ALERTS {
                all.push(id);
            }
        }
        let joined = all.len() > living.ids.len();
        if !joined && !resolution {
            // The same alerts again after the repeat interval: a reminder is a new message.
            metrics::counter!("wedock_living_cards_total", "how" => "repeat").increment(1);
            return self.send_group(all).await;
        }
        let records = match self.records(&all).await {
            Ok(r) => r,
            Err(e) => return retry(e),
        };
        match self.update(&living, &records).await {
            Ok(true) => {
                metrics::counter!("wedock_living_cards_total", "how" => "update").increment(1);
                self.keep(&living.task, living.rep, &records).await;
                Delivery::Sent
            }
            Ok(false) if resolution => {
                // The card can no longer change: one line says what resolved.
                metrics::counter!("wedock_living_cards_total", "how" => "line").increment(1);
                let lines: Vec<String> = records
                    .iter()
                    .filter(|r| ids.contains(&r.id))
                    .map(|r| {
                        t!(
                            self.lang(),
                            "card.resolved_line",
                            id = r.id,
                            subject = r.subject
                        )
                        .to_string()
                    })
                    .collect();
                if lines.is_empty() {
                    // Their records are gone: nothing left to say.
                    self.keep(&living.task, living.rep, &records).await;
                    return Delivery::Sent;
                }
                let line = text_payload(self.agent_id, self.users, &lines.join("\n"));
                let d = super::deliver_one(self.app, self.tokens, &line).await;
                if matches!(d, Delivery::Sent) {
                    self.keep(&living.task, living.rep, &records).await;
                }
                d
            }
            Ok(false) => {
                metrics::counter!("wedock_living_cards_total", "how" => "new").increment(1);
                self.send_group(all).await
            }
            Err(d) => d,
        }
    }

    async fn living(&self) -> StoreResult<Option<Living>> {
        Ok(self
            .app
            .store
            .kv_get(&self.key)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok()))
    }

    async fn records(&self, ids: &[i64]) -> StoreResult<Vec<AlertRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.app.store.alert_get(*id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Remembers card `task` as the group's living card showing `records`; forgets the
    /// group once none of them fires (its next alert starts a new card).
    async fn keep(&self, task: &str, rep: i64, records: &[AlertRecord]) {
        let store = &self.app.store;
        let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
        let result = if records.iter().any(AlertRecord::is_firing) {
            let living = Living {
                rep,
                task: task.to_string(),
                ids: ids.clone(),
            };
            store
                .kv_set_many(
                    vec![
                        (self.key.clone(), json!(living).to_string()),
                        (format!("{TASK_PREFIX}{task}"), json!(ids).to_string()),
                    ],
                    Some(KEEP),
                )
                .await
        } else {
            store.kv_delete(&self.key).await
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "wecom app: could not keep a group's living card");
        }
    }

    /// Changes the living card for everyone with its kept send code; false when there is
    /// no code (never kept, spent, expired).
    async fn update(&self, living: &Living, records: &[AlertRecord]) -> Result<bool, Delivery> {
        let store = &self.app.store;
        let code_key = code_key(living.rep, &living.task);
        let kept = store.kv_get(&code_key).await.map_err(retry)?;
        let Some(code) = kept
            .and_then(|v| serde_json::from_str::<Value>(&v).ok())
            .filter(|k| k["touser"].as_str() == Some(self.users))
            .and_then(|k| k["code"].as_str().map(str::to_string))
        else {
            return Ok(false);
        };
        let Some(card) =
            crate::render::card::group_card(records, &living.task, now_ms(), self.lang())
        else {
            return Ok(false);
        };
        spend_code(
            self.app,
            self.tokens,
            &code_key,
            self.agent_id,
            &code,
            &card,
        )
        .await
    }

    fn lang(&self) -> crate::i18n::Lang {
        crate::i18n::Lang::parse(&self.app.config.alerts.lang).unwrap_or_default()
    }

    /// The group's first message: its own card (`fallback`, as the engine rendered it),
    /// which becomes the living card.
    async fn send_first(&self, fallback: &[String], ids: Vec<i64>) -> Delivery {
        let task = fallback.iter().find_map(|p| {
            let v: Value = serde_json::from_str(p).ok()?;
            v["template_card"]["task_id"].as_str().map(str::to_string)
        });
        let d = self.fallback(fallback).await;
        if let (Delivery::Sent, Some(task)) = (&d, task)
            && let Some(rep) = crate::render::card::record_of_task(&task)
        {
            match self.records(&ids).await {
                Ok(records) => self.keep(&task, rep, &records).await,
                Err(e) => tracing::warn!(error = %e, "wecom app: could not read a group's alerts"),
            }
        }
        d
    }

    /// A new card showing the whole group, which becomes its living card.
    async fn send_group(&self, ids: Vec<i64>) -> Delivery {
        let records = match self.records(&ids).await {
            Ok(r) => r,
            Err(e) => return retry(e),
        };
        let Some(rep) = records
            .iter()
            .find(|r| r.is_firing())
            .or(records.first())
            .map(|r| r.id)
        else {
            return Delivery::Dead("the group's alerts are gone".into());
        };
        let task = crate::render::card::new_task_id(rep);
        let Some(card) = crate::render::card::group_card(&records, &task, now_ms(), self.lang())
        else {
            return Delivery::Dead("the group's alerts are gone".into());
        };
        let body = card_payload(self.agent_id, self.users, &card);
        let d = super::deliver_one(self.app, self.tokens, &body).await;
        if matches!(d, Delivery::Sent) {
            self.keep(&task, rep, &records).await;
        }
        d
    }

    /// Delivers the message's own payloads in order; the first that does not go through
    /// decides (a retry sends the earlier ones again: at least once, like every outbox).
    async fn fallback(&self, payloads: &[String]) -> Delivery {
        for p in payloads {
            let d = super::deliver_one(self.app, self.tokens, p).await;
            if !matches!(d, Delivery::Sent) {
                return d;
            }
        }
        Delivery::Sent
    }
}

/// The card a click on card `task` about record `r` updates to: the group card when `task`
/// is a living group card, else `r`'s own card.
pub async fn card_after_click(
    app: &App,
    task: &str,
    r: &AlertRecord,
    lang: crate::i18n::Lang,
) -> Value {
    let now = now_ms();
    let ids: Vec<i64> = match app.store.kv_get(&format!("{TASK_PREFIX}{task}")).await {
        Ok(Some(v)) => serde_json::from_str(&v).unwrap_or_default(),
        _ => Vec::new(),
    };
    if ids.len() > 1 {
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            if id == r.id {
                records.push(r.clone());
            } else if let Ok(Some(other)) = app.store.alert_get(id).await {
                records.push(other);
            }
        }
        if let Some(card) = crate::render::card::group_card(&records, task, now, lang) {
            return card;
        }
    }
    crate::render::card::template_card(r, "", &crate::render::card::new_task_id(r.id), now, lang)
}
