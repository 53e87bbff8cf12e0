//! Docker engine events → alerts, per host. The event cursor (`timeNano` of the last event
//! handled) is stored in the store's kv and only advanced after the alerts of the events up
//! to it are in the outbox; on (re)connect the stream starts `since` the cursor, so nothing is
//! missed across wedock restarts and reconnects. Reconnects back off exponentially (backon).

use super::{Alert, Engine, Severity};
use crate::config::DockerHostConfig;
use backon::BackoffBuilder;
use bollard::models::EventMessage;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[cfg(test)]
mod tests;

/// Attributes of container events that are not labels.
const NOT_LABELS: &[&str] = &["name", "image", "exitCode", "signal", "execDuration"];
const PROJECT_LABEL: &str = "com.docker.compose.project";

pub fn cursor_key(host: &str) -> String {
    format!("alerts:cursor:{host}")
}

/// Containers already reported unhealthy on a host, so a restarted watcher neither repeats
/// nor misses them.
fn unhealthy_key(host: &str) -> String {
    format!("alerts:unhealthy:{host}")
}

async fn load_unhealthy(store: &Arc<dyn crate::store::Store>, host: &str) -> HashSet<String> {
    match store.kv_get(&unhealthy_key(host)).await {
        Ok(Some(v)) => serde_json::from_str(&v).unwrap_or_default(),
        _ => HashSet::new(),
    }
}

/// Saves the tracker's unhealthy set when it differs from `saved`.
/// The bookkeeping a batch commits with its alerts: the event cursor, and the unhealthy set
/// when it changed (then counted as saved).
fn batch_state(
    key: &str,
    cursor: i64,
    tracker: &Tracker,
    batch: &[Translated],
    saved: &mut HashSet<String>,
) -> Vec<(String, String)> {
    let mut state = vec![(key.to_string(), cursor.to_string())];
    if !batch.is_empty() && tracker.unhealthy != *saved {
        state.push(unhealthy_state(tracker));
        saved.clone_from(&tracker.unhealthy);
    }
    state
}

/// The unhealthy set as the key-value pair it is stored as.
fn unhealthy_state(tracker: &Tracker) -> (String, String) {
    let v = serde_json::to_string(&tracker.unhealthy).unwrap_or_else(|_| "[]".into());
    (unhealthy_key(&tracker.host), v)
}

async fn save_unhealthy(
    store: &Arc<dyn crate::store::Store>,
    tracker: &Tracker,
    saved: &mut HashSet<String>,
) {
    if tracker.unhealthy == *saved {
        return;
    }
    let (k, v) = unhealthy_state(tracker);
    match store.kv_set(&k, &v, None).await {
        Ok(()) => saved.clone_from(&tracker.unhealthy),
        Err(e) => tracing::warn!(error = %e, "cannot save the unhealthy containers"),
    }
}

/// Turns a host's container events into alerts; remembers what it needs across events
/// (recent kills and OOMs, deaths for restart loops, which containers are down/unhealthy).
pub struct Tracker {
    host: String,
    loop_count: usize,
    loop_window_ns: i64,
    kills: HashMap<String, (String, i64)>,
    ooms: HashMap<String, i64>,
    deaths: HashMap<String, VecDeque<i64>>,
    down: HashSet<String>,
    unhealthy: HashSet<String>,
    /// Deaths already reported by [`reconcile`], by container id → `FinishedAt` (ns), so
    /// their events, if the engine still replays them, are not reported twice.
    reconciled: HashMap<String, i64>,
}

/// How far apart a container's `FinishedAt` and the time of its `die` event may be.
const RECONCILE_SLACK_NS: i64 = 5_000_000_000;
/// Stopped containers inspected on reconnect (the newest ones).
const RECONCILE_MAX: usize = 200;

/// An alert plus the container whose logs it wants attached.
pub struct Translated {
    pub alert: Alert,
    pub logs_of: Option<String>,
}

impl Tracker {
    pub fn new(host: &str, loop_count: u32, loop_window: Duration) -> Tracker {
        Tracker {
            host: host.to_string(),
            loop_count: loop_count.max(2) as usize,
            loop_window_ns: loop_window.as_nanos() as i64,
            kills: HashMap::new(),
            ooms: HashMap::new(),
            deaths: HashMap::new(),
            down: HashSet::new(),
            unhealthy: HashSet::new(),
            reconciled: HashMap::new(),
        }
    }

    /// The alerts one event produces (none for most events).
    pub fn translate(&mut self, ev: &EventMessage) -> Vec<Translated> {
        let Some(actor) = &ev.actor else {
            return Vec::new();
        };
        let Some(id) = actor.id.clone() else {
            return Vec::new();
        };
        let action = ev.action.clone().unwrap_or_default();
        let nano = ev
            .time_nano
            .or(ev.time.map(|t| t * 1_000_000_000))
            .unwrap_or(0);
        let attrs = actor.attributes.clone().unwrap_or_default();
        let name = attrs.get("name").cloned().unwrap_or_else(|| short(&id));
        let labels: BTreeMap<String, String> = attrs
            .iter()
            .filter(|(k, _)| !NOT_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let base = |kind: &str, sev: Severity, fp: &str| {
            let mut a = Alert::new(
                "docker",
                kind,
                sev,
                format!("docker|{}|{nano}|{id}|{action}", self.host),
            );
            a.host = Some(self.host.clone());
            a.container = Some(name.clone());
            a.image = attrs.get("image").cloned();
            a.project = labels.get(PROJECT_LABEL).cloned();
            a.labels = labels.clone();
            a.at = nano / 1_000_000;
            a.fingerprint = format!("docker|{}|{name}|{fp}", self.host);
            a.group_key = format!(
                "docker|{}|{}|{kind}",
                self.host,
                a.project.clone().unwrap_or_default()
            );
            a
        };
        if let Some(&finished) = self.reconciled.get(&id)
            && nano <= finished + RECONCILE_SLACK_NS
        {
            // History of a container whose death was reported from its state on reconnect
            // (the engine replays what it still remembers): already accounted for.
            if action == "die" || action == "destroy" {
                self.reconciled.remove(&id);
            }
            return Vec::new();
        }
        let mut out = Vec::new();
        match action.as_str() {
            "kill" => {
                let sig = attrs.get("signal").cloned().unwrap_or_default();
                self.kills.insert(id.clone(), (sig, nano));
            }
            "oom" => {
                self.ooms.insert(id.clone(), nano);
            }
            "die" => {
                let code = attrs.get("exitCode").and_then(|c| c.parse::<i64>().ok());
                let recent = |t: i64| nano - t < 30_000_000_000;
                let oom = self.ooms.remove(&id).is_some_and(recent);
                let kill = self.kills.remove(&id).filter(|(_, t)| recent(*t));
                let mut a = if oom {
                    base("oom", Severity::Critical, "down")
                } else if let Some((sig, _)) = &kill {
                    let mut a = base("stop", Severity::Info, "stop");
                    a.signal = Some(signal_name(sig));
                    a
                } else {
                    base("die", Severity::Critical, "down")
                };
                a.exit_code = code;
                let problem = a.kind != "stop" && code != Some(0);
                if problem {
                    self.down.insert(id.clone());
                    let q = self.deaths.entry(id.clone()).or_default();
                    q.push_back(nano);
                    while q.front().is_some_and(|t| nano - t > self.loop_window_ns) {
                        q.pop_front();
                    }
                    if q.len() >= self.loop_count {
                        let n = q.len() as u32;
                        let mut l = base("restart_loop", Severity::Critical, "loop");
                        l.restarts = Some(n);
                        l.exit_code = code;
                        out.push(Translated {
                            alert: l,
                            logs_of: Some(id.clone()),
                        });
                    }
                }
                let logs_of = problem.then(|| id.clone());
                out.insert(0, Translated { alert: a, logs_of });
            }
            "start" if self.down.remove(&id) => {
                let mut a = base("recovered", Severity::Resolved, "down");
                a.restarts = self.deaths.get(&id).map(|q| q.len() as u32);
                out.push(Translated {
                    alert: a,
                    logs_of: None,
                });
            }
            "destroy" => {
                self.kills.remove(&id);
                self.ooms.remove(&id);
                self.deaths.remove(&id);
                self.down.remove(&id);
                self.unhealthy.remove(&id);
            }
            a if a.starts_with("health_status") => {
                let status = a.rsplit(':').next().unwrap_or("").trim();
                if status == "unhealthy" && self.unhealthy.insert(id.clone()) {
                    out.push(Translated {
                        alert: base("unhealthy", Severity::Warning, "health"),
                        logs_of: Some(id.clone()),
                    });
                } else if status == "healthy" && self.unhealthy.remove(&id) {
                    out.push(Translated {
                        alert: base("healthy", Severity::Resolved, "health"),
                        logs_of: None,
                    });
                }
            }
            _ => {}
        }
        out
    }
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

fn signal_name(sig: &str) -> String {
    match sig {
        "9" => "SIGKILL (9)".into(),
        "15" => "SIGTERM (15)".into(),
        "2" => "SIGINT (2)".into(),
        s => s.to_string(),
    }
}

/// The last `n` log lines of a container (stdout and stderr), if it still exists.
pub async fn tail_logs(client: &bollard::Docker, id: &str, n: usize) -> Option<String> {
    if n == 0 {
        return None;
    }
    let opts = bollard::query_parameters::LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail(&n.to_string())
        .build();
    let collect = async {
        let mut out = String::new();
        let mut s = client.logs(id, Some(opts));
        while let Some(item) = s.next().await {
            match item {
                Ok(chunk) => out.push_str(&chunk.to_string()),
                Err(_) => break,
            }
        }
        out
    };
    let out = tokio::time::timeout(Duration::from_secs(3), collect)
        .await
        .ok()?;
    (!out.trim().is_empty()).then_some(out)
}

fn daemon_alert(host: &str, up: bool, detail: Option<String>) -> Alert {
    let now = crate::store::now_ms();
    let (kind, sev) = if up {
        ("daemon_up", Severity::Resolved)
    } else {
        ("daemon_down", Severity::Critical)
    };
    let mut a = Alert::new(
        "docker",
        kind,
        sev,
        format!("docker|{host}|{now}|daemon|{kind}"),
    );
    a.host = Some(host.to_string());
    a.title = Some(host.to_string());
    a.text = detail;
    a.fingerprint = format!("docker|{host}|daemon");
    a
}

/// Most events one batch takes: under a burst, events that are already waiting are handed to
/// the engine together (one store transaction), without waiting for more.
const MAX_BATCH: usize = 512;
/// Log tails fetched at once for a batch of deaths.
const LOG_FETCHES: usize = 8;

/// Why [`pump`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum PumpEnd {
    Shutdown,
    /// The stream failed or ended: reconnect.
    StreamEnded,
}

/// Hands the events of one stream to the engine until it ends or shutdown, and advances the
/// host's cursor after each batch is in the outbox. Events already waiting in the stream are
/// taken together; with a grouping window, events are collected until it closes. `client`
/// fetches log tails (none in benches).
pub async fn pump<S, E>(
    engine: &Engine,
    host: &str,
    tracker: &mut Tracker,
    mut stream: S,
    client: Option<&bollard::Docker>,
    cursor: i64,
    shutdown: &mut watch::Receiver<bool>,
) -> PumpEnd
where
    S: futures::Stream<Item = Result<EventMessage, E>> + Unpin,
    E: std::fmt::Display,
{
    let cfg = &engine.app.config.alerts;
    let store = engine.app.store.clone();
    let key = cursor_key(host);
    let group_window = Duration::from_millis(cfg.group_window_ms);
    let mut pending: Vec<Translated> = Vec::new();
    let mut batch_cursor = cursor;
    let mut saved = cursor;
    let mut last = cursor;
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut saved_unhealthy = tracker.unhealthy.clone();
    loop {
        let sleep_until =
            deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        let first = tokio::select! {
            n = stream.next() => Some(n),
            _ = tokio::time::sleep_until(sleep_until), if deadline.is_some() => None,
            _ = shutdown.changed() => {
                let state = batch_state(&key, batch_cursor, tracker, &pending, &mut saved_unhealthy);
                flush(engine, state, client, &mut pending, shutdown).await;
                return PumpEnd::Shutdown;
            }
        };
        let mut end = false;
        if let Some(mut next) = first {
            let mut taken = 0;
            loop {
                match next {
                    Some(Ok(ev)) => {
                        let nano = ev.time_nano.unwrap_or(0);
                        // Replayed events were handled before the cursor was saved.
                        if nano == 0 || nano > last {
                            metrics::counter!("wedock_docker_events_total").increment(1);
                            last = last.max(nano);
                            pending.extend(tracker.translate(&ev));
                            batch_cursor = last;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(host, error = %e, "Docker event stream failed; reconnecting");
                        end = true;
                        break;
                    }
                    None => {
                        tracing::warn!(host, "Docker event stream ended; reconnecting");
                        end = true;
                        break;
                    }
                }
                taken += 1;
                if taken >= MAX_BATCH {
                    break;
                }
                match futures::FutureExt::now_or_never(stream.next()) {
                    Some(n) => next = n,
                    None => break,
                }
            }
            if !end {
                if pending.is_empty() {
                    // Nothing to send: advance the cursor cheaply now and then.
                    if last - saved > 1_000_000_000 && deadline.is_none() {
                        let _ = engine.app.save_as_leader(&key, &last.to_string()).await;
                        saved = last;
                    }
                    continue;
                }
                if !group_window.is_zero() {
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + group_window);
                    if deadline.is_some_and(|d| d > tokio::time::Instant::now()) {
                        continue;
                    }
                }
            }
        }
        // The grouping window is over (or there is none), or the stream ended: hand the
        // batch over, then advance the cursor.
        deadline = None;
        let state = batch_state(&key, batch_cursor, tracker, &pending, &mut saved_unhealthy);
        if !flush(engine, state, client, &mut pending, shutdown).await {
            return PumpEnd::Shutdown;
        }
        save_unhealthy(&store, tracker, &mut saved_unhealthy).await;
        saved = batch_cursor;
        if end {
            return PumpEnd::StreamEnded;
        }
    }
}

/// Attaches log tails and submits `pending` durably with `state` (the cursor and what else
/// the batch changed) in one transaction. False on shutdown.
async fn flush(
    engine: &Engine,
    state: Vec<(String, String)>,
    client: Option<&bollard::Docker>,
    pending: &mut Vec<Translated>,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    if pending.is_empty() {
        return true;
    }
    let n = engine.app.config.alerts.log_lines;
    // Without a grouping window every event is a message of its own; taking events that
    // were already waiting together only saves store round trips, it must not merge them.
    let grouping = engine.app.config.alerts.group_window_ms > 0;
    let batch: Vec<Alert> = futures::stream::iter(std::mem::take(pending))
        .map(|t| async move {
            let mut a = t.alert;
            if !grouping {
                a.group_key.clear();
            }
            if let (Some(c), Some(id)) = (client, t.logs_of) {
                a.logs = tail_logs(c, &id, n).await;
            }
            a
        })
        .buffered(LOG_FETCHES)
        .collect()
        .await;
    // Fenced: a replica that lost the lease while it was paused can neither queue the
    // alerts nor move the cursor.
    engine.submit_durably(batch, state, shutdown).await
}

/// Finds what happened while no event stream was open, from the containers' state: the
/// engine keeps only a short in-memory event history and loses it when it restarts, so
/// `since` alone cannot be trusted after a long gap. Containers that stopped with a failure
/// after `cursor` (ns) are reported as deaths (their replayed `die` events, if any, are then
/// skipped); running containers that are unhealthy and not in `reported_unhealthy` are
/// reported too, and the tracker learns which containers are down or unhealthy so their
/// recovery is reported.
pub async fn reconcile(
    client: &bollard::Docker,
    tracker: &mut Tracker,
    cursor: i64,
    reported_unhealthy: &HashSet<String>,
) -> Vec<Translated> {
    use bollard::query_parameters as qp;
    let opts = qp::ListContainersOptionsBuilder::default()
        .all(true)
        .build();
    let list = match client.list_containers(Some(opts)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(host = %tracker.host, error = %e, "cannot list containers to reconcile");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let mut inspected = 0;
    for c in list {
        let Some(id) = c.id.clone() else { continue };
        let state = c.state.map(|s| s.to_string()).unwrap_or_default();
        if state == "running" {
            if c.status
                .as_deref()
                .is_some_and(|s| s.contains("(unhealthy)"))
            {
                if reported_unhealthy.contains(&id) {
                    tracker.unhealthy.insert(id);
                } else {
                    // Turned unhealthy while nobody watched: report it as the event would.
                    let mut attrs: HashMap<String, String> = c.labels.unwrap_or_default();
                    if let Some(n) = c.names.as_ref().and_then(|n| n.first()) {
                        attrs.insert("name".into(), n.trim_start_matches('/').to_string());
                    }
                    if let Some(img) = c.image {
                        attrs.insert("image".into(), img);
                    }
                    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
                    out.extend(tracker.translate(&EventMessage {
                        action: Some("health_status: unhealthy".into()),
                        actor: Some(bollard::models::EventActor {
                            id: Some(id.clone()),
                            attributes: Some(attrs),
                        }),
                        time_nano: Some(now),
                        time: Some(now / 1_000_000_000),
                        ..Default::default()
                    }));
                }
            }
            continue;
        }
        if state != "exited" && state != "dead" {
            continue;
        }
        if inspected >= RECONCILE_MAX {
            break;
        }
        inspected += 1;
        let Ok(d) = client
            .inspect_container(&id, None::<qp::InspectContainerOptions>)
            .await
        else {
            continue;
        };
        let Some(st) = d.state else { continue };
        let finished = st
            .finished_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(0);
        if finished <= cursor {
            continue;
        }
        let oom = st.oom_killed == Some(true);
        let code = st.exit_code.unwrap_or(0);
        if code == 0 && !oom {
            continue;
        }
        // Feed the tracker the events the engine would have sent, so the alert is built
        // exactly as a live one (kind, labels, compose project, restart-loop count).
        let cfg = d.config.unwrap_or_default();
        let mut attrs: HashMap<String, String> = cfg.labels.unwrap_or_default();
        attrs.insert(
            "name".into(),
            d.name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
        );
        if let Some(img) = cfg.image {
            attrs.insert("image".into(), img);
        }
        attrs.insert("exitCode".into(), code.to_string());
        let event = |action: &str, attrs: HashMap<String, String>| EventMessage {
            action: Some(action.to_string()),
            actor: Some(bollard::models::EventActor {
                id: Some(id.clone()),
                attributes: Some(attrs),
            }),
            time_nano: Some(finished),
            time: Some(finished / 1_000_000_000),
            ..Default::default()
        };
        if oom {
            tracker.translate(&event("oom", HashMap::new()));
        }
        out.extend(tracker.translate(&event("die", attrs)));
        tracker.reconciled.insert(id, finished);
    }
    if !out.is_empty() {
        tracing::info!(host = %tracker.host, alerts = out.len(), "reported deaths found on reconnect");
        metrics::counter!("wedock_docker_reconciled_total").increment(out.len() as u64);
    }
    out
}

/// Watches one host until shutdown.
pub async fn watch(
    engine: Arc<Engine>,
    host: DockerHostConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let cfg = engine.app.config.alerts.clone();
    let store = engine.app.store.clone();
    let key = cursor_key(&host.name);
    let mut tracker = Tracker::new(
        &host.name,
        cfg.restart_loop_count,
        Duration::from_secs(cfg.restart_loop_window_secs),
    );
    let new_backoff = || {
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(cfg.reconnect_min_ms))
            .with_max_delay(Duration::from_millis(cfg.reconnect_max_ms))
            .with_jitter()
            .without_max_times()
            .build()
    };
    let mut backoff = new_backoff();
    let mut down_reported = false;
    let health_name = format!("alerts:docker:{}", host.name);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let engine_conn = match crate::ops::docker::connect(&host).await {
            Ok(c) => c,
            Err(e) => {
                engine.app.health.set(&health_name, false, false, e.clone());
                if !down_reported {
                    tracing::warn!(host = %host.name, "Docker engine unreachable: {e}");
                    down_reported = engine
                        .submit_durably(
                            vec![daemon_alert(&host.name, false, Some(e))],
                            Vec::new(),
                            &mut shutdown,
                        )
                        .await;
                }
                let wait = backoff.next().unwrap_or(Duration::from_secs(30));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        backoff = new_backoff();
        let client = engine_conn.client;
        engine
            .app
            .health
            .set(&health_name, true, false, "watching events");
        if down_reported {
            down_reported = !engine
                .submit_durably(
                    vec![daemon_alert(&host.name, true, None)],
                    Vec::new(),
                    &mut shutdown,
                )
                .await;
        }
        let mut first_start = false;
        let cursor: i64 = match store.kv_get(&key).await {
            Ok(Some(v)) => v.parse().unwrap_or(0),
            Ok(None) => {
                first_start = true;
                // First start: from now on, not the engine's whole history.
                let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
                let _ = store.kv_set(&key, &now.to_string(), None).await;
                now
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the event cursor");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut saved_unhealthy = load_unhealthy(&store, &host.name).await;
        let mut found = if first_start {
            Vec::new()
        } else {
            reconcile(&client, &mut tracker, cursor, &saved_unhealthy).await
        };
        // The cursor stays where it was: the replay that follows still has to be read.
        let state = batch_state(&key, cursor, &tracker, &found, &mut saved_unhealthy);
        if !flush(&engine, state, Some(&client), &mut found, &mut shutdown).await {
            return;
        }
        save_unhealthy(&store, &tracker, &mut saved_unhealthy).await;
        let since = format!("{}.{:09}", cursor / 1_000_000_000, cursor % 1_000_000_000);
        let mut filters = HashMap::new();
        filters.insert("type".to_string(), vec!["container".to_string()]);
        let opts = bollard::query_parameters::EventsOptions {
            since: Some(since),
            until: None,
            filters: Some(filters),
        };
        let stream = client.events(Some(opts));
        tracing::info!(host = %host.name, cursor, "watching Docker events");
        let ended = matches!(
            pump(
                &engine,
                &host.name,
                &mut tracker,
                stream,
                Some(&client),
                cursor,
                &mut shutdown,
            )
            .await,
            PumpEnd::StreamEnded
        );
        if !ended {
            return;
        }
        let wait = backoff.next().unwrap_or(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}
