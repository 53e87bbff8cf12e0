//! The outbox and the alert sections: sources, routes, noise control, hooks.

use super::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt up to `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Days sent and dead-lettered messages are kept for `/outbox` and `/alerts` before they
    /// are deleted (0 keeps them forever). Expired kv entries go at the same time.
    pub keep_days: u32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff_ms: 500,
            max_backoff_ms: 60_000,
            keep_days: 7,
        }
    }
}

/// Alert sources, routes and noise control (`[alerts]`, see docs/alerts.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Master switch for every alert source.
    pub enabled: bool,
    /// Watch the events of every Docker host (`[docker]`).
    pub docker_events: bool,
    /// Language of alert messages: `zh` or `en`.
    pub lang: String,
    /// Bearer token expected on `POST /alertmanager`.
    pub alertmanager_token: Option<ConfigSecret>,
    /// Basic-auth user and password accepted on `POST /alertmanager` (instead of a token).
    pub alertmanager_basic_user: Option<String>,
    pub alertmanager_basic_password: Option<ConfigSecret>,
    /// `[alerts.alertmanager]`: its API (silences) and the receiver's credentials.
    pub alertmanager: AlertmanagerConfig,
    /// `POST /hooks/NAME` endpoints.
    pub hooks: BTreeMap<String, HookConfig>,
    /// Container log lines attached to deaths and unhealthy states (0 = none).
    pub log_lines: usize,
    /// Related events arriving within this window go out as one message (0 = no grouping).
    pub group_window_ms: u64,
    /// The same alert (fingerprint) is sent once within this window.
    pub dedup_window_secs: u64,
    /// A container dying this many times within `restart_loop_window_secs` is a restart loop.
    pub restart_loop_count: u32,
    pub restart_loop_window_secs: u64,
    /// When a target already has this many alert messages waiting, or its rate budget is
    /// used up, waiting messages are folded into one digest.
    pub digest_pending: usize,
    /// Wait after a group robot answers 45009 (rate limited) before trying again.
    pub rate_limited_retry_ms: u64,
    /// First and longest wait between reconnects to a Docker engine.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    pub routes: Vec<RouteConfig>,
    /// `[[alerts.escalations]]`: steps for alerts nobody acknowledges (`alert/incident/escalate.rs`).
    pub escalations: Vec<EscalationConfig>,
    /// Cluster watchers (`[alerts.kubernetes]`).
    pub kubernetes: KubeAlertsConfig,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            docker_events: true,
            lang: "zh".to_string(),
            alertmanager_token: None,
            alertmanager_basic_user: None,
            alertmanager_basic_password: None,
            alertmanager: AlertmanagerConfig::default(),
            hooks: BTreeMap::new(),
            log_lines: 20,
            group_window_ms: 0,
            dedup_window_secs: 300,
            restart_loop_count: 3,
            restart_loop_window_secs: 600,
            digest_pending: 5,
            rate_limited_retry_ms: 60_000,
            reconnect_min_ms: 500,
            reconnect_max_ms: 30_000,
            routes: Vec::new(),
            escalations: Vec::new(),
            kubernetes: KubeAlertsConfig::default(),
        }
    }
}

/// `[alerts.alertmanager]`: where Alertmanager's API is (silences from chat) and the
/// credentials its webhook receiver must present (these may also be the older
/// `[alerts] alertmanager_*` keys).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertmanagerConfig {
    /// API v2 base, e.g. `http://alertmanager:9093`: `/silence` creates real silences there.
    pub url: Option<url::Url>,
    /// Deadline of one API call.
    pub api_timeout_ms: u64,
    /// Bearer token expected on `POST /alertmanager`.
    pub token: Option<ConfigSecret>,
    /// Basic-auth user and password accepted on `POST /alertmanager`.
    pub basic_user: Option<String>,
    pub basic_password: Option<ConfigSecret>,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        Self {
            url: None,
            api_timeout_ms: 5000,
            token: None,
            basic_user: None,
            basic_password: None,
        }
    }
}

impl AlertsConfig {
    /// The receiver's bearer token, from either place.
    pub fn receiver_token(&self) -> Option<&ConfigSecret> {
        self.alertmanager
            .token
            .as_ref()
            .or(self.alertmanager_token.as_ref())
    }

    /// The receiver's basic-auth user and password, from either place.
    pub fn receiver_basic(&self) -> Option<(&str, &ConfigSecret)> {
        match (
            &self.alertmanager.basic_user,
            &self.alertmanager.basic_password,
        ) {
            (Some(u), Some(p)) => Some((u, p)),
            _ => match (
                &self.alertmanager_basic_user,
                &self.alertmanager_basic_password,
            ) {
                (Some(u), Some(p)) => Some((u, p)),
                _ => None,
            },
        }
    }
}

/// One alert route: which alerts (`match`) go to which targets, how they look and repeat.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: String,
    #[serde(default, rename = "match")]
    pub matches: RouteMatch,
    /// `ROBOT` or `robot:ROBOT`, `aibot:CHATID`, `wecom_app:USER`, `wechatbot:ROOM`.
    pub targets: Vec<String>,
    /// A minijinja template for the message (variables in docs/alerts.md).
    #[serde(default)]
    pub template: Option<String>,
    /// Send a still-firing alert again after this long (`30m`, `2h`); default: the dedup window.
    #[serde(default)]
    pub repeat_interval: Option<String>,
    /// Stop repeating after this many messages for one alert (0 = no limit).
    #[serde(default)]
    pub max_repeats: u32,
    /// Keep matching later routes after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// An `[[oncall.schedules]]` name: group robot messages of this route @-mention the
    /// person on duty.
    #[serde(default)]
    pub oncall: Option<String>,
}

/// Conditions of a route; all given ones must hold. Strings are globs (`api-*`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteMatch {
    /// `docker`, `alertmanager`, `hook:NAME` (globs allowed: `hook:*`).
    pub source: Option<String>,
    pub host: Option<String>,
    pub container: Option<String>,
    pub image: Option<String>,
    pub project: Option<String>,
    /// Event kinds: die, oom, unhealthy, healthy, restart_loop, stop, recovered, daemon_down,
    /// daemon_up, firing, resolved, hook.
    pub event: Vec<String>,
    pub exit_code: Vec<i64>,
    /// critical, warning, info, resolved.
    pub severity: Vec<String>,
    /// Container labels or alert labels, each value a glob.
    pub labels: BTreeMap<String, String>,
}

/// A generic webhook `POST /hooks/NAME`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// Expected as `Authorization: Bearer TOKEN` or `?token=TOKEN`.
    pub token: ConfigSecret,
    /// Route names or targets; empty = the alert goes through the routes like any other.
    #[serde(default)]
    pub targets: Vec<String>,
}
