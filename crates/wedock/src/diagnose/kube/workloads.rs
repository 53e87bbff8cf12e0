//! Nodes and deployments: a node by its conditions and events, a deployment by its rollout,
//! its worst pod (through the pod collector of the parent module) and its autoscalers.

use super::{Calls, EVENTS_SHOWN, Missing, pod_evidence};
use crate::diagnose::Evidence;
use crate::diagnose::signatures::shorten;
use crate::diagnose::text::Say;
use crate::i18n::Lang;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};

/// The node's condition summary, whether it is not ready, and its pressure conditions.
pub(super) fn node_state(n: &Node) -> (String, bool, Vec<String>) {
    let conds = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let ready = conds.iter().find(|c| c.type_ == "Ready");
    let not_ready = ready.is_none_or(|c| c.status != "True");
    let pressure: Vec<String> = conds
        .iter()
        .filter(|c| c.type_.ends_with("Pressure") && c.status == "True")
        .map(|c| c.type_.clone())
        .collect();
    let mut parts = Vec::new();
    if let Some(r) = ready {
        parts.push(format!(
            "Ready={} ({})",
            r.status,
            r.message.clone().or(r.reason.clone()).unwrap_or_default()
        ));
    }
    parts.extend(pressure.iter().cloned());
    if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        parts.push("SchedulingDisabled".into());
    }
    (parts.join(", "), not_ready, pressure)
}

pub(super) async fn node(c: &Calls<'_>, name: &str, lang: Lang) -> Result<Evidence, Missing> {
    let api: Api<Node> = Api::all(c.client.clone());
    let n = c.get_or_closest(&api, name).await?;
    let mut ev = Evidence {
        target: format!("node/{name}"),
        name: name.to_string(),
        ..Evidence::default()
    };
    let (state, not_ready, pressure) = node_state(&n);
    ev.lines
        .push(Say::NodeLine.fill(lang, &[("node", name), ("state", &state)]));
    let f = &mut ev.facts;
    f.var("node", name);
    f.var("name", name);
    if not_ready {
        f.flag("node_not_ready");
    }
    if !pressure.is_empty() {
        f.flag("node_pressure");
    }
    f.texts.extend(pressure);
    for cond in n.status.iter().flat_map(|s| s.conditions.iter().flatten()) {
        if (cond.status != "False" || cond.type_ == "Ready")
            && let Some(m) = &cond.message
        {
            f.texts.push(m.clone());
            if cond.type_ == "Ready" && not_ready {
                f.var("message", shorten(m, 160));
            }
        }
    }
    for e in c
        .events("Node", name, false)
        .await
        .iter()
        .rev()
        .take(EVENTS_SHOWN)
    {
        if let Some(r) = &e.reason {
            ev.facts.event_reasons.push(r.clone());
            ev.facts.texts.push(r.clone());
        }
        ev.lines.push(Say::EventLine.fill(
            lang,
            &[(
                "event",
                &format!(
                    "{}: {}",
                    e.reason.clone().unwrap_or_default(),
                    shorten(e.message.as_deref().unwrap_or(""), 160)
                ),
            )],
        ));
    }
    ev.healthy = !not_ready && ev.facts.flags.is_empty();
    ev.next = vec![
        format!("/k describe node/{name}"),
        format!("/k get pods -A --field-selector spec.nodeName={name}"),
    ];
    Ok(ev)
}

pub(super) async fn deployment(c: &Calls<'_>, name: &str, lang: Lang) -> Result<Evidence, Missing> {
    let api: Api<Deployment> = Api::namespaced(c.client.clone(), c.ns);
    let d = c.get_or_closest(&api, name).await?;
    let mut ev = Evidence {
        target: format!("deploy/{name} -n {}", c.ns),
        name: name.to_string(),
        ..Evidence::default()
    };
    let (done, sentence) = crate::ops::kube_status::deployment_rollout(&d);
    ev.lines
        .push(Say::RolloutLine.fill(lang, &[("rollout", &sentence)]));
    let st = d.status.clone().unwrap_or_default();
    for cond in st.conditions.iter().flatten() {
        if let Some(m) = &cond.message {
            ev.facts.texts.push(m.clone());
        }
        if cond.type_ == "Progressing" && cond.reason.as_deref() == Some("ProgressDeadlineExceeded")
        {
            ev.facts.flag("rollout_stalled");
            ev.facts
                .var("message", cond.message.clone().unwrap_or_default());
        }
    }
    ev.facts.var("name", name);
    // The worst pod of the deployment speaks for it.
    let selector = d
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = if selector.is_empty() {
        Vec::new()
    } else {
        c.run(c.pods().list(&ListParams::default().labels(&selector)))
            .await
            .map(|l| l.items)
            .unwrap_or_default()
    };
    let worst = pods.iter().find(|p| !pod_ready(p));
    let mut healthy = done && !ev.facts.flags.contains("rollout_stalled");
    if let Some(p) = worst {
        let pname = p.metadata.name.clone().unwrap_or_default();
        let mut pod_ev = Evidence::default();
        pod_evidence(c, p, lang, &mut pod_ev).await;
        healthy &= pod_ev.healthy;
        ev.lines.push(format!("— pod/{pname} —"));
        ev.lines.extend(pod_ev.lines);
        let keep = std::mem::take(&mut ev.facts);
        ev.facts = pod_ev.facts;
        ev.facts.flags.extend(keep.flags);
        ev.facts.texts.extend(keep.texts);
        for (k, v) in keep.vars {
            ev.facts.vars.insert(k, v);
        }
        ev.next = vec![
            format!("/k logs {pname} -n {} --previous", c.ns),
            format!("/k describe pod/{pname} -n {}", c.ns),
        ];
    }
    ev.next
        .push(format!("/k rollout status deploy/{name} -n {}", c.ns));
    healthy &= hpa_facts(c, name, lang, &mut ev).await;
    ev.healthy = healthy;
    Ok(ev)
}

/// The autoscalers of Deployment `name`: a line for each one that cannot scale (metrics
/// unreadable, scale target missing), with its condition as a fact. False when any cannot.
/// An autoscaler list the asker may not read is left out.
async fn hpa_facts(c: &Calls<'_>, name: &str, lang: Lang, ev: &mut Evidence) -> bool {
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(c.client.clone(), c.ns);
    let Ok(list) = c.run(api.list(&ListParams::default())).await else {
        return true;
    };
    let mut ok = true;
    for h in list.items {
        let Some(spec) = &h.spec else { continue };
        if spec.scale_target_ref.kind != "Deployment" || spec.scale_target_ref.name != name {
            continue;
        }
        let hname = h.metadata.name.clone().unwrap_or_default();
        let failing = h
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .filter(|cond| cond.status == "False" && cond.type_ != "ScalingLimited");
        for cond in failing {
            ok = false;
            let reason = cond.reason.clone().unwrap_or_default();
            let message = cond.message.clone().unwrap_or_default();
            ev.facts.reasons.push(reason.clone());
            ev.facts.texts.push(format!("{reason}: {message}"));
            let state = format!(
                "{}=False ({reason}): {}",
                cond.type_,
                shorten(&message, 200)
            );
            ev.lines
                .push(Say::HpaLine.fill(lang, &[("name", &hname), ("state", &state)]));
        }
    }
    ok
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}
