//! `/alerts`, `/mute`, `/mutes`, `/unmute` (acknowledging and silencing: `command/incident.rs`).

use super::{Ctx, Outcome};
use crate::alert::engine::{self, Engine};
use crate::message::Reply;
use clap::Args;

#[derive(Debug, Args)]
pub struct MuteArgs {
    /// What to mute: a container, compose project, host, alert name (globs allowed) or `*`
    pub target: String,
    /// For how long, e.g. `30m`, `2h`
    pub duration: String,
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

fn error(ctx: &Ctx<'_>, e: impl std::fmt::Display) -> Outcome {
    Outcome::Reply(Reply::error(e.to_string(), ctx.lang))
}

pub async fn mute(args: MuteArgs, ctx: &Ctx<'_>) -> Outcome {
    let dur = match humantime::parse_duration(&args.duration) {
        Ok(d) if d.as_secs() >= 1 && d.as_secs() <= 30 * 24 * 3600 => d,
        _ => {
            return Outcome::Reply(Reply::error(
                t!(
                    ctx.lang,
                    "alerts.bad_duration",
                    duration = format!("{:?}", args.duration)
                ),
                ctx.lang,
            ));
        }
    };
    if glob::Pattern::new(&args.target).is_err() {
        return Outcome::Reply(Reply::error(
            t!(ctx.lang, "alerts.the_target_is_not_a"),
            ctx.lang,
        ));
    }
    match engine::add_mute(&*ctx.app.store, &args.target, dur, &ctx.identity).await {
        Ok(m) => {
            forget_mutes(ctx);
            let d = crate::render::human_duration(dur.as_secs(), ctx.lang);
            let text = t!(
                ctx.lang,
                "alerts.muted",
                target = m.target,
                duration = d,
                until = when(m.until),
                id = m.id
            );
            let audit = ctx.audit(None, Some(&m.target), &format!("muted as {}", m.id));
            Outcome::Audited(Reply::command(text, ctx.lang), audit)
        }
        Err(e) => error(ctx, e),
    }
}

/// A mute changed here applies to the next alert, not after the engine's cache expires.
fn forget_mutes(ctx: &Ctx<'_>) {
    ctx.app.mutes_changed();
}

pub async fn mutes(ctx: &Ctx<'_>) -> Outcome {
    match engine::active_mutes(&*ctx.app.store).await {
        Ok(list) if list.is_empty() => Outcome::Reply(Reply::command(
            t!(ctx.lang, "alerts.nothing_is_muted"),
            ctx.lang,
        )),
        Ok(mut list) => {
            list.sort_by_key(|m| m.until);
            let lines: Vec<String> = list
                .iter()
                .map(|m| {
                    t!(
                        ctx.lang,
                        "alerts.mute_line",
                        id = m.id,
                        target = m.target,
                        by = m.by,
                        until = when(m.until)
                    )
                })
                .collect();
            Outcome::Reply(Reply::command(lines.join("\n"), ctx.lang))
        }
        Err(e) => error(ctx, e),
    }
}

pub async fn unmute(id: String, ctx: &Ctx<'_>) -> Outcome {
    match engine::remove_mute(&*ctx.app.store, &id).await {
        Ok(true) => {
            forget_mutes(ctx);
            let text = t!(ctx.lang, "alerts.unmuted", id = id);
            let audit = ctx.audit(None, Some(&id), "unmuted");
            Outcome::Audited(Reply::command(text, ctx.lang), audit)
        }
        Ok(false) => Outcome::Reply(Reply::error(
            t!(ctx.lang, "alerts.no_such_mute", id = id),
            ctx.lang,
        )),
        Err(e) => error(ctx, e),
    }
}

pub async fn recent(n: usize, ctx: &Ctx<'_>) -> Outcome {
    let n = n.clamp(1, 50);
    // Each alert with its id and state first (what people act on), then how the messages
    // about them were delivered.
    let states = match crate::command::incident::state_lines(ctx, n).await {
        Ok(l) => l,
        Err(e) => return error(ctx, e),
    };
    let delivery = match Engine::recent(&*ctx.app.store, n).await {
        Ok(list) => list,
        Err(e) => return error(ctx, e),
    };
    if states.is_empty() && delivery.is_empty() {
        return Outcome::Reply(Reply::command(
            t!(ctx.lang, "alerts.no_recent_alerts"),
            ctx.lang,
        ));
    }
    let mut lines = states;
    if !delivery.is_empty() {
        lines.push(t!(ctx.lang, "alerts.recent_messages").to_string());
        for (r, status) in delivery {
            lines.push(format!(
                "{} {} → {} [{}]",
                when(r.at),
                r.line,
                r.target,
                status
            ));
        }
    }
    let head = t!(ctx.lang, "alerts.recent_alerts");
    Outcome::Reply(Reply::command(
        crate::command::runtime::fit(ctx.lang, head, &lines),
        ctx.lang,
    ))
}
