//! `/docker prune containers|images`: shows what would go, then removes it after `/confirm`.

use super::*;

pub(super) const PRUNE_KEYS: &[&str] = &["label", "label!", "until"];

pub(super) async fn prune(ctx: &Ctx<'_>, a: PruneArgs) -> Outcome {
    let mut filters = match parse_filters(&a.filter, PRUNE_KEYS) {
        Ok(f) => f,
        Err(e) => return bad_input(ctx, &e),
    };
    let what = match a.what {
        PruneWhat::Containers => "containers",
        PruneWhat::Images => "images",
    };
    let target = format!("prune:{what}");
    let eng = or_return!(engine(ctx, &a.h).await);
    if !ctx.scopes.docker_host_wide(&eng.name, Access::Write) {
        return runtime::refuse_scope(ctx, Some(&eng.name), &target);
    }
    // What would go: the same selection the engine's prune makes.
    let (names, bytes) = match a.what {
        PruneWhat::Containers => {
            let mut f = filters.clone();
            f.remove("until");
            f.insert(
                "status".into(),
                vec!["exited".into(), "created".into(), "dead".into()],
            );
            let opts = qp::ListContainersOptionsBuilder::default()
                .all(true)
                .size(true)
                .filters(&f)
                .build();
            let list = try_call!(ctx, &eng, eng.client.list_containers(Some(opts)));
            let bytes: u64 = list
                .iter()
                .map(|c| c.size_rw.unwrap_or(0).max(0) as u64)
                .sum();
            (list.iter().map(summary_name).collect::<Vec<_>>(), bytes)
        }
        PruneWhat::Images => {
            let mut f = filters.clone();
            f.remove("until");
            f.insert("dangling".into(), vec!["true".into()]);
            let opts = qp::ListImagesOptionsBuilder::default().filters(&f).build();
            let list = try_call!(ctx, &eng, eng.client.list_images(Some(opts)));
            let bytes: u64 = list.iter().map(|i| i.size.max(0) as u64).sum();
            (
                list.iter().map(|i| image_id(&i.id)).collect::<Vec<_>>(),
                bytes,
            )
        }
    };
    let kind = if what == "images" {
        t!(ctx.lang, "docker.prune_kind_images")
    } else {
        t!(ctx.lang, "docker.prune_kind_containers")
    };
    if names.is_empty() {
        return reply(
            ctx,
            t!(
                ctx.lang,
                "docker.prune_nothing",
                host = eng.name,
                kind = kind
            ),
        );
    }
    if !ctx.confirmed {
        let shown: Vec<String> = names.iter().take(10).cloned().collect();
        let more = names.len().saturating_sub(shown.len());
        let more = if more > 0 {
            t!(ctx.lang, "docker.and_more", count = more)
        } else {
            String::new()
        };
        let summary = t!(
            ctx.lang,
            "docker.prune_summary",
            host = eng.name,
            count = names.len(),
            kind = kind,
            names = shown.join(t!(ctx.lang, "core.list_sep")),
            more = more,
            size = render::human_bytes(bytes)
        );
        return Outcome::NeedsConfirmation { summary };
    }
    let (deleted, reclaimed) = match a.what {
        PruneWhat::Containers => {
            let opts = qp::PruneContainersOptionsBuilder::default()
                .filters(&filters)
                .build();
            let r = try_call!(ctx, &eng, eng.client.prune_containers(Some(opts)));
            (
                r.containers_deleted.map_or(0, |d| d.len()),
                r.space_reclaimed.unwrap_or(0),
            )
        }
        PruneWhat::Images => {
            filters.insert("dangling".into(), vec!["true".into()]);
            let opts = qp::PruneImagesOptionsBuilder::default()
                .filters(&filters)
                .build();
            let r = try_call!(ctx, &eng, eng.client.prune_images(Some(opts)));
            (
                r.images_deleted.map_or(0, |d| d.len()),
                r.space_reclaimed.unwrap_or(0),
            )
        }
    };
    let freed = render::human_bytes(reclaimed.max(0) as u64);
    let result = format!("ok: {deleted} removed, {freed} freed");
    tracing::info!(user = %ctx.identity, host = %eng.name, %target, %result, "docker prune");
    let text = t!(
        ctx.lang,
        "docker.prune_done",
        host = eng.name,
        deleted = deleted,
        freed = freed
    );
    Outcome::Audited(
        Reply::command(text, ctx.lang),
        ctx.audit(Some(&eng.name), Some(&target), &result),
    )
}
