//! `/oncall [SCHEDULE]` (who is on duty now and next) and
//! `/oncall [SCHEDULE] swap USER [UNTIL]` (hand the duty to USER until UNTIL; operator).

use crate::command::{Ctx, Outcome, error, reply};
use crate::config::{parse_instant, valid_user_id};
use crate::message::Reply;
use crate::oncall::{Schedule, local_to_utc, swap};
use chrono::{DateTime, Duration, NaiveTime, Utc};

/// Whether the words ask for a swap (a change: operator), as the declaration needs it.
pub fn is_swap(words: &[String]) -> bool {
    words.iter().take(2).any(|w| w == "swap")
}

fn when(s: &Schedule, t: DateTime<Utc>) -> String {
    t.with_timezone(&s.tz).format("%m-%d %H:%M").to_string()
}

fn names(ctx: &Ctx<'_>) -> String {
    let n: Vec<&str> = ctx
        .app
        .config
        .oncall
        .schedules
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    n.join(", ")
}

/// `UNTIL` as typed: a duration, `HH:MM` (its next occurrence in the schedule's zone) or
/// `YYYY-MM-DD HH:MM`.
fn parse_until(s: &Schedule, text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(d) = humantime::parse_duration(text) {
        return Some(now + Duration::from_std(d).ok()?);
    }
    if let Ok(t) = NaiveTime::parse_from_str(text, "%H:%M") {
        let today = now.with_timezone(&s.tz).date_naive();
        let at = local_to_utc(s.tz, today.and_time(t));
        return Some(if at > now {
            at
        } else {
            local_to_utc(s.tz, (today + Duration::days(1)).and_time(t))
        });
    }
    parse_instant(text, s.tz)
}

pub async fn run(words: Vec<String>, ctx: &Ctx<'_>) -> Outcome {
    let lang = ctx.lang;
    let cfg = &ctx.app.config;
    if cfg.oncall.schedules.is_empty() {
        return error(ctx, t!(lang, "oncall.none_configured"));
    }
    let (named, rest) = match words.first() {
        Some(w) if w != "swap" => (Some(w.as_str()), &words[1..]),
        _ => (None, &words[..]),
    };
    let schedule = |name: &str| {
        cfg.oncall_schedule(name).ok_or_else(|| {
            Box::new(error(
                ctx,
                t!(
                    lang,
                    "oncall.no_such_schedule",
                    name = name,
                    names = names(ctx)
                ),
            ))
        })
    };
    let now = Utc::now();
    if rest.first().map(String::as_str) == Some("swap") {
        let name = match named {
            Some(n) => n.to_string(),
            None if cfg.oncall.schedules.len() == 1 => cfg.oncall.schedules[0].name.clone(),
            None => return error(ctx, t!(lang, "oncall.which_schedule", names = names(ctx))),
        };
        let s = match schedule(&name) {
            Ok(s) => s,
            Err(o) => return *o,
        };
        let Some(user) = rest.get(1) else {
            return error(ctx, t!(lang, "oncall.which_schedule", names = names(ctx)));
        };
        if !valid_user_id(user) {
            return error(ctx, t!(lang, "oncall.bad_user", user = user));
        }
        let s = match swap::with_swaps(ctx.app.store.as_ref(), s).await {
            Ok(s) => s,
            Err(e) => return error(ctx, e.to_string()),
        };
        let until_text = rest[2..].join(" ");
        let until = if until_text.is_empty() {
            // Until the current duty would have ended.
            s.on_call(now)
                .next
                .map(|n| n.1)
                .unwrap_or(now + Duration::days(1))
        } else {
            match parse_until(&s, &until_text, now) {
                Some(u) => u,
                None => return error(ctx, t!(lang, "oncall.bad_until", until = until_text)),
            }
        };
        if until <= now || until > now + Duration::days(31) {
            return error(ctx, t!(lang, "oncall.until_past"));
        }
        if let Err(e) = swap::save(
            ctx.app.store.as_ref(),
            &name,
            user,
            now,
            until,
            &ctx.identity,
        )
        .await
        {
            return error(ctx, e.to_string());
        }
        let text = t!(
            lang,
            "oncall.swapped",
            schedule = name,
            user = user,
            until = when(&s, until),
            by = crate::render::card::who(&ctx.identity),
        );
        let target = format!("{name} → {user} until {}", until.to_rfc3339());
        return Outcome::Audited(
            Reply::command(text, lang),
            ctx.audit(None, Some(&target), "swapped"),
        );
    }
    let chosen: Vec<String> = match named {
        Some(n) => vec![n.to_string()],
        None => cfg
            .oncall
            .schedules
            .iter()
            .map(|s| s.name.clone())
            .collect(),
    };
    let mut lines = Vec::new();
    for name in chosen {
        let s = match schedule(&name) {
            Ok(s) => s,
            Err(o) => return *o,
        };
        let s = match swap::with_swaps(ctx.app.store.as_ref(), s).await {
            Ok(s) => s,
            Err(e) => return error(ctx, e.to_string()),
        };
        let duty = s.on_call(now);
        let note = if duty.overridden {
            t!(lang, "oncall.by_override")
        } else {
            ""
        };
        lines.push(t!(
            lang,
            "oncall.now_line",
            schedule = name,
            user = duty.user,
            note = note
        ));
        lines.push(match &duty.next {
            Some((u, at)) => t!(lang, "oncall.next_line", user = u, at = when(&s, *at)),
            None => t!(lang, "oncall.no_next").to_string(),
        });
    }
    reply(ctx, lines.join("\n"))
}
