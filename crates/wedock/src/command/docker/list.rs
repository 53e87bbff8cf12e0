//! `/docker ps`, `images`, `networks`, `volumes`, `df`, `info`, `version`: lists and engine summaries.

use super::*;

pub(super) const FILTER_KEYS: &[&str] = &[
    "name", "label", "status", "health", "ancestor", "exited", "network", "volume", "publish",
    "expose", "id", "before", "since", "is-task",
];

pub(super) fn parse_filters(
    raw: &[String],
    allowed: &[&str],
) -> Result<HashMap<String, Vec<String>>, String> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for f in raw {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("filter {f:?} must look like KEY=VALUE"))?;
        let (k, v) = if let Some(k2) = k.strip_suffix('!') {
            (format!("{k2}!"), v)
        } else {
            (k.to_string(), v)
        };
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "unknown filter {k:?} (use one of: {})",
                allowed.join(", ")
            ));
        }
        if v.is_empty() || v.len() > 256 || v.chars().any(char::is_control) {
            return Err(format!(
                "filter value of {k:?} is empty, too long or has control characters"
            ));
        }
        map.entry(k).or_default().push(v.to_string());
    }
    Ok(map)
}

pub(super) fn matches_pattern(c: &ContainerSummary, pattern: &str) -> bool {
    summary_name(c).contains(pattern)
        || c.labels
            .as_ref()
            .is_some_and(|l| l.values().any(|v| v == pattern))
}

pub(super) async fn ps_rows(
    eng: &Engine,
    a: &PsArgs,
    filters: &HashMap<String, Vec<String>>,
) -> Result<(Vec<ContainerSummary>, usize), bollard::errors::Error> {
    // `-n N` is Docker's: the N most recently created containers, whatever their state.
    let mut b = qp::ListContainersOptionsBuilder::default()
        .all(a.all || a.last.is_some())
        .filters(filters);
    if let Some(n) = a.last {
        b = b.limit(i32::try_from(n.max(1)).unwrap_or(i32::MAX));
    }
    let mut list = eng.client.list_containers(Some(b.build())).await?;
    let total = list.len();
    if let Some(p) = &a.pattern {
        list.retain(|c| matches_pattern(c, p));
    }
    list.sort_by_key(summary_name);
    Ok((list, total))
}

pub(super) fn ps_row(c: &ContainerSummary, now: i64, lang: Lang) -> Vec<String> {
    vec![
        render::truncate_to_width(&summary_name(c), 28),
        marker_of(c),
        render::truncate_to_width(c.image.as_deref().unwrap_or(""), 24),
        c.created
            .map(|t| render::human_ago(t, now, lang))
            .unwrap_or_default(),
    ]
}

pub(super) async fn ps(ctx: &Ctx<'_>, a: PsArgs) -> Outcome {
    let filters = match parse_filters(&a.filter, FILTER_KEYS) {
        Ok(f) => f,
        Err(e) => return bad_input(ctx, &e),
    };
    if let Some(p) = &a.pattern
        && (p.len() > 128 || p.chars().any(char::is_control))
    {
        return bad_input(ctx, "pattern");
    }
    let now = now();
    let header = crate::i18n::catalog::columns(ctx.lang, "docker.cols_ps");
    if a.all_hosts {
        let mut names = ctx.app.docker.names();
        names.retain(|n| ctx.scopes.docker_host(n, Access::Read));
        let futs = names.iter().map(|n| async {
            let r = match ctx.app.docker.get(Some(n)).await {
                Ok(eng) => match ps_rows(&eng, &a, &filters).await {
                    Ok((mut rows, _)) => {
                        rows.retain(|c| visible(ctx, &eng, c));
                        Ok(rows)
                    }
                    Err(e) => Err(call_error_text(ctx, &eng, &e).await),
                },
                Err(e) => Err(engine_error_text(ctx.lang, &e)),
            };
            (n.clone(), r)
        });
        let results = futures::future::join_all(futs).await;
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        for (host, r) in results {
            match r {
                Ok(list) => rows.extend(list.iter().map(|c| {
                    let mut row = vec![host.clone()];
                    row.extend(ps_row(c, now, ctx.lang));
                    row
                })),
                Err(e) => problems.push(format!("⚠️ {host}: {e}")),
            }
        }
        let mut h = vec![t!(ctx.lang, "docker.host")];
        h.extend(header);
        let mut lines = if rows.is_empty() {
            vec![t!(ctx.lang, "docker.no_containers").to_string()]
        } else {
            table::render(&h, &rows)
        };
        lines.extend(problems);
        let head = t!(ctx.lang, "docker.ps_all_hosts_head", count = rows.len());
        return reply(ctx, fit(ctx, &head, &lines));
    }
    let eng = or_return!(engine(ctx, &a.h).await);
    let (mut list, _) = try_call!(ctx, &eng, ps_rows(&eng, &a, &filters));
    list.retain(|c| visible(ctx, &eng, c));
    let running = list.iter().filter(|c| state_of(c) == "running").count();
    let head = t!(
        ctx.lang,
        "docker.ps_head",
        host = eng.name,
        count = list.len(),
        running = running
    );
    if list.is_empty() {
        let hint = if a.all {
            t!(ctx.lang, "docker.no_containers")
        } else {
            t!(ctx.lang, "docker.ps_none_running")
        };
        return reply(ctx, format!("{head}\n{hint}"));
    }
    let rows: Vec<Vec<String>> = list.iter().map(|c| ps_row(c, now, ctx.lang)).collect();
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

pub(super) fn image_name(tags: &[String]) -> String {
    tags.iter()
        .find(|t| t.as_str() != "<none>:<none>")
        .cloned()
        .unwrap_or_else(|| "<none>".into())
}

pub(super) fn image_id(id: &str) -> String {
    ops::short_id(id.strip_prefix("sha256:").unwrap_or(id))
}

pub(super) async fn images(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = or_return!(engine(ctx, &h).await);
    let mut list = try_call!(
        ctx,
        &eng,
        eng.client.list_images(None::<qp::ListImagesOptions>)
    );
    list.sort_by_key(|i| std::cmp::Reverse(i.created));
    let now = now();
    let total: i64 = list.iter().map(|i| i.size.max(0)).sum();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                render::truncate_to_width(&image_name(&i.repo_tags), 36),
                image_id(&i.id),
                render::human_bytes(i.size.max(0) as u64),
                render::human_ago(i.created, now, ctx.lang),
            ]
        })
        .collect();
    let header = crate::i18n::catalog::columns(ctx.lang, "docker.cols_image_id");
    let head = t!(
        ctx.lang,
        "docker.images_head",
        host = eng.name,
        count = list.len(),
        size = render::human_bytes(total as u64)
    );
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

pub(super) async fn networks(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = or_return!(engine(ctx, &h).await);
    let mut list = try_call!(
        ctx,
        &eng,
        eng.client.list_networks(None::<qp::ListNetworksOptions>)
    );
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| {
            vec![
                render::truncate_to_width(n.name.as_deref().unwrap_or(""), 32),
                n.driver.clone().unwrap_or_default(),
                n.scope.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = crate::i18n::catalog::columns(ctx.lang, "docker.cols_network_driver");
    let head = format!("🔌 {} · {}", eng.name, list.len());
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

pub(super) async fn volumes(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = or_return!(engine(ctx, &h).await);
    let resp = try_call!(
        ctx,
        &eng,
        eng.client.list_volumes(None::<qp::ListVolumesOptions>)
    );
    let mut list = resp.volumes.unwrap_or_default();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|v| vec![render::truncate_to_width(&v.name, 40), v.driver.clone()])
        .collect();
    let header = crate::i18n::catalog::columns(ctx.lang, "docker.cols_volume_driver");
    let head = format!("💾 {} · {}", eng.name, list.len());
    if rows.is_empty() {
        return reply(
            ctx,
            format!("{head}\n{}", t!(ctx.lang, "docker.no_volumes")),
        );
    }
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

pub(super) async fn df(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = or_return!(engine(ctx, &h).await);
    let imgs = try_call!(
        ctx,
        &eng,
        eng.client.list_images(None::<qp::ListImagesOptions>)
    );
    let opts = qp::ListContainersOptionsBuilder::default()
        .all(true)
        .size(true)
        .build();
    let cons = try_call!(ctx, &eng, eng.client.list_containers(Some(opts)));
    let vols = try_call!(
        ctx,
        &eng,
        eng.client.list_volumes(None::<qp::ListVolumesOptions>)
    );
    let used_images: std::collections::HashSet<&str> =
        cons.iter().filter_map(|c| c.image_id.as_deref()).collect();
    let img_size: u64 = imgs.iter().map(|i| i.size.max(0) as u64).sum();
    let img_free: u64 = imgs
        .iter()
        .filter(|i| !used_images.contains(i.id.as_str()))
        .map(|i| i.size.max(0) as u64)
        .sum();
    let con_size: u64 = cons
        .iter()
        .map(|c| c.size_rw.unwrap_or(0).max(0) as u64)
        .sum();
    let con_free: u64 = cons
        .iter()
        .filter(|c| state_of(c) != "running" && state_of(c) != "paused")
        .map(|c| c.size_rw.unwrap_or(0).max(0) as u64)
        .sum();
    let nvol = vols.volumes.map_or(0, |v| v.len());
    let header = crate::i18n::catalog::columns(ctx.lang, "docker.cols_type_total");
    let rows = vec![
        vec![
            t!(ctx.lang, "docker.images").to_string(),
            imgs.len().to_string(),
            render::human_bytes(img_size),
            render::human_bytes(img_free),
        ],
        vec![
            t!(ctx.lang, "docker.containers").to_string(),
            cons.len().to_string(),
            render::human_bytes(con_size),
            render::human_bytes(con_free),
        ],
        vec![
            t!(ctx.lang, "docker.volumes").to_string(),
            nvol.to_string(),
            "-".into(),
            "-".into(),
        ],
    ];
    let head = format!("💽 {}", eng.name);
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

pub(super) async fn info(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = or_return!(engine(ctx, &h).await);
    let i = try_call!(ctx, &eng, eng.client.info());
    let s = |o: Option<String>| o.unwrap_or_else(|| "-".into());
    let lines = vec![
        format!("🐳 {} ({})", eng.name, s(i.name)),
        format!("{}: {}", t!(ctx.lang, "docker.engine"), s(i.server_version)),
        format!(
            "{}: {} · {}",
            t!(ctx.lang, "docker.os"),
            s(i.operating_system),
            s(i.kernel_version)
        ),
        format!(
            "CPU: {} · {}: {}",
            i.ncpu.unwrap_or(0),
            t!(ctx.lang, "docker.memory"),
            render::human_bytes(i.mem_total.unwrap_or(0).max(0) as u64)
        ),
        format!(
            "{}: {} ({} {}, {} {}, {} {})",
            t!(ctx.lang, "docker.containers"),
            i.containers.unwrap_or(0),
            i.containers_running.unwrap_or(0),
            t!(ctx.lang, "docker.running"),
            i.containers_paused.unwrap_or(0),
            t!(ctx.lang, "docker.paused"),
            i.containers_stopped.unwrap_or(0),
            t!(ctx.lang, "docker.stopped")
        ),
        format!(
            "{}: {}",
            t!(ctx.lang, "docker.images"),
            i.images.unwrap_or(0)
        ),
        format!(
            "{}: {} · cgroup {}",
            t!(ctx.lang, "docker.storage_driver"),
            s(i.driver),
            i.cgroup_version.map(|v| v.to_string()).unwrap_or_default()
        ),
        format!(
            "{}: {}",
            t!(ctx.lang, "docker.root_dir"),
            s(i.docker_root_dir)
        ),
    ];
    reply(ctx, fit(ctx, "", &lines))
}

pub(super) async fn version(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = or_return!(engine(ctx, &h).await);
    let v = try_call!(ctx, &eng, eng.client.version());
    let neg = eng.client.client_version();
    let s = |o: Option<String>| o.unwrap_or_else(|| "-".into());
    let lines = [
        format!("🐳 {}", eng.name),
        format!("{}: {}", t!(ctx.lang, "docker.engine"), s(v.version)),
        format!(
            "API: {} ({} {})",
            s(v.api_version),
            t!(ctx.lang, "docker.min"),
            s(v.min_api_version)
        ),
        format!(
            "{}: {}.{}",
            t!(ctx.lang, "docker.negotiated_api"),
            neg.major_version,
            neg.minor_version
        ),
        format!("Go: {} · {}/{}", s(v.go_version), s(v.os), s(v.arch)),
    ];
    reply(ctx, lines.join("\n"))
}
