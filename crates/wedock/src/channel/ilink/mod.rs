//! Personal WeChat through Tencent's official bot API (iLink, "微信ClawBot") — see
//! `wechat-ilink.md`. No callback URL: a QR login binds a bot to a WeChat account, the bot
//! pulls direct messages by long-poll and replies with a bearer token.
//!
//! * Accounts: `wedock weixin login --name NAME` (or the console) stores the credentials in
//!   the store (`weixin:account:NAME`); every stored account is polled while `weixin.enabled`.
//! * Receiving ([`poller`]): one long-poll per account on the leader; the server's cursor is
//!   persisted, and every message is written to the store before it is processed, because the
//!   server never hands a message out twice. Duplicates are dropped by message id.
//! * Replying: through the outbox (sender `weixin`, target `ACCOUNT/USER`), always with the
//!   user's latest context token, within the ~10-per-message budget and the 24 h window
//!   ([`quota`]). A send counts as sent only when a `message_id` comes back.
//! * Session expiry (-14 in `ret` or `errcode`): the account stops, `/readyz` and the console
//!   show it, `weixin.notify` targets are told, and it waits for a new login — no retry loop.
//!
//! Identities are `weixin:<ilink_user_id>`; there are no groups on this API.

pub mod api;
pub mod console;
pub mod login;
pub mod poller;
pub mod quota;

use crate::app::App;
use crate::outbox::{Delivery, Sender};
use crate::secret::Secret;
use crate::store::{NewOutboxMessage, OutboxMessage, Store, StoreResult, now_ms};
use api::SendResult;
use async_trait::async_trait;
use quota::Conv;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const CHANNEL: &str = "weixin";
pub const SENDER: &str = "weixin";

const ACCOUNT_PREFIX: &str = "weixin:account:";
const CURSOR_PREFIX: &str = "weixin:cursor:";
pub const CONV_PREFIX: &str = "weixin:conv:";
const INBOX_PREFIX: &str = "weixin:inbox:";
const SEEN_PREFIX: &str = "weixin:seen:";
/// How long a processed message id is remembered (redeliveries were seen up to ~50 min later).
const SEEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Conversation state outlives the 24 h window a little, then goes.
const CONV_TTL: Duration = Duration::from_secs(3 * 24 * 3600);

/// A bound bot account as stored. `Debug` never shows the token.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub bot_token: String,
    pub bot_id: String,
    pub base_url: String,
    /// The WeChat user who scanned the QR.
    pub user_id: String,
    pub saved_at: i64,
    /// Set when the server answered -14; cleared by a new login.
    #[serde(default)]
    pub expired_at: Option<i64>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("bot_id", &self.bot_id)
            .field("base_url", &self.base_url)
            .field("user_id", &self.user_id)
            .field("expired_at", &self.expired_at)
            .finish_non_exhaustive()
    }
}

impl Account {
    pub fn client(&self, http: reqwest::Client) -> api::Client {
        api::Client::new(&self.base_url, Some(Secret::new(&self.bot_token)), http)
    }
}

pub async fn load_account(store: &dyn Store, name: &str) -> StoreResult<Option<Account>> {
    Ok(store
        .kv_get(&format!("{ACCOUNT_PREFIX}{name}"))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

pub async fn list_accounts(store: &dyn Store) -> StoreResult<Vec<Account>> {
    Ok(store
        .kv_scan(ACCOUNT_PREFIX)
        .await?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_str(&v).ok())
        .collect())
}

/// Stores a login's credentials. A different bot (or a dead session) starts over with an
/// empty cursor and no conversations: old context tokens belong to the old binding.
pub async fn save_account(store: &dyn Store, acct: &Account) -> StoreResult<()> {
    let old = load_account(store, &acct.name).await?;
    if old.as_ref().is_none_or(|o| {
        o.bot_id != acct.bot_id || o.bot_token != acct.bot_token || o.expired_at.is_some()
    }) {
        forget_state(store, &acct.name).await?;
    }
    let v = serde_json::to_string(acct).map_err(|e| crate::store::StoreError::Db(e.to_string()))?;
    store
        .kv_set(&format!("{ACCOUNT_PREFIX}{}", acct.name), &v, None)
        .await
}

/// Removes an account with its cursor and conversations (`wedock weixin logout`).
pub async fn remove_account(store: &dyn Store, name: &str) -> StoreResult<bool> {
    let existed = load_account(store, name).await?.is_some();
    forget_state(store, name).await?;
    store.kv_delete(&format!("{ACCOUNT_PREFIX}{name}")).await?;
    Ok(existed)
}

async fn forget_state(store: &dyn Store, name: &str) -> StoreResult<()> {
    store.kv_delete(&format!("{CURSOR_PREFIX}{name}")).await?;
    for (k, _) in store.kv_scan(&format!("{CONV_PREFIX}{name}:")).await? {
        store.kv_delete(&k).await?;
    }
    Ok(())
}

fn conv_key(account: &str, user: &str) -> String {
    format!("{CONV_PREFIX}{account}:{user}")
}

pub async fn load_conv(store: &dyn Store, account: &str, user: &str) -> StoreResult<Conv> {
    Ok(store
        .kv_get(&conv_key(account, user))
        .await?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

async fn save_conv(store: &dyn Store, account: &str, user: &str, c: &Conv) -> StoreResult<()> {
    let v = serde_json::to_string(c).map_err(|e| crate::store::StoreError::Db(e.to_string()))?;
    store
        .kv_set(&conv_key(account, user), &v, Some(CONV_TTL))
        .await
}

/// State the poller, the sender and the console share in one process.
#[derive(Default)]
pub struct Shared {
    /// Serialises read-modify-write of conversation state (poller and sender both run on
    /// the leader, so one process-wide lock is enough).
    conv_lock: tokio::sync::Mutex<()>,
    /// Typing tickets by `account/user`, with when they were fetched.
    tickets: Mutex<HashMap<String, (String, Instant)>>,
    /// The login the console started, if any.
    pub login: Mutex<Option<login::LoginView>>,
    login_running: std::sync::atomic::AtomicBool,
    /// Woken when this process binds or renews an account, so the poller manager picks it
    /// up at once instead of at its next `relogin_check_secs` scan (a login from the CLI,
    /// another process, is still found by the scan).
    pub accounts_changed: tokio::sync::Notify,
}

/// Outbox target of a user of an account.
pub fn target(account: &str, user: &str) -> String {
    format!("{account}/{user}")
}

/// An outbox message answering `user`; `reserved` means the budget was already promised.
pub fn reply_message(account: &str, user: &str, text: &str, reserved: bool) -> NewOutboxMessage {
    NewOutboxMessage {
        channel: SENDER.into(),
        target: target(account, user),
        payload: json!({"account": account, "to": user, "text": text, "reserved": reserved})
            .to_string(),
        dedup_key: None,
    }
}

/// Marks an account's session dead (once): health, log, metric, and a note to
/// `weixin.notify`.
pub async fn mark_expired(app: &App, name: &str, during: &str) {
    let _guard = crate::channel::shared(app).weixin.conv_lock.lock().await;
    let Ok(Some(mut acct)) = load_account(app.store.as_ref(), name).await else {
        return;
    };
    if acct.expired_at.is_some() {
        return;
    }
    let now = now_ms();
    acct.expired_at = Some(now);
    let saved = serde_json::to_string(&acct).unwrap_or_default();
    if let Err(e) = app
        .store
        .kv_set(&format!("{ACCOUNT_PREFIX}{name}"), &saved, None)
        .await
    {
        tracing::error!(error = %e, account = name, "could not record the expired session");
    }
    tracing::error!(
        account = name,
        during,
        "weixin: session expired (-14); account stopped until `wedock weixin login --name {name}`"
    );
    metrics::counter!("wedock_weixin_session_expired_total").increment(1);
    app.health
        .set(&health_name(name), false, false, expired_detail(name, now));
    let text = format!(
        "⚠️ 个人微信账号 {name} 的登录已失效（-14），已停止收发；请运行 `wedock weixin login --name {name}` 重新扫码。\n\
         ⚠️ Personal WeChat account {name}: session expired (-14); stopped until someone runs `wedock weixin login --name {name}` and scans again."
    );
    for t in &app.config.weixin.notify {
        let target = crate::outbox::payload::Target::parse(t);
        let format = if target.channel == crate::channel::robot::CHANNEL {
            crate::render::Format::Markdown
        } else {
            crate::render::Format::Text
        };
        for (i, payload) in crate::outbox::payload::bodies(format, &text)
            .into_iter()
            .enumerate()
        {
            let msg = NewOutboxMessage {
                channel: target.channel.clone(),
                target: target.id.clone(),
                payload,
                dedup_key: Some(format!("weixin-expired:{name}:{now}:{t}:{i}")),
            };
            if let Err(e) = app.store.outbox_enqueue(msg).await {
                tracing::error!(error = %e, "could not queue the session-expiry notice");
            }
        }
    }
}

pub fn health_name(account: &str) -> String {
    format!("weixin:{account}")
}

pub fn expired_detail(name: &str, at_ms: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    format!("session expired (-14) at {at}: run `wedock weixin login --name {name}`")
}

/// Delivers `weixin` outbox messages: replies (`{"account","to","text"}`) and alert bodies
/// (`{"msgtype":…}` to a target `ACCOUNT/USER` or `USER`).
pub struct WeixinSender {
    app: Arc<App>,
    http: reqwest::Client,
}

pub fn sender(app: &Arc<App>) -> Option<WeixinSender> {
    if !app.config.weixin.enabled {
        return None;
    }
    Some(WeixinSender {
        app: app.clone(),
        http: api::http_client(),
    })
}

struct Outgoing {
    account: Option<String>,
    to: String,
    text: String,
    reserved: bool,
}

fn parse_outgoing(msg: &OutboxMessage) -> Option<Outgoing> {
    let v: Value = serde_json::from_str(&msg.payload).ok()?;
    if let Some(text) = v.get("text").and_then(Value::as_str) {
        return Some(Outgoing {
            account: v.get("account").and_then(Value::as_str).map(str::to_string),
            to: v.get("to").and_then(Value::as_str)?.to_string(),
            text: text.to_string(),
            reserved: v.get("reserved").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    // An alert body: the target names the user, optionally after the account.
    let text = crate::outbox::payload::content_of(&msg.payload)?;
    let (account, to) = match msg.target.split_once('/') {
        Some((a, u)) => (Some(a.to_string()), u.to_string()),
        None => (None, msg.target.clone()),
    };
    Some(Outgoing {
        account,
        to,
        text,
        reserved: false,
    })
}

impl WeixinSender {
    /// The account for a message without one: the first that has a conversation with `to`.
    async fn account_for(&self, to: &str) -> Option<String> {
        let store = self.app.store.as_ref();
        for a in list_accounts(store).await.ok()? {
            if store.kv_get(&conv_key(&a.name, to)).await.ok()?.is_some() {
                return Some(a.name);
            }
        }
        None
    }
}

#[async_trait]
impl Sender for WeixinSender {
    fn channel(&self) -> &str {
        SENDER
    }

    /// Personal WeChat ids end in `@im.wechat`; the bound account writes to them.
    fn direct_target(&self, user: &str) -> Option<(String, crate::outbox::payload::Reach)> {
        user.ends_with("@im.wechat")
            .then(|| (user.to_string(), crate::outbox::payload::Reach::ByIdShape))
    }

    async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
        let Some(out) = parse_outgoing(msg) else {
            metrics::counter!("wedock_rejected_total", "reason" => "weixin_bad_payload")
                .increment(1);
            return Delivery::Dead("payload is not a weixin message".into());
        };
        let account = match out.account.clone() {
            Some(a) => a,
            None => match self.account_for(&out.to).await {
                Some(a) => a,
                None => return Delivery::Dead("no conversation with this user yet".into()),
            },
        };
        let app = &self.app;
        let store = app.store.as_ref();
        let cfg = &app.config.weixin;
        let acct = match load_account(store, &account).await {
            Ok(Some(a)) if a.expired_at.is_none() => a,
            Ok(Some(_)) => return Delivery::Dead("session expired (-14): log in again".into()),
            Ok(None) => return Delivery::Dead(format!("no bound account {account:?}")),
            Err(e) => {
                return Delivery::Retry {
                    reason: e.to_string(),
                    after: None,
                };
            }
        };

        // Claim one unit of the conversation's budget, or hold the text for later.
        let window_ms = (cfg.window_hours * 3600 * 1000) as i64;
        let token = {
            let _g = crate::channel::shared(app).weixin.conv_lock.lock().await;
            let mut conv = match load_conv(store, &account, &out.to).await {
                Ok(c) => c,
                Err(e) => {
                    return Delivery::Retry {
                        reason: e.to_string(),
                        after: None,
                    };
                }
            };
            if out.reserved {
                conv.queued = conv.queued.saturating_sub(1);
            }
            let refusal = if !conv.window_open(now_ms(), window_ms) {
                Some("window_closed")
            } else if conv.sends >= cfg.per_inbound {
                Some("quota_used")
            } else {
                None
            };
            if let Some(reason) = refusal {
                conv.hold(out.text.clone());
                let _ = save_conv(store, &account, &out.to, &conv).await;
                metrics::counter!("wedock_weixin_held_total", "reason" => reason).increment(1);
                return Delivery::Dead(format!(
                    "{reason}: held until the user writes again (personal WeChat allows ~{} replies per message within {} h)",
                    cfg.per_inbound, cfg.window_hours
                ));
            }
            conv.sends += 1;
            if let Err(e) = save_conv(store, &account, &out.to, &conv).await {
                return Delivery::Retry {
                    reason: e.to_string(),
                    after: None,
                };
            }
            conv.context_token
        };

        let client_id = format!("wedock:{}-{:08x}", now_ms(), rand::random::<u32>());
        let result = acct
            .client(self.http.clone())
            .send_text(&out.to, &token, &client_id, &out.text)
            .await;
        let label = match &result {
            SendResult::Delivered(_) => "delivered",
            SendResult::AcceptedUnconfirmed => "unconfirmed",
            SendResult::Rejected { .. } => "refused",
            SendResult::SessionExpired => "session_expired",
            SendResult::Unreachable(_) => "unreachable",
            SendResult::Unknown(_) => "unknown",
        };
        metrics::counter!("wedock_weixin_sends_total", "result" => label).increment(1);
        match result {
            SendResult::Delivered(id) => {
                tracing::debug!(account, message_id = id, "weixin: delivered");
                Delivery::Sent
            }
            SendResult::AcceptedUnconfirmed => Delivery::Undelivered(
                "accepted without a message_id: WeChat did not deliver it".into(),
            ),
            SendResult::Rejected { code, errmsg } => {
                let _g = crate::channel::shared(app).weixin.conv_lock.lock().await;
                if let Ok(mut conv) = load_conv(store, &account, &out.to).await {
                    conv.refused += 1;
                    // The server says this conversation cannot take more: stop spending.
                    conv.sends = conv.sends.max(cfg.per_inbound);
                    conv.hold(out.text);
                    let _ = save_conv(store, &account, &out.to, &conv).await;
                }
                Delivery::Dead(format!(
                    "ret {code} {errmsg}: refused (quota or 24 h window); held for the user's next message"
                ))
            }
            SendResult::SessionExpired => {
                mark_expired(app, &account, "sendmessage").await;
                Delivery::Dead("session expired (-14): log in again".into())
            }
            SendResult::Unreachable(why) => {
                // Never reached the server: give the unit back and try again.
                let _g = crate::channel::shared(app).weixin.conv_lock.lock().await;
                if let Ok(mut conv) = load_conv(store, &account, &out.to).await {
                    conv.sends = conv.sends.saturating_sub(1);
                    if out.reserved {
                        conv.queued += 1;
                    }
                    let _ = save_conv(store, &account, &out.to, &conv).await;
                }
                Delivery::Retry {
                    reason: format!("iLink unreachable: {why}"),
                    after: Some(Duration::from_secs(2)),
                }
            }
            // Resending could duplicate the message and spend budget twice (§15).
            SendResult::Unknown(why) => {
                Delivery::Dead(format!("outcome unknown ({why}); not resent"))
            }
        }
    }
}

/// Queues the answer to a user's message: earlier refusals are reported, held text goes
/// first, and everything is packed into the conversation's remaining budget.
pub(crate) async fn queue_reply(
    app: &App,
    outbox: &crate::outbox::Outbox,
    account: &str,
    user: &str,
    reply: Option<&str>,
    lang: crate::i18n::Lang,
) -> StoreResult<usize> {
    let store = app.store.as_ref();
    let _g = crate::channel::shared(app).weixin.conv_lock.lock().await;
    let mut conv = load_conv(store, account, user).await?;
    let mut parts = Vec::new();
    if conv.refused > 0 {
        metrics::counter!("wedock_weixin_refusals_reported_total").increment(1);
        parts.push(quota::refused_note(lang, conv.refused));
        conv.refused = 0;
    }
    parts.append(&mut conv.held);
    if let Some(r) = reply.filter(|r| !r.is_empty()) {
        parts.push(r.to_string());
    }
    if parts.is_empty() {
        save_conv(store, account, user, &conv).await?;
        return Ok(0);
    }
    let packed = quota::pack(
        &parts.join("\n\n"),
        conv.left(app.config.weixin.per_inbound),
        lang,
    );
    if let Some(h) = packed.held {
        metrics::counter!("wedock_weixin_held_total", "reason" => "packed").increment(1);
        conv.hold(h);
    }
    conv.queued += packed.now.len() as u32;
    save_conv(store, account, user, &conv).await?;
    drop(_g);
    for text in &packed.now {
        outbox
            .enqueue(reply_message(account, user, text, true))
            .await?;
    }
    Ok(packed.now.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_bodies_and_replies_are_both_understood() {
        let mk = |target: &str, payload: String| OutboxMessage {
            id: 1,
            channel: SENDER.into(),
            target: target.into(),
            payload,
            dedup_key: None,
            status: crate::store::OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: 0,
            last_error: None,
            created_at: 0,
            done_at: None,
        };
        let r = reply_message("main", "u@im.wechat", "hi", true);
        let o = parse_outgoing(&mk(&r.target, r.payload)).unwrap();
        assert_eq!(
            (
                o.account.as_deref(),
                o.to.as_str(),
                o.text.as_str(),
                o.reserved
            ),
            (Some("main"), "u@im.wechat", "hi", true)
        );
        let body = crate::outbox::payload::body(crate::render::Format::Text, "disk full");
        let o = parse_outgoing(&mk("main/u@im.wechat", body.clone())).unwrap();
        assert_eq!(
            (o.account.as_deref(), o.text.as_str()),
            (Some("main"), "disk full")
        );
        let o = parse_outgoing(&mk("u@im.wechat", body)).unwrap();
        assert_eq!((o.account, o.to.as_str()), (None, "u@im.wechat"));
        assert!(parse_outgoing(&mk("x", "not json".into())).is_none());
    }

    #[test]
    fn account_debug_hides_the_token() {
        let a = Account {
            name: "main".into(),
            bot_token: "SECRET-TOKEN".into(),
            bot_id: "b@im.bot".into(),
            base_url: "https://x".into(),
            user_id: "u@im.wechat".into(),
            saved_at: 0,
            expired_at: None,
        };
        assert!(!format!("{a:?}").contains("SECRET"));
    }
}
