//! Access tokens of the WeCom self-built app (`gettoken`) and the Official Account
//! (`cgi-bin/stable_token`), and the JSON API calls that need them.
//!
//! The Official Account uses the stable token (wechat-protocol.md §2.7, the recommended
//! endpoint): unlike the classic `cgi-bin/token`, fetching it does not invalidate the token
//! other tools of the same account hold. Normal mode returns the current token; only when the
//! platform refused a token that normal mode hands back again is `force_refresh` used (it is
//! limited to 20 a day).
//!
//! A token is cached in the store's key-value table (so a restart does not burn the daily
//! fetch quota) and refreshed a few minutes before it expires. A call that fails with
//! 40014 / 42001 / 40001 refreshes the token once and is retried once. Refreshes are
//! serialised: concurrent callers that all saw the same stale token wait for one fetch.
//! Neither the secret nor the token is ever logged; reqwest errors are stripped of their URL.

use crate::outbox::Delivery;
use crate::secret::Secret;
use crate::store::{Store, now_ms};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Refresh this long before the platform's expiry.
const REFRESH_MARGIN_MS: i64 = 300_000;

/// Errcodes that mean "the token you sent is no good": refresh once and retry.
pub const TOKEN_ERRCODES: [i64; 3] = [40014, 42001, 40001];

/// How to obtain a token.
#[derive(Clone)]
pub enum TokenKind {
    /// `GET {base}/cgi-bin/gettoken?corpid=&corpsecret=`
    Wecom { corp_id: String, secret: Secret },
    /// `POST {base}/cgi-bin/stable_token` `{grant_type, appid, secret, force_refresh}`
    Wechat { app_id: String, secret: Secret },
}

impl TokenKind {
    /// A WeCom app's token: one per corp and app secret.
    pub fn wecom(corp_id: &str, secret: &str) -> Self {
        TokenKind::Wecom {
            corp_id: corp_id.to_string(),
            secret: Secret::new(secret),
        }
    }

    /// An Official Account's token.
    pub fn wechat(app_id: &str, secret: &str) -> Self {
        TokenKind::Wechat {
            app_id: app_id.to_string(),
            secret: Secret::new(secret),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Cached {
    token: String,
    expires_at: i64,
    /// When to fetch again (older entries lack it: `expires_at` minus the margin).
    #[serde(default)]
    refresh_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// Network or server trouble: worth retrying later.
    Transient(String),
    /// The platform refused with an errcode: `errcode errmsg`.
    Platform { errcode: i64, errmsg: String },
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Transient(s) => f.write_str(s),
            ApiError::Platform { errcode, errmsg } => write!(f, "errcode {errcode}: {errmsg}"),
        }
    }
}

/// One access token, shared by every call of one app.
pub struct TokenSource {
    kind: TokenKind,
    base: String,
    store: Arc<dyn Store>,
    http: reqwest::Client,
    refresh: tokio::sync::Mutex<()>,
    key: String,
}

/// An HTTP client for Tencent APIs (bounded timeouts; TLS through the ring provider).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// `base` without a trailing slash, so `{base}/cgi-bin/…` keeps a gateway's path prefix.
pub fn base_str(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    access_token: Option<String>,
    expires_in: Option<i64>,
}

impl TokenSource {
    /// The token source of a channel's outbox sender: the platform's configured API base,
    /// and the shared store as the token cache, so that all replicas use one token.
    pub fn for_app(app: &crate::app::App, kind: TokenKind) -> Self {
        let base = match kind {
            TokenKind::Wecom { .. } => &app.config.api.wecom_base,
            TokenKind::Wechat { .. } => &app.config.api.wechat_base,
        };
        Self::new(kind, base, app.store.clone())
    }

    pub fn new(kind: TokenKind, base: &url::Url, store: Arc<dyn Store>) -> Self {
        let key = match &kind {
            TokenKind::Wecom { corp_id, secret } => {
                // One token per secret (per app): key on a digest, never the secret itself.
                format!("token:wecom:{corp_id}:{}", short_digest(secret.expose()))
            }
            TokenKind::Wechat { app_id, .. } => format!("token:wechat:{app_id}"),
        };
        Self {
            kind,
            base: base_str(base),
            store,
            http: http_client(),
            refresh: tokio::sync::Mutex::new(()),
            key,
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    async fn cached(&self) -> Option<String> {
        let raw = self.store.kv_get(&self.key).await.ok()??;
        let c: Cached = serde_json::from_str(&raw).ok()?;
        let refresh_at = c.refresh_at.unwrap_or(c.expires_at - REFRESH_MARGIN_MS);
        (refresh_at > now_ms()).then_some(c.token)
    }

    /// A valid token: the cached one, or a fresh one.
    pub async fn get(&self) -> Result<String, ApiError> {
        if let Some(t) = self.cached().await {
            return Ok(t);
        }
        self.refresh_unless_changed(None).await
    }

    /// Replaces `stale` (a token the platform refused). If another caller already replaced
    /// it, returns theirs without a second fetch.
    pub async fn refresh(&self, stale: &str) -> Result<String, ApiError> {
        self.refresh_unless_changed(Some(stale)).await
    }

    async fn refresh_unless_changed(&self, stale: Option<&str>) -> Result<String, ApiError> {
        let _guard = self.refresh.lock().await;
        if let Some(t) = self.cached().await
            && stale != Some(t.as_str())
        {
            return Ok(t);
        }
        let api = match self.kind {
            TokenKind::Wecom { .. } => "wecom",
            TokenKind::Wechat { .. } => "wechat",
        };
        let mut body = self.fetch(false).await?;
        if let (Some(stale), Some(got)) = (stale, body.access_token.as_deref())
            && stale == got
            && matches!(self.kind, TokenKind::Wechat { .. })
        {
            // Normal mode handed back the token the platform just refused: force a new one.
            tracing::warn!(
                api,
                "stable token refused but still current; forcing a refresh"
            );
            body = self.fetch(true).await?;
        }
        let (Some(token), 0) = (body.access_token.filter(|t| !t.is_empty()), body.errcode) else {
            tracing::error!(api, errcode = body.errcode, errmsg = %body.errmsg, "access token refused");
            return Err(ApiError::Platform {
                errcode: body.errcode,
                errmsg: body.errmsg,
            });
        };
        let expires_in = body.expires_in.unwrap_or(7200).clamp(60, 86_400);
        let now = now_ms();
        // A stable token near its end is handed out with as little as 300 s left (the
        // platform overlaps old and new): refresh at the margin or half-way, whichever is
        // later, so such a token is used rather than refetched on every call.
        let margin = REFRESH_MARGIN_MS.min(expires_in * 500);
        let cached = Cached {
            token: token.clone(),
            expires_at: now + expires_in * 1000,
            refresh_at: Some(now + expires_in * 1000 - margin),
        };
        if let Ok(raw) = serde_json::to_string(&cached) {
            let _ = self
                .store
                .kv_set(
                    &self.key,
                    &raw,
                    Some(Duration::from_secs(expires_in as u64)),
                )
                .await;
        }
        tracing::info!(api, expires_in, "access token refreshed");
        Ok(token)
    }

    /// One token request. `force` (stable token only) asks for a new token even if the
    /// current one has not expired.
    async fn fetch(&self, force: bool) -> Result<TokenResponse, ApiError> {
        let (api, req) = match &self.kind {
            TokenKind::Wecom { corp_id, secret } => (
                "wecom",
                self.http
                    .get(format!("{}/cgi-bin/gettoken", self.base))
                    .query(&[
                        ("corpid", corp_id.as_str()),
                        ("corpsecret", secret.expose()),
                    ]),
            ),
            TokenKind::Wechat { app_id, secret } => (
                "wechat",
                self.http
                    .post(format!("{}/cgi-bin/stable_token", self.base))
                    .json(&serde_json::json!({
                        "grant_type": "client_credential",
                        "appid": app_id,
                        "secret": secret.expose(),
                        "force_refresh": force,
                    })),
            ),
        };
        metrics::counter!("wedock_token_refresh_total", "api" => api).increment(1);
        let resp = req
            .send()
            .await
            .map_err(|e| ApiError::Transient(format!("token fetch failed: {}", e.without_url())))?;
        let status = resp.status();
        resp.json().await.map_err(|e| {
            ApiError::Transient(format!(
                "token fetch: HTTP {status}, unreadable body: {}",
                e.without_url()
            ))
        })
    }

    /// POSTs `body` to `{base}{path}?access_token=…`, refreshing the token once when the
    /// platform says it is invalid or expired.
    pub async fn post_json(&self, path: &str, body: &str) -> Result<serde_json::Value, ApiError> {
        let mut token = self.get().await?;
        for attempt in 0..2 {
            let url = format!("{}{path}", self.base);
            let resp = self
                .http
                .post(&url)
                .query(&[("access_token", token.as_str())])
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| ApiError::Transient(format!("request failed: {}", e.without_url())))?;
            let status = resp.status();
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(ApiError::Transient(format!("HTTP {status}")));
            }
            let v: serde_json::Value = resp.json().await.map_err(|e| {
                ApiError::Transient(format!(
                    "HTTP {status}, unreadable body: {}",
                    e.without_url()
                ))
            })?;
            let errcode = v.get("errcode").and_then(|c| c.as_i64()).unwrap_or(0);
            if errcode == 0 {
                return Ok(v);
            }
            let errmsg = v
                .get("errmsg")
                .and_then(|m| m.as_str())
                .unwrap_or("")
                .to_string();
            if attempt == 0 && TOKEN_ERRCODES.contains(&errcode) {
                tracing::warn!(
                    errcode,
                    "access token refused by the platform; refreshing once"
                );
                token = self.refresh(&token).await?;
                continue;
            }
            return Err(ApiError::Platform { errcode, errmsg });
        }
        Err(ApiError::Transient("token refused twice".into()))
    }
}

/// Maps an API outcome to what the outbox should do with the message.
pub fn delivery_of(result: Result<serde_json::Value, ApiError>) -> Delivery {
    match result {
        Ok(_) => Delivery::Sent,
        Err(ApiError::Transient(reason)) => Delivery::Retry {
            reason,
            after: None,
        },
        // -1 system busy, 45009 / 45033 rate or concurrency limits: try again later.
        Err(ApiError::Platform { errcode, errmsg }) if [-1, 45009, 45033].contains(&errcode) => {
            Delivery::Retry {
                reason: format!("errcode {errcode}: {errmsg}"),
                after: Some(Duration::from_secs(if errcode == -1 { 1 } else { 10 })),
            }
        }
        Err(e) => Delivery::Dead(e.to_string()),
    }
}

fn short_digest(s: &str) -> String {
    use sha1::{Digest, Sha1};
    let d = Sha1::digest(s.as_bytes());
    hex::encode(&d[..6])
}
