//! `/k rollout status|restart|undo` and `scale`: the patches kubectl sends.

use super::*;

pub(super) async fn rollout_status(k: &K<'_, '_>, kind: Kind, name: &str) -> Outcome {
    if kind != Kind::Deployment {
        return bad_input(k.ctx, "rollout status supports deploy/NAME");
    }
    let api: Api<Deployment> = Api::namespaced(k.cluster.client.clone(), &k.ns);
    let d = try_call!(k, api.get(name));
    let (done, text) = deployment_rollout(&d);
    reply(
        k.ctx,
        format!(
            "{} {text} @{}/{}",
            if done { "✅" } else { "⏳" },
            k.cluster.context,
            k.ns
        ),
    )
}

pub(super) fn restart_patch(at: &str) -> serde_json::Value {
    serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": at
    }}}}})
}

/// Audits a write and answers with its outcome.
pub(super) fn audited(k: &K<'_, '_>, target: &str, r: Result<String, CallError>) -> Outcome {
    match r {
        Ok(text) => {
            tracing::info!(user = %k.ctx.identity, context = %k.cluster.context, %target, "kubernetes write");
            Outcome::Audited(
                Reply::command(text, k.ctx.lang),
                k.ctx.audit(Some(&k.cluster.context), Some(target), "ok"),
            )
        }
        Err(e) => {
            let text = call_error_text(k, &e);
            Outcome::Audited(
                Reply::error(text, k.ctx.lang),
                k.ctx.audit(
                    Some(&k.cluster.context),
                    Some(target),
                    &format!("failed: {}", e.kind()),
                ),
            )
        }
    }
}

pub(super) async fn rollout_restart(k: &K<'_, '_>, kind: Kind, name: &str) -> Outcome {
    let target = format!("{}/{}/{name}", k.ns, kind.word());
    if !matches!(kind, Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet) {
        return bad_input(k.ctx, "rollout restart supports deploy, sts and ds");
    }
    let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // kubectl's own field manager and patch type, so the cluster records it like kubectl.
    let pp = PatchParams {
        field_manager: Some("kubectl-rollout".into()),
        ..PatchParams::default()
    };
    let patch = Patch::Strategic(restart_patch(&at));
    let c = k.cluster.client.clone();
    let r = match kind {
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(c, &k.ns);
            match call(k, api.get(name)).await {
                Ok(d) if d.spec.as_ref().and_then(|s| s.paused) == Some(true) => {
                    return error(
                        k.ctx,
                        t!(k.ctx.lang, "kubectl.can_t_restart_paused_deployment"),
                    );
                }
                Ok(_) => call(k, api.patch(name, &pp, &patch)).await.map(|_| ()),
                Err(e) => Err(e),
            }
        }
        Kind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(c, &k.ns);
            call(k, api.patch(name, &pp, &patch)).await.map(|_| ())
        }
        _ => {
            let api: Api<DaemonSet> = Api::namespaced(c, &k.ns);
            call(k, api.patch(name, &pp, &patch)).await.map(|_| ())
        }
    };
    let text = t!(
        k.ctx.lang,
        "kubectl.restarted",
        kind = kind.word(),
        name = name,
        context = k.cluster.context,
        ns = k.ns
    );
    audited(k, &target, r.map(|()| text))
}

pub(super) async fn scale(k: &K<'_, '_>, kind: Kind, name: &str, replicas: i32) -> Outcome {
    let target = format!("{}/{}/{name}", k.ns, kind.word());
    if !matches!(kind, Kind::Deployment | Kind::StatefulSet) {
        return bad_input(k.ctx, "scale supports deploy and sts");
    }
    // kubectl scale: a merge patch on the scale subresource.
    let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}}));
    let pp = PatchParams::default();
    let c = k.cluster.client.clone();
    let r = match kind {
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(c, &k.ns);
            call(k, api.patch_scale(name, &pp, &patch)).await
        }
        _ => {
            let api: Api<StatefulSet> = Api::namespaced(c, &k.ns);
            call(k, api.patch_scale(name, &pp, &patch)).await
        }
    };
    let r = r.map(|s| {
        let before = s.status.as_ref().map(|s| s.replicas).unwrap_or(0);
        t!(
            k.ctx.lang,
            "kubectl.scaled",
            kind = kind.word(),
            name = name,
            before = before,
            replicas = replicas,
            context = k.cluster.context,
            ns = k.ns
        )
    });
    audited(k, &target, r)
}

pub(super) const REVISION: &str = "deployment.kubernetes.io/revision";

/// Annotations a rollback keeps from the Deployment instead of copying from the ReplicaSet
/// (kubectl's list).
pub(super) const KEEP_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

pub(super) fn revision_of(m: &ObjectMeta) -> i64 {
    m.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A pod template without the `pod-template-hash` label, as JSON for comparing and patching.
pub(super) fn template_value(t: &k8s_openapi::api::core::v1::PodTemplateSpec) -> serde_json::Value {
    let mut t = t.clone();
    if let Some(m) = t.metadata.as_mut()
        && let Some(l) = m.labels.as_mut()
    {
        l.remove("pod-template-hash");
    }
    serde_json::to_value(&t).unwrap_or(serde_json::Value::Null)
}

pub(super) async fn rollout_undo(k: &K<'_, '_>, kind: Kind, name: &str) -> Outcome {
    let target = format!("{}/{}/{name}", k.ns, kind.word());
    if kind != Kind::Deployment {
        return bad_input(k.ctx, "rollout undo supports deploy/NAME");
    }
    let lang = k.ctx.lang;
    let c = k.cluster.client.clone();
    let deploys: Api<Deployment> = Api::namespaced(c.clone(), &k.ns);
    let d = try_call!(k, deploys.get(name));
    let Some(spec) = d.spec.as_ref() else {
        return error(k.ctx, "deployment has no spec");
    };
    if spec.paused == Some(true) {
        return error(k.ctx, t!(lang, "kubectl.you_cannot_rollback_a_paused"));
    }
    let selector = spec
        .selector
        .match_labels
        .as_ref()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let rs_api: Api<ReplicaSet> = Api::namespaced(c, &k.ns);
    let list = try_call!(
        k,
        rs_api.list(&list_params(
            Some(&selector)
                .filter(|s| !s.is_empty())
                .map(String::as_str)
        ))
    );
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let mut owned: Vec<&ReplicaSet> = list
        .items
        .iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .as_ref()
                .is_some_and(|o| o.iter().any(|o| o.controller == Some(true) && o.uid == uid))
        })
        .collect();
    owned.sort_by_key(|rs| std::cmp::Reverse(revision_of(&rs.metadata)));
    let Some(prev) = owned.get(1) else {
        return error(k.ctx, t!(lang, "kubectl.no_history", name = name));
    };
    let rev = revision_of(&prev.metadata);
    let Some(tpl) = prev.spec.as_ref().and_then(|s| s.template.as_ref()) else {
        return error(k.ctx, "the previous ReplicaSet has no pod template");
    };
    let prev_tpl = template_value(tpl);
    if prev_tpl == template_value(&spec.template) {
        return reply(k.ctx, t!(lang, "kubectl.rollback_skipped", revision = rev));
    }
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    let current = d.metadata.annotations.clone().unwrap_or_default();
    for key in KEEP_ANNOTATIONS {
        if let Some(v) = current.get(*key) {
            annotations.insert((*key).to_string(), v.clone());
        }
    }
    for (key, v) in prev.metadata.annotations.clone().unwrap_or_default() {
        if !KEEP_ANNOTATIONS.contains(&key.as_str()) {
            annotations.insert(key, v);
        }
    }
    let ops = serde_json::json!([
        {"op": "replace", "path": "/spec/template", "value": prev_tpl},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    let patch: json_patch::Patch = match serde_json::from_value(ops) {
        Ok(p) => p,
        Err(e) => return error(k.ctx, format!("cannot build the rollback patch: {e}")),
    };
    let r = call(
        k,
        deploys.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch)),
    )
    .await;
    let text = t!(
        lang,
        "kubectl.rolled_back",
        name = name,
        revision = rev,
        context = k.cluster.context,
        ns = k.ns
    );
    audited(k, &target, r.map(|_| text))
}
