//! `/docker compose ls|ps|restart|stop|start`: projects found by their labels, in dependency order.

use super::*;

pub(super) async fn project_containers(
    eng: &Engine,
    project: Option<&str>,
) -> Result<Vec<ContainerSummary>, bollard::errors::Error> {
    let f = match project {
        Some(p) => format!("{COMPOSE_PROJECT}={p}"),
        None => COMPOSE_PROJECT.to_string(),
    };
    let mut filters = HashMap::new();
    filters.insert("label".to_string(), vec![f]);
    eng.client
        .list_containers(Some(
            qp::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
}

pub(super) async fn compose_ls(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = or_return!(engine(ctx, &h).await);
    let mut list = try_call!(ctx, &eng, project_containers(&eng, None));
    list.retain(|c| visible(ctx, &eng, c));
    let mut projects: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &list {
        if let Some(p) = ops::label(c, COMPOSE_PROJECT) {
            let e = projects.entry(p.to_string()).or_default();
            e.1 += 1;
            if state_of(c) == "running" {
                e.0 += 1;
            }
        }
    }
    if projects.is_empty() {
        return reply(ctx, t!(ctx.lang, "docker.no_compose_projects"));
    }
    let rows: Vec<Vec<String>> = projects
        .iter()
        .map(|(p, (run, all))| {
            let mark = if run == all {
                "🟢"
            } else if *run == 0 {
                "🔴"
            } else {
                "🟡"
            };
            vec![
                render::truncate_to_width(p, 32),
                format!("{mark} {run}/{all}"),
            ]
        })
        .collect();
    let header = crate::i18n::catalog::columns(ctx.lang, "docker.cols_project_running_total");
    reply(
        ctx,
        fit(
            ctx,
            &format!("🧩 {}", eng.name),
            &table::render(&header, &rows),
        ),
    )
}

pub(super) async fn load_project(
    ctx: &Ctx<'_>,
    eng: &Engine,
    project: &str,
) -> Result<Vec<ContainerSummary>, Outcome> {
    let mut list = match project_containers(eng, Some(project)).await {
        Ok(l) => l,
        Err(e) => return Err(error(ctx, call_error_text(ctx, eng, &e).await)),
    };
    // A project is changed whole or not at all: one container out of scope refuses it.
    if ctx.access == Access::Write
        && let Some(out) = list.iter().find(|c| {
            !ctx.scopes
                .container(&eng.name, &summary_name(c), Access::Write)
        })
    {
        return Err(runtime::refuse_scope(
            ctx,
            Some(&eng.name),
            &summary_name(out),
        ));
    }
    list.retain(|c| visible(ctx, eng, c));
    if list.is_empty() {
        let known: Vec<String> = match project_containers(eng, None).await {
            Ok(all) => {
                let mut k: Vec<String> = all
                    .iter()
                    .filter(|c| visible(ctx, eng, c))
                    .filter_map(|c| ops::label(c, COMPOSE_PROJECT).map(str::to_string))
                    .collect();
                k.sort();
                k.dedup();
                k
            }
            Err(_) => Vec::new(),
        };
        let list = if known.is_empty() {
            "-".to_string()
        } else {
            known.join(", ")
        };
        return Err(error(
            ctx,
            t!(
                ctx.lang,
                "docker.no_compose_project",
                project = project,
                host = eng.name,
                list = list
            ),
        ));
    }
    Ok(ops::compose_start_order(list))
}

pub(super) async fn compose_ps(ctx: &Ctx<'_>, a: ProjectArgs) -> Outcome {
    if let Err(e) = ops::validate_ref(&a.project) {
        return bad_input(ctx, &e);
    }
    let eng = or_return!(engine(ctx, &a.h).await);
    let list = or_return!(load_project(ctx, &eng, &a.project).await);
    let now = now();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                ops::label(c, COMPOSE_SERVICE).unwrap_or("-").to_string(),
                render::truncate_to_width(&summary_name(c), 28),
                marker_of(c),
                c.created
                    .map(|t| render::human_ago(t, now, ctx.lang))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let header = crate::i18n::catalog::columns(ctx.lang, "docker.cols_service_container");
    reply(
        ctx,
        fit(
            ctx,
            &format!("🧩 {} @{}", a.project, eng.name),
            &table::render(&header, &rows),
        ),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ComposeOp {
    Restart,
    Stop,
    Start,
}

pub(super) async fn compose_write(ctx: &Ctx<'_>, a: ProjectArgs, op: ComposeOp) -> Outcome {
    if let Err(e) = ops::validate_ref(&a.project) {
        return bad_input(ctx, &e);
    }
    let target = format!("compose:{}", a.project);
    let eng = or_return!(engine(ctx, &a.h).await);
    let order = or_return!(load_project(ctx, &eng, &a.project).await);
    let mut lines = Vec::new();
    let mut failed = 0;
    if matches!(op, ComposeOp::Stop | ComposeOp::Restart) {
        for c in order.iter().rev() {
            let r = apply(&eng, c, &WriteOp::Stop(None)).await;
            failed += usize::from(r.is_err());
            lines.push(op_line(ctx, &eng, c, "stop", r).await);
        }
    }
    if matches!(op, ComposeOp::Start | ComposeOp::Restart) {
        for c in &order {
            let r = apply(&eng, c, &WriteOp::Start).await;
            failed += usize::from(r.is_err());
            lines.push(op_line(ctx, &eng, c, "start", r).await);
        }
    }
    let result = if failed == 0 {
        "ok".to_string()
    } else {
        format!("{failed} failed")
    };
    tracing::info!(user = %ctx.identity, host = %eng.name, %target, %result, "docker compose write");
    let head = format!("🧩 {} @{}", a.project, eng.name);
    let text = fit(ctx, &head, &lines);
    let r = if failed == 0 {
        Reply::command(text, ctx.lang)
    } else {
        Reply::error(text, ctx.lang)
    };
    Outcome::Audited(r, ctx.audit(Some(&eng.name), Some(&target), &result))
}
