//! `/diagnose` on Kubernetes objects: the kubectl family's context, namespace and scope
//! resolution in front of the collector in `diagnose::kube`.

use super::*;

/// `/diagnose pod/NAME | deploy/NAME | node/NAME`: the namespace (or, for a node, the
/// cluster) must be readable by the sender; the evidence comes from `diagnose::kube`.
pub async fn diagnose(
    ctx: &Ctx<'_>,
    context: Option<String>,
    namespace: Option<String>,
    kind: crate::command::diagnose::KubeKind,
    name: &str,
) -> Outcome {
    use crate::command::diagnose::KubeKind;
    if let Err(e) = validate_name(name) {
        return bad_input(ctx, &e);
    }
    let k = match open(ctx, context, namespace).await {
        Ok(k) => k,
        Err(refused) => return refused,
    };
    let context = k.cluster.context.as_str();
    let (allowed, what) = match kind {
        KubeKind::Node => (
            ctx.scopes.cluster_wide(context, Access::Read),
            "cluster".to_string(),
        ),
        _ => (
            ctx.scopes.namespace(context, &k.ns, Access::Read),
            format!("ns/{}", k.ns),
        ),
    };
    if !allowed {
        return runtime::refuse_scope(ctx, Some(context), &what);
    }
    let found =
        crate::diagnose::kube::collect(&k.cluster.client, &k.ns, kind, name, ctx.lang, k.timeout)
            .await;
    match found {
        Ok(ev) => Outcome::Reply(crate::command::diagnose::finish(ctx, &ev)),
        Err(crate::diagnose::kube::Missing::Call(e)) => error(ctx, call_error_text(&k, &e)),
        Err(crate::diagnose::kube::Missing::NotFound { close }) => {
            let place = match kind {
                KubeKind::Node => String::new(),
                _ => format!(" -n {}", k.ns),
            };
            let mut s = crate::diagnose::text::Say::UnknownTarget
                .fill(ctx.lang, &[("target", name), ("place", &place)]);
            if !close.is_empty() {
                s.push_str(&crate::diagnose::text::Say::Closest.fill(
                    ctx.lang,
                    &[(
                        "names",
                        &crate::diagnose::text::join_names(ctx.lang, &close),
                    )],
                ));
            }
            error(ctx, s)
        }
    }
}
