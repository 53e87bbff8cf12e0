//! Commands about wedock itself: who am I, the audit log, the outbox.

use super::{Ctx, Outcome};
use crate::message::Reply;
use crate::render;
use crate::store::OutboxStatus;

pub fn whoami(ctx: &Ctx<'_>) -> Outcome {
    let text = t!(
        ctx.lang,
        "cmd.whoami",
        identity = ctx.identity,
        role = ctx.role
    );
    Outcome::Reply(Reply::command(text, ctx.lang))
}

pub async fn audit(ctx: &Ctx<'_>, n: usize) -> Outcome {
    let n = n.clamp(1, 100);
    match ctx.app.store.audit_recent(n).await {
        Ok(entries) if entries.is_empty() => Outcome::Reply(Reply::command(
            t!(ctx.lang, "cmd.the_audit_log_is_empty"),
            ctx.lang,
        )),
        Ok(entries) => {
            let now = chrono::Utc::now().timestamp();
            let lines: Vec<String> = entries
                .iter()
                .map(|e| {
                    let when = render::human_ago(e.at / 1000, now, ctx.lang);
                    let host = e
                        .host
                        .as_deref()
                        .map(|h| format!(" @{h}"))
                        .unwrap_or_default();
                    format!(
                        "{when} {} [{}] /{}{host} → {}",
                        e.user, e.role, e.command, e.result
                    )
                })
                .collect();
            Outcome::Reply(Reply::command(lines.join("\n"), ctx.lang))
        }
        Err(e) => Outcome::Reply(Reply::error(e.to_string(), ctx.lang)),
    }
}

pub async fn outbox(ctx: &Ctx<'_>, dead: bool, n: usize) -> Outcome {
    let store = &ctx.app.store;
    let counts = match store.outbox_counts().await {
        Ok(c) => c,
        Err(e) => return Outcome::Reply(Reply::error(e.to_string(), ctx.lang)),
    };
    let mut text = t!(
        ctx.lang,
        "cmd.outbox_counts",
        pending = counts.pending,
        sent = counts.sent,
        undelivered = counts.undelivered,
        dead = counts.dead
    );
    let mut list = Vec::new();
    for status in [OutboxStatus::Dead, OutboxStatus::Pending] {
        if dead && status == OutboxStatus::Pending {
            continue;
        }
        match store.outbox_list(Some(status), n.clamp(1, 50)).await {
            Ok(msgs) => list.extend(msgs),
            Err(e) => return Outcome::Reply(Reply::error(e.to_string(), ctx.lang)),
        }
    }
    for m in list {
        text.push_str(&format!(
            "\n#{} {} {}→{} ×{} {}",
            m.id,
            m.status.as_str(),
            m.channel,
            m.target,
            m.attempts,
            m.last_error.unwrap_or_default()
        ));
    }
    Outcome::Reply(Reply::command(text, ctx.lang))
}
