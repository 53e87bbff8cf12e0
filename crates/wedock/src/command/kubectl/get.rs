//! `/k get KIND`: kubectl's tables, one row per object.

use super::rows::table;
use super::*;

pub(super) fn pod_ready(p: &Pod) -> (usize, usize) {
    let total = p.spec.as_ref().map_or(0, |s| s.containers.len());
    let ready = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |v| v.iter().filter(|c| c.ready).count());
    (ready, total)
}

pub(super) fn pod_restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |v| v.iter().map(|c| c.restart_count).sum())
}

/// Whether a pod looks fine at a glance (running and ready, or completed).
pub(super) fn pod_healthy(p: &Pod) -> bool {
    healthy_with(p, &pod_status(p))
}

pub(super) fn healthy_with(p: &Pod, status: &str) -> bool {
    let (r, t) = pod_ready(p);
    status == "Completed" || status == "Succeeded" || (status == "Running" && r == t)
}

/// One pod of the `get pods` table with its status word worked out once: the word decides
/// the order, the marker, the summary's count and the STATUS cell.
pub(super) struct PodLine<'a> {
    pod: &'a Pod,
    status: String,
    healthy: bool,
}

pub(super) fn pod_lines(pods: &[Pod]) -> Vec<PodLine<'_>> {
    pods.iter()
        .map(|pod| {
            let status = pod_status(pod);
            let healthy = healthy_with(pod, &status);
            PodLine {
                pod,
                status,
                healthy,
            }
        })
        .collect()
}

pub(super) fn marker(ok: bool) -> &'static str {
    if ok { "🟢" } else { "🔴" }
}

/// The `get pods` table. Unhealthy pods come first so a cut-off reply still shows them.
pub fn pods_table(pods: &[Pod], all_ns: bool, wide: bool, now: i64, lang: Lang) -> Vec<String> {
    lines_table(pod_lines(pods), all_ns, wide, now, lang)
}

pub(super) fn lines_table(
    mut order: Vec<PodLine<'_>>,
    all_ns: bool,
    wide: bool,
    now: i64,
    lang: Lang,
) -> Vec<String> {
    order.sort_by(|a, b| {
        a.healthy
            .cmp(&b.healthy)
            .then_with(|| ns_of(&a.pod.metadata).cmp(ns_of(&b.pod.metadata)))
            .then_with(|| name_of(&a.pod.metadata).cmp(name_of(&b.pod.metadata)))
    });
    let mut header = Vec::new();
    if all_ns {
        header.push(t!(lang, "kubectl.namespace"));
    }
    header.extend([
        t!(lang, "kubectl.name"),
        t!(lang, "kubectl.ready_2"),
        t!(lang, "kubectl.status_2"),
        t!(lang, "kubectl.restarts_2"),
        t!(lang, "kubectl.age"),
    ]);
    if wide {
        header.extend(["IP", t!(lang, "kubectl.node_2")]);
    }
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|line| {
            let p = line.pod;
            let mut row = Vec::with_capacity(8);
            if all_ns {
                row.push(ns_of(&p.metadata).to_string());
            }
            let (r, t) = pod_ready(p);
            row.push(name_of(&p.metadata).to_string());
            row.push(format!("{r}/{t}"));
            row.push(format!("{} {}", marker(line.healthy), line.status));
            row.push(pod_restarts(p).to_string());
            row.push(age(p.metadata.creation_timestamp.as_ref(), now));
            if wide {
                let st = p.status.as_ref();
                row.push(st.and_then(|s| s.pod_ip.clone()).unwrap_or_default());
                row.push(
                    p.spec
                        .as_ref()
                        .and_then(|s| s.node_name.clone())
                        .unwrap_or_default(),
                );
            }
            row
        })
        .collect();
    table::render(&header, &rows)
}

/// The whole `get pods` reply text: a summary line and the table, within the budget.
pub fn pods_reply(
    context: &str,
    scope: &str,
    pods: &[Pod],
    all_ns: bool,
    wide: bool,
    now: i64,
    lang: Lang,
) -> String {
    let lines = pod_lines(pods);
    let bad = lines.iter().filter(|l| !l.healthy).count();
    let head = t!(
        lang,
        "kubectl.pods_head",
        context = context,
        scope = scope,
        count = pods.len(),
        bad = bad
    );
    if pods.is_empty() {
        return format!("{head}\n{}", t!(lang, "kubectl.no_pods"));
    }
    fit(lang, &head, &lines_table(lines, all_ns, wide, now, lang))
}

pub(super) async fn get(k: &K<'_, '_>, a: GetArgs) -> Outcome {
    let ctx = k.ctx;
    let Some(kind) = Kind::parse(&a.kind) else {
        return bad_input(
            ctx,
            &format!("unknown kind {:?} (use one of: {KINDS_HELP})", a.kind),
        );
    };
    if let Some(s) = &a.selector
        && let Err(e) = validate_selector(s)
    {
        return bad_input(ctx, &e);
    }
    if let Some(n) = &a.name
        && let Err(e) = validate_name(n)
    {
        return bad_input(ctx, &e);
    }
    let mut lp = list_params(a.selector.as_deref());
    if let Some(n) = &a.name {
        lp = lp.fields(&format!("metadata.name={n}"));
    }
    let all = a.all_namespaces && !kind.cluster_scoped();
    let wide = a.output == Some(OutputFormat::Wide);
    let lang = ctx.lang;
    let now = now();
    let scope = if kind.cluster_scoped() {
        t!(lang, "kubectl.cluster").to_string()
    } else if all {
        t!(lang, "kubectl.all_namespaces").to_string()
    } else {
        format!("ns/{}", k.ns)
    };
    let context = k.cluster.context.clone();
    let head = |n: usize| {
        t!(
            lang,
            "kubectl.get_head",
            context = context,
            scope = scope,
            count = n,
            kind = kind.word()
        )
    };
    let none = || {
        reply(
            ctx,
            format!("{}\n{}", head(0), t!(lang, "kubectl.no_resources_found")),
        )
    };
    let client = k.cluster.client.clone();
    let (header, rows) = match kind {
        Kind::Pod => {
            // Only the columns' fields are decoded (see pod_rows.rs); same request.
            let list = try_call!(k, api_ns::<PodRow>(k, all).list(&lp));
            let pods: Vec<Pod> = list
                .items
                .into_iter()
                .map(|r| r.0)
                .filter(|p| !all || k.visible_ns(ns_of(&p.metadata)))
                .collect();
            return reply(
                ctx,
                pods_reply(&context, &scope, &pods, all, wide, now, lang),
            );
        }
        Kind::Deployment => {
            or_return!(table::<Deployment>(k, api_ns(k, all), &lp, all, false).await)
        }
        Kind::StatefulSet => {
            or_return!(table::<StatefulSet>(k, api_ns(k, all), &lp, all, false).await)
        }
        Kind::DaemonSet => or_return!(table::<DaemonSet>(k, api_ns(k, all), &lp, all, false).await),
        Kind::Service => or_return!(table::<Service>(k, api_ns(k, all), &lp, all, false).await),
        Kind::Event => or_return!(table::<Event>(k, api_ns(k, all), &lp, all, false).await),
        Kind::Ingress => or_return!(table::<Ingress>(k, api_ns(k, all), &lp, all, false).await),
        Kind::Job => or_return!(table::<Job>(k, api_ns(k, all), &lp, all, false).await),
        Kind::Node => or_return!(table::<Node>(k, Api::all(client), &lp, false, false).await),
        Kind::Namespace => {
            or_return!(table::<Namespace>(k, Api::all(client), &lp, false, true).await)
        }
    };
    if rows.is_empty() {
        return none();
    }
    reply(
        ctx,
        fit(lang, &head(rows.len()), &table::render(&header, &rows)),
    )
}

pub(super) fn ns_col(all: bool, m: &ObjectMeta) -> Vec<String> {
    if all {
        vec![ns_of(m).to_string()]
    } else {
        Vec::new()
    }
}

pub(super) fn with_ns<'a>(all: bool, cols: &[&'a str]) -> Vec<&'a str> {
    let mut v = Vec::with_capacity(cols.len() + 1);
    if all {
        v.push("NAMESPACE");
    }
    v.extend_from_slice(cols);
    v
}

pub(super) fn job_status(j: &Job) -> String {
    let conds = j
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[]);
    for want in ["Failed", "Complete", "Suspended"] {
        if conds.iter().any(|c| c.type_ == want && c.status == "True") {
            return want.into();
        }
    }
    "Running".into()
}

/// `Ready`, `NotReady`, `Unknown`, plus `SchedulingDisabled` when cordoned.
pub(super) fn node_status(n: &Node) -> (bool, String) {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone());
    let (ok, mut s) = match ready.as_deref() {
        Some("True") => (true, "Ready".to_string()),
        Some("False") => (false, "NotReady".to_string()),
        _ => (false, "Unknown".to_string()),
    };
    if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        s.push_str(",SchedulingDisabled");
    }
    (ok, s)
}

pub(super) fn node_roles(n: &Node) -> String {
    let roles: Vec<&str> = n
        .metadata
        .labels
        .as_ref()
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .collect()
        })
        .unwrap_or_default();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

/// When an event last happened: lastTimestamp, else eventTime, else series, else creation.
pub(super) fn event_time(e: &Event) -> Option<i64> {
    e.last_timestamp
        .as_ref()
        .map(secs)
        .or_else(|| e.event_time.as_ref().map(|t| t.0.as_second()))
        .or_else(|| {
            e.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0.as_second())
        })
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(secs))
}
