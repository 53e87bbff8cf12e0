//! Cluster watchers → alerts, per kubeconfig context: Pods (CrashLoopBackOff, OOMKilled,
//! image pull failures, config errors, Pending too long), Nodes (NotReady, pressure),
//! Deployments (unavailable), Jobs (failed) and, when asked for, Warning events.
//!
//! kube-runtime's watcher lists, then watches from the list's resourceVersion, resumes from the
//! last resourceVersion it saw when a stream ends, and lists again after an in-stream 410. A
//! re-list replays every object, so alerts are raised on *transitions*: the [`Tracker`] keeps
//! the set of problems currently known ("active"), alerts only for a problem not in it, and
//! forgets a problem when its object no longer shows it. The active set is stored in the
//! store's kv after every change, so a restarted process or a new leader does not alert again
//! for problems already reported; each alert's event id is derived from the problem and the
//! time it was first seen, so the outbox's dedup key drops a replayed submit.

use super::{Alert, Engine, Severity};
use crate::config::KubeAlertsConfig;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WEvent};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

mod stream;
pub use stream::watch;
use stream::*;
#[cfg(test)]
mod tests;

/// Largest number of remembered problems per context; beyond it the oldest are forgotten
/// (they may then alert again once), so memory stays bounded whatever the cluster does.
const MAX_ACTIVE: usize = 20_000;

pub fn active_key(context: &str) -> String {
    format!("alerts:k8s:active:{context}")
}

/// Which container's logs an alert wants attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogsOf {
    None,
    /// (namespace, pod, container, previous instance)
    Container(String, String, String, bool),
    /// The newest pod of a Job: (namespace, job)
    JobPod(String, String),
}

/// A new problem: the alert and the logs to attach.
#[derive(Debug, Clone)]
pub struct Found {
    pub alert: Alert,
    pub logs: LogsOf,
}

struct Problem {
    /// Stable identity: object, uid, container, reason (and the occurrence for OOM kills).
    fp: String,
    alert: Alert,
    logs: LogsOf,
    /// Send a "recovered" alert when it goes away.
    resolvable: bool,
}

/// Turns object states into alerts on transitions. Pure state machine: the watch loop feeds
/// it, tests and benches drive it directly.
pub struct Tracker {
    context: String,
    cfg: KubeAlertsConfig,
    pending_after_ms: i64,
    kinds: HashSet<String>,
    namespaces: Vec<glob::Pattern>,
    exclude: Vec<glob::Pattern>,
    names: Vec<glob::Pattern>,
    /// Object key → the problems it shows now (fingerprint, alert to base a recovery on).
    by_obj: HashMap<String, Vec<(String, Option<Alert>)>>,
    /// Problem fingerprint → when it was first seen (ms); persisted.
    active: HashMap<String, i64>,
    /// Pods that are Pending, re-checked by `tick` since no update may come.
    pending: HashMap<String, Pod>,
    /// Object keys seen since the watcher's last `Init`, per object kind.
    resync: HashMap<&'static str, HashSet<String>>,
    dirty: bool,
}

fn globs(v: &[String]) -> Vec<glob::Pattern> {
    v.iter()
        .filter_map(|g| glob::Pattern::new(g).ok())
        .collect()
}

fn ms(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> i64 {
    t.0.as_millisecond()
}

impl Tracker {
    pub fn new(context: &str, cfg: &KubeAlertsConfig) -> Tracker {
        let kinds: HashSet<String> = if cfg.reasons.is_empty() {
            crate::config::KUBE_ALERT_KINDS
                .iter()
                .filter(|k| **k != "event")
                .map(|k| k.to_string())
                .collect()
        } else {
            cfg.reasons.iter().cloned().collect()
        };
        let pending_after_ms = humantime::parse_duration(&cfg.pending_after)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(300_000);
        Tracker {
            context: context.to_string(),
            kinds,
            namespaces: globs(&cfg.namespaces),
            exclude: globs(&cfg.exclude_namespaces),
            names: globs(&cfg.names),
            cfg: cfg.clone(),
            pending_after_ms,
            by_obj: HashMap::new(),
            active: HashMap::new(),
            pending: HashMap::new(),
            resync: HashMap::new(),
            dirty: false,
        }
    }

    /// Restores the problems already reported (from the store).
    pub fn restore(&mut self, json: &str) {
        if let Ok(m) = serde_json::from_str::<HashMap<String, i64>>(json) {
            self.active = m;
        }
    }

    /// The active set as JSON when it changed since the last call.
    pub fn take_dirty(&mut self) -> Option<String> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        serde_json::to_string(&self.active).ok()
    }

    /// Problems currently remembered (bounded by [`MAX_ACTIVE`]).
    pub fn active_len(&self) -> usize {
        self.active.len()
    }

    /// Objects remembered (those with problems, plus Pending pods).
    pub fn tracked_len(&self) -> usize {
        self.by_obj.len() + self.pending.len()
    }

    fn wanted(&self, m: &ObjectMeta) -> bool {
        let ns = m.namespace.as_deref().unwrap_or("");
        let name = m.name.as_deref().unwrap_or("");
        if !ns.is_empty() {
            if !self.namespaces.is_empty() && !self.namespaces.iter().any(|p| p.matches(ns)) {
                return false;
            }
            if self.exclude.iter().any(|p| p.matches(ns)) {
                return false;
            }
        }
        self.names.is_empty() || self.names.iter().any(|p| p.matches(name))
    }

    fn base(&self, kind: &str, sev: Severity, m: &ObjectMeta, subject: String) -> Alert {
        let mut a = Alert::new("kubernetes", kind, sev, String::new());
        a.host = Some(self.context.clone());
        a.project = m.namespace.clone();
        a.container = Some(subject);
        a.labels = m
            .labels
            .clone()
            .map(|l| l.into_iter().collect::<BTreeMap<_, _>>())
            .unwrap_or_default();
        a.group_key = format!(
            "k8s|{}|{}|{kind}",
            self.context,
            m.namespace.as_deref().unwrap_or("")
        );
        a
    }

    /// Records what an object shows now; returns the alerts for new (or resolved) problems.
    fn update(&mut self, key: String, problems: Vec<Problem>, now: i64) -> Vec<Found> {
        let mut out = Vec::new();
        let mut old: Vec<(String, Option<Alert>)> = self.by_obj.remove(&key).unwrap_or_default();
        // After a restart only the persisted fingerprints are known for this object.
        let prefix = format!("{key}|");
        for fp in self.active.keys() {
            if fp.starts_with(&prefix) && !old.iter().any(|(f, _)| f == fp) {
                old.push((fp.clone(), None));
            }
        }
        let now_fps: HashSet<&str> = problems.iter().map(|p| p.fp.as_str()).collect();
        for (fp, template) in &old {
            if now_fps.contains(fp.as_str()) {
                continue;
            }
            let first = self.active.remove(fp);
            self.dirty = true;
            if let (Some(first), Some(t)) = (first, template) {
                let mut r = t.clone();
                r.kind = "recovered".into();
                r.severity = Severity::Resolved;
                r.exit_code = None;
                r.logs = None;
                r.at = now;
                r.event_id = format!("k8s|{}|{fp}|{first}|resolved", self.context);
                out.push(Found {
                    alert: r,
                    logs: LogsOf::None,
                });
            }
        }
        let mut keep = Vec::new();
        for p in problems {
            if !self.active.contains_key(&p.fp) {
                if self.active.len() >= MAX_ACTIVE
                    && let Some(oldest) = self
                        .active
                        .iter()
                        .min_by_key(|(_, t)| **t)
                        .map(|(k, _)| k.clone())
                {
                    self.active.remove(&oldest);
                }
                self.active.insert(p.fp.clone(), now);
                self.dirty = true;
                let mut a = p.alert.clone();
                a.event_id = format!("k8s|{}|{}|{now}", self.context, p.fp);
                a.fingerprint = format!("k8s|{}|{}", self.context, p.fp);
                out.push(Found {
                    alert: a,
                    logs: p.logs.clone(),
                });
            }
            let mut template = p.alert;
            template.fingerprint = format!("k8s|{}|{}", self.context, p.fp);
            keep.push((p.fp, p.resolvable.then_some(template)));
        }
        if !keep.is_empty() {
            self.by_obj.insert(key, keep);
        }
        out
    }

    fn forget(&mut self, key: &str) {
        self.by_obj.remove(key);
        self.pending.remove(key);
        let prefix = format!("{key}|");
        let before = self.active.len();
        self.active.retain(|fp, _| !fp.starts_with(&prefix));
        if self.active.len() != before {
            self.dirty = true;
        }
    }

    fn container_problems(
        &self,
        p: &Pod,
        key: &str,
        c: &ContainerStatus,
        now: i64,
        out: &mut Vec<Problem>,
    ) {
        let m = &p.metadata;
        let ns = m.namespace.clone().unwrap_or_default();
        let pod = m.name.clone().unwrap_or_default();
        let uid = m.uid.as_deref().unwrap_or("");
        let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
        let wreason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
        let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
        let term_now = c.state.as_ref().and_then(|s| s.terminated.as_ref());
        let subject = format!("{pod}/{}", c.name);
        let mk = |kind: &str, sev: Severity| {
            let mut a = self.base(kind, sev, m, subject.clone());
            a.image = Some(c.image.clone());
            a.restarts = u32::try_from(c.restart_count).ok();
            a.at = now;
            a
        };
        // An OOM kill is one occurrence (its finish time), whether the container is still
        // terminated or already waiting to restart.
        let oom = [term_now, last]
            .into_iter()
            .flatten()
            .find(|t| t.reason.as_deref() == Some("OOMKilled"));
        if let Some(t) = oom
            && self.kinds.contains("oom")
        {
            let when = t.finished_at.as_ref().map(ms).unwrap_or(0);
            let mut a = mk("oom", Severity::Critical);
            a.exit_code = Some(i64::from(t.exit_code));
            a.text = waiting.and_then(|w| w.message.clone());
            out.push(Problem {
                fp: format!("{key}|{uid}|{}|oom|{when}", c.name),
                alert: a,
                logs: LogsOf::Container(
                    ns.clone(),
                    pod.clone(),
                    c.name.clone(),
                    term_now.is_none(),
                ),
                resolvable: false,
            });
        } else if wreason == "CrashLoopBackOff" && self.kinds.contains("crashloop") {
            let mut a = mk("crashloop", Severity::Critical);
            a.exit_code = last.map(|t| i64::from(t.exit_code));
            a.text = Some(match last {
                Some(t) => format!(
                    "last termination: {} (exit {})",
                    t.reason.as_deref().unwrap_or("Error"),
                    t.exit_code
                ),
                None => waiting.and_then(|w| w.message.clone()).unwrap_or_default(),
            });
            out.push(Problem {
                fp: format!("{key}|{uid}|{}|crashloop", c.name),
                alert: a,
                logs: LogsOf::Container(ns.clone(), pod.clone(), c.name.clone(), true),
                resolvable: false,
            });
        }
        let image_family = [
            "ImagePullBackOff",
            "ErrImagePull",
            "InvalidImageName",
            "ErrImageNeverPull",
        ];
        if image_family.contains(&wreason) && self.kinds.contains("image_pull") {
            let mut a = mk("image_pull", Severity::Warning);
            a.text = waiting.and_then(|w| w.message.clone());
            out.push(Problem {
                fp: format!("{key}|{uid}|{}|image_pull", c.name),
                alert: a,
                logs: LogsOf::None,
                resolvable: false,
            });
        }
        if matches!(
            wreason,
            "CreateContainerConfigError" | "CreateContainerError"
        ) && self.kinds.contains("config_error")
        {
            let mut a = mk("config_error", Severity::Warning);
            a.text = waiting.and_then(|w| w.message.clone());
            out.push(Problem {
                fp: format!("{key}|{uid}|{}|config_error", c.name),
                alert: a,
                logs: LogsOf::None,
                resolvable: false,
            });
        }
    }

    fn pod_problems(&self, p: &Pod, key: &str, now: i64) -> Vec<Problem> {
        let mut out = Vec::new();
        let st = p.status.as_ref();
        let statuses: Vec<&ContainerStatus> = st
            .map(|s| {
                s.init_container_statuses
                    .iter()
                    .flatten()
                    .chain(s.container_statuses.iter().flatten())
                    .collect()
            })
            .unwrap_or_default();
        for c in statuses {
            self.container_problems(p, key, c, now, &mut out);
        }
        let pending = st.and_then(|s| s.phase.as_deref()) == Some("Pending");
        if pending && out.is_empty() && self.kinds.contains("pending") {
            let created = p
                .metadata
                .creation_timestamp
                .as_ref()
                .map(ms)
                .unwrap_or(now);
            if now - created >= self.pending_after_ms {
                let m = &p.metadata;
                let mut a = self.base(
                    "pending",
                    Severity::Warning,
                    m,
                    m.name.clone().unwrap_or_default(),
                );
                a.at = now;
                a.text = st
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| {
                        c.iter()
                            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                    })
                    .and_then(|c| c.message.clone())
                    .or_else(|| Some(format!("Pending for {} s", (now - created) / 1000)));
                out.push(Problem {
                    fp: format!("{key}|{}|pending", m.uid.as_deref().unwrap_or("")),
                    alert: a,
                    logs: LogsOf::None,
                    resolvable: false,
                });
            }
        }
        out
    }

    pub fn apply_pod(&mut self, p: &Pod, now: i64) -> Vec<Found> {
        let key = obj_key("pod", &p.metadata);
        self.seen("pod", &key);
        if !self.wanted(&p.metadata) {
            return Vec::new();
        }
        let pending = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
        if pending && self.kinds.contains("pending") {
            self.pending.insert(key.clone(), p.clone());
        } else {
            self.pending.remove(&key);
        }
        let problems = self.pod_problems(p, &key, now);
        self.update(key, problems, now)
    }

    /// Re-checks Pending pods against the threshold (no update arrives while one waits).
    pub fn tick(&mut self, now: i64) -> Vec<Found> {
        let pods: Vec<Pod> = self.pending.values().cloned().collect();
        let mut out = Vec::new();
        for p in pods {
            let key = obj_key("pod", &p.metadata);
            let problems = self.pod_problems(&p, &key, now);
            out.extend(self.update(key, problems, now));
        }
        out
    }

    pub fn apply_node(&mut self, n: &Node, now: i64) -> Vec<Found> {
        let key = obj_key("node", &n.metadata);
        self.seen("node", &key);
        if !self.wanted(&n.metadata) {
            return Vec::new();
        }
        let name = n.metadata.name.clone().unwrap_or_default();
        let mut out = Vec::new();
        for c in n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or(&[])
        {
            let (kind, bad) = match c.type_.as_str() {
                "Ready" => ("node_not_ready", c.status != "True"),
                "MemoryPressure" | "DiskPressure" | "PIDPressure" => {
                    ("node_pressure", c.status == "True")
                }
                _ => continue,
            };
            if !bad || !self.kinds.contains(kind) {
                continue;
            }
            let sev = if kind == "node_not_ready" {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let mut a = self.base(kind, sev, &n.metadata, format!("node/{name}"));
            a.at = now;
            a.title = Some(name.clone());
            a.text = Some(format!(
                "{}={} {}: {}",
                c.type_,
                c.status,
                c.reason.as_deref().unwrap_or(""),
                c.message.as_deref().unwrap_or("")
            ));
            out.push(Problem {
                fp: format!("{key}|{kind}|{}", c.type_),
                alert: a,
                logs: LogsOf::None,
                resolvable: true,
            });
        }
        self.update(key, out, now)
    }

    pub fn apply_deployment(&mut self, d: &Deployment, now: i64) -> Vec<Found> {
        let key = obj_key("deploy", &d.metadata);
        self.seen("deploy", &key);
        if !self.wanted(&d.metadata) || !self.kinds.contains("deployment_unavailable") {
            return Vec::new();
        }
        let st = d.status.as_ref();
        let conds = st.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
        let unavailable = conds
            .iter()
            .any(|c| c.type_ == "Available" && c.status == "False");
        let stuck = conds.iter().any(|c| {
            c.type_ == "Progressing"
                && c.status == "False"
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
        let mut out = Vec::new();
        if unavailable || stuck {
            let name = d.metadata.name.clone().unwrap_or_default();
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = st.and_then(|s| s.ready_replicas).unwrap_or(0);
            let mut a = self.base(
                "deployment_unavailable",
                Severity::Critical,
                &d.metadata,
                format!("deploy/{name}"),
            );
            a.at = now;
            a.title = Some(name);
            let why = conds
                .iter()
                .find(|c| c.status == "False")
                .map(|c| {
                    format!(
                        "{}: {}",
                        c.reason.as_deref().unwrap_or(""),
                        c.message.as_deref().unwrap_or("")
                    )
                })
                .unwrap_or_default();
            a.text = Some(format!(
                "{ready}/{want} ready, {} unavailable · {why}",
                st.and_then(|s| s.unavailable_replicas).unwrap_or(0)
            ));
            out.push(Problem {
                fp: format!(
                    "{key}|{}|unavailable",
                    d.metadata.uid.as_deref().unwrap_or("")
                ),
                alert: a,
                logs: LogsOf::None,
                resolvable: true,
            });
        }
        self.update(key, out, now)
    }

    pub fn apply_job(&mut self, j: &Job, now: i64) -> Vec<Found> {
        let key = obj_key("job", &j.metadata);
        self.seen("job", &key);
        if !self.wanted(&j.metadata) || !self.kinds.contains("job_failed") {
            return Vec::new();
        }
        let failed = j
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or(&[])
            .iter()
            .find(|c| c.type_ == "Failed" && c.status == "True");
        let mut out = Vec::new();
        if let Some(c) = failed {
            let name = j.metadata.name.clone().unwrap_or_default();
            let mut a = self.base(
                "job_failed",
                Severity::Critical,
                &j.metadata,
                format!("job/{name}"),
            );
            a.at = now;
            a.title = Some(name.clone());
            a.text = Some(format!(
                "{}: {} (failed pods: {})",
                c.reason.as_deref().unwrap_or(""),
                c.message.as_deref().unwrap_or(""),
                j.status.as_ref().and_then(|s| s.failed).unwrap_or(0)
            ));
            out.push(Problem {
                fp: format!("{key}|{}|failed", j.metadata.uid.as_deref().unwrap_or("")),
                alert: a,
                logs: LogsOf::JobPod(j.metadata.namespace.clone().unwrap_or_default(), name),
                resolvable: false,
            });
        }
        self.update(key, out, now)
    }

    pub fn apply_event(&mut self, e: &Event, now: i64) -> Vec<Found> {
        let key = obj_key("event", &e.metadata);
        self.seen("event", &key);
        let reason = e.reason.as_deref().unwrap_or("");
        if !self.wanted(&e.metadata)
            || !self.kinds.contains("event")
            || e.type_.as_deref() != Some("Warning")
            || !self.cfg.event_reasons.iter().any(|r| r == reason)
        {
            return Vec::new();
        }
        let o = &e.involved_object;
        let mut a = self.base(
            "event",
            Severity::Warning,
            &e.metadata,
            format!(
                "{}/{}",
                o.kind.as_deref().unwrap_or("").to_ascii_lowercase(),
                o.name.as_deref().unwrap_or("")
            ),
        );
        a.at = now;
        a.title = Some(reason.to_string());
        a.text = Some(format!("{reason}: {}", e.message.as_deref().unwrap_or("")));
        let p = Problem {
            fp: format!("{key}|{}|event", e.metadata.uid.as_deref().unwrap_or("")),
            alert: a,
            logs: LogsOf::None,
            resolvable: false,
        };
        self.update(key, vec![p], now)
    }

    pub fn delete(&mut self, kind: &'static str, m: &ObjectMeta) {
        self.forget(&obj_key(kind, m));
    }

    fn seen(&mut self, kind: &'static str, key: &str) {
        if let Some(s) = self.resync.get_mut(kind) {
            s.insert(key.to_string());
        }
    }

    /// A (re-)list starts: remember which objects it shows.
    pub fn init(&mut self, kind: &'static str) {
        self.resync.insert(kind, HashSet::new());
    }

    /// A (re-)list ended: objects of that kind it did not show are gone.
    pub fn init_done(&mut self, kind: &'static str) {
        let Some(seen) = self.resync.remove(kind) else {
            return;
        };
        let prefix = format!("{kind}/");
        let gone: Vec<String> = self
            .by_obj
            .keys()
            .chain(self.pending.keys())
            .filter(|k| k.starts_with(&prefix) && !seen.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            self.forget(&k);
        }
        let before = self.active.len();
        self.active.retain(|fp, _| {
            !fp.starts_with(&prefix) || fp.split('|').next().is_some_and(|k| seen.contains(k))
        });
        if before != self.active.len() {
            self.dirty = true;
        }
    }
}
