//! `/ack`, `/silence`, `/unsilence`, `/silences` and the state part of `/alerts`. Card
//! buttons run these same commands (their keys carry the command text), so a click and the
//! typed form are refused, audited and answered alike.

use super::silence::{self, Lifted, SilenceRequest, SilenceTarget};
use super::{clock, record_line, who};
use crate::command::runtime::refuse_scope;
use crate::command::{Ctx, Outcome, error, reply};
use crate::i18n::Lang;
use crate::message::Reply;
use crate::scope::Access;
use crate::store::incidents::{AckOutcome, AlertRecord};
use crate::store::now_ms;

fn no_such(ctx: &Ctx<'_>, word: &str) -> Outcome {
    error(
        ctx,
        match ctx.lang {
            Lang::Zh => format!("没有编号为 {word} 的告警，/alerts 查看最近的告警。"),
            Lang::En => format!("No alert with id {word}; see /alerts."),
        },
    )
}

fn bad_id(ctx: &Ctx<'_>, word: &str) -> Outcome {
    error(
        ctx,
        match ctx.lang {
            Lang::Zh => format!("告警编号应是数字，例如 /ack 12（收到 {word:?}）。"),
            Lang::En => format!("An alert id is a number, e.g. /ack 12 (got {word:?})."),
        },
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

fn target_of(r: &AlertRecord) -> String {
    format!("#{} {}", r.id, r.subject)
}

pub async fn ack(word: String, ctx: &Ctx<'_>) -> Outcome {
    let r = match record(ctx, &word).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    if let Some(refused) = out_of_scope(ctx, &r) {
        return refused;
    }
    match ctx.app.store.alert_ack(r.id, &ctx.identity, now_ms()).await {
        Ok(AckOutcome::Acked(r)) => {
            // Escalation messages still waiting are taken back: someone has it now.
            super::escalate::cancel(ctx.app, r.id).await;
            let text = match ctx.lang {
                Lang::Zh => format!(
                    "✅ 已认领 #{} {}（{} {}）",
                    r.id,
                    r.subject,
                    who(&ctx.identity),
                    clock(r.acked_at.unwrap_or_default())
                ),
                Lang::En => format!(
                    "✅ Acknowledged #{} {} ({} {})",
                    r.id,
                    r.subject,
                    who(&ctx.identity),
                    clock(r.acked_at.unwrap_or_default())
                ),
            };
            Outcome::Audited(
                Reply::command(text, ctx.lang),
                ctx.audit(r.host.as_deref(), Some(&target_of(&r)), "acked"),
            )
        }
        // A second ack (a double click, two people at once) changes nothing and says who
        // was first.
        Ok(AckOutcome::Already(r)) => reply(
            ctx,
            match ctx.lang {
                Lang::Zh => format!(
                    "#{} 已由 {} 于 {} 认领。",
                    r.id,
                    who(r.acked_by.as_deref().unwrap_or("")),
                    clock(r.acked_at.unwrap_or_default())
                ),
                Lang::En => format!(
                    "#{} was already acknowledged by {} at {}.",
                    r.id,
                    who(r.acked_by.as_deref().unwrap_or("")),
                    clock(r.acked_at.unwrap_or_default())
                ),
            },
        ),
        Ok(AckOutcome::NotFound) => no_such(ctx, &word),
        Err(e) => error(ctx, e.to_string()),
    }
}

/// `/resolve ID`: closes the record of an alert nothing else will resolve (a webhook's).
pub async fn resolve(word: String, ctx: &Ctx<'_>) -> Outcome {
    let r = match record(ctx, &word).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    if let Some(refused) = out_of_scope(ctx, &r) {
        return refused;
    }
    if !r.is_firing() {
        return reply(
            ctx,
            match ctx.lang {
                Lang::Zh => format!(
                    "#{} 已于 {} 恢复。",
                    r.id,
                    clock(r.resolved_at.unwrap_or_default())
                ),
                Lang::En => format!(
                    "#{} was resolved at {}.",
                    r.id,
                    clock(r.resolved_at.unwrap_or_default())
                ),
            },
        );
    }
    let mut closing = super::observation_of(&r);
    closing.at = now_ms();
    match ctx.app.store.alert_observe(vec![closing]).await {
        Ok(_) => {
            super::escalate::cancel(ctx.app, r.id).await;
            Outcome::Audited(
                Reply::command(
                    match ctx.lang {
                        Lang::Zh => format!(
                            "✅ {} 标记 #{} {} 已解决。",
                            who(&ctx.identity),
                            r.id,
                            r.subject
                        ),
                        Lang::En => format!(
                            "✅ {} marked #{} {} resolved.",
                            who(&ctx.identity),
                            r.id,
                            r.subject
                        ),
                    },
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
            let r = match record(ctx, &id.to_string()).await {
                Ok(r) => r,
                Err(o) => return o,
            };
            if let Some(refused) = out_of_scope(ctx, &r) {
                return refused;
            }
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
                super::escalate::cancel(ctx.app, r.id).await;
            }
            let where_ = if m.in_alertmanager {
                "Alertmanager"
            } else {
                "wedock"
            };
            let d = crate::render::human_duration(req.duration.as_secs(), ctx.lang);
            let text = match ctx.lang {
                Lang::Zh => format!(
                    "🔕 {} 静默 {} {d}，至 {}（{where_} 静默 {}）。取消：/unsilence {}",
                    who(&ctx.identity),
                    m.what,
                    clock(m.until),
                    m.id,
                    rec.as_ref().map_or(m.id.clone(), |r| r.id.to_string())
                ),
                Lang::En => format!(
                    "🔕 {} silenced {} for {d}, until {} ({where_} silence {}). Undo: /unsilence {}",
                    who(&ctx.identity),
                    m.what,
                    clock(m.until),
                    m.id,
                    rec.as_ref().map_or(m.id.clone(), |r| r.id.to_string())
                ),
            };
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
    let by = who(r.silenced_by.as_deref().unwrap_or(""));
    match lang {
        Lang::Zh => format!("#{} 已由 {by} 静默至 {}。", r.id, clock(until)),
        Lang::En => format!(
            "#{} is already silenced by {by} until {}.",
            r.id,
            clock(until)
        ),
    }
}

pub async fn unsilence(word: String, ctx: &Ctx<'_>) -> Outcome {
    if let Some(id) = silence::alert_id(&word) {
        let r = match record(ctx, &id.to_string()).await {
            Ok(r) => r,
            Err(o) => return o,
        };
        if let Some(refused) = out_of_scope(ctx, &r) {
            return refused;
        }
    }
    match silence::lift(ctx.app, &word, ctx.lang).await {
        Ok(Lifted::Done { id, .. }) => {
            let text = match ctx.lang {
                Lang::Zh => format!("🔔 已取消静默 {id}。"),
                Lang::En => format!("🔔 Silence {id} lifted."),
            };
            Outcome::Audited(
                Reply::command(text, ctx.lang),
                ctx.audit(None, Some(&word), &format!("unsilenced {id}")),
            )
        }
        Ok(Lifted::Unknown) => error(
            ctx,
            match ctx.lang {
                Lang::Zh => format!("{word} 没有生效中的静默，/silences 查看列表。"),
                Lang::En => format!("{word} has no active silence; see /silences."),
            },
        ),
        Err(why) => error(ctx, why),
    }
}

pub async fn silences(ctx: &Ctx<'_>) -> Outcome {
    let mut lines = Vec::new();
    match crate::alert::engine::active_mutes(&*ctx.app.store).await {
        Ok(mut list) => {
            list.sort_by_key(|m| m.until);
            for m in list {
                let reason = if m.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", m.reason)
                };
                lines.push(match ctx.lang {
                    Lang::Zh => format!(
                        "wedock {} {} — {} 设置，至 {}{reason}",
                        m.id,
                        m.target,
                        who(&m.by),
                        clock(m.until)
                    ),
                    Lang::En => format!(
                        "wedock {} {} — by {}, until {}{reason}",
                        m.id,
                        m.target,
                        who(&m.by),
                        clock(m.until)
                    ),
                });
            }
        }
        Err(e) => return error(ctx, e.to_string()),
    }
    if let Some(api) = silence::am_api(ctx.app) {
        match api.list().await {
            Ok(list) => {
                for s in list.iter().filter(|s| s.is_active()) {
                    let comment = if s.comment.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", s.comment)
                    };
                    let until = clock(s.ends_at.timestamp_millis());
                    lines.push(match ctx.lang {
                        Lang::Zh => format!(
                            "Alertmanager {} {} — {} 设置，至 {until}{comment}",
                            s.id,
                            s.matchers_text(),
                            who(&s.created_by)
                        ),
                        Lang::En => format!(
                            "Alertmanager {} {} — by {}, until {until}{comment}",
                            s.id,
                            s.matchers_text(),
                            who(&s.created_by)
                        ),
                    });
                }
            }
            Err(e) => lines.push(match ctx.lang {
                Lang::Zh => format!("（无法读取 Alertmanager 的静默：{e}）"),
                Lang::En => format!("(cannot read Alertmanager's silences: {e})"),
            }),
        }
    }
    if lines.is_empty() {
        return reply(ctx, ctx.lang.pick("当前没有静默。", "Nothing is silenced."));
    }
    let head = ctx.lang.pick("生效中的静默：", "Active silences:");
    reply(ctx, crate::command::runtime::fit(ctx.lang, head, &lines))
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
            let to = super::escalate::escalated_to(ctx.app, r.id).await;
            if !to.is_empty() {
                line.push_str(" · ");
                line.push_str(&t!(ctx.lang, "escalation.state", to = to.join(", ")));
            }
        }
        lines.push(line);
    }
    Ok(lines)
}
