//! `/docker start|stop|restart|kill|pause|unpause` and `rm`: changing containers by name.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WriteOp {
    Start,
    /// With Docker's grace period in seconds, if given.
    Stop(Option<u32>),
    Restart(Option<u32>),
    Kill(String),
    Pause,
    Unpause,
}

impl WriteOp {
    fn verb(&self) -> &'static str {
        match self {
            WriteOp::Start => "start",
            WriteOp::Stop(_) => "stop",
            WriteOp::Restart(_) => "restart",
            WriteOp::Kill(_) => "kill",
            WriteOp::Pause => "pause",
            WriteOp::Unpause => "unpause",
        }
    }
}

pub(super) const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "STOP", "CONT", "WINCH", "ALRM",
];

pub(super) fn validate_signal(s: &str) -> Result<String, String> {
    let up = s.trim().to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if SIGNALS.contains(&bare) {
        return Ok(format!("SIG{bare}"));
    }
    match bare.parse::<u8>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n.to_string()),
        _ => Err(format!(
            "unknown signal {s:?} (use one of {} or 1-64)",
            SIGNALS.join(", ")
        )),
    }
}

pub(super) async fn apply(
    eng: &Engine,
    c: &ContainerSummary,
    op: &WriteOp,
) -> Result<(), bollard::errors::Error> {
    let id = c.id.as_deref().unwrap_or("");
    let d = &eng.client;
    match op {
        WriteOp::Start => {
            d.start_container(id, None::<qp::StartContainerOptions>)
                .await
        }
        WriteOp::Stop(t) => {
            let opts = qp::StopContainerOptions {
                t: t.map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
                signal: None,
            };
            d.stop_container(id, Some(opts)).await
        }
        WriteOp::Restart(t) => {
            let opts = qp::RestartContainerOptions {
                t: t.map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
                signal: None,
            };
            d.restart_container(id, Some(opts)).await
        }
        WriteOp::Kill(sig) => {
            d.kill_container(
                id,
                Some(
                    qp::KillContainerOptionsBuilder::default()
                        .signal(sig)
                        .build(),
                ),
            )
            .await
        }
        WriteOp::Pause => d.pause_container(id).await,
        WriteOp::Unpause => d.unpause_container(id).await,
    }
}

pub(super) async fn op_line(
    ctx: &Ctx<'_>,
    eng: &Engine,
    c: &ContainerSummary,
    verb: &str,
    r: Result<(), bollard::errors::Error>,
) -> String {
    let name = summary_name(c);
    match r {
        Ok(()) => format!("✅ {verb} {name}"),
        Err(e) => format!("❌ {verb} {name}: {}", call_error_text(ctx, eng, &e).await),
    }
}

pub(super) async fn write(ctx: &Ctx<'_>, names: Vec<String>, h: HostOpt, op: WriteOp) -> Outcome {
    for n in &names {
        if let Err(e) = ops::validate_ref(n) {
            return bad_input(ctx, &e);
        }
    }
    if names.len() > 50 {
        return bad_input(ctx, "more than 50 containers at once");
    }
    let eng = or_return!(engine(ctx, &h).await);
    // Every name is resolved (and scope-checked) before anything changes.
    let mut found = Vec::new();
    for n in &names {
        match find(ctx, &eng, n).await {
            Ok(c) => found.push(Ok(c)),
            Err(Outcome::Reply(r)) => found.push(Err((n.clone(), r))),
            Err(o) => return o,
        }
    }
    let mut lines = Vec::new();
    let mut failed = 0;
    let mut resolved = Vec::new();
    for f in found {
        match f {
            Ok(c) => {
                let r = apply(&eng, &c, &op).await;
                failed += usize::from(r.is_err());
                resolved.push(summary_name(&c));
                lines.push(op_line(ctx, &eng, &c, op.verb(), r).await);
            }
            Err((n, r)) => {
                failed += 1;
                resolved.push(n);
                lines.push(format!("❌ {}", r.reply));
            }
        }
    }
    let target = resolved.join(",");
    let result = if failed == 0 {
        "ok".to_string()
    } else {
        format!("{failed}/{} failed", names.len())
    };
    tracing::info!(user = %ctx.identity, host = %eng.name, %target, op = op.verb(), %result, "docker write");
    let text = fit(ctx, &format!("🐳 {}", eng.name), &lines);
    let r = if failed == 0 {
        Reply::command(text, ctx.lang)
    } else {
        Reply::error(text, ctx.lang)
    };
    Outcome::Audited(r, ctx.audit(Some(&eng.name), Some(&target), &result))
}

pub(super) async fn rm(ctx: &Ctx<'_>, a: RmArgs) -> Outcome {
    for n in &a.names {
        if let Err(e) = ops::validate_ref(n) {
            return bad_input(ctx, &e);
        }
    }
    let eng = or_return!(engine(ctx, &a.h).await);
    let mut targets = Vec::new();
    for n in &a.names {
        match find(ctx, &eng, n).await {
            Ok(c) => targets.push(c),
            Err(o) => return o,
        }
    }
    let running: Vec<String> = targets
        .iter()
        .filter(|c| matches!(state_of(c).as_str(), "running" | "paused" | "restarting"))
        .map(summary_name)
        .collect();
    if !running.is_empty() && !a.force {
        return error(
            ctx,
            t!(
                ctx.lang,
                "docker.rm_still_running",
                names = running.join(t!(ctx.lang, "core.list_sep"))
            ),
        );
    }
    let listed: Vec<String> = targets
        .iter()
        .map(|c| format!("{} ({})", summary_name(c), marker_of(c)))
        .collect();
    if !ctx.confirmed {
        let summary = t!(
            ctx.lang,
            "docker.rm_summary",
            host = eng.name,
            names = listed.join(t!(ctx.lang, "core.list_sep"))
        );
        return Outcome::NeedsConfirmation { summary };
    }
    let mut lines = Vec::new();
    let mut failed = 0;
    for c in &targets {
        let opts = qp::RemoveContainerOptionsBuilder::default()
            .force(a.force)
            .build();
        let r = eng
            .client
            .remove_container(c.id.as_deref().unwrap_or(""), Some(opts))
            .await;
        failed += usize::from(r.is_err());
        lines.push(op_line(ctx, &eng, c, "rm", r).await);
    }
    let target: Vec<String> = targets.iter().map(summary_name).collect();
    let result = if failed == 0 {
        "ok".to_string()
    } else {
        format!("{failed}/{} failed", targets.len())
    };
    tracing::info!(user = %ctx.identity, host = %eng.name, target = %target.join(","), %result, "docker rm");
    let text = fit(ctx, &format!("🗑 {}", eng.name), &lines);
    let r = if failed == 0 {
        Reply::command(text, ctx.lang)
    } else {
        Reply::error(text, ctx.lang)
    };
    Outcome::Audited(
        r,
        ctx.audit(Some(&eng.name), Some(&target.join(",")), &result),
    )
}
