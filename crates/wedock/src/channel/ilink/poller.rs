//! The long-poll loop of each account (`wechat-ilink.md` §5).
//!
//! The server hands a message out once only: a batch lost after its response arrived cannot
//! be fetched again. So every batch is written to the store (`weixin:inbox:…`) before the new
//! cursor is saved, and a message leaves the inbox only after its answer is queued; a restart
//! processes what is left there first. Messages already answered (same message id) are
//! dropped. Errors: -14 stops the account until a new login; other failures wait 2 s, and
//! 30 s after three in a row.

use super::api::{ApiError, Content, WeixinMessage};
use super::{Account, CHANNEL, CURSOR_PREFIX, INBOX_PREFIX, SEEN_PREFIX, SEEN_TTL};
use crate::app::App;
use crate::i18n::Lang;
use crate::leader::Leader;
use crate::message::Incoming;
use crate::state::AppState;
use crate::store::now_ms;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts the account manager on the leader: one poller per bound account, new logins picked
/// up within `weixin.relogin_check_secs`.
pub fn spawn(
    state: &AppState,
    leader: Leader,
    shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let app = state.app().clone();
    if !app.config.weixin.enabled {
        return None;
    }
    for a in &app.config.weixin.accounts {
        app.health.set(
            &super::health_name(&a.name),
            false,
            false,
            "waiting for leadership",
        );
    }
    let state = state.clone();
    Some(tokio::spawn(crate::leader::while_leader(
        leader,
        shutdown,
        move |stop| manage(state.clone(), stop),
    )))
}

async fn manage(
    state: AppState,
    stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    let app = state.app().clone();
    let (tx, rx) = watch::channel(false);
    let mut pollers: HashMap<String, JoinHandle<()>> = HashMap::new();
    let check = Duration::from_secs(app.config.weixin.relogin_check_secs);
    tokio::pin!(stop);
    loop {
        // Registered before the scan, so a login that lands during it still wakes the wait.
        let changed = crate::channel::shared(&app)
            .weixin
            .accounts_changed
            .notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let mut names: Vec<String> = app
            .config
            .weixin
            .accounts
            .iter()
            .map(|a| a.name.clone())
            .collect();
        match super::list_accounts(app.store.as_ref()).await {
            Ok(list) => names.extend(list.into_iter().map(|a| a.name)),
            Err(e) => tracing::warn!(error = %e, "weixin: cannot list accounts"),
        }
        for name in names {
            if pollers.get(&name).is_none_or(|h| h.is_finished()) {
                let h = tokio::spawn(run_account(state.clone(), name.clone(), rx.clone()));
                pollers.insert(name, h);
            }
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(check) => {}
            _ = &mut changed => {}
        }
    }
    let _ = tx.send(true);
    futures::future::join_all(pollers.into_values()).await;
}

/// Waits `d` (or until this process binds an account) unless shutdown comes first; false on
/// shutdown.
async fn pause(app: &App, shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = shutdown.wait_for(|v| *v) => false,
        _ = tokio::time::sleep(d) => true,
        _ = crate::channel::shared(app).weixin.accounts_changed.notified() => true,
    }
}

/// One account: wait for usable credentials, then poll until shutdown or session expiry.
async fn run_account(state: AppState, name: String, mut shutdown: watch::Receiver<bool>) {
    let app = state.app().clone();
    let check = Duration::from_secs(app.config.weixin.relogin_check_secs);
    let health = super::health_name(&name);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let acct = match super::load_account(app.store.as_ref(), &name).await {
            Ok(Some(a)) if a.expired_at.is_none() => a,
            Ok(Some(a)) => {
                app.health.set(
                    &health,
                    false,
                    false,
                    super::expired_detail(&name, a.expired_at.unwrap_or(0)),
                );
                if !pause(&app, &mut shutdown, check).await {
                    return;
                }
                continue;
            }
            Ok(None) => {
                app.health.set(
                    &health,
                    false,
                    false,
                    format!("not bound: run `wedock weixin login --name {name}`"),
                );
                if !pause(&app, &mut shutdown, check).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, account = %name, "weixin: cannot read the account");
                if !pause(&app, &mut shutdown, check).await {
                    return;
                }
                continue;
            }
        };
        match poll_account(&state, &acct, &mut shutdown).await {
            Stopped::Shutdown => return,
            Stopped::Expired => {
                super::mark_expired(&app, &name, "getupdates").await;
            }
            Stopped::Replaced => {}
        }
    }
}

enum Stopped {
    Shutdown,
    Expired,
    /// A new login replaced the credentials this loop was using.
    Replaced,
}

async fn poll_account(
    state: &AppState,
    acct: &Account,
    shutdown: &mut watch::Receiver<bool>,
) -> Stopped {
    let app = state.app().clone();
    let name = acct.name.as_str();
    let health = super::health_name(name);
    let client = acct.client(super::api::http_client());
    let cursor_key = format!("{CURSOR_PREFIX}{name}");
    let mut hold = Duration::from_millis(app.config.weixin.long_poll_ms);
    if let Err(e) = client.notify(true).await {
        tracing::debug!(account = name, error = %e, "weixin: notifystart failed (ignored)");
    }
    app.health.set(
        &health,
        true,
        false,
        format!("polling as {} for {}", acct.bot_id, acct.user_id),
    );
    tracing::info!(account = name, bot = %acct.bot_id, "weixin: polling");
    // Whatever a previous run stored but did not finish comes first.
    drain_inbox(state, acct).await;
    let mut failures = 0u32;
    let stopped = loop {
        if *shutdown.borrow() {
            break Stopped::Shutdown;
        }
        match super::load_account(app.store.as_ref(), name).await {
            Ok(Some(now)) if now.bot_token == acct.bot_token && now.expired_at.is_none() => {}
            Ok(_) => break Stopped::Replaced,
            Err(_) => {}
        }
        let cursor = app
            .store
            .kv_get(&cursor_key)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let result = tokio::select! {
            _ = shutdown.wait_for(|v| *v) => break Stopped::Shutdown,
            r = client.get_updates(&cursor, hold) => r,
        };
        match result {
            Ok(resp) => {
                if failures > 0 {
                    app.health.set(
                        &health,
                        true,
                        false,
                        format!("polling as {} for {}", acct.bot_id, acct.user_id),
                    );
                }
                failures = 0;
                if let Some(ms) = resp.longpolling_timeout_ms.filter(|ms| *ms > 0) {
                    hold = Duration::from_millis(ms.min(120_000) as u64);
                }
                // Store first, then move the cursor, then process.
                match stash(app.store.as_ref(), name, &resp.msgs).await {
                    Ok(()) => {
                        if let Some(next) = resp.get_updates_buf.filter(|c| !c.is_empty())
                            && let Err(e) = app.store.kv_set(&cursor_key, &next, None).await
                        {
                            tracing::warn!(account = name, error = %e, "weixin: cannot save the cursor");
                        }
                        drain_inbox(state, acct).await;
                    }
                    Err(e) => {
                        // The store is failing: answer from memory rather than lose the
                        // batch, and keep the old cursor (the server will not replay it).
                        tracing::error!(account = name, error = %e, "weixin: cannot store received messages");
                        metrics::counter!("wedock_errors_total", "reason" => "store").increment(1);
                        for m in &resp.msgs {
                            process(state, acct, &m.to_string()).await;
                        }
                    }
                }
            }
            Err(ApiError::SessionExpired) => break Stopped::Expired,
            Err(e) => {
                failures += 1;
                metrics::counter!("wedock_weixin_poll_errors_total").increment(1);
                tracing::warn!(account = name, error = %e, failures, "weixin: getupdates failed");
                app.health
                    .set(&health, false, false, format!("getupdates failed: {e}"));
                let wait = if failures >= 3 {
                    failures = 0;
                    Duration::from_secs(30)
                } else {
                    Duration::from_secs(2)
                };
                if !pause(&app, shutdown, wait).await {
                    break Stopped::Shutdown;
                }
            }
        }
    };
    if !matches!(stopped, Stopped::Expired)
        && let Err(e) = client.notify(false).await
    {
        tracing::debug!(account = name, error = %e, "weixin: notifystop failed (ignored)");
    }
    if matches!(stopped, Stopped::Shutdown) {
        app.health.set(&health, false, false, "stopped");
    }
    stopped
}

/// Writes a batch to the account's inbox, in order, before anything else happens to it.
pub async fn stash(
    store: &dyn crate::store::Store,
    account: &str,
    msgs: &[Value],
) -> crate::store::StoreResult<()> {
    let base = now_ms();
    for (i, m) in msgs.iter().enumerate() {
        // Key order is arrival order: time, then position in the batch.
        let key = format!(
            "{INBOX_PREFIX}{account}:{base:013}{i:05}{:04x}",
            rand::random::<u16>()
        );
        store.kv_set(&key, &m.to_string(), None).await?;
    }
    metrics::counter!("wedock_weixin_received_total").increment(msgs.len() as u64);
    Ok(())
}

/// Processes every stored message of the account in arrival order.
async fn drain_inbox(state: &AppState, acct: &Account) {
    let app = state.app();
    let prefix = format!("{INBOX_PREFIX}{}:", acct.name);
    let pending = match app.store.kv_scan(&prefix).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "weixin: cannot read the inbox");
            return;
        }
    };
    for (key, raw) in pending {
        process(state, acct, &raw).await;
        if let Err(e) = app.store.kv_delete(&key).await {
            tracing::warn!(error = %e, "weixin: cannot clear an inbox entry");
        }
    }
}

fn reject(reason: &'static str, detail: &dyn std::fmt::Display) {
    tracing::warn!(channel = CHANNEL, reason, %detail, "weixin message skipped");
    metrics::counter!("wedock_rejected_total", "reason" => reason).increment(1);
}

/// One inbound message: dedup, conversation update, pipeline, reply.
async fn process(state: &AppState, acct: &Account, raw: &str) {
    let app = state.app();
    let m: WeixinMessage = match serde_json::from_str(raw) {
        Ok(m) => m,
        Err(e) => return reject("weixin_bad_message", &e),
    };
    // The bot's own messages (if the server ever echoes them) are not questions.
    if m.message_type == Some(2) {
        return;
    }
    let Some(user) = m.from_user_id.clone().filter(|u| !u.is_empty()) else {
        return reject("weixin_bad_message", &"message without a sender");
    };
    if user == acct.bot_id {
        return;
    }
    let id = m.dedup_id();
    let seen_key = format!("{SEEN_PREFIX}{}:{id}", acct.name);
    if matches!(app.store.kv_get(&seen_key).await, Ok(Some(_))) {
        tracing::info!(account = %acct.name, "weixin: duplicate message dropped");
        metrics::counter!("wedock_duplicates_total", "channel" => CHANNEL).increment(1);
        return;
    }
    // A new message: a new token, a fresh budget, a fresh window.
    {
        let _g = crate::channel::shared(app).weixin.conv_lock.lock().await;
        let store = app.store.as_ref();
        match super::load_conv(store, &acct.name, &user).await {
            Ok(mut c) => {
                c.inbound(m.context_token.as_deref().unwrap_or(""), now_ms());
                if let Err(e) = super::save_conv(store, &acct.name, &user, &c).await {
                    tracing::warn!(error = %e, "weixin: cannot save the conversation");
                }
            }
            Err(e) => tracing::warn!(error = %e, "weixin: cannot read the conversation"),
        }
    }
    let (reply, lang) = match m.content() {
        Content::Text(text) => {
            let lang = Lang::detect(&text);
            let msg = Incoming {
                channel: CHANNEL.into(),
                user: user.clone(),
                chat: None,
                text,
                msg_id: Some(id.clone()),
                granted_role: None,
                role_cap: None,
            };
            let token = m.context_token.clone().unwrap_or_default();
            let reply = with_typing(app, acct, &user, &token, state.pipeline.handle(msg)).await;
            match reply {
                // WeChat shows text as it is: Markdown answers go out as plain text.
                Some(r) => (Some(r.rendered(crate::render::Target::Plain)), r.lang),
                None => (None, lang),
            }
        }
        Content::Unsupported(kind) => {
            let lang = crate::channel::user_lang(app, &format!("{CHANNEL}:{user}")).await;
            (Some(crate::channel::unsupported(lang, kind)), lang)
        }
    };
    match super::queue_reply(
        app,
        &state.outbox,
        &acct.name,
        &user,
        reply.as_deref(),
        lang,
    )
    .await
    {
        Ok(_) => {
            if let Err(e) = app.store.kv_set(&seen_key, "1", Some(SEEN_TTL)).await {
                tracing::warn!(error = %e, "weixin: cannot remember the message id");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, account = %acct.name, "weixin: cannot queue the reply");
            metrics::counter!("wedock_errors_total", "reason" => "store").increment(1);
        }
    }
}

/// Runs `work`; when it takes longer than `weixin.typing_after_ms`, shows "typing…" and keeps
/// it alive every 5 s, and always cancels it at the end. Typing failures never matter.
async fn with_typing<T>(
    app: &Arc<App>,
    acct: &Account,
    user: &str,
    token: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let after = Duration::from_millis(app.config.weixin.typing_after_ms);
    // 0 means "always": a zero sleep is not ready before the timer ticks, so skip the race.
    if !after.is_zero() {
        tokio::select! {
            r = &mut work => return r,
            _ = tokio::time::sleep(after) => {}
        }
    }
    let client = acct.client(super::api::http_client());
    let Some(ticket) = typing_ticket(app, acct, &client, user, token).await else {
        return work.await;
    };
    let _ = client.send_typing(user, &ticket, 1).await;
    let mut keepalive = tokio::time::interval(Duration::from_secs(5));
    keepalive.tick().await;
    let r = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = keepalive.tick() => { let _ = client.send_typing(user, &ticket, 1).await; }
        }
    };
    if let Err(e) = client.send_typing(user, &ticket, 2).await {
        tracing::debug!(error = %e, "weixin: typing cancel failed");
    }
    metrics::counter!("wedock_weixin_typing_total").increment(1);
    r
}

/// A cached typing ticket for the user (fetched at most once an hour).
async fn typing_ticket(
    app: &App,
    acct: &Account,
    client: &super::api::Client,
    user: &str,
    token: &str,
) -> Option<String> {
    let key = super::target(&acct.name, user);
    if let Ok(t) = crate::channel::shared(app).weixin.tickets.lock()
        && let Some((ticket, at)) = t.get(&key)
        && at.elapsed() < Duration::from_secs(3600)
    {
        return Some(ticket.clone());
    }
    match client.get_config(user, token).await {
        Ok(ticket) => {
            if let Ok(mut t) = crate::channel::shared(app).weixin.tickets.lock() {
                t.insert(key, (ticket.clone(), Instant::now()));
            }
            Some(ticket)
        }
        Err(e) => {
            tracing::debug!(error = %e, "weixin: no typing ticket");
            None
        }
    }
}
