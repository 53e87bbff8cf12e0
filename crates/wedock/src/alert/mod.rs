//! Alerts: sources (Docker events, Kubernetes watches, Alertmanager, webhooks) → routes → noise control → outbox.
//!
//! Every source turns what it sees into [`Alert`]s and hands a batch to [`Engine::submit`],
//! which returns only once the resulting messages are durably in the outbox; only then does a
//! source acknowledge (HTTP 200) or advance its cursor (Docker events).

pub mod alertmanager_api;
pub mod docker;
pub mod engine;
pub mod http;
pub mod incident;
pub mod kube;
pub mod likely;
pub mod render;

pub use engine::Engine;

use crate::app::App;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// How bad an alert is; picks the marker and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
    Resolved,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Resolved => "resolved",
        }
    }
    pub fn marker(self) -> &'static str {
        match self {
            Severity::Critical => "🔴",
            Severity::Warning => "🟠",
            Severity::Info => "🔵",
            Severity::Resolved => "✅",
        }
    }
    /// From an Alertmanager `severity` label.
    pub fn from_label(s: Option<&str>) -> Severity {
        match s.map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("critical" | "error" | "page" | "high" | "p1") => Severity::Critical,
            Some("info" | "none" | "low") => Severity::Info,
            _ => Severity::Warning,
        }
    }
}

/// One thing worth telling people about.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// `docker`, `alertmanager` or `hook:NAME`.
    pub source: String,
    /// die, oom, unhealthy, healthy, restart_loop, stop, recovered, daemon_down, daemon_up,
    /// firing, resolved, hook.
    pub kind: String,
    pub severity: Severity,
    pub host: Option<String>,
    pub container: Option<String>,
    pub image: Option<String>,
    pub project: Option<String>,
    /// Container labels, or the alert's labels.
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub exit_code: Option<i64>,
    pub signal: Option<String>,
    pub restarts: Option<u32>,
    /// Alert name or hook title.
    pub title: Option<String>,
    /// Summary / description / hook text.
    pub text: Option<String>,
    pub logs: Option<String>,
    /// Milliseconds since the epoch when it happened.
    pub at: i64,
    /// Identity of the problem, for dedup and repeat control.
    pub fingerprint: String,
    /// Unique id of this occurrence, for the outbox dedup key (at-least-once, no duplicates
    /// when a source replays it).
    pub event_id: String,
    /// Alerts with the same group key arriving in one batch go out as one message.
    pub group_key: String,
    /// A link (Alertmanager generatorURL).
    pub url: Option<String>,
    /// Route names or targets chosen by the source (a hook's `targets`); empty = route it.
    #[serde(skip)]
    pub direct: Vec<String>,
    /// The alert's durable record (`/ack 12`), once the engine recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<i64>,
    /// The record itself (its state), for cards.
    #[serde(skip)]
    pub record: Option<Box<crate::store::incidents::AlertRecord>>,
    /// The labels a silence of this alert matches (Alertmanager: the group's labels); empty
    /// when wedock's own mutes apply.
    #[serde(skip)]
    pub silence_matchers: BTreeMap<String, String>,
}

impl Alert {
    pub fn new(source: &str, kind: &str, severity: Severity, event_id: String) -> Alert {
        Alert {
            source: source.to_string(),
            kind: kind.to_string(),
            severity,
            host: None,
            container: None,
            image: None,
            project: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            exit_code: None,
            signal: None,
            restarts: None,
            title: None,
            text: None,
            logs: None,
            at: crate::store::now_ms(),
            fingerprint: String::new(),
            event_id,
            group_key: String::new(),
            url: None,
            direct: Vec::new(),
            record_id: None,
            record: None,
            silence_matchers: BTreeMap::new(),
        }
    }

    /// What the alert is about, for lists: container, alert name or title.
    pub fn subject(&self) -> String {
        self.container
            .clone()
            .or_else(|| self.title.clone())
            .or_else(|| self.host.clone())
            .unwrap_or_else(|| self.source.clone())
    }

    /// The group whose alerts share one living card where the channel can change a sent
    /// card: an Alertmanager group (firing and resolved alike), a compose project's alerts on
    /// one host, a Kubernetes namespace's, a hook's own group. `None` for an alert of no
    /// group: it keeps a card of its own.
    pub fn living_key(&self) -> Option<String> {
        let without_kind = || {
            // The engine's group keys end in `|KIND`, so firing and resolved never share a
            // message; a living card holds both.
            self.group_key
                .rsplit_once('|')
                .map(|(k, _)| k.to_string())
                .filter(|k| !k.is_empty())
        };
        match self.source.as_str() {
            "alertmanager" | "kubernetes" => without_kind(),
            // Without a grouping window the watcher clears the group key; the project still
            // names the burst.
            "docker" => self
                .project
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|p| format!("docker|{}|{p}", self.host.as_deref().unwrap_or(""))),
            _ => Some(self.group_key.clone()).filter(|k| !k.is_empty()),
        }
    }

    /// This alert with secrets removed from everything that is shown (log tails,
    /// annotations, event messages, labels, links).
    pub fn redacted(&self, r: &crate::redact::Redactor) -> Alert {
        self.map_shown(true, |s| r.redact(s).into_owned())
    }

    /// This alert with `f` applied to every text that came from outside (containers, pods,
    /// Alertmanager, hooks): names, image, labels and annotations (keys too), signal, title,
    /// text, link, and the log tail when `logs`.
    pub fn map_shown(&self, logs: bool, f: impl Fn(&str) -> String) -> Alert {
        let opt = |s: &Option<String>| s.as_deref().map(&f);
        let map = |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| (f(k), f(v))).collect();
        Alert {
            host: opt(&self.host),
            container: opt(&self.container),
            image: opt(&self.image),
            project: opt(&self.project),
            labels: map(&self.labels),
            annotations: map(&self.annotations),
            signal: opt(&self.signal),
            title: opt(&self.title),
            text: opt(&self.text),
            url: opt(&self.url),
            logs: if logs {
                opt(&self.logs)
            } else {
                self.logs.clone()
            },
            ..self.clone()
        }
    }

    /// Whether this alert reports that a problem went away.
    pub fn is_resolution(&self) -> bool {
        self.severity == Severity::Resolved
    }
}

/// `POST /alertmanager`, `POST /hooks/{name}`, when alerts are enabled (`init` built the
/// engine).
pub fn routes<S: Clone + Send + Sync + 'static>(engine: Option<Arc<Engine>>) -> axum::Router<S> {
    match engine {
        Some(engine) => http::routes(engine),
        None => axum::Router::new(),
    }
}

/// Builds the alert engine (every replica has one: webhooks are served by all of them).
pub fn init(app: &Arc<App>, outbox: &Arc<crate::outbox::Outbox>) -> Option<Arc<Engine>> {
    if !app.config.alerts.enabled {
        return None;
    }
    Some(Arc::new(Engine::new(app.clone(), outbox.clone())))
}

/// Starts the event sources (singletons: the leader runs them); they stop when `shutdown`
/// flips to true.
pub fn spawn_sources(
    engine: &Arc<Engine>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let app = &engine.app;
    let mut tasks = Vec::new();
    if app.config.alerts.docker_events && app.config.docker.enabled {
        for host in crate::ops::docker::hosts(&app.config.docker) {
            tasks.push(tokio::spawn(docker::watch(
                engine.clone(),
                host,
                shutdown.clone(),
            )));
        }
    }
    if !app.config.alerts.escalations.is_empty() {
        tasks.push(tokio::spawn(crate::alert::incident::escalate::run(
            engine.clone(),
            shutdown.clone(),
        )));
    }
    if app.config.kubernetes.enabled && app.config.alerts.kubernetes.enabled {
        let contexts = &app.config.alerts.kubernetes.contexts;
        let targets: Vec<Option<String>> = if contexts.is_empty() {
            vec![None]
        } else {
            contexts.iter().cloned().map(Some).collect()
        };
        for ctx in targets {
            tasks.push(tokio::spawn(kube::watch(
                engine.clone(),
                ctx,
                shutdown.clone(),
            )));
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn living_keys_hold_a_group_whatever_its_alerts_kind() {
        let mut firing = Alert::new("alertmanager", "firing", Severity::Critical, "1".into());
        firing.group_key = "am|wedock|{}:{alertname=\"X\"}|firing".into();
        let mut resolved = firing.clone();
        resolved.group_key = "am|wedock|{}:{alertname=\"X\"}|resolved".into();
        assert_eq!(firing.living_key(), resolved.living_key());
        assert!(firing.living_key().is_some());

        // A compose project's alerts share one card even when no grouping window kept their
        // group key; a container of no project keeps its own.
        let mut died = Alert::new("docker", "die", Severity::Critical, "2".into());
        died.host = Some("prod-1".into());
        died.project = Some("shop".into());
        let mut oom = died.clone();
        oom.kind = "oom".into();
        oom.group_key = "docker|prod-1|shop|oom".into();
        assert_eq!(died.living_key().as_deref(), Some("docker|prod-1|shop"));
        assert_eq!(died.living_key(), oom.living_key());
        died.project = None;
        assert_eq!(died.living_key(), None);

        let mut hook = Alert::new("hook:ci", "hook", Severity::Warning, "3".into());
        assert_eq!(hook.living_key(), None);
        hook.group_key = "nightly".into();
        assert_eq!(hook.living_key().as_deref(), Some("nightly"));
    }
}
