//! `/k describe pod|deploy|node|svc`: readable summaries with recent events.

use super::*;

pub(super) async fn events_of(
    k: &K<'_, '_>,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Vec<Event> {
    let lp = ListParams::default().fields(&format!(
        "involvedObject.name={name},involvedObject.kind={kind}"
    ));
    let api: Api<Event> = match ns {
        Some(ns) => Api::namespaced(k.cluster.client.clone(), ns),
        None => Api::all(k.cluster.client.clone()),
    };
    // Events are a nice-to-have in a summary: a failure (RBAC, timeout) leaves them out.
    let mut evs = call(k, api.list(&lp))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    evs.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
    evs.truncate(8);
    evs
}

pub(super) fn event_lines(evs: &[Event], now: i64, lang: Lang) -> Vec<String> {
    if evs.is_empty() {
        return Vec::new();
    }
    let mut out = vec![t!(lang, "kubectl.events").to_string()];
    for e in evs {
        let when = event_time(e)
            .map(|t| render::human_ago(t, now, lang))
            .unwrap_or_default();
        let count = e
            .count
            .filter(|c| *c > 1)
            .map(|c| format!(" ×{c}"))
            .unwrap_or_default();
        let mark = if e.type_.as_deref() == Some("Warning") {
            "⚠️"
        } else {
            "·"
        };
        out.push(format!(
            "  {mark} {}{count} ({when}): {}",
            e.reason.as_deref().unwrap_or(""),
            render::truncate_to_width(e.message.as_deref().unwrap_or("").trim(), 120)
        ));
    }
    out
}

pub(super) fn probe_text(p: &Probe) -> String {
    let what = if let Some(h) = &p.http_get {
        let port = match &h.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!("http GET :{port}{}", h.path.as_deref().unwrap_or("/"))
    } else if let Some(t) = &p.tcp_socket {
        let port = match &t.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!("tcp :{port}")
    } else if let Some(e) = &p.exec {
        format!("exec {}", e.command.as_deref().unwrap_or(&[]).join(" "))
    } else if p.grpc.is_some() {
        "grpc".to_string()
    } else {
        "?".to_string()
    };
    format!(
        "{what} (delay {}s, every {}s, fail after {})",
        p.initial_delay_seconds.unwrap_or(0),
        p.period_seconds.unwrap_or(10),
        p.failure_threshold.unwrap_or(3)
    )
}

pub(super) fn resources_text(c: &Container) -> Option<String> {
    let r = c.resources.as_ref()?;
    let fmt =
        |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
            m.as_ref().map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k} {}", v.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
    let req = fmt(&r.requests).filter(|s| !s.is_empty());
    let lim = fmt(&r.limits).filter(|s| !s.is_empty());
    if req.is_none() && lim.is_none() {
        return None;
    }
    Some(format!(
        "requests {} · limits {}",
        req.unwrap_or_else(|| "-".into()),
        lim.unwrap_or_else(|| "-".into())
    ))
}

pub(super) fn container_lines(
    c: &Container,
    s: Option<&ContainerStatus>,
    now: i64,
    lang: Lang,
) -> Vec<String> {
    let mut out = vec![format!(
        "{} {}: {}",
        t!(lang, "kubectl.container"),
        c.name,
        c.image.as_deref().unwrap_or("")
    )];
    if let Some(s) = s {
        let state = s.state.as_ref();
        let line = if let Some(w) = state.and_then(|x| x.waiting.as_ref()) {
            format!(
                "Waiting {}{}",
                w.reason.as_deref().unwrap_or(""),
                w.message
                    .as_deref()
                    .map(|m| format!(" — {}", render::truncate_to_width(m, 100)))
                    .unwrap_or_default()
            )
        } else if let Some(r) = state.and_then(|x| x.running.as_ref()) {
            format!(
                "Running{}",
                r.started_at
                    .as_ref()
                    .map(|t| format!(" · {}", render::human_ago(secs(t), now, lang)))
                    .unwrap_or_default()
            )
        } else if let Some(t) = state.and_then(|x| x.terminated.as_ref()) {
            format!(
                "Terminated {} (exit {})",
                t.reason.as_deref().unwrap_or(""),
                t.exit_code
            )
        } else {
            "?".into()
        };
        out.push(format!("  {}: {line}", t!(lang, "kubectl.state")));
        out.push(format!(
            "  {}: {} · {}: {}",
            t!(lang, "kubectl.ready"),
            if s.ready {
                t!(lang, "kubectl.yes")
            } else {
                t!(lang, "kubectl.no")
            },
            t!(lang, "kubectl.restarts"),
            s.restart_count
        ));
        if let Some(t) = s.last_state.as_ref().and_then(|x| x.terminated.as_ref()) {
            let when = t
                .finished_at
                .as_ref()
                .map(|f| format!(" · {}", render::human_ago(secs(f), now, lang)))
                .unwrap_or_default();
            out.push(format!(
                "  {}: {}, exit {} ({}){when}",
                t!(lang, "kubectl.last_termination"),
                t.reason.as_deref().unwrap_or("Error"),
                t.exit_code,
                crate::alert::render::exit_meaning(i64::from(t.exit_code), lang)
            ));
        }
    }
    if let Some(r) = resources_text(c) {
        out.push(format!("  {}: {r}", t!(lang, "kubectl.resources")));
    }
    if let Some(p) = &c.liveness_probe {
        out.push(format!("  Liveness: {}", probe_text(p)));
    }
    if let Some(p) = &c.readiness_probe {
        out.push(format!("  Readiness: {}", probe_text(p)));
    }
    out
}

/// The readable `describe pod` summary.
pub fn describe_pod_lines(
    p: &Pod,
    events: &[Event],
    context: &str,
    now: i64,
    lang: Lang,
) -> Vec<String> {
    let m = &p.metadata;
    let mut out = vec![format!("📦 pod {}/{} @{context}", ns_of(m), name_of(m))];
    let (r, t) = pod_ready(p);
    let st = p.status.as_ref();
    let node = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| t!(lang, "kubectl.not_scheduled").into());
    out.push(format!(
        "{}: {} {} · {}: {r}/{t} · {}: {node}",
        t!(lang, "kubectl.status"),
        marker(pod_healthy(p)),
        pod_status(p),
        t!(lang, "kubectl.ready"),
        t!(lang, "kubectl.node"),
    ));
    if let Some(ip) = st.and_then(|s| s.pod_ip.as_ref()) {
        out.push(format!("IP: {ip}"));
    }
    if let Some(c) = &m.creation_timestamp {
        out.push(format!(
            "{}: {}",
            t!(lang, "kubectl.created"),
            render::human_ago(secs(c), now, lang)
        ));
    }
    let conds: Vec<String> = st
        .and_then(|s| s.conditions.as_ref())
        .map(|v| {
            v.iter()
                .map(|c| match &c.reason {
                    Some(r) => format!("{}={} ({r})", c.type_, c.status),
                    None => format!("{}={}", c.type_, c.status),
                })
                .collect()
        })
        .unwrap_or_default();
    if !conds.is_empty() {
        out.push(format!(
            "{}: {}",
            t!(lang, "kubectl.conditions"),
            conds.join(", ")
        ));
    }
    if let Some(msg) = st
        .and_then(|s| s.conditions.as_ref())
        .and_then(|v| {
            v.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
        .and_then(|c| c.message.clone())
    {
        out.push(format!("  {}", render::truncate_to_width(&msg, 200)));
    }
    let statuses = st
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    for c in p
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[])
    {
        let s = statuses.iter().find(|s| s.name == c.name);
        out.extend(container_lines(c, s, now, lang));
    }
    out.extend(event_lines(events, now, lang));
    out
}

pub(super) async fn describe(k: &K<'_, '_>, kind: Kind, name: &str) -> Outcome {
    let ctx = k.ctx;
    let lang = ctx.lang;
    let now = now();
    let context = &k.cluster.context;
    let lines = match kind {
        Kind::Pod => {
            let api: Api<Pod> = Api::namespaced(k.cluster.client.clone(), &k.ns);
            let p = try_call!(k, api.get(name));
            let evs = events_of(k, "Pod", Some(&k.ns), name).await;
            describe_pod_lines(&p, &evs, context, now, lang)
        }
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(k.cluster.client.clone(), &k.ns);
            let d = try_call!(k, api.get(name));
            let spec = d.spec.as_ref();
            let st = d.status.as_ref();
            let want = spec.and_then(|s| s.replicas).unwrap_or(1);
            let mut out = vec![format!("🚀 deployment {}/{name} @{context}", k.ns)];
            out.push(format!(
                "{}: {want} · {}: {} · {}: {} · {}: {} · {}: {}",
                t!(lang, "kubectl.desired"),
                t!(lang, "kubectl.updated"),
                st.and_then(|s| s.updated_replicas).unwrap_or(0),
                t!(lang, "kubectl.ready"),
                st.and_then(|s| s.ready_replicas).unwrap_or(0),
                t!(lang, "kubectl.available"),
                st.and_then(|s| s.available_replicas).unwrap_or(0),
                t!(lang, "kubectl.unavailable"),
                st.and_then(|s| s.unavailable_replicas).unwrap_or(0),
            ));
            if let Some(s) = spec
                .and_then(|s| s.strategy.as_ref())
                .and_then(|s| s.type_.clone())
            {
                out.push(format!("{}: {s}", t!(lang, "kubectl.strategy")));
            }
            if spec.and_then(|s| s.paused) == Some(true) {
                out.push(t!(lang, "kubectl.paused").into());
            }
            if let Some(sel) = spec.and_then(|s| s.selector.match_labels.as_ref()) {
                let s: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push(format!("{}: {}", t!(lang, "kubectl.selector"), s.join(",")));
            }
            for c in spec
                .and_then(|s| s.template.spec.as_ref())
                .map(|s| s.containers.as_slice())
                .unwrap_or(&[])
            {
                out.extend(container_lines(c, None, now, lang));
            }
            for c in st.and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
                out.push(format!(
                    "{}: {} {} — {}",
                    c.type_,
                    c.status,
                    c.reason.as_deref().unwrap_or(""),
                    render::truncate_to_width(c.message.as_deref().unwrap_or(""), 120)
                ));
            }
            let evs = events_of(k, "Deployment", Some(&k.ns), name).await;
            out.extend(event_lines(&evs, now, lang));
            out
        }
        Kind::Node => {
            let api: Api<Node> = Api::all(k.cluster.client.clone());
            let n = try_call!(k, api.get(name));
            let (ok, status) = node_status(&n);
            let mut out = vec![format!("🖥 node {name} @{context}")];
            out.push(format!(
                "{}: {} {status}",
                t!(lang, "kubectl.status"),
                marker(ok)
            ));
            out.push(format!("{}: {}", t!(lang, "kubectl.roles"), node_roles(&n)));
            let st = n.status.as_ref();
            for c in st.and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
                let bad = (c.type_ == "Ready") != (c.status == "True");
                out.push(format!(
                    "  {} {}={} {} {}",
                    if bad { "⚠️" } else { "·" },
                    c.type_,
                    c.status,
                    c.reason.as_deref().unwrap_or(""),
                    render::truncate_to_width(c.message.as_deref().unwrap_or(""), 100)
                ));
            }
            let taints: Vec<String> = n
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .map(|t| {
                    t.iter()
                        .map(|t| format!("{}:{}", t.key, t.effect))
                        .collect()
                })
                .unwrap_or_default();
            if !taints.is_empty() {
                out.push(format!("Taints: {}", taints.join(", ")));
            }
            let q = |m: Option<
                &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
            >| {
                m.map(|m| {
                    ["cpu", "memory", "pods"]
                        .iter()
                        .filter_map(|k| m.get(*k).map(|v| format!("{k} {}", v.0)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
            };
            out.push(format!(
                "{}: {}",
                t!(lang, "kubectl.allocatable"),
                q(st.and_then(|s| s.allocatable.as_ref()))
            ));
            if let Some(i) = st.and_then(|s| s.node_info.as_ref()) {
                out.push(format!(
                    "kubelet {} · {} · {}",
                    i.kubelet_version, i.container_runtime_version, i.os_image
                ));
            }
            let evs = events_of(k, "Node", None, name).await;
            out.extend(event_lines(&evs, now, lang));
            out
        }
        Kind::Service => {
            let api: Api<Service> = Api::namespaced(k.cluster.client.clone(), &k.ns);
            let s = try_call!(k, api.get(name));
            let spec = s.spec.as_ref();
            let mut out = vec![format!("🔌 service {}/{name} @{context}", k.ns)];
            out.push(format!(
                "{}: {} · ClusterIP: {}",
                t!(lang, "kubectl.type"),
                spec.and_then(|s| s.type_.clone())
                    .unwrap_or_else(|| "ClusterIP".into()),
                spec.and_then(|s| s.cluster_ip.clone()).unwrap_or_default()
            ));
            if let Some(sel) = spec.and_then(|s| s.selector.as_ref()) {
                let v: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push(format!("{}: {}", t!(lang, "kubectl.selector"), v.join(",")));
            }
            for p in spec.and_then(|s| s.ports.as_ref()).into_iter().flatten() {
                let tp = p
                    .target_port
                    .as_ref()
                    .map(|t| match t {
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => {
                            i.to_string()
                        }
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                            s.clone()
                        }
                    })
                    .unwrap_or_default();
                out.push(format!(
                    "  {} {}/{} → {tp}",
                    p.name.as_deref().unwrap_or("-"),
                    p.port,
                    p.protocol.as_deref().unwrap_or("TCP")
                ));
            }
            out
        }
        _ => {
            return bad_input(ctx, "describe supports pod, deploy, node and svc");
        }
    };
    reply(ctx, fit(lang, "", &lines))
}
