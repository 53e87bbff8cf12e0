//! `/docker logs` and `events`: what containers and the engine wrote lately.

use super::*;

pub(super) async fn logs(ctx: &Ctx<'_>, a: LogsArgs) -> Outcome {
    let tail = a
        .tail
        .unwrap_or(ctx.app.config.docker.logs_tail)
        .clamp(1, 10_000);
    let since = match a.since.as_deref().map(parse_since).transpose() {
        Ok(s) => s,
        Err(e) => return bad_input(ctx, &e),
    };
    let until = match a.until.as_deref().map(parse_since).transpose() {
        Ok(s) => s,
        Err(e) => return bad_input(ctx, &e),
    };
    let eng = or_return!(engine(ctx, &a.h).await);
    let c = or_return!(find(ctx, &eng, &a.name).await);
    let name = summary_name(&c);
    let window = LogWindow {
        since_secs: since,
        until_secs: until,
        timestamps: a.timestamps,
    };
    let text = match fetch_logs(&eng, c.id.as_deref().unwrap_or(&name), tail, window).await {
        Ok(t) => t,
        Err(e) => return error(ctx, call_error_text(ctx, &eng, &e).await),
    };
    let head = t!(
        ctx.lang,
        "docker.logs_head",
        name = name,
        tail = tail,
        state = marker_of(&c)
    );
    reply(ctx, runtime::tail_under(ctx.lang, &head, &text))
}

pub(super) async fn events(ctx: &Ctx<'_>, a: EventsArgs) -> Outcome {
    let back = match parse_since(&a.since) {
        Ok(s) => s,
        Err(e) => return bad_input(ctx, &e),
    };
    let eng = or_return!(engine(ctx, &a.h).await);
    let now = now();
    let opts = qp::EventsOptionsBuilder::default()
        .since(&(now - back).to_string())
        .until(&now.to_string())
        .build();
    let mut stream = eng.client.events(Some(opts));
    let mut lines: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut count = 0usize;
    let collect = async {
        while let Some(item) = stream.next().await {
            let ev = item?;
            let attrs = ev
                .actor
                .as_ref()
                .and_then(|a| a.attributes.clone())
                .unwrap_or_default();
            let who = attrs
                .get("name")
                .cloned()
                .or_else(|| {
                    ev.actor
                        .as_ref()
                        .and_then(|a| a.id.as_deref())
                        .map(ops::short_id)
                })
                .unwrap_or_default();
            let shown = match ev.typ.map(|t| t.to_string()).as_deref() {
                Some("container") => ctx.scopes.container(&eng.name, &who, Access::Read),
                _ => ctx.scopes.docker_host_wide(&eng.name, Access::Read),
            };
            if !shown {
                continue;
            }
            count += 1;
            let extra = attrs
                .get("exitCode")
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default();
            lines.push_back(format!(
                "{} {} {} {who}{extra}",
                render::human_ago(ev.time.unwrap_or(now), now, ctx.lang),
                ev.typ.map(|t| t.to_string()).unwrap_or_default(),
                ev.action.unwrap_or_default(),
            ));
            if lines.len() > 300 {
                lines.pop_front();
            }
        }
        Ok::<(), bollard::errors::Error>(())
    };
    match tokio::time::timeout(STREAM_TIMEOUT, collect).await {
        Ok(Ok(())) | Err(_) => {}
        Ok(Err(e)) => return error(ctx, call_error_text(ctx, &eng, &e).await),
    }
    let head = t!(
        ctx.lang,
        "docker.events_head",
        host = eng.name,
        since = a.since,
        count = count
    );
    if lines.is_empty() {
        return reply(ctx, format!("{head}\n{}", t!(ctx.lang, "docker.no_events")));
    }
    let body: Vec<String> = lines.into_iter().collect();
    let body = render::tail_fit(
        &body.join("\n"),
        TEXT_BUDGET.saturating_sub(head.len() + 1),
        ctx.lang,
    );
    reply(ctx, format!("{head}\n{body}"))
}
