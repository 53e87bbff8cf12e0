//! Evidence about a Kubernetes pod, deployment or node: pod phase and conditions, each
//! container's state and `lastState.terminated`, waiting reasons, events, previous logs,
//! probes, requests/limits, the node's conditions, PVC binding, `imagePullSecrets`, the
//! owning Deployment's rollout. Nodes and deployments are in `kube/workloads.rs`.

mod workloads;

use super::Evidence;
use super::signatures::{Facts, shorten};
use super::text::Say;
use crate::i18n::Lang;
use crate::ops::kube::CallError;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Container, ContainerStatus, Event, Node, PersistentVolumeClaim, Pod,
};
use kube::api::{Api, ListParams, LogParams};
use std::time::Duration;
use workloads::{deployment, node, node_state};

/// Log lines of the previous (or current) run read per container.
const LOG_LINES: i64 = 30;
/// Events shown.
pub(super) const EVENTS_SHOWN: usize = 5;
/// Restarts that make a restart loop.
const LOOP_RESTARTS: i32 = 3;

/// Why there is no evidence.
pub enum Missing {
    Call(CallError),
    /// No such object; the closest names of that kind.
    NotFound {
        close: Vec<String>,
    },
}

/// Collects the evidence for `kind/name` in `ns` (nodes ignore it).
pub async fn collect(
    client: &kube::Client,
    ns: &str,
    kind: KubeKind,
    name: &str,
    lang: Lang,
    timeout: Duration,
) -> Result<Evidence, Missing> {
    let c = Calls {
        client,
        ns,
        timeout,
    };
    match kind {
        KubeKind::Pod => {
            let pod = c.pod(name).await?;
            let mut ev = Evidence {
                target: format!("pod/{name} -n {ns}"),
                name: name.to_string(),
                ..Evidence::default()
            };
            pod_evidence(&c, &pod, lang, &mut ev).await;
            ev.next = vec![
                format!("/k logs {name} -n {ns} --previous"),
                format!("/k describe pod/{name} -n {ns}"),
            ];
            Ok(ev)
        }
        KubeKind::Deployment => deployment(&c, name, lang).await,
        KubeKind::Node => node(&c, name, lang).await,
    }
}

pub(super) struct Calls<'a> {
    pub(super) client: &'a kube::Client,
    pub(super) ns: &'a str,
    timeout: Duration,
}

impl Calls<'_> {
    pub(super) async fn run<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(CallError::from_kube(&e)),
            Err(_) => Err(CallError::Transport(format!(
                "no answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    pub(super) fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), self.ns)
    }

    /// The pod, or `NotFound` with the closest pod names in the namespace.
    async fn pod(&self, name: &str) -> Result<Pod, Missing> {
        self.get_or_closest(&self.pods(), name).await
    }

    /// The named object, or `NotFound` with the closest names `api` lists, so a typo gets
    /// "did you mean" instead of a bare "not found".
    pub(super) async fn get_or_closest<K>(&self, api: &Api<K>, name: &str) -> Result<K, Missing>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match self.run(api.get_opt(name)).await {
            Ok(Some(k)) => Ok(k),
            Ok(None) => {
                let all = self
                    .run(api.list(&ListParams::default()))
                    .await
                    .map(|l| l.items)
                    .unwrap_or_default();
                let names = all.iter().filter_map(|k| k.meta().name.clone());
                Err(Missing::NotFound {
                    close: closest(name, names),
                })
            }
            Err(e) => Err(Missing::Call(e)),
        }
    }

    /// Warning and normal events about an object, oldest first. Events are evidence, not
    /// the verdict's condition: a refused or slow list leaves them out.
    pub(super) async fn events(&self, kind: &str, name: &str, namespaced: bool) -> Vec<Event> {
        let lp = ListParams::default().fields(&format!(
            "involvedObject.name={name},involvedObject.kind={kind}"
        ));
        let api: Api<Event> = if namespaced {
            Api::namespaced(self.client.clone(), self.ns)
        } else {
            Api::all(self.client.clone())
        };
        let mut evs = self
            .run(api.list(&lp))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        evs.sort_by_key(|e| {
            e.last_timestamp
                .as_ref()
                .map(|t| t.0.as_second())
                .unwrap_or(0)
        });
        evs
    }

    async fn logs(&self, pod: &str, container: &str, previous: bool) -> Option<String> {
        let lp = LogParams {
            container: Some(container.to_string()),
            previous,
            tail_lines: Some(LOG_LINES),
            ..LogParams::default()
        };
        self.run(self.pods().logs(pod, &lp)).await.ok()
    }
}

pub(super) fn closest(name: &str, all: impl Iterator<Item = String>) -> Vec<String> {
    let mut scored: Vec<(usize, String)> = all
        .map(|n| {
            let d = if n.starts_with(name) || name.starts_with(&n) {
                0
            } else {
                crate::ops::docker::edit_distance(name, &n)
            };
            (d, n)
        })
        .filter(|(d, n)| *d <= (n.len().max(name.len()) / 2).max(2))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Everything about one pod into `ev`.
pub(super) async fn pod_evidence(c: &Calls<'_>, pod: &Pod, lang: Lang, ev: &mut Evidence) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let st = pod.status.clone().unwrap_or_default();
    let f = &mut ev.facts;
    let phase = st.phase.clone().unwrap_or_default();
    f.status = Some(phase.clone());
    f.var("name", &name);
    f.var("status", &phase);
    ev.lines
        .push(Say::PodPhaseLine.fill(lang, &[("phase", &pod_state(pod))]));
    if let Some(r) = &st.reason {
        f.reasons.push(r.clone());
    }
    if let Some(m) = st.message.as_deref().filter(|m| !m.is_empty()) {
        f.texts.push(m.to_string());
        f.var("message", shorten(m, 200));
        ev.lines.push(shorten(m, 200));
    }
    let bad: Vec<String> = st
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.status != "True")
        .map(|c| match &c.reason {
            Some(r) => format!("{}={} ({r})", c.type_, c.status),
            None => format!("{}={}", c.type_, c.status),
        })
        .collect();
    if !bad.is_empty() {
        ev.lines
            .push(Say::ConditionLine.fill(lang, &[("conditions", &bad.join(", "))]));
    }
    for cond in st.conditions.iter().flatten() {
        if let Some(m) = &cond.message {
            f.texts.push(m.clone());
        }
    }
    // Stuck in Terminating: marked for deletion longer than its grace period.
    if let Some(t) = &pod.metadata.deletion_timestamp {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(30);
        if chrono::Utc::now().timestamp() > t.0.as_second() + grace {
            f.flag("stuck_terminating");
        }
        let fin = pod.metadata.finalizers.clone().unwrap_or_default();
        ev.lines.push(format!(
            "Terminating · finalizers: {}",
            if fin.is_empty() {
                "-".to_string()
            } else {
                fin.join(", ")
            }
        ));
    }

    // Init containers first: the main ones do not start before they finish.
    let inits = st.init_container_statuses.clone().unwrap_or_default();
    let init_total = inits.len();
    let init_done = inits
        .iter()
        .filter(|s| {
            s.state
                .as_ref()
                .and_then(|x| x.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0)
        })
        .count();
    if init_total > 0 && init_done < init_total && phase == "Pending" {
        f.flag("init_stuck");
    }
    let mut restarts = 0;
    let mut all_ready = true;
    let mut log_wanted: Vec<(String, bool)> = Vec::new();
    for (is_init, cs) in inits
        .iter()
        .map(|s| (true, s))
        .chain(st.container_statuses.iter().flatten().map(|s| (false, s)))
    {
        if is_init && init_done == init_total {
            continue;
        }
        let shown = container_state(cs, f);
        restarts = restarts.max(cs.restart_count);
        all_ready &= is_init || cs.ready;
        ev.lines
            .push(Say::ContainerStateLine.fill(lang, &[("name", &cs.name), ("state", &shown)]));
        let crashed_before = cs
            .last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .is_some();
        let waiting_or_dead = cs.state.as_ref().is_some_and(|s| s.running.is_none());
        if crashed_before || waiting_or_dead || !cs.ready {
            log_wanted.push((cs.name.clone(), crashed_before));
        }
    }
    f.restarts = Some(restarts.into());
    f.var("restarts", restarts.to_string());
    if restarts >= LOOP_RESTARTS {
        f.flag("restart_loop");
    }
    if let Some(img) = spec.containers.first().and_then(|c| c.image.clone()) {
        f.var("image", img);
    }

    // Probes, requests and limits of the containers that are not well.
    for ctr in spec
        .containers
        .iter()
        .filter(|c| log_wanted.iter().any(|(n, _)| *n == c.name))
    {
        if let Some(p) = probes(ctr) {
            ev.lines.push(Say::ProbeLine.fill(lang, &[("probes", &p)]));
        }
        let (req, lim) = resources(ctr);
        if let Some(l) = ctr
            .resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("memory"))
        {
            f.var("limit", l.0.clone());
        }
        ev.lines
            .push(Say::ResourcesLine.fill(lang, &[("requests", &req), ("limits", &lim)]));
    }

    // Image pull secrets matter when a pull fails.
    if f.waiting_reasons.iter().any(|r| r.contains("Image")) {
        let secrets: Vec<String> = spec
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|s| s.name.clone())
            .collect();
        let shown = if secrets.is_empty() {
            "-".to_string()
        } else {
            secrets.join(", ")
        };
        ev.lines
            .push(Say::PullSecretLine.fill(lang, &[("secrets", &shown)]));
    }

    // Events, previous logs, node and PVCs in parallel.
    let events = c.events("Pod", &name, true);
    let logs = async {
        let mut out = Vec::new();
        for (ctr, previous) in log_wanted.iter().take(2) {
            let text = match c.logs(&name, ctr, *previous).await {
                Some(t) => Some(t),
                None if *previous => c.logs(&name, ctr, false).await,
                None => None,
            };
            if let Some(t) = text {
                out.push(t);
            }
        }
        out
    };
    let node_name = spec.node_name.clone();
    let node = async {
        match &node_name {
            Some(n) => c
                .run(Api::<Node>::all(c.client.clone()).get_opt(n))
                .await
                .ok()
                .flatten(),
            None => None,
        }
    };
    let claims: Vec<String> = spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|p| p.claim_name.clone())
        })
        .collect();
    let pvcs = async {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), c.ns);
        let mut out = Vec::new();
        for claim in &claims {
            let phase = match c.run(api.get_opt(claim)).await {
                Ok(Some(p)) => p.status.and_then(|s| s.phase).unwrap_or_default(),
                Ok(None) => "NotFound".to_string(),
                Err(_) => continue,
            };
            out.push((claim.clone(), phase));
        }
        out
    };
    let (events, logs, node, pvcs) = tokio::join!(events, logs, node, pvcs);

    for e in &events {
        if let Some(r) = &e.reason {
            f.event_reasons.push(r.clone());
        }
        if e.type_.as_deref() == Some("Warning")
            && let Some(m) = &e.message
        {
            f.texts.insert(0, m.clone());
        }
    }
    for e in events
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .rev()
        .take(EVENTS_SHOWN)
    {
        let count = e
            .count
            .filter(|c| *c > 1)
            .map(|c| format!(" ×{c}"))
            .unwrap_or_default();
        ev.lines.push(Say::EventLine.fill(
            lang,
            &[(
                "event",
                &format!(
                    "{}{count}: {}",
                    e.reason.clone().unwrap_or_default(),
                    shorten(e.message.as_deref().unwrap_or(""), 160)
                ),
            )],
        ));
    }
    if let Some(m) = events
        .iter()
        .rev()
        .find(|e| e.type_.as_deref() == Some("Warning"))
        .and_then(|e| e.message.clone())
        && !f.vars.contains_key("message")
    {
        f.var("message", shorten(&m, 200));
    }

    let mut log_lines: Vec<String> = Vec::new();
    for t in &logs {
        log_lines.extend(
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    if let Some(l) = log_lines
        .iter()
        .rev()
        .find(|l| super::looks_like_error(l))
        .or(log_lines.last())
    {
        f.var("last_error", shorten(l, 200));
    }
    f.texts.extend(log_lines.iter().rev().cloned());

    if let Some(n) = &node {
        let (state, not_ready, pressure) = node_state(n);
        if not_ready || !pressure.is_empty() {
            f.var("node", node_name.clone().unwrap_or_default());
            ev.lines.push(Say::NodeLine.fill(
                lang,
                &[
                    ("node", node_name.as_deref().unwrap_or("")),
                    ("state", &state),
                ],
            ));
            if not_ready {
                f.flag("node_not_ready");
            }
            if !pressure.is_empty() {
                f.flag("node_pressure");
                f.texts.extend(pressure);
            }
        }
    }
    for (claim, phase) in &pvcs {
        ev.lines
            .push(Say::PvcLine.fill(lang, &[("name", claim), ("phase", phase)]));
        if phase != "Bound" {
            f.flag("unbound_pvc");
        }
    }

    // The owning Deployment's rollout (through its ReplicaSet's name).
    if let Some(rs) = owner(pod, "ReplicaSet")
        && let Some((deploy, _)) = rs.rsplit_once('-')
        && let Ok(Some(d)) = c
            .run(Api::<Deployment>::namespaced(c.client.clone(), c.ns).get_opt(deploy))
            .await
    {
        rollout_facts(&d, lang, ev);
    }

    // The owning Job: its Failed condition says whether the retries are over.
    if let Some(job) = owner(pod, "Job")
        && let Ok(Some(j)) = c
            .run(Api::<Job>::namespaced(c.client.clone(), c.ns).get_opt(&job))
            .await
    {
        job_facts(&j, lang, ev);
    }

    let f = &ev.facts;
    ev.healthy = (phase == "Running" && all_ready && f.waiting_reasons.is_empty()
        || phase == "Succeeded")
        && !f.flags.contains("restart_loop")
        && !f.flags.contains("stuck_terminating")
        && !f.flags.contains("rollout_stalled");
}

/// The name of the pod's owner of `kind`.
fn owner(pod: &Pod, kind: &str) -> Option<String> {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == kind)
        .map(|o| o.name.clone())
}

/// The Job's state line, and its failure (`BackoffLimitExceeded`, `DeadlineExceeded`) as a
/// fact when it has given up.
fn job_facts(j: &Job, lang: Lang, ev: &mut Evidence) {
    let name = j.metadata.name.clone().unwrap_or_default();
    let st = j.status.clone().unwrap_or_default();
    let failed = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed" && c.status == "True");
    let state = match failed {
        Some(c) => {
            let reason = c.reason.clone().unwrap_or_default();
            let message = c.message.clone().unwrap_or_default();
            ev.facts.reasons.push(reason.clone());
            ev.facts.texts.push(format!("{reason}: {message}"));
            format!(
                "Failed ({reason}: {message}), {} failed",
                st.failed.unwrap_or(0)
            )
        }
        None => format!(
            "{} active, {} succeeded, {} failed",
            st.active.unwrap_or(0),
            st.succeeded.unwrap_or(0),
            st.failed.unwrap_or(0)
        ),
    };
    ev.lines
        .push(Say::JobLine.fill(lang, &[("name", &name), ("state", &state)]));
}

/// The Deployment's rollout line and its stall flag.
fn rollout_facts(d: &Deployment, lang: Lang, ev: &mut Evidence) {
    let (done, sentence) = crate::ops::kube_status::deployment_rollout(d);
    let stalled = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Progressing"))
        .is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
    if stalled {
        ev.facts.flag("rollout_stalled");
        ev.facts.texts.push(sentence.clone());
    }
    if !done || stalled {
        ev.lines
            .push(Say::RolloutLine.fill(lang, &[("rollout", &sentence)]));
    }
}

/// `CrashLoopBackOff (last: Error, exit 1, 5 restarts)` and the container's facts.
fn container_state(cs: &ContainerStatus, f: &mut Facts) -> String {
    let mut parts = Vec::new();
    if let Some(s) = &cs.state {
        if let Some(w) = &s.waiting {
            let r = w.reason.clone().unwrap_or_else(|| "Waiting".into());
            f.waiting_reasons.push(r.clone());
            if let Some(m) = &w.message {
                f.texts.push(m.clone());
            }
            parts.push(r);
        } else if let Some(t) = &s.terminated {
            let r = t.reason.clone().unwrap_or_else(|| "Terminated".into());
            f.reasons.push(r.clone());
            if f.exit_code.is_none() {
                f.exit_code = Some(t.exit_code.into());
                f.var("exit_code", t.exit_code.to_string());
            }
            if let Some(m) = &t.message {
                f.texts.push(m.clone());
            }
            parts.push(format!("{r}, exit {}", t.exit_code));
        } else if s.running.is_some() {
            parts.push(
                if cs.ready {
                    "Running, ready"
                } else {
                    "Running, not ready"
                }
                .into(),
            );
        }
    }
    if let Some(t) = cs.last_state.as_ref().and_then(|l| l.terminated.as_ref()) {
        let r = t.reason.clone().unwrap_or_default();
        f.reasons.push(r.clone());
        f.exit_code = Some(t.exit_code.into());
        f.var("exit_code", t.exit_code.to_string());
        if r == "OOMKilled" {
            f.oom_killed = Some(true);
        }
        if let Some(m) = &t.message {
            f.texts.push(m.clone());
        }
        parts.push(format!("last: {r}, exit {}", t.exit_code));
    }
    if cs.restart_count > 0 {
        parts.push(format!("{} restarts", cs.restart_count));
    }
    parts.join(" · ")
}

fn probes(c: &Container) -> Option<String> {
    let one = |name: &str, p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref().map(|p| {
            let how = if let Some(h) = &p.http_get {
                let port = match &h.port {
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => {
                        i.to_string()
                    }
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                        s.clone()
                    }
                };
                format!("http {}:{port}", h.path.clone().unwrap_or_default())
            } else if p.tcp_socket.is_some() {
                "tcp".to_string()
            } else if p.exec.is_some() {
                "exec".to_string()
            } else {
                "grpc".to_string()
            };
            format!(
                "{name} {how} delay {}s period {}s failures {}",
                p.initial_delay_seconds.unwrap_or(0),
                p.period_seconds.unwrap_or(10),
                p.failure_threshold.unwrap_or(3)
            )
        })
    };
    let all: Vec<String> = [
        one("liveness", &c.liveness_probe),
        one("readiness", &c.readiness_probe),
        one("startup", &c.startup_probe),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!all.is_empty()).then(|| all.join("; "))
}

fn resources(c: &Container) -> (String, String) {
    let show = |m: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >| {
        match m {
            Some(m) if !m.is_empty() => m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.0))
                .collect::<Vec<_>>()
                .join(","),
            _ => "-".to_string(),
        }
    };
    let r = c.resources.as_ref();
    (
        show(r.and_then(|r| r.requests.as_ref())),
        show(r.and_then(|r| r.limits.as_ref())),
    )
}

/// kubectl's STATUS column for the pod.
fn pod_state(p: &Pod) -> String {
    crate::ops::kube_status::pod_status(p)
}

/// The Kubernetes kinds `/diagnose` takes, by the prefixes kubectl accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeKind {
    Pod,
    Deployment,
    Node,
}

/// `pod/web-1` → (Pod, "web-1"); `None` for a container name.
pub fn kube_target(target: &str) -> Option<(KubeKind, &str)> {
    let (k, name) = target.split_once('/')?;
    let kind = match k.to_ascii_lowercase().as_str() {
        "pod" | "pods" | "po" => KubeKind::Pod,
        "deploy" | "deployment" | "deployments" => KubeKind::Deployment,
        "node" | "nodes" | "no" => KubeKind::Node,
        _ => return None,
    };
    Some((kind, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_prefer_prefixes_and_small_typos() {
        let all = ["web-7d4b8c9f6-x2x9q", "api-5f7d-abcde", "worker"].map(String::from);
        assert_eq!(
            closest("web", all.clone().into_iter()),
            vec!["web-7d4b8c9f6-x2x9q"]
        );
        assert_eq!(closest("workr", all.clone().into_iter()), vec!["worker"]);
        assert!(closest("zzzzzzzz", all.into_iter()).is_empty());
    }
}
