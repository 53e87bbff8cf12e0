//! `/alerts`, `/mute`, `/mutes`, `/unmute` (acknowledging and silencing: `incident/`).

use super::{Ctx, Outcome};
use crate::alert::engine::{self, Engine};
use crate::i18n::Lang;
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
                match ctx.lang {
                    Lang::Zh => format!(
                        "无法识别时长 {:?}，请写成 30m、2h 或 1d（最长 30 天）。",
                        args.duration
                    ),
                    Lang::En => format!(
                        "Cannot read the duration {:?}; write 30m, 2h or 1d (at most 30 days).",
                        args.duration
                    ),
                },
                ctx.lang,
            ));
        }
    };
    if glob::Pattern::new(&args.target).is_err() {
        return Outcome::Reply(Reply::error(
            ctx.lang
                .pick("目标格式无效。", "The target is not a valid pattern."),
            ctx.lang,
        ));
    }
    match engine::add_mute(&*ctx.app.store, &args.target, dur, &ctx.identity).await {
        Ok(m) => {
            forget_mutes(ctx);
            let d = crate::render::human_duration(dur.as_secs(), ctx.lang);
            let text = match ctx.lang {
                Lang::Zh => format!(
                    "已静音 {}，持续 {d}，至 {}（编号 {}）。取消：/unmute {}",
                    m.target,
                    when(m.until),
                    m.id,
                    m.id
                ),
                Lang::En => format!(
                    "Muted {} for {d}, until {} (id {}). Undo with /unmute {}",
                    m.target,
                    when(m.until),
                    m.id,
                    m.id
                ),
            };
            let audit = ctx.audit(None, Some(&m.target), &format!("muted as {}", m.id));
            Outcome::Audited(Reply::command(text, ctx.lang), audit)
        }
        Err(e) => error(ctx, e),
    }
}

/// A mute changed here applies to the next alert, not after the engine's cache expires.
fn forget_mutes(ctx: &Ctx<'_>) {
    if let Some(e) = ctx.app.alerts.get() {
        e.forget_mutes();
    }
}

pub async fn mutes(ctx: &Ctx<'_>) -> Outcome {
    match engine::active_mutes(&*ctx.app.store).await {
        Ok(list) if list.is_empty() => Outcome::Reply(Reply::command(
            ctx.lang.pick("当前没有静音。", "Nothing is muted."),
            ctx.lang,
        )),
        Ok(mut list) => {
            list.sort_by_key(|m| m.until);
            let lines: Vec<String> = list
                .iter()
                .map(|m| match ctx.lang {
                    Lang::Zh => format!(
                        "{} {} — {} 设置，至 {}",
                        m.id,
                        m.target,
                        m.by,
                        when(m.until)
                    ),
                    Lang::En => format!(
                        "{} {} — by {}, until {}",
                        m.id,
                        m.target,
                        m.by,
                        when(m.until)
                    ),
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
            let text = match ctx.lang {
                Lang::Zh => format!("已取消静音 {id}。"),
                Lang::En => format!("Mute {id} removed."),
            };
            let audit = ctx.audit(None, Some(&id), "unmuted");
            Outcome::Audited(Reply::command(text, ctx.lang), audit)
        }
        Ok(false) => Outcome::Reply(Reply::error(
            match ctx.lang {
                Lang::Zh => format!("没有编号为 {id} 的静音，/mutes 查看列表。"),
                Lang::En => format!("No mute with id {id}; see /mutes."),
            },
            ctx.lang,
        )),
        Err(e) => error(ctx, e),
    }
}

pub async fn recent(n: usize, ctx: &Ctx<'_>) -> Outcome {
    let n = n.clamp(1, 50);
    // Each alert with its id and state first (what people act on), then how the messages
    // about them were delivered.
    let states = match crate::incident::commands::state_lines(ctx, n).await {
        Ok(l) => l,
        Err(e) => return error(ctx, e),
    };
    let delivery = match Engine::recent(&*ctx.app.store, n).await {
        Ok(list) => list,
        Err(e) => return error(ctx, e),
    };
    if states.is_empty() && delivery.is_empty() {
        return Outcome::Reply(Reply::command(
            ctx.lang.pick("最近没有告警。", "No recent alerts."),
            ctx.lang,
        ));
    }
    let mut lines = states;
    if !delivery.is_empty() {
        lines.push(
            ctx.lang
                .pick("最近的告警消息：", "Recent alert messages:")
                .to_string(),
        );
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
    let head = ctx.lang.pick("最近的告警：", "Recent alerts:");
    Outcome::Reply(Reply::command(
        crate::command::runtime::fit(ctx.lang, head, &lines),
        ctx.lang,
    ))
}
