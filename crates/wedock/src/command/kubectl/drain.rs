//! `/k delete pod`, `cordon`, `uncordon`, `drain`: destructive node and pod commands.

use super::*;

pub(super) async fn delete_pod(k: &K<'_, '_>, name: &str) -> Outcome {
    let target = format!("{}/pod/{name}", k.ns);
    let api: Api<Pod> = Api::namespaced(k.cluster.client.clone(), &k.ns);
    // Look first: a typo should be "not found" now, not after the confirmation.
    let p = try_call!(k, api.get(name));
    if !k.ctx.confirmed {
        let owner = p
            .metadata
            .owner_references
            .as_ref()
            .and_then(|o| o.iter().find(|o| o.controller == Some(true)))
            .map(|o| format!("{}/{}", o.kind, o.name));
        let lang = k.ctx.lang;
        let (context, ns, status) = (&k.cluster.context, &k.ns, pod_status(&p));
        let summary = match owner {
            Some(owner) => t!(
                lang,
                "kubectl.delete_pod_owned",
                context = context,
                ns = ns,
                name = name,
                status = status,
                owner = owner
            ),
            None => t!(
                lang,
                "kubectl.delete_pod_bare",
                context = context,
                ns = ns,
                name = name,
                status = status
            ),
        };
        return Outcome::NeedsConfirmation { summary };
    }
    let r = call(k, api.delete(name, &DeleteParams::default())).await;
    let text = t!(
        k.ctx.lang,
        "kubectl.pod_deleted",
        ns = k.ns,
        name = name,
        context = k.cluster.context
    );
    audited(k, &target, r.map(|_| text))
}

pub(super) async fn cordon(k: &K<'_, '_>, node: &str, on: bool) -> Outcome {
    if let Err(e) = validate_name(node) {
        return bad_input(k.ctx, &e);
    }
    let target = format!("node/{node}");
    let api: Api<Node> = Api::all(k.cluster.client.clone());
    let n = try_call!(k, api.get(node));
    if !k.ctx.confirmed {
        let (_, status) = node_status(&n);
        let action = if on {
            t!(k.ctx.lang, "kubectl.cordon_action")
        } else {
            t!(k.ctx.lang, "kubectl.uncordon_action")
        };
        let summary = t!(
            k.ctx.lang,
            "kubectl.cordon_summary",
            action = action,
            node = node,
            status = status,
            context = k.cluster.context
        );
        return Outcome::NeedsConfirmation { summary };
    }
    let r = if on {
        call(k, api.cordon(node)).await
    } else {
        call(k, api.uncordon(node)).await
    };
    let (lang, context) = (k.ctx.lang, &k.cluster.context);
    let text = if on {
        t!(lang, "kubectl.cordoned", node = node, context = context)
    } else {
        t!(lang, "kubectl.uncordoned", node = node, context = context)
    };
    audited(k, &target, r.map(|_| text))
}

/// Why drain leaves a pod alone, if it does.
pub(super) fn drain_skip(p: &Pod, a: &DrainArgs) -> Option<&'static str> {
    let m = &p.metadata;
    if m.annotations
        .as_ref()
        .is_some_and(|x| x.contains_key("kubernetes.io/config.mirror"))
    {
        return Some("mirror pod");
    }
    let controller = m
        .owner_references
        .as_ref()
        .and_then(|o| o.iter().find(|o| o.controller == Some(true)));
    if controller.is_some_and(|o| o.kind == "DaemonSet") {
        return Some("DaemonSet");
    }
    if controller.is_none() && !a.force {
        return Some("no controller (use --force)");
    }
    let empty_dir = p
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|v| v.iter().any(|v| v.empty_dir.is_some()));
    if empty_dir && !a.delete_emptydir_data {
        return Some("emptyDir data (use --delete-emptydir-data)");
    }
    None
}

/// Longest `drain --timeout`: below the chat pipeline's two-minute "still processing" window,
/// so a channel's redelivery of the same message never starts a second drain.
pub(super) const MAX_DRAIN_TIMEOUT: Duration = Duration::from_secs(110);

/// `--timeout 90s` / `1m` / `45` (seconds), within 1 s ..= [`MAX_DRAIN_TIMEOUT`].
pub(super) fn drain_timeout(arg: Option<&str>, default_secs: u64) -> Result<Duration, String> {
    let Some(s) = arg else {
        return Ok(Duration::from_secs(default_secs).min(MAX_DRAIN_TIMEOUT));
    };
    let s = s.trim();
    let d = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s)
            .map_err(|_| format!("--timeout {s:?}: use a duration such as 90s or 1m"))?,
    };
    if d < Duration::from_secs(1) || d > MAX_DRAIN_TIMEOUT {
        return Err(format!(
            "--timeout must be between 1s and {}s",
            MAX_DRAIN_TIMEOUT.as_secs()
        ));
    }
    Ok(d)
}

/// What one eviction request came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvictionAnswer {
    /// 201: the API server accepted the eviction and is deleting the pod.
    Evicted,
    /// 404: the pod is gone already.
    Gone,
    /// 429: a PodDisruptionBudget forbids it right now. The message is the budget's own
    /// (`The disruption budget web-pdb needs 2 healthy pods …`) when the server gave one;
    /// `retry_after` is the server's `retryAfterSeconds` (a budget not processed yet).
    Blocked {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Anything else (RBAC refusal, several budgets, transport): retrying will not help.
    Failed(CallError),
}

impl EvictionAnswer {
    pub fn from_result(r: Result<(), kube::Error>) -> EvictionAnswer {
        let e = match r {
            Ok(()) => return EvictionAnswer::Evicted,
            Err(e) => e,
        };
        if let kube::Error::Api(s) = &e {
            match s.code {
                404 => return EvictionAnswer::Gone,
                429 => {
                    let details = s.details.as_ref();
                    let cause = details
                        .and_then(|d| d.causes.iter().find(|c| !c.message.is_empty()))
                        .map(|c| c.message.clone());
                    let retry_after = details
                        .map(|d| d.retry_after_seconds)
                        .filter(|s| *s > 0)
                        .map(|s| Duration::from_secs(u64::from(s)));
                    return EvictionAnswer::Blocked {
                        message: cause.unwrap_or_else(|| s.message.clone()),
                        retry_after,
                    };
                }
                _ => {}
            }
        }
        EvictionAnswer::Failed(CallError::from_kube(&e))
    }
}

/// One pod drain tries to evict, and where it stands.
pub(super) struct Evictee {
    ns: String,
    name: String,
    attempts: u32,
    answer: EvictionAnswer,
    next_try: tokio::time::Instant,
}

/// POSTs a real policy/v1 Eviction (kube's `evict()` sends snake_case delete options a real
/// server ignores) under the command's per-call timeout.
pub(super) async fn evict_once(k: &K<'_, '_>, ns: &str, name: &str) -> EvictionAnswer {
    let api: Api<Pod> = Api::namespaced(k.cluster.client.clone(), ns);
    let ev = Eviction {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            ..ObjectMeta::default()
        },
        delete_options: None,
    };
    let pp = PostParams::default();
    let post = api.create_subresource::<_, kube::core::Status>("eviction", name, &pp, &ev);
    match tokio::time::timeout(k.timeout, post).await {
        Ok(r) => EvictionAnswer::from_result(r.map(|_| ())),
        Err(_) => EvictionAnswer::Failed(CallError::Transport(format!(
            "no answer within {} s",
            k.timeout.as_secs()
        ))),
    }
}

/// Evicts every pod, retrying those a PodDisruptionBudget refuses (429) every `retry` (or
/// the server's `retryAfterSeconds`, if longer) until `deadline`, as `kubectl drain` does.
/// A retry is only started before the deadline, so the command ends within the deadline
/// plus one request timeout.
pub(super) async fn evict_all(
    k: &K<'_, '_>,
    pods: Vec<(String, String)>,
    retry: Duration,
    deadline: tokio::time::Instant,
) -> Vec<Evictee> {
    let mut out: Vec<Evictee> = pods
        .into_iter()
        .map(|(ns, name)| Evictee {
            ns,
            name,
            attempts: 0,
            answer: EvictionAnswer::Blocked {
                message: String::new(),
                retry_after: None,
            },
            next_try: tokio::time::Instant::now(),
        })
        .collect();
    loop {
        let now = tokio::time::Instant::now();
        for e in out.iter_mut() {
            if !matches!(e.answer, EvictionAnswer::Blocked { .. }) || e.next_try > now {
                continue;
            }
            e.attempts += 1;
            e.answer = evict_once(k, &e.ns, &e.name).await;
            if let EvictionAnswer::Blocked { retry_after, .. } = &e.answer {
                e.next_try =
                    tokio::time::Instant::now() + retry.max(retry_after.unwrap_or_default());
            }
        }
        let next = out
            .iter()
            .filter(|e| matches!(e.answer, EvictionAnswer::Blocked { .. }))
            .map(|e| e.next_try)
            .min();
        match next {
            Some(t) if t < deadline => tokio::time::sleep_until(t).await,
            _ => return out,
        }
    }
}

/// The drain report: problems first, so a reply cut to the channel's budget still shows them.
pub(super) fn drain_lines(
    k: &K<'_, '_>,
    evictees: &[Evictee],
    skipped: &[(String, &'static str)],
    waited: Duration,
) -> Vec<String> {
    let lang = k.ctx.lang;
    let mut failed = Vec::new();
    let mut blocked = Vec::new();
    let mut evicted = Vec::new();
    for e in evictees {
        let who = format!("{}/{}", e.ns, e.name);
        match &e.answer {
            EvictionAnswer::Failed(err) => {
                failed.push(format!("❌ {who}: {}", call_error_text(k, err)))
            }
            EvictionAnswer::Blocked { message, .. } => blocked.push(t!(
                lang,
                "kubectl.evict_blocked",
                who = who,
                secs = waited.as_secs(),
                attempts = e.attempts,
                message = message
            )),
            EvictionAnswer::Evicted | EvictionAnswer::Gone => {
                let gone = e.answer == EvictionAnswer::Gone;
                evicted.push(match (gone, e.attempts) {
                    (true, _) => t!(lang, "kubectl.evict_gone", who = who),
                    (false, 1) => t!(lang, "kubectl.evicted", who = who),
                    (false, n) => t!(lang, "kubectl.evicted_after", who = who, attempt = n),
                });
            }
        }
    }
    let skipped = skipped.iter().map(|(who, why)| format!("⏭ {who}: {why}"));
    failed
        .into_iter()
        .chain(blocked)
        .chain(evicted)
        .chain(skipped)
        .collect()
}

pub(super) async fn drain(k: &K<'_, '_>, a: DrainArgs) -> Outcome {
    if let Err(e) = validate_name(&a.node) {
        return bad_input(k.ctx, &e);
    }
    let cfg = &k.ctx.app.config.kubernetes;
    let timeout = match drain_timeout(a.timeout.as_deref(), cfg.drain_timeout_secs) {
        Ok(t) => t,
        Err(e) => return bad_input(k.ctx, &e),
    };
    let retry = Duration::from_millis(cfg.eviction_retry_ms);
    let target = format!("node/{}", a.node);
    let lang = k.ctx.lang;
    let nodes: Api<Node> = Api::all(k.cluster.client.clone());
    try_call!(k, nodes.get(&a.node));
    let pods_api: Api<Pod> = Api::all(k.cluster.client.clone());
    let lp = ListParams::default().fields(&format!("spec.nodeName={}", a.node));
    let pods = try_call!(k, pods_api.list(&lp)).items;
    if !k.ctx.confirmed {
        let evict = pods.iter().filter(|p| drain_skip(p, &a).is_none()).count();
        let summary = t!(
            lang,
            "kubectl.drain_summary",
            node = a.node,
            evict = evict,
            total = pods.len(),
            secs = timeout.as_secs(),
            context = k.cluster.context
        );
        return Outcome::NeedsConfirmation { summary };
    }
    let started = tokio::time::Instant::now();
    if let Err(e) = call(k, nodes.cordon(&a.node)).await {
        return audited(k, &target, Err(e));
    }
    let mut skipped = Vec::new();
    let mut to_evict = Vec::new();
    for p in &pods {
        let (ns, name) = (ns_of(&p.metadata), name_of(&p.metadata));
        match drain_skip(p, &a) {
            Some(why) => skipped.push((format!("{ns}/{name}"), why)),
            None => to_evict.push((ns.to_string(), name.to_string())),
        }
    }
    let evictees = evict_all(k, to_evict, retry, started + timeout).await;
    let count = |f: fn(&EvictionAnswer) -> bool| evictees.iter().filter(|e| f(&e.answer)).count();
    let evicted = count(|a| matches!(a, EvictionAnswer::Evicted | EvictionAnswer::Gone));
    let blocked = count(|a| matches!(a, EvictionAnswer::Blocked { .. }));
    let failed = count(|a| matches!(a, EvictionAnswer::Failed(_)));
    let head = t!(
        lang,
        "kubectl.drain_head",
        node = a.node,
        context = k.cluster.context,
        evicted = evicted,
        blocked = blocked,
        failed = failed,
        skipped = skipped.len()
    );
    let mut lines = drain_lines(k, &evictees, &skipped, timeout);
    if blocked > 0 {
        lines.push(t!(lang, "kubectl.drain_blocked_hint").to_string());
    }
    let result = if blocked + failed == 0 {
        format!("ok: evicted {evicted}")
    } else {
        format!("evicted {evicted}, blocked {blocked}, failed {failed}")
    };
    let text = fit(lang, &head, &lines);
    let r = if blocked + failed == 0 {
        Reply::command(text, lang)
    } else {
        Reply::error(text, lang)
    };
    Outcome::Audited(
        r,
        k.ctx
            .audit(Some(&k.cluster.context), Some(&target), &result),
    )
}
