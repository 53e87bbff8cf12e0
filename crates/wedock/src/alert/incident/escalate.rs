//! Escalation: a firing alert nobody acknowledges goes further, step by step, as
//! `[[alerts.escalations]]` says — a direct message to the person on duty, then the next one
//! on the rotation, then @all in the group.
//!
//! The timers are not timers: a step is due when `first_at + after` of the alert's record
//! has passed (both durable), so a restart or a new leader sees the same deadlines. Each
//! step fires once: its messages and a marker key (`alerts:escalation:ID:STEP`) are written
//! in ONE leader-fenced transaction (a paused old leader's write is refused), and the loop
//! skips a step whose marker exists. An ack or a silence stops everything not yet sent:
//! the step is skipped from then on, and its queued messages are taken back (`cancel`),
//! which matters where a message can wait long (personal WeChat holds messages until the
//! user writes, a spent robot budget holds them up to a minute).

use crate::alert::Engine;
use crate::config::{EscalationConfig, Notify};
use crate::i18n::Lang;
use crate::outbox::payload::{AlertCard, Target};
use crate::render::Format;
use crate::store::incidents::AlertRecord;
use crate::store::{NewOutboxMessage, StoreResult, now_ms};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const MARKER_PREFIX: &str = "alerts:escalation:";
/// How often due steps are looked for: the timers' accuracy.
const TICK: Duration = Duration::from_secs(1);
/// Records older than the longest step by more than this are not looked at any more.
const LOOKBACK_MS: i64 = 24 * 3600 * 1000;
/// At most this many open records are examined per tick (oldest first).
const SCAN_LIMIT: usize = 1000;

/// What a fired step wrote (the marker's value).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fired {
    pub at: i64,
    /// Who was told (user ids, or `@all`).
    pub to: Vec<String>,
    /// The outbox rows written, so an ack can take back the ones not yet sent.
    pub ids: Vec<i64>,
}

fn marker(record: i64, step: usize) -> String {
    format!("{MARKER_PREFIX}{record}:{step}")
}

/// Runs the escalation steps until `shutdown` (the leader's singleton tasks run it).
pub async fn run(engine: Arc<Engine>, mut shutdown: watch::Receiver<bool>) {
    let mut fired: HashSet<(i64, usize)> = HashSet::new();
    loop {
        if let Err(e) = tick(&engine, &mut fired).await {
            // A fenced write (leadership lost) or a store outage: the same steps are due on
            // the next tick, here or on the new leader.
            tracing::warn!(error = %e, "escalation: tick failed; will retry");
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Fires every step that is due and has not fired. `fired` remembers markers seen, so a
/// step costs one store read the first time only.
pub async fn tick(engine: &Engine, fired: &mut HashSet<(i64, usize)>) -> StoreResult<usize> {
    let app = &engine.app;
    let steps = &app.config.alerts.escalations;
    if steps.is_empty() {
        return Ok(0);
    }
    let longest = longest_step(app);
    let now = now_ms();
    let since = now - longest.as_millis() as i64 - LOOKBACK_MS;
    let open = app.store.alert_unacked(since, SCAN_LIMIT).await?;
    let mut n = 0;
    for r in &open {
        if r.silenced_at(now) {
            continue;
        }
        for (i, step) in steps.iter().enumerate() {
            let Some(after) = step.delay() else {
                continue;
            };
            if !step.severity.contains(&r.severity)
                || now < r.first_at + after.as_millis() as i64
                || fired.contains(&(r.id, i))
            {
                continue;
            }
            if app.store.kv_get(&marker(r.id, i)).await?.is_some() {
                fired.insert((r.id, i));
                continue;
            }
            fire(engine, r, i, step, after).await?;
            fired.insert((r.id, i));
            n += 1;
        }
    }
    // Forget records no longer open, so the set stays as small as the open alerts.
    let open_ids: HashSet<i64> = open.iter().map(|r| r.id).collect();
    fired.retain(|(id, _)| open_ids.contains(id));
    Ok(n)
}

fn longest_step(app: &crate::app::App) -> Duration {
    let steps = &app.config.alerts.escalations;
    steps
        .iter()
        .filter_map(|s| s.delay())
        .max()
        .unwrap_or_default()
}

/// Writes step `i`'s messages for `r` with its marker in one fenced transaction.
async fn fire(
    engine: &Engine,
    r: &AlertRecord,
    i: usize,
    step: &EscalationConfig,
    after: Duration,
) -> StoreResult<()> {
    let app = &engine.app;
    let lang = engine.lang;
    let kind = step
        .notify_kind(!app.config.oncall.schedules.is_empty())
        .unwrap_or(Notify::All);
    let people: Vec<String> = match kind {
        Notify::OnCall | Notify::Secondary => {
            let name = step.schedule_name(&app.config).unwrap_or_default();
            match on_call(app, name, kind == Notify::Secondary).await? {
                Some(u) => vec![u],
                None => Vec::new(),
            }
        }
        Notify::Users => step.users.clone(),
        Notify::All => Vec::new(),
    };
    let groups: Vec<Target> = if step.targets.is_empty() {
        app.config
            .wecom
            .robots
            .iter()
            .map(|r| Target::parse(&r.name))
            .collect()
    } else {
        step.targets.iter().map(|t| Target::parse(t)).collect()
    };
    let waited = waited_words(after, lang);
    let mut msgs = Vec::new();
    let mut to = Vec::new();
    let mut mention_in_groups = Vec::new();
    for u in &people {
        match engine.outbox.direct_target(u, false) {
            Some((channel, id)) => {
                let t = Target { channel, id };
                msgs.extend(direct_messages(engine, &t, r, &waited, i));
                to.push(u.clone());
            }
            // No direct channel for this person: @-mention them in the group instead.
            None => mention_in_groups.push(u.clone()),
        }
    }
    if kind == Notify::All {
        mention_in_groups.push("@all".into());
    }
    if !mention_in_groups.is_empty() {
        let mentions: Vec<&str> = mention_in_groups.iter().map(String::as_str).collect();
        let who = mentions
            .iter()
            .map(|m| {
                if *m == "@all" {
                    format!("@{}", t!(lang, "escalation.everyone"))
                } else {
                    format!("@{m}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let content = group_text(r, &waited, &who, lang);
        for t in &groups {
            // A group robot notifies through a text message's `mentioned_list` (which takes
            // `@all`); the other group channels (the intelligent robot takes no text) get
            // the markdown.
            let sender = engine.outbox.sender(&t.channel);
            let format = sender
                .and_then(|s| s.mention_list_format())
                .unwrap_or(Format::Markdown);
            let bodies = engine.outbox.text_payloads(t, format, &content, &mentions);
            for (k, body) in bodies.into_iter().enumerate() {
                msgs.push(NewOutboxMessage {
                    channel: t.channel.clone(),
                    target: t.id.clone(),
                    payload: body,
                    dedup_key: Some(format!("escalation:{}:{i}:{}:{k}", r.id, t.label())),
                });
            }
        }
        to.extend(mention_in_groups);
    }
    if msgs.is_empty() {
        tracing::warn!(
            alert = r.id,
            step = i,
            "escalation: nobody to tell (no one on duty, no group); the step is recorded as done"
        );
    }
    let fence = app.leader_fence()?;
    // The marker goes in with the rows; its ids are filled in below from the answer, in a
    // second write (only `cancel` reads them, and a missing list just means nothing to take
    // back).
    let mut fired = Fired {
        at: now_ms(),
        to,
        ids: Vec::new(),
    };
    let key = marker(r.id, i);
    let value = serde_json::to_string(&fired).unwrap_or_default();
    let ids = engine
        .outbox
        .enqueue_with_state(fence.as_ref(), msgs, vec![(key.clone(), value)])
        .await?;
    metrics::counter!("wedock_escalations_total", "step" => i.to_string()).increment(1);
    tracing::info!(alert = r.id, step = i, to = ?fired.to, "escalated");
    fired.ids = ids;
    // Rewritten with a lifetime: records older than the longest step plus LOOKBACK_MS are
    // never looked at again, so their markers may go a day after that.
    let keep = Duration::from_millis((LOOKBACK_MS * 2) as u64) + longest_step(app);
    app.store
        .kv_set(
            &key,
            &serde_json::to_string(&fired).unwrap_or_default(),
            Some(keep),
        )
        .await?;
    // An ack that landed between the read above and this write stops what it can.
    if let Some(now) = app.store.alert_get(r.id).await?
        && (now.acked_by.is_some() || !now.is_firing() || now.silenced_at(now_ms()))
    {
        cancel(app, r.id).await;
    }
    Ok(())
}

/// The person on duty in `schedule` now, or (`next`) the one who comes after them.
async fn on_call(app: &crate::app::App, schedule: &str, next: bool) -> StoreResult<Option<String>> {
    let Some(s) = app.config.oncall_schedule(schedule) else {
        return Ok(None);
    };
    let s = crate::oncall::swap::with_swaps(app.store.as_ref(), s).await?;
    let now = s.on_call(chrono::Utc::now());
    Ok(if next {
        now.next.map(|(u, _)| u)
    } else {
        Some(now.user)
    }
    .filter(|u| !u.is_empty()))
}

/// The outbox rows of a direct message: a card with the alert's buttons through the WeCom
/// app, the text elsewhere.
fn direct_messages(
    engine: &Engine,
    t: &Target,
    r: &AlertRecord,
    waited: &str,
    step: usize,
) -> Vec<NewOutboxMessage> {
    let lang = engine.lang;
    let key = |k: usize| Some(format!("escalation:{}:{step}:{}:{k}", r.id, t.label()));
    let content = direct_text(r, waited, lang);
    let sender = engine.outbox.sender(&t.channel);
    let card = sender.filter(|s| s.shows_cards()).and_then(|s| {
        let what = t!(lang, "escalation.card_title", waited = waited);
        let card = crate::render::card::template_card(
            r,
            &what,
            &crate::render::card::new_task_id(r.id),
            now_ms(),
            lang,
        );
        s.card_payloads(
            &t.id,
            &AlertCard {
                card: Some(&card),
                any_firing: true,
                resolved: Vec::new(),
                records: vec![r],
                // An escalation is a card of its own, sent to one person.
                living: None,
                content: &content,
                lang,
            },
        )
    });
    let bodies =
        card.unwrap_or_else(|| engine.outbox.text_payloads(t, Format::Text, &content, &[]));
    bodies
        .into_iter()
        .enumerate()
        .map(|(k, body)| NewOutboxMessage {
            channel: t.channel.clone(),
            target: t.id.clone(),
            payload: body,
            dedup_key: key(k),
        })
        .collect()
}

/// `10 分钟` / `10 min`; `30 秒` / `30 s` below a minute.
fn waited_words(after: Duration, lang: Lang) -> String {
    let s = after.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        t!(lang, "escalation.minutes", n = s / 60)
    } else {
        t!(lang, "escalation.seconds", n = s)
    }
}

fn place(r: &AlertRecord) -> String {
    match (&r.host, &r.place) {
        (Some(h), Some(p)) => format!(" @{h}/{p}"),
        (Some(h), None) => format!(" @{h}"),
        (None, Some(p)) => format!(" @{p}"),
        _ => String::new(),
    }
}

fn headline(r: &AlertRecord, waited: &str, lang: Lang) -> String {
    t!(
        lang,
        "escalation.headline",
        id = r.id,
        subject = r.subject,
        place = place(r),
        waited = waited
    )
}

fn tail(r: &AlertRecord, lang: Lang) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(c) = &r.cause {
        lines.push(t!(lang, "escalation.cause", cause = c));
    }
    lines.push(t!(lang, "escalation.hint", id = r.id));
    lines
}

/// The text of a direct message.
pub fn direct_text(r: &AlertRecord, waited: &str, lang: Lang) -> String {
    let mut lines = vec![
        headline(r, waited, lang),
        t!(lang, "escalation.to_you").to_string(),
    ];
    lines.extend(tail(r, lang));
    lines.join("\n")
}

/// The text of a group message that @-mentions `who`.
pub fn group_text(r: &AlertRecord, waited: &str, who: &str, lang: Lang) -> String {
    let mut lines = vec![
        headline(r, waited, lang),
        t!(lang, "escalation.to_group", who = who),
    ];
    lines.extend(tail(r, lang));
    lines.join("\n")
}

/// Who the steps fired so far for alert `record` told, in step order (empty on a store
/// error: `/alerts` shows the rest).
pub async fn escalated_to(app: &crate::app::App, record: i64) -> Vec<String> {
    let mut rows = app
        .store
        .kv_scan(&format!("{MARKER_PREFIX}{record}:"))
        .await
        .unwrap_or_default();
    rows.sort();
    let mut to: Vec<String> = Vec::new();
    for (_, v) in rows {
        if let Ok(f) = serde_json::from_str::<Fired>(&v) {
            for u in f.to {
                if !to.contains(&u) {
                    to.push(u);
                }
            }
        }
    }
    to
}

/// Takes back the escalation messages of alert `record` that are still waiting, unsent
/// (after an ack or a silence). A message already handed to the platform stays sent.
pub async fn cancel(app: &crate::app::App, record: i64) {
    let rows = match app
        .store
        .kv_scan(&format!("{MARKER_PREFIX}{record}:"))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(alert = record, error = %e, "escalation: cannot read markers");
            return;
        }
    };
    for (_, v) in rows {
        let Ok(f) = serde_json::from_str::<Fired>(&v) else {
            continue;
        };
        for id in f.ids {
            match app.store.outbox_fold(vec![id], Vec::new()).await {
                Ok(Some(_)) => {
                    metrics::counter!("wedock_escalations_cancelled_total").increment(1);
                }
                Ok(None) => {} // already sent or being sent
                Err(e) => tracing::warn!(alert = record, error = %e, "escalation: cancel failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> AlertRecord {
        AlertRecord {
            id: 7,
            subject: "api".into(),
            cause: Some("exit 137".into()),
            ..AlertRecord::sample()
        }
    }

    #[test]
    fn messages_name_the_alert_the_wait_and_the_command() {
        let r = rec();
        let zh = direct_text(
            &r,
            &waited_words(Duration::from_secs(600), Lang::Zh),
            Lang::Zh,
        );
        assert!(zh.contains("#7") && zh.contains("api @prod-1"), "{zh}");
        assert!(zh.contains("10 分钟") && zh.contains("/ack 7"), "{zh}");
        assert!(zh.contains("exit 137"), "{zh}");
        let en = group_text(
            &r,
            &waited_words(Duration::from_secs(30), Lang::En),
            "@everyone",
            Lang::En,
        );
        assert!(
            en.contains("30 s") && en.contains("everyone") && en.contains("/ack 7"),
            "{en}"
        );
    }
}
