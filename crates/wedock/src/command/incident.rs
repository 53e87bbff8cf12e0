//! `/ack`, `/silence`, `/unsilence`, `/silences` and the state part of `/alerts`. Card
//! buttons run these same commands (their keys carry the command text), so a click and the
//! typed form are refused, audited and answered alike.

use crate::alert::incident::silence::{self, Lifted, SilenceRequest, SilenceTarget};
use crate::alert::incident::{self as incident, clock, escalate, record_line, who};
use crate::command::runtime::refuse_scope;
use crate::command::{Ctx, Outcome, error, reply};
use crate::i18n::Lang;
use crate::message::Reply;
use crate::scope::Access;
use crate::store::incidents::{AckOutcome, AlertRecord};
use crate::store::now_ms;

fn no_such(ctx: &Ctx<'_>, word: &str) -> Outcome {
    error(ctx, t!(ctx.lang, "incident.no_such", word = word))
}

fn bad_id(ctx: &Ctx<'_>, word: &str) -> Outcome {
    error(
        ctx,
        t!(ctx.lang, "incident.bad_id", word = format!("{word:?}")),
    )
}

/// The record named by `word`, or the reply saying why there is none.
async fn record(ctx: &Ctx<'_>, word: &str) -> Result<AlertRecord, Outcome> {
    let Some(id) = silence::alert_id(word) else {
        return Err(bad_id(ctx, word));
    };
    match ctx.app.store.alert_get(id).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(no_such(ctx, word)),
        Err(e) => Err(error(ctx, e.to_string())),
    }
}

/// The refusal when the alert is about a host, container, context or namespace outside the
/// sender's scopes for changes.
fn out_of_scope(ctx: &Ctx<'_>, r: &AlertRecord) -> Option<Outcome> {
    let host = r.host.as_deref()?;
    let ok = match r.source.as_str() {
        "docker" => match r.subject.as_str() {
            s if s == host => ctx.scopes.docker_host(host, Access::Write),
            name => ctx.scopes.container(host, name, Access::Write),
        },
        "kubernetes" => match r.place.as_deref() {
            Some(ns) => ctx.scopes.namespace(host, ns, Access::Write),
            None => ctx.scopes.kube_context(host, Access::Write),
        },
        _ => true,
    };
    (!ok).then(|| refuse_scope(ctx, Some(host), &format!("#{} {}", r.id, r.subject)))
}

/// The record named by `word` when the sender may change it; otherwise the reply saying why
/// not (no such alert, or outside the sender's scopes).
async fn record_in_scope(ctx: &Ctx<'_>, word: &str) -> Result<AlertRecord, Outcome> {
    let r = record(ctx, word).await?;
    match out_of_scope(ctx, &r) {
        Some(refused) => Err(refused),
        None => Ok(r),
    }
}

fn target_of(r: &AlertRecord) -> String {
    format!("#{} {}", r.id, r.subject)
}

pub async fn ack(word: String, ctx: &Ctx<'_>) -> Outcome {
    let r = match record_in_scope(ctx, &word).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    match ctx.app.store.alert_ack(r.id, &ctx.identity, now_ms()).await {
        Ok(AckOutcome::Acked(r)) => {
            // Escalation messages still waiting are taken back: someone has it now.
            escalate::cancel(ctx.app, r.id).await;
            let text = t!(
                ctx.lang,
                "incident.acked",
                id = r.id,
                subject = r.subject,
                who = who(&ctx.identity),
                at = clock(r.acked_at.unwrap_or_default()),
            );
            Outcome::Audited(
                Reply::command(text, ctx.lang),
                ctx.audit(r.host.as_deref(), Some(&target_of(&r)), "acked"),
            )
        }
        // A second ack (a double click, two people at once) changes nothing and says who
        // was first.
        Ok(AckOutcome::Already(r)) => reply(
            ctx,
            t!(
                ctx.lang,
                "incident.already_acked",
                id = r.id,
                who = who(r.acked_by.as_deref().unwrap_or("")),
                at = clock(r.acked_at.unwrap_or_default()),
            ),
        ),
        Ok(AckOutcome::NotFound) => no_such(ctx, &word),
        Err(e) => error(ctx, e.to_string()),
    }
}

/// `/resolve ID`: closes the record of an alert nothing else will resolve (a webhook's).
pub async fn resolve(word: String, ctx: &Ctx<'_>) -> Outcome {
    let r = match record_in_scope(ctx, &word).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    if !r.is_firing() {
        return reply(
            ctx,
            t!(
                ctx.lang,
                "incident.already_resolved",
                id = r.id,
                at = clock(r.resolved_at.unwrap_or_default()),
            ),
        );
    }
    let mut closing = incident::observation_of(&r);
    closing.at = now_ms();
    match ctx.app.store.alert_observe(vec![closing]).await {
        Ok(_) => {
            escalate::cancel(ctx.app, r.id).await;
            Outcome::Audited(
                Reply::command(
                    t!(
                        ctx.lang,
                        "incident.resolved_by",
                        who = who(&ctx.identity),
                        id = r.id,
                        subject = r.subject,
                    ),
                    ctx.lang,
                ),
                ctx.audit(r.host.as_deref(), Some(&target_of(&r)), "resolved"),
            )
        }
        Err(e) => error(ctx, e.to_string()),
    }
}

pub async fn silence(words: Vec<String>, ctx: &Ctx<'_>) -> Outcome {
    let req: SilenceRequest = match silence::parse(&words, ctx.lang) {
        Ok(r) => r,
        Err(why) => return error(ctx, why),
    };
    let rec = match &req.target {
        SilenceTarget::Alert(id) => {
            let r = match record_in_scope(ctx, &id.to_string()).await {
                Ok(r) => r,
                Err(o) => return o,
            };
            // Silencing what is already silenced for as long or longer changes nothing
            // (a double click on 静默 1 小时).
            let until = now_ms() + req.duration.as_millis() as i64;
            if let Some(u) = r.silenced_until
                && u >= until - 60_000
                && r.silenced_at(now_ms())
            {
                return reply(ctx, already_silenced(ctx.lang, &r, u));
            }
            Some(r)
        }
        SilenceTarget::Labels(_) => None,
    };
    match silence::make(ctx.app, &req, rec.as_ref(), &ctx.identity, ctx.lang).await {
        Ok(m) => {
            for r in &m.records {
                escalate::cancel(ctx.app, r.id).await;
            }
            let where_ = if m.in_alertmanager {
                "Alertmanager"
            } else {
                "wedock"
            };
            let d = crate::render::human_duration(req.duration.as_secs(), ctx.lang);
            let text = t!(
                ctx.lang,
                "incident.silenced",
                who = who(&ctx.identity),
                what = m.what,
                duration = d,
                until = clock(m.until),
                place = where_,
                silence = m.id,
                undo = rec.as_ref().map_or(m.id.clone(), |r| r.id.to_string()),
            );
            let target = rec.as_ref().map_or(m.what.clone(), target_of);
            Outcome::Audited(
                Reply::command(text, ctx.lang),
                ctx.audit(
                    rec.as_ref().and_then(|r| r.host.as_deref()),
                    Some(&target),
                    &format!("silenced as {} until {}", m.id, m.until),
                ),
            )
        }
        Err(why) => error(ctx, why),
    }
}

fn already_silenced(lang: Lang, r: &AlertRecord, until: i64) -> String {
    t!(
        lang,
        "incident.already_silenced",
        id = r.id,
        who = who(r.silenced_by.as_deref().unwrap_or("")),
        until = clock(until),
    )
}

pub async fn unsilence(word: String, ctx: &Ctx<'_>) -> Outcome {
    if let Some(id) = silence::alert_id(&word)
        && let Err(o) = record_in_scope(ctx, &id.to_string()).await
    {
        return o;
    }
    match silence::lift(ctx.app, &word, ctx.lang).await {
        Ok(Lifted::Done { id, .. }) => {
            let text = t!(ctx.lang, "incident.unsilenced", id = id);
            Outcome::Audited(
                Reply::command(text, ctx.lang),
                ctx.audit(None, Some(&word), &format!("unsilenced {id}")),
            )
        }
        Ok(Lifted::Unknown) => error(ctx, t!(ctx.lang, "incident.no_active_silence", word = word)),
        Err(why) => error(ctx, why),
    }
}

pub async fn silences(ctx: &Ctx<'_>) -> Outcome {
    let mut lines = Vec::new();
    match crate::alert::engine::active_mutes(&*ctx.app.store).await {
        Ok(mut list) => {
            list.sort_by_key(|m| m.until);
            for m in list {
                lines.push(silence_line(
                    ctx.lang,
                    ["wedock", &m.id, &m.target, &m.by, &m.reason],
                    m.until,
                ));
            }
        }
        Err(e) => return error(ctx, e.to_string()),
    }
    if let Some(api) = silence::am_api(ctx.app) {
        match api.list().await {
            Ok(list) => {
                for s in list.iter().filter(|s| s.is_active()) {
                    lines.push(silence_line(
                        ctx.lang,
                        [
                            "Alertmanager",
                            &s.id,
                            &s.matchers_text(),
                            &s.created_by,
                            &s.comment,
                        ],
                        s.ends_at.timestamp_millis(),
                    ));
                }
            }
            Err(e) => lines.push(t!(ctx.lang, "incident.am_unreadable", error = e)),
        }
    }
    if lines.is_empty() {
        return reply(ctx, t!(ctx.lang, "incident.nothing_silenced"));
    }
    let head = t!(ctx.lang, "incident.silences_head");
    reply(ctx, crate::command::runtime::fit(ctx.lang, head, &lines))
}

/// One line of `/silences`, the same for wedock's own silences and Alertmanager's: where it
/// lives, its id, what it matches, who set it, its reason (when given) and its end.
fn silence_line(lang: Lang, [place, id, target, by, reason]: [&str; 5], until: i64) -> String {
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    };
    t!(
        lang,
        "incident.silence_line",
        place = place,
        id = id,
        target = target,
        who = who(by),
        until = clock(until),
        reason = reason,
    )
}

/// The alert-state lines of `/alerts`: each recent alert with its id and state.
pub async fn state_lines(ctx: &Ctx<'_>, n: usize) -> Result<Vec<String>, String> {
    let now = now_ms();
    let records = ctx
        .app
        .store
        .alert_recent(n)
        .await
        .map_err(|e| e.to_string())?;
    let mut lines = Vec::with_capacity(records.len());
    for r in &records {
        let mut line = record_line(r, now, ctx.lang);
        // Who an unacknowledged alert has been escalated to, so far.
        if r.is_firing() && r.acked_by.is_none() {
            let to = escalate::escalated_to(ctx.app, r.id).await;
            if !to.is_empty() {
                line.push_str(" · ");
                line.push_str(&t!(ctx.lang, "escalation.state", to = to.join(", ")));
            }
        }
        lines.push(line);
    }
    Ok(lines)
}
