//! `/k logs POD`: the latest lines of one container, or its previous instance.

use super::*;

pub(super) async fn logs(k: &K<'_, '_>, a: LogsArgs) -> Outcome {
    let ctx = k.ctx;
    if let Err(e) = validate_name(&a.pod) {
        return bad_input(ctx, &e);
    }
    if let Some(c) = &a.container
        && let Err(e) = validate_name(c)
    {
        return bad_input(ctx, &e);
    }
    let tail = a
        .tail
        .unwrap_or(ctx.app.config.kubernetes.logs_tail as i64)
        .clamp(1, 10_000);
    let api: Api<Pod> = Api::namespaced(k.cluster.client.clone(), &k.ns);
    let lp = LogParams {
        container: a.container.clone(),
        previous: a.previous,
        tail_lines: Some(tail),
        ..LogParams::default()
    };
    let text = try_call!(k, api.logs(&a.pod, &lp));
    let which = match (&a.container, a.previous) {
        (Some(c), true) => format!("{}/{c} (previous)", a.pod),
        (Some(c), false) => format!("{}/{c}", a.pod),
        (None, true) => format!("{} (previous)", a.pod),
        (None, false) => a.pod.clone(),
    };
    let head = t!(
        ctx.lang,
        "kubectl.logs_head",
        which = which,
        tail = tail,
        context = k.cluster.context,
        ns = k.ns
    );
    reply(ctx, runtime::tail_under(ctx.lang, &head, &text))
}
