//! The alert engine: routes, mutes, dedup and repeat control, grouping, rendering, digest
//! folding, and the durable hand-over to the outbox.

use super::render;
use super::{Alert, Severity};
use crate::app::App;
use crate::config::{RouteConfig, RouteMatch};
use crate::i18n::Lang;
use crate::outbox::Outbox;
use crate::outbox::payload::{self, AlertCard};
use crate::render::Format;
use crate::store::{NewOutboxMessage, OutboxMessage, Store, StoreResult, now_ms};
use serde::{Deserialize, Serialize};
use sha1::Digest;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod digest;
mod ingest;
mod mutes;
mod routes;
#[cfg(test)]
mod tests;

pub use crate::outbox::payload::Target;
pub use mutes::*;
use routes::*;
pub use routes::{default_applies, route_matches};

/// Dedup keys of alert messages start with this; only such messages are folded into digests.
const KEY_PREFIX: &str = "alert:";
/// Bytes of digest lines kept for one target (5 markdown or 10 text messages); what does
/// not fit is counted, not listed.
const DIGEST_BUDGET: usize = 20_000;
const MUTE_PREFIX: &str = "alerts:mute:";
const RECENT_PREFIX: &str = "alerts:recent:";
const RECENT_TTL: Duration = Duration::from_secs(3 * 24 * 3600);
/// How long the engine trusts its copy of the mutes. A mute set on this replica applies at
/// once (the copy is dropped); one set on another replica applies within this time.
const MUTE_CACHE_MS: i64 = 1_000;

/// The mutes as read: when, at which of the app's mute epochs, and what they were.
type MuteCache = (i64, u64, Arc<Vec<Mute>>);

/// Where a routed alert is grouped: its submission, its route, its group key.
type Slot = (usize, usize, String);

struct Route {
    cfg: RouteConfig,
    targets: Vec<Target>,
    repeat_ms: i64,
}

#[derive(Clone, Copy)]
struct Seen {
    last_sent: i64,
    sends: u32,
}

/// What one `submit` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Outbox messages written (digest parts included).
    pub messages: usize,
    /// Alerts not sent because of opt-out, mute, dedup, repeat limit or no route.
    pub suppressed: usize,
}

/// One line of `/alerts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecentAlert {
    pub at: i64,
    pub line: String,
    pub route: String,
    pub target: String,
    pub ids: Vec<i64>,
}

pub struct Engine {
    pub app: Arc<App>,
    pub outbox: Arc<Outbox>,
    pub lang: Lang,
    routes: Vec<Route>,
    default_targets: Vec<Target>,
    dedup_ms: i64,
    noise: Mutex<HashMap<String, Seen>>,
    /// The mutes as read at (time, the app's mute epoch then).
    mutes: Mutex<Option<MuteCache>>,
    last_prune: AtomicU64,
    seq: AtomicU64,
    ingest: ingest::Ingest,
}

impl Engine {
    pub fn new(app: Arc<App>, outbox: Arc<Outbox>) -> Engine {
        let cfg = &app.config.alerts;
        let dedup_ms = (cfg.dedup_window_secs * 1000) as i64;
        let routes = cfg
            .routes
            .iter()
            .map(|r| Route {
                targets: r.targets.iter().map(|t| Target::parse(t)).collect(),
                repeat_ms: r
                    .repeat_interval
                    .as_deref()
                    .and_then(|d| humantime::parse_duration(d).ok())
                    .map_or(dedup_ms, |d| d.as_millis() as i64),
                cfg: r.clone(),
            })
            .collect();
        let default_targets = app
            .config
            .wecom
            .robots
            .iter()
            .map(|r| Target::parse(&r.name))
            .collect();
        Engine {
            lang: Lang::parse(&cfg.lang).unwrap_or(Lang::Zh),
            routes,
            default_targets,
            dedup_ms,
            noise: Mutex::new(HashMap::new()),
            mutes: Mutex::new(None),
            last_prune: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            ingest: Default::default(),
            app,
            outbox,
        }
    }

    fn store(&self) -> &dyn Store {
        &*self.app.store
    }

    /// [`Engine::submit`] until the store takes the batch, retrying every second through a
    /// store outage, so an event source never drops alerts it has consumed. Returns false if
    /// `shutdown` flips first.
    /// `state` is the watcher's bookkeeping, committed with the messages (see
    /// [`Engine::submit_with`]).
    pub async fn submit_durably(
        &self,
        batch: Vec<Alert>,
        state: Vec<(String, String)>,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        loop {
            match self.submit_with(batch.clone(), state.clone()).await {
                Ok(_) => return true,
                Err(e) => {
                    tracing::error!(error = %e, "could not store alerts; will retry");
                    metrics::counter!("wedock_alert_store_errors_total").increment(1);
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return false,
                    }
                }
            }
        }
    }

    /// Routes `alerts` and writes the messages to the outbox. Returns once they are durable;
    /// on a store error nothing about dedup state changes, so the caller can retry the batch.
    pub async fn submit(&self, alerts: Vec<Alert>) -> StoreResult<Submitted> {
        self.submit_with(alerts, Vec::new()).await
    }

    /// [`Engine::submit`] plus a watcher's bookkeeping (`state`: Docker event cursor,
    /// Kubernetes reported set) as leader-fenced keys, written in the same store transaction
    /// as the batch's last outbox rows, so a crash keeps both or neither. A batch that queues
    /// nothing writes the keys alone; one that folds into a digest writes them right after.
    pub async fn submit_with(
        &self,
        alerts: Vec<Alert>,
        state: Vec<(String, String)>,
    ) -> StoreResult<Submitted> {
        let done = self.submit_many(vec![alerts], state).await?;
        Ok(done.into_iter().next().unwrap_or_default())
    }

    /// [`Engine::submit_with`] for several submissions at once (`segments`, one per caller),
    /// written together, with what each segment did. Alerts of different segments never share
    /// a message, so each caller's answer counts only its own messages.
    pub async fn submit_many(
        &self,
        segments: Vec<Vec<Alert>>,
        state: Vec<(String, String)>,
    ) -> StoreResult<Vec<Submitted>> {
        let now = now_ms();
        self.prune(now);
        let mutes = self.mutes(now).await?;
        let mut done = vec![Submitted::default(); segments.len()];
        // (segment, route, group key) → alerts, in arrival order.
        let mut groups: Vec<(Slot, Vec<Alert>)> = Vec::new();
        let mut noise_updates: Vec<(String, Option<Seen>)> = Vec::new();
        let mut to_record: Vec<Alert> = Vec::new();
        {
            let mut noise = self.noise.lock().unwrap_or_else(|e| e.into_inner());
            for (seg, a) in segments
                .into_iter()
                .enumerate()
                .flat_map(|(seg, alerts)| alerts.into_iter().map(move |a| (seg, a)))
            {
                let done = &mut done[seg];
                metrics::counter!("wedock_alerts_received_total", "source" => source_label(&a.source))
                    .increment(1);
                if a.labels.get("wedock.alert").map(String::as_str) == Some("false") {
                    suppress(done, "opt_out");
                    continue;
                }
                let routes = self.routes_for(&a);
                if routes.is_empty() {
                    suppress(done, "no_route");
                    continue;
                }
                // Every routed alert keeps its record true, muted ones too: a silenced
                // alert that resolves is resolved.
                to_record.push(a.clone());
                if mutes.iter().any(|m| m.matches(&a)) {
                    suppress(done, "muted");
                    continue;
                }
                for r in routes {
                    let (rname, repeat_ms, max_repeats) = match r {
                        RouteRef::Configured(i) => {
                            let rt = &self.routes[i];
                            (rt.cfg.name.as_str(), rt.repeat_ms, rt.cfg.max_repeats)
                        }
                        _ => ("default", self.dedup_ms, 0),
                    };
                    let key = if a.is_resolution() {
                        format!("{rname}|{}|resolved", a.fingerprint)
                    } else {
                        format!("{rname}|{}", a.fingerprint)
                    };
                    let prev = noise.get(&key).copied();
                    if let Some(s) = prev {
                        if now - s.last_sent < repeat_ms.max(1) {
                            suppress(done, "dedup");
                            continue;
                        }
                        if max_repeats > 0 && s.sends >= max_repeats {
                            suppress(done, "max_repeats");
                            continue;
                        }
                    }
                    noise_updates.push((key.clone(), prev));
                    noise.insert(
                        key,
                        Seen {
                            last_sent: now,
                            sends: prev.map_or(1, |s| s.sends + 1),
                        },
                    );
                    if a.is_resolution() && a.source != "docker" {
                        // A resolved alert may fire again at once.
                        let problem = format!("{rname}|{}", a.fingerprint);
                        if let Some(p) = noise.remove(&problem) {
                            noise_updates.push((problem, Some(p)));
                        }
                    }
                    let gk = if a.group_key.is_empty() {
                        format!("id:{}", a.event_id)
                    } else {
                        a.group_key.clone()
                    };
                    let slot = (seg, r.index(), gk);
                    match groups.iter_mut().find(|(k, _)| *k == slot) {
                        Some((_, v)) => v.push(a.clone()),
                        None => groups.push((slot, vec![a.clone()])),
                    }
                }
            }
        }
        let result = match self.record(to_record, &mut groups).await {
            Ok(()) => self.deliver_groups(groups, state, &mut done).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            // Undo, newest first, so a retry of the batch is not taken for a repeat.
            let mut noise = self.noise.lock().unwrap_or_else(|e| e.into_inner());
            for (k, prev) in noise_updates.into_iter().rev() {
                match prev {
                    Some(p) => noise.insert(k, p),
                    None => noise.remove(&k),
                };
            }
        }
        result.map(|()| done)
    }

    /// Active mutes, read from the store at most once per [`MUTE_CACHE_MS`], and again as
    /// soon as a mute changed in this process (`App::mutes_changed`).
    async fn mutes(&self, now: i64) -> StoreResult<Arc<Vec<Mute>>> {
        let epoch = self.app.mute_epoch();
        if let Some((at, seen, m)) = &*self.mutes.lock().unwrap_or_else(|e| e.into_inner())
            && now - at < MUTE_CACHE_MS
            && *seen == epoch
        {
            return Ok(m.clone());
        }
        let fresh = Arc::new(active_mutes(self.store()).await?);
        *self.mutes.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, epoch, fresh.clone()));
        Ok(fresh)
    }

    /// Records `seen` (see `incident::observe`) and gives the grouped alerts their records,
    /// so messages can name them (`/ack 12`) and cards show their state.
    async fn record(
        &self,
        mut seen: Vec<Alert>,
        groups: &mut [(Slot, Vec<Alert>)],
    ) -> StoreResult<()> {
        crate::alert::incident::observe(self.store(), &mut seen).await?;
        let key = |a: &Alert| format!("{}\u{1}{}\u{1}{}", a.fingerprint, a.event_id, a.kind);
        let by_key: HashMap<String, &Alert> = seen.iter().map(|a| (key(a), a)).collect();
        for (_, alerts) in groups.iter_mut() {
            for a in alerts.iter_mut() {
                if let Some(r) = by_key.get(&key(a)) {
                    a.record_id = r.record_id;
                    a.record = r.record.clone();
                }
            }
        }
        Ok(())
    }

    /// Drops the cached mutes, after a mute was added or removed here.
    pub fn forget_mutes(&self) {
        self.app.mutes_changed();
    }

    async fn deliver_groups(
        &self,
        groups: Vec<(Slot, Vec<Alert>)>,
        state: Vec<(String, String)>,
        done: &mut [Submitted],
    ) -> StoreResult<()> {
        // Render everything first, so each target is written once per batch: a burst costs
        // one transaction per target instead of several store round trips per alert.
        let mut per_target: Vec<(Target, Vec<Rendered>)> = Vec::new();
        for ((seg, ri, _), alerts) in groups {
            let (rname, targets, template, oncall) = if ri == usize::MAX {
                (
                    "default".to_string(),
                    self.default_targets.clone(),
                    None,
                    None,
                )
            } else if ri == usize::MAX - 1 {
                let t = alerts[0].direct.iter().map(|t| Target::parse(t)).collect();
                ("direct".to_string(), t, None, None)
            } else {
                let r = &self.routes[ri];
                (
                    r.cfg.name.clone(),
                    r.targets.clone(),
                    r.cfg.template.clone(),
                    r.cfg.oncall.clone(),
                )
            };
            let on_duty = self.on_duty(oncall.as_deref()).await;
            let mut targets = targets;
            if let Some(t) = on_duty
                .as_deref()
                .and_then(|u| self.on_duty_card(u, &targets))
            {
                targets.push(t);
            }
            // The dedup key names the alerts and the repeat period: a retried hand-over (a
            // crash before the source was acknowledged) lands on the same key, while a repeat
            // the route allows after its interval is a new message, not swallowed as a replay.
            let repeat_ms = if ri < self.routes.len() {
                self.routes[ri].repeat_ms
            } else {
                self.dedup_ms
            };
            let mut ids_src = sha1::Sha1::new();
            for a in &alerts {
                ids_src.update(a.event_id.as_bytes());
                ids_src.update(b"\n");
            }
            ids_src.update((now_ms() / repeat_ms.max(1)).to_le_bytes());
            let base = hex::encode(&ids_src.finalize()[..10]);
            // Secrets in log tails, annotations and events never reach a channel.
            let alerts: Vec<Alert> = alerts
                .iter()
                .map(|a| a.redacted(&self.app.redactor))
                .collect();
            for t in targets {
                let format = self.format_for(&t);
                let content = match &template {
                    Some(tpl) => render::with_template(tpl, &alerts, &rname, format, self.lang),
                    None if alerts.len() == 1 => render::one(&alerts[0], format, self.lang),
                    None => render::group(&alerts, format, self.lang),
                };
                let (content, mentions) = match &on_duty {
                    Some(user) => self.mention_on_duty(&t, content, format, user),
                    None => (content, Vec::new()),
                };
                // The app's users get a card with buttons (or the text, in the app's shape);
                // so do intelligent-robot chats, the only groups where buttons work.
                let bodies = match self.outbox.sender(&t.channel) {
                    Some(s) if s.shows_cards() => {
                        let headline = render::digest_lines(&content)
                            .into_iter()
                            .next()
                            .map(|l| plain(&l))
                            .unwrap_or_default();
                        let card = alert_card(&alerts, &headline, self.lang);
                        s.card_payloads(
                            &t.id,
                            &AlertCard {
                                card: card.as_ref(),
                                any_firing: alerts.iter().any(|a| !a.is_resolution()),
                                resolved: resolved_records(&alerts),
                                records: alerts
                                    .iter()
                                    .filter_map(|a| a.record.as_deref())
                                    .collect(),
                                living: living_key(&alerts),
                                content: &content,
                                lang: self.lang,
                            },
                        )
                    }
                    _ => None,
                };
                let item = Rendered {
                    seg,
                    key: format!("{KEY_PREFIX}{base}:{rname}:{}", t.label()),
                    route: rname.clone(),
                    content,
                    mentions,
                    bodies,
                };
                match per_target.iter_mut().find(|(x, _)| *x == t) {
                    Some((_, items)) => items.push(item),
                    None => per_target.push((t, vec![item])),
                }
            }
        }
        let mut recent = Vec::new();
        let mut per_segment: Vec<std::collections::BTreeSet<i64>> =
            vec![Default::default(); done.len()];
        // The bookkeeping rides with the last target's rows: earlier targets' rows without it
        // are replayed onto their own dedup keys.
        let mut state = Some(state).filter(|s| !s.is_empty());
        let last = per_target.len().saturating_sub(1);
        for (n, (t, items)) in per_target.into_iter().enumerate() {
            let format = self.format_for(&t);
            let mut carry = if n == last { state.take() } else { None };
            let ids = self.enqueue(&t, format, &items, &mut carry).await?;
            state = state.or(carry);
            let mut written: Vec<i64> = ids.iter().flatten().copied().collect();
            written.sort_unstable();
            written.dedup();
            metrics::counter!("wedock_alert_messages_total").increment(written.len() as u64);
            for (item, ids) in items.into_iter().zip(ids) {
                per_segment[item.seg].extend(ids.iter().copied());
                let line = render::digest_lines(&item.content)
                    .into_iter()
                    .next()
                    .map(|l| plain(&l))
                    .unwrap_or_default();
                let rec = RecentAlert {
                    at: now_ms(),
                    line,
                    route: item.route,
                    target: t.label(),
                    ids,
                };
                let seq = self.seq.fetch_add(1, Ordering::Relaxed) % 1_000_000;
                let key = format!("{RECENT_PREFIX}{:013}{seq:06}", rec.at);
                recent.push((key, serde_json::to_string(&rec).unwrap_or_default()));
            }
        }
        for (done, ids) in done.iter_mut().zip(per_segment) {
            done.messages += ids.len();
        }
        if let Some(state) = state {
            let fence = self.app.leader_fence()?;
            self.outbox
                .enqueue_with_state(fence.as_ref(), Vec::new(), state)
                .await?;
        }
        self.store().kv_set_many(recent, Some(RECENT_TTL)).await
    }

    /// The markup alerts to `t` are written in, as its channel says.
    fn format_for(&self, t: &Target) -> Format {
        self.outbox
            .sender(&t.channel)
            .map_or(Format::Text, |s| s.alert_format(&t.id))
    }

    /// Alert messages waiting for `t` that were never attempted (the ones a digest may replace).
    async fn waiting_alerts(&self, t: &Target) -> StoreResult<Vec<OutboxMessage>> {
        let waiting: Vec<OutboxMessage> = self
            .store()
            .outbox_pending_for(&t.channel, &t.id)
            .await?
            .into_iter()
            .filter(|m| {
                m.attempts == 0
                    && m.dedup_key
                        .as_deref()
                        .is_some_and(|k| k.starts_with(KEY_PREFIX))
            })
            .collect();
        metrics::gauge!("wedock_alerts_waiting", "target" => t.id.clone())
            .set(waiting.len() as f64);
        Ok(waiting)
    }

    /// Writes the messages of one batch for one target, split to the format's byte limit.
    /// Group robots have a rate budget: once it is spent (or `digest_pending` messages are
    /// already waiting), the waiting messages and the rest of the batch are folded into one
    /// digest instead of queueing past what the robot may send. Returns the outbox ids of each
    /// item (a folded item gets the digest's ids). `state` is taken by the write of the last
    /// rows when no digest follows them.
    async fn enqueue(
        &self,
        t: &Target,
        format: Format,
        items: &[Rendered],
        state: &mut Option<Vec<(String, String)>>,
    ) -> StoreResult<Vec<Vec<i64>>> {
        let mut plain_n = items.len();
        let mut waiting = Vec::new();
        if self
            .outbox
            .sender(&t.channel)
            .is_some_and(|s| s.folds_bursts())
        {
            waiting = self.waiting_alerts(t).await?;
            let budget = self.outbox.has_budget(&t.channel, &t.id).await;
            let room = if budget {
                self.app
                    .config
                    .alerts
                    .digest_pending
                    .saturating_sub(waiting.len())
            } else {
                0
            };
            // The first message of a quiet target always goes out as itself.
            plain_n = room.max(usize::from(waiting.is_empty())).min(items.len());
        }
        let carry = if plain_n == items.len() {
            state.take()
        } else {
            None
        };
        let mut out = self
            .enqueue_plain(t, format, &items[..plain_n], carry)
            .await?;
        let rest = &items[plain_n..];
        if rest.is_empty() {
            return Ok(out);
        }
        if plain_n > 0 {
            waiting = self.waiting_alerts(t).await?;
        }
        let contents: Vec<&str> = rest.iter().map(|r| r.content.as_str()).collect();
        for _ in 0..3 {
            let digest = self.digest(t, format, &waiting, &contents);
            let ids = waiting.iter().map(|m| m.id).collect();
            if let Some(new) = self.store().outbox_fold(ids, digest).await? {
                metrics::counter!("wedock_alert_digests_total").increment(1);
                self.outbox.wake();
                out.extend(rest.iter().map(|_| new.clone()));
                return Ok(out);
            }
            // A waiting message was picked up meanwhile: look again.
            waiting = self.waiting_alerts(t).await?;
        }
        // The sender keeps taking messages: queue the rest as they are.
        out.extend(self.enqueue_plain(t, format, rest, state.take()).await?);
        Ok(out)
    }

    /// Queues each item as its own message(s), split to the format's byte limit, in one
    /// store write (with `state`, when given). Returns the outbox ids of each item.
    async fn enqueue_plain(
        &self,
        t: &Target,
        format: Format,
        items: &[Rendered],
        state: Option<Vec<(String, String)>>,
    ) -> StoreResult<Vec<Vec<i64>>> {
        let mut msgs = Vec::new();
        let mut owner = Vec::new();
        for (n, item) in items.iter().enumerate() {
            let bodies = match &item.bodies {
                Some(b) => b.clone(),
                None => {
                    let mentions: Vec<&str> = item.mentions.iter().map(String::as_str).collect();
                    self.outbox
                        .text_payloads(t, format, &item.content, &mentions)
                }
            };
            for (i, body) in bodies.into_iter().enumerate() {
                msgs.push(NewOutboxMessage {
                    channel: t.channel.clone(),
                    target: t.id.clone(),
                    payload: body,
                    dedup_key: Some(format!("{}:{i}", item.key)),
                });
                owner.push(n);
            }
        }
        let mut out = vec![Vec::new(); items.len()];
        let ids = match state {
            Some(state) => {
                let fence = self.app.leader_fence()?;
                self.outbox
                    .enqueue_with_state(fence.as_ref(), msgs, state)
                    .await?
            }
            None => self.outbox.enqueue_many(msgs).await?,
        };
        for (id, n) in ids.into_iter().zip(owner) {
            out[n].push(id);
        }
        Ok(out)
    }

    fn routes_for(&self, a: &Alert) -> Vec<RouteRef> {
        if !a.direct.is_empty() {
            // A hook naming a route uses it; naming targets sends there.
            if let Some(i) = self
                .routes
                .iter()
                .position(|r| a.direct.contains(&r.cfg.name))
            {
                return vec![RouteRef::Configured(i)];
            }
            return vec![RouteRef::Direct];
        }
        if let Some(name) = a.labels.get("wedock.route")
            && let Some(i) = self.routes.iter().position(|r| &r.cfg.name == name)
        {
            return vec![RouteRef::Configured(i)];
        }
        if self.routes.is_empty() {
            return if default_applies(a) && !self.default_targets.is_empty() {
                vec![RouteRef::Default]
            } else {
                Vec::new()
            };
        }
        let mut out = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            if route_matches(&r.cfg.matches, a) {
                out.push(RouteRef::Configured(i));
                if !r.cfg.continue_matching {
                    break;
                }
            }
        }
        out
    }

    /// Forgets dedup state older than any repeat interval, so memory stays bounded.
    fn prune(&self, now: i64) {
        let last = self.last_prune.load(Ordering::Relaxed) as i64;
        if now - last < 10_000 {
            return;
        }
        self.last_prune.store(now as u64, Ordering::Relaxed);
        let keep = self
            .routes
            .iter()
            .map(|r| r.repeat_ms)
            .chain([self.dedup_ms])
            .max()
            .unwrap_or(self.dedup_ms);
        let mut noise = self.noise.lock().unwrap_or_else(|e| e.into_inner());
        // Entries with a repeat limit must be kept while the problem lasts; the limit is
        // per route, so keep those for a day.
        noise.retain(|_, s| {
            now - s.last_sent < keep.max(1).max(if s.sends > 1 { 86_400_000 } else { 0 })
        });
        metrics::gauge!("wedock_alerts_dedup_entries").set(noise.len() as f64);
    }

    /// Number of fingerprints currently remembered (for benches and tests).
    pub fn dedup_entries(&self) -> usize {
        self.noise.lock().map(|n| n.len()).unwrap_or(0)
    }

    /// Recent alert messages, newest first, with their delivery status.
    pub async fn recent(store: &dyn Store, n: usize) -> StoreResult<Vec<(RecentAlert, String)>> {
        let mut rows: Vec<RecentAlert> = store
            .kv_scan(RECENT_PREFIX)
            .await?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str(&v).ok())
            .collect();
        rows.sort_by_key(|r: &RecentAlert| std::cmp::Reverse(r.at));
        rows.truncate(n);
        let all = store.outbox_list(None, 2000).await?;
        let by_id: HashMap<i64, &OutboxMessage> = all.iter().map(|m| (m.id, m)).collect();
        Ok(rows
            .into_iter()
            .map(|r| {
                let statuses: Vec<String> = r
                    .ids
                    .iter()
                    .map(|id| match by_id.get(id) {
                        Some(m) => match &m.last_error {
                            Some(e) if m.status != crate::store::OutboxStatus::Sent => {
                                format!("{} ({e})", m.status.as_str())
                            }
                            _ => m.status.as_str().to_string(),
                        },
                        None => "digest".to_string(),
                    })
                    .collect();
                let mut s = statuses.clone();
                s.dedup();
                (r, s.join(", "))
            })
            .collect())
    }
}

/// One rendered alert message for one target, before it is written.
struct Rendered {
    /// The submission (see [`Engine::submit_many`]) whose alerts this message carries.
    seg: usize,
    /// Dedup key prefix: the alerts' ids, the route and the target.
    key: String,
    route: String,
    content: String,
    /// People the channel notifies by list (a robot text message's `mentioned_list`).
    mentions: Vec<String>,
    /// The channel's card payloads, when it shows this message as a card.
    bodies: Option<Vec<String>>,
}

/// The `template_card` whose buttons act for an alert message: the first firing alert's
/// record (its silence covers the group's labels), else the first alert's.
fn alert_card(alerts: &[Alert], headline: &str, lang: Lang) -> Option<serde_json::Value> {
    let r = alerts
        .iter()
        .find(|a| !a.is_resolution())
        .or(alerts.first())
        .and_then(|a| a.record.as_deref())?;
    Some(crate::render::card::template_card(
        r,
        headline,
        &crate::render::card::new_task_id(r.id),
        now_ms(),
        lang,
    ))
}

/// The group all of a message's alerts belong to, when they share one (see
/// [`Alert::living_key`]).
fn living_key(alerts: &[Alert]) -> Option<String> {
    let key = alerts.first()?.living_key()?;
    alerts
        .iter()
        .all(|a| a.living_key().as_deref() == Some(key.as_str()))
        .then_some(key)
}

/// The records of a message's alerts when every one is a resolution with a record.
fn resolved_records(alerts: &[Alert]) -> Vec<&crate::store::incidents::AlertRecord> {
    let closed: Vec<_> = alerts
        .iter()
        .filter(|a| a.is_resolution())
        .filter_map(|a| a.record.as_deref())
        .collect();
    if closed.len() == alerts.len() {
        closed
    } else {
        Vec::new()
    }
}

impl Severity {
    /// Most severe first.
    pub fn rank(self) -> u8 {
        self as u8
    }
}
