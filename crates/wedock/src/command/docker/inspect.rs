//! `/docker inspect`, `stats`, `top`: one container (or all running ones) in detail.

use super::*;

pub(super) async fn inspect(ctx: &Ctx<'_>, a: NameArgs) -> Outcome {
    let eng = or_return!(engine(ctx, &a.h).await);
    let c = or_return!(find(ctx, &eng, &a.name).await);
    let id = c.id.clone().unwrap_or_default();
    let d = try_call!(
        ctx,
        &eng,
        eng.client
            .inspect_container(&id, None::<qp::InspectContainerOptions>)
    );
    let lang = ctx.lang;
    let now = now();
    let ago = |s: Option<&String>| {
        s.and_then(|s| ops::parse_time(s))
            .map(|t| render::human_ago(t, now, lang))
    };
    let st = d.state.clone().unwrap_or_default();
    let mut out = vec![format!(
        "📦 {} ({}) @{}",
        summary_name(&c),
        ops::short_id(&id),
        eng.name
    )];
    let image = d
        .config
        .as_ref()
        .and_then(|c| c.image.clone())
        .or(c.image.clone())
        .unwrap_or_default();
    out.push(format!("{}: {image}", t!(ctx.lang, "docker.image")));
    let status = st.status.map(|s| s.to_string()).unwrap_or_default();
    let health = st
        .health
        .as_ref()
        .and_then(|h| h.status)
        .map(|s| s.to_string());
    let marker = {
        let fake_status = match (status.as_str(), health.as_deref()) {
            ("running", Some("unhealthy")) => "(unhealthy)".to_string(),
            ("running", Some("starting")) => "health: starting".to_string(),
            ("exited", _) => format!("({})", st.exit_code.unwrap_or(0)),
            _ => String::new(),
        };
        status_marker(&status, &fake_status)
    };
    let since = if status == "running" || status == "paused" {
        ago(st.started_at.as_ref())
    } else {
        ago(st.finished_at.as_ref())
    };
    out.push(format!(
        "{}: {marker}{}",
        t!(ctx.lang, "docker.state"),
        since.map(|s| format!(" · {s}")).unwrap_or_default()
    ));
    if let Some(h) = &st.health {
        let last = h
            .log
            .as_ref()
            .and_then(|l| l.last())
            .and_then(|r| r.output.clone())
            .map(|o| render::truncate_to_width(o.trim(), 80))
            .unwrap_or_default();
        out.push(format!(
            "{}: {} ({} {}){}",
            t!(ctx.lang, "docker.health"),
            health.clone().unwrap_or_default(),
            t!(ctx.lang, "docker.failing_streak"),
            h.failing_streak.unwrap_or(0),
            if last.is_empty() {
                String::new()
            } else {
                format!(" · {last}")
            }
        ));
    }
    out.push(format!(
        "{}: {} · {}: {} · OOMKilled: {}",
        t!(ctx.lang, "docker.restarts"),
        d.restart_count.unwrap_or(0),
        t!(ctx.lang, "docker.exit_code"),
        st.exit_code.unwrap_or(0),
        if st.oom_killed.unwrap_or(false) {
            t!(ctx.lang, "docker.yes")
        } else {
            t!(ctx.lang, "docker.no")
        }
    ));
    if let Some(err) = st.error.as_ref().filter(|e| !e.is_empty()) {
        out.push(format!(
            "{}: {}",
            t!(ctx.lang, "docker.error"),
            render::truncate_to_width(err, 120)
        ));
    }
    let mut ports: Vec<String> = Vec::new();
    if let Some(map) = d.network_settings.as_ref().and_then(|n| n.ports.as_ref()) {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for k in keys {
            let binds = map.get(k).cloned().flatten().unwrap_or_default();
            if binds.is_empty() {
                ports.push(k.clone());
            }
            for b in binds {
                ports.push(format!(
                    "{}:{}→{k}",
                    b.host_ip.unwrap_or_default(),
                    b.host_port.unwrap_or_default()
                ));
            }
        }
    }
    if !ports.is_empty() {
        out.push(format!(
            "{}: {}",
            t!(ctx.lang, "docker.ports"),
            ports.join(", ")
        ));
    }
    let mounts: Vec<String> = d
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            format!(
                "{}→{}{}",
                m.name.clone().or(m.source.clone()).unwrap_or_default(),
                m.destination.clone().unwrap_or_default(),
                if m.rw == Some(false) { " (ro)" } else { "" }
            )
        })
        .collect();
    if !mounts.is_empty() {
        out.push(format!(
            "{}: {}",
            t!(ctx.lang, "docker.mounts"),
            mounts.join(", ")
        ));
    }
    let mut nets: Vec<String> = d
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| {
            n.iter()
                .map(
                    |(name, ep)| match ep.ip_address.as_deref().filter(|s| !s.is_empty()) {
                        Some(ip) => format!("{name} ({ip})"),
                        None => name.clone(),
                    },
                )
                .collect()
        })
        .unwrap_or_default();
    nets.sort();
    if !nets.is_empty() {
        out.push(format!(
            "{}: {}",
            t!(ctx.lang, "docker.networks"),
            nets.join(", ")
        ));
    }
    if let Some(p) = c.labels.as_ref().and_then(|l| l.get(COMPOSE_PROJECT)) {
        let svc = c
            .labels
            .as_ref()
            .and_then(|l| l.get(COMPOSE_SERVICE))
            .cloned()
            .unwrap_or_default();
        out.push(format!("Compose: {p}/{svc}"));
    }
    if let Some(t) = ago(d.created.as_ref()) {
        out.push(format!("{}: {t}", t!(ctx.lang, "docker.created")));
    }
    if let Some(t) = ago(st.started_at.as_ref()) {
        out.push(format!("{}: {t}", t!(ctx.lang, "docker.started")));
    }
    if status != "running"
        && let Some(t) = ago(st.finished_at.as_ref())
    {
        out.push(format!("{}: {t}", t!(ctx.lang, "docker.finished")));
    }
    reply(ctx, fit(ctx, "", &out))
}

pub(super) async fn one_stats(eng: &Engine, id: &str) -> Result<StatsView, bollard::errors::Error> {
    let opts = qp::StatsOptionsBuilder::default().stream(false).build();
    let mut s = eng.client.stats(id, Some(opts));
    match s.next().await {
        Some(r) => Ok(StatsView::from_stats(&r?)),
        None => Ok(StatsView::default()),
    }
}

pub(super) async fn stats(ctx: &Ctx<'_>, a: StatsArgs) -> Outcome {
    let eng = or_return!(engine(ctx, &a.h).await);
    let targets: Vec<ContainerSummary> = match &a.name {
        Some(n) => match find(ctx, &eng, n).await {
            Ok(c) => vec![c],
            Err(o) => return o,
        },
        None => {
            let mut l = try_call!(
                ctx,
                &eng,
                eng.client
                    .list_containers(None::<qp::ListContainersOptions>)
            );
            l.retain(|c| visible(ctx, &eng, c));
            l.sort_by_key(summary_name);
            l.truncate(40);
            l
        }
    };
    if targets.is_empty() {
        return reply(ctx, t!(ctx.lang, "docker.no_running_containers"));
    }
    let futs = targets
        .iter()
        .map(|c| one_stats(&eng, c.id.as_deref().unwrap_or("")));
    let results = futures::future::join_all(futs).await;
    let mut rows = Vec::new();
    for (c, r) in targets.iter().zip(results) {
        let name = render::truncate_to_width(&summary_name(c), 24);
        match r {
            Ok(s) => rows.push(vec![
                name,
                format!("{:.1}%", s.cpu_percent),
                format!(
                    "{}/{}",
                    render::human_bytes(s.mem_used),
                    render::human_bytes(s.mem_limit)
                ),
                format!(
                    "{}/{}",
                    render::human_bytes(s.net_rx),
                    render::human_bytes(s.net_tx)
                ),
                format!(
                    "{}/{}",
                    render::human_bytes(s.block_read),
                    render::human_bytes(s.block_write)
                ),
            ]),
            Err(e) => rows.push(vec![
                name,
                format!("⚠️ {}", CallError::from_bollard(&eng.name, &e).message()),
            ]),
        }
    }
    let header = crate::i18n::catalog::columns(ctx.lang, "docker.cols_name_cpu");
    let head = format!("📊 {}", eng.name);
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

pub(super) async fn top(ctx: &Ctx<'_>, a: NameArgs) -> Outcome {
    let eng = or_return!(engine(ctx, &a.h).await);
    let c = or_return!(find(ctx, &eng, &a.name).await);
    let t = try_call!(
        ctx,
        &eng,
        eng.client
            .top_processes(c.id.as_deref().unwrap_or(""), None::<qp::TopOptions>)
    );
    let titles = t.titles.unwrap_or_default();
    let wanted = ["PID", "USER", "UID", "TIME", "CMD", "COMMAND"];
    let cols: Vec<usize> = titles
        .iter()
        .enumerate()
        .filter(|(_, t)| wanted.contains(&t.as_str()))
        .map(|(i, _)| i)
        .collect();
    let header: Vec<&str> = cols.iter().map(|&i| titles[i].as_str()).collect();
    let rows: Vec<Vec<String>> = t
        .processes
        .unwrap_or_default()
        .iter()
        .map(|p| {
            cols.iter()
                .map(|&i| render::truncate_to_width(p.get(i).map(String::as_str).unwrap_or(""), 60))
                .collect()
        })
        .collect();
    let head = t!(
        ctx.lang,
        "docker.top_head",
        name = summary_name(&c),
        count = rows.len()
    );
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}
