//! The watch streams per kind and the loop that feeds the tracker, reconnecting with backoff.

use super::*;

pub(super) fn obj_key(kind: &str, m: &ObjectMeta) -> String {
    match m.namespace.as_deref() {
        Some(ns) => format!("{kind}/{ns}/{}", m.name.as_deref().unwrap_or("")),
        None => format!("{kind}/{}", m.name.as_deref().unwrap_or("")),
    }
}

pub(super) enum Item {
    Pod(WEvent<Pod>),
    Node(WEvent<Node>),
    Deploy(WEvent<Deployment>),
    Job(WEvent<Job>),
    Event(WEvent<Event>),
    Failed(&'static str, String),
}

pub(super) fn stream_of<K>(
    api: Api<K>,
    cfg: watcher::Config,
    kind: &'static str,
    wrap: fn(WEvent<K>) -> Item,
) -> futures::stream::BoxStream<'static, Item>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    watcher::watcher(api, cfg)
        .default_backoff()
        .map(move |r| match r {
            Ok(e) => wrap(e),
            Err(e) => Item::Failed(kind, e.to_string()),
        })
        .boxed()
}

/// Applies one watcher event of any kind to the tracker.
pub(super) fn handle<K>(
    t: &mut Tracker,
    kind: &'static str,
    ev: WEvent<K>,
    now: i64,
    apply: fn(&mut Tracker, &K, i64) -> Vec<Found>,
    meta: fn(&K) -> &ObjectMeta,
) -> Vec<Found> {
    match ev {
        WEvent::Init => {
            t.init(kind);
            Vec::new()
        }
        WEvent::InitApply(o) | WEvent::Apply(o) => apply(t, &o, now),
        WEvent::InitDone => {
            t.init_done(kind);
            Vec::new()
        }
        WEvent::Delete(o) => {
            t.delete(kind, meta(&o));
            Vec::new()
        }
    }
}

pub(super) async fn attach_logs(client: &kube::Client, f: &mut Found, lines: usize) {
    if lines == 0 {
        return;
    }
    let fetch = async {
        match &f.logs {
            LogsOf::None => None,
            LogsOf::Container(ns, pod, c, previous) => {
                let api: Api<Pod> = Api::namespaced(client.clone(), ns);
                let lp = |prev: bool| LogParams {
                    container: Some(c.clone()),
                    previous: prev,
                    tail_lines: Some(lines as i64),
                    ..LogParams::default()
                };
                match api.logs(pod, &lp(*previous)).await {
                    Ok(t) => Some(t),
                    // No earlier instance yet: the current one's output is the next best.
                    Err(_) if *previous => api.logs(pod, &lp(false)).await.ok(),
                    Err(_) => None,
                }
            }
            LogsOf::JobPod(ns, job) => {
                let api: Api<Pod> = Api::namespaced(client.clone(), ns);
                let lp = ListParams::default().labels(&format!("job-name={job}"));
                let pods = api.list(&lp).await.ok()?.items;
                let newest = pods
                    .iter()
                    .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(ms))?;
                let name = newest.metadata.name.clone()?;
                let lp = LogParams {
                    tail_lines: Some(lines as i64),
                    ..LogParams::default()
                };
                api.logs(&name, &lp).await.ok()
            }
        }
    };
    if let Ok(Some(text)) = tokio::time::timeout(Duration::from_secs(3), fetch).await
        && !text.trim().is_empty()
    {
        f.alert.logs = Some(text);
    }
}

/// Watches one context until shutdown. `context` `None` = the default context.
pub async fn watch(
    engine: Arc<Engine>,
    context: Option<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = engine.app.clone();
    let cfg = app.config.alerts.kubernetes.clone();
    let health = format!(
        "alerts:kubernetes:{}",
        context.as_deref().unwrap_or("default")
    );
    // The cluster config may be unreadable at start (a mounted kubeconfig arriving late):
    // retry with a pause instead of giving up on alerts for good.
    let cluster = loop {
        match app.kube.get(context.as_deref(), None).await {
            Ok(c) => break c,
            Err(e) => {
                app.health.set(&health, false, false, format!("{e:?}"));
                tracing::warn!(error = ?e, "cannot watch Kubernetes");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(30)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    let ctx = cluster.context.clone();
    let store = app.store.clone();
    let key = active_key(&ctx);
    let mut tracker = Tracker::new(&ctx, &cfg);
    if let Ok(Some(saved)) = store.kv_get(&key).await {
        tracker.restore(&saved);
    }
    let c = cluster.client.clone();
    let mut wc = watcher::Config::default();
    if let Some(l) = &cfg.labels {
        wc = wc.labels(l);
    }
    let mut streams = vec![
        stream_of(Api::<Pod>::all(c.clone()), wc.clone(), "pod", Item::Pod),
        stream_of(
            Api::<Node>::all(c.clone()),
            watcher::Config::default(),
            "node",
            Item::Node,
        ),
        stream_of(
            Api::<Deployment>::all(c.clone()),
            wc.clone(),
            "deploy",
            Item::Deploy,
        ),
        stream_of(Api::<Job>::all(c.clone()), wc.clone(), "job", Item::Job),
    ];
    if !cfg.event_reasons.is_empty()
        && (cfg.reasons.is_empty() || cfg.reasons.iter().any(|r| r == "event"))
    {
        let ec = watcher::Config::default().fields("type=Warning");
        streams.push(stream_of(
            Api::<Event>::all(c.clone()),
            ec,
            "event",
            Item::Event,
        ));
    }
    let mut merged = futures::stream::select_all(streams);
    app.health
        .set(&health, true, false, format!("watching {ctx}"));
    tracing::info!(context = %ctx, "watching Kubernetes for alerts");
    let tick_every = Duration::from_secs(5);
    let mut ticker = tokio::time::interval(tick_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let log_lines = app.config.alerts.log_lines;
    loop {
        let now = crate::store::now_ms();
        let found = tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => tracker.tick(now),
            item = merged.next() => match item {
                None => return,
                Some(Item::Pod(e)) => handle(&mut tracker, "pod", e, now, Tracker::apply_pod, |p| &p.metadata),
                Some(Item::Node(e)) => handle(&mut tracker, "node", e, now, Tracker::apply_node, |p| &p.metadata),
                Some(Item::Deploy(e)) => handle(&mut tracker, "deploy", e, now, Tracker::apply_deployment, |p| &p.metadata),
                Some(Item::Job(e)) => handle(&mut tracker, "job", e, now, Tracker::apply_job, |p| &p.metadata),
                Some(Item::Event(e)) => handle(&mut tracker, "event", e, now, Tracker::apply_event, |p| &p.metadata),
                Some(Item::Failed(kind, e)) => {
                    metrics::counter!("wedock_kube_watch_errors_total", "kind" => kind).increment(1);
                    tracing::warn!(context = %ctx, kind, "watch error (kube retries with backoff): {e}");
                    Vec::new()
                }
            },
        };
        metrics::counter!("wedock_kube_watch_events_total").increment(1);
        // The reported set commits with the alerts it led to: a crash keeps both or neither.
        let state: Vec<(String, String)> = tracker
            .take_dirty()
            .map(|v| (key.clone(), v))
            .into_iter()
            .collect();
        if !found.is_empty() {
            let mut batch = Vec::with_capacity(found.len());
            for mut f in found {
                attach_logs(&c, &mut f, log_lines).await;
                batch.push(f.alert);
            }
            if !engine.submit_durably(batch, state, &mut shutdown).await {
                return;
            }
        } else if let Some((k, v)) = state.first()
            && let Err(e) = app.save_as_leader(k, v).await
        {
            tracing::error!(error = %e, "cannot save the Kubernetes alert state");
        }
    }
}
