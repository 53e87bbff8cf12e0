//! Typed configuration: a TOML file (optional — wedock runs with none) plus environment
//! overrides `WEDOCK_SECTION__KEY=value`. Every error names the offending key and says why.
//!
//! Each section is a struct with `deny_unknown_fields`, so a typo is an error, not a silently
//! ignored setting. `config.example.toml` at the repository root documents every key.

use crate::identity::{Role, UnknownUsers};
use crate::secret::ConfigSecret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod channels;
pub use channels::MpMode;

/// Prefix of environment overrides; `__` separates path segments.
pub const ENV_PREFIX: &str = "WEDOCK_";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Global switch: refuse every write command (Docker and Kubernetes).
    pub read_only: bool,
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub identity: IdentityConfig,
    pub knowledge: KnowledgeConfig,
    pub llm: Option<LlmConfig>,
    pub docker: DockerConfig,
    pub wecom: WecomConfig,
    pub wechat: WechatConfig,
    pub gateway: GatewayConfig,
    pub api: ApiConfig,
    pub outbox: OutboxConfig,
    pub alerts: AlertsConfig,
    pub weixin: WeixinConfig,
    pub kubernetes: KubernetesConfig,
    pub security: crate::redact::SecurityConfig,
    pub limits: crate::ratelimit::LimitsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Largest accepted request body in bytes; larger requests get 413.
    pub body_limit_bytes: usize,
    /// Requests that take longer are answered 408/504 and dropped.
    pub request_timeout_ms: u64,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_ms: u64,
    /// Serve the web console at `/`.
    pub console: bool,
    /// How often a background task re-checks the store (and the heartbeat behind
    /// `/healthz`): `/readyz` turns ready again within one interval after an outage.
    pub health_interval_ms: u64,
    /// Signs console login tokens and sessions. Unset: a random secret is created in
    /// `<data_dir>/console.secret` at first start (replicas set it here to share sessions).
    pub console_secret: Option<ConfigSecret>,
    /// Host names (optional `:port`) the console and `/api/*` answer to; others get 421.
    /// Unset: the listen address host. `localhost`, `127.0.0.1` and `[::1]` always are.
    pub allowed_hosts: Option<Vec<String>>,
    /// Serve `/metrics` on this address instead of the main listener.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 512 * 1024,
            request_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
            console: true,
            health_interval_ms: 2_000,
            console_secret: None,
            allowed_hosts: None,
            metrics_listen: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    #[default]
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// Directory for the SQLite database and other state.
    pub data_dir: PathBuf,
    /// PostgreSQL connection string (backend = "postgres").
    pub postgres_url: Option<ConfigSecret>,
    /// How long a platform message id is remembered for dedup.
    pub dedup_ttl_secs: u64,
    /// Leader lease: with several replicas on one database, only the leader delivers the
    /// outbox and watches event sources; another takes over within this many seconds.
    pub leader_lease_secs: u64,
    /// Most PostgreSQL connections one replica keeps open.
    pub postgres_pool_size: usize,
    /// Longest wait for a new PostgreSQL connection (TCP, TLS, authentication).
    pub postgres_connect_timeout_ms: u64,
    /// Longest a PostgreSQL statement may run (server-side `statement_timeout`; the client
    /// gives up on a call after connect + statement timeout).
    pub postgres_statement_timeout_ms: u64,
}

impl StoreConfig {
    /// The pool and timeout settings of the PostgreSQL store.
    pub fn postgres_options(&self) -> crate::store::PgOptions {
        crate::store::PgOptions {
            pool_size: self.postgres_pool_size,
            connect_timeout: std::time::Duration::from_millis(self.postgres_connect_timeout_ms),
            statement_timeout: std::time::Duration::from_millis(self.postgres_statement_timeout_ms),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Sqlite,
            data_dir: PathBuf::from("./wedock-data"),
            postgres_url: None,
            dedup_ttl_secs: 24 * 3600,
            leader_lease_secs: 15,
            postgres_pool_size: 8,
            postgres_connect_timeout_ms: 5_000,
            postgres_statement_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// What happens to users not listed below: `guest` (default), `viewer`, or ignored.
    pub unknown_users: UnknownUsers,
    /// Identity the web console and `wedock ask`/`chat` act as.
    pub local_user: String,
    /// Role of the local user. Granted to signed-in console users and the CLI.
    pub local_role: Role,
    /// Roles by identity `channel:userid`, e.g. `"wecom:zhangsan" = "admin"`.
    pub users: BTreeMap<String, Role>,
    /// Roles by group chat `channel:chatid`; a member gets the higher of user and group role.
    pub groups: BTreeMap<String, Role>,
    /// Which hosts, containers, contexts and namespaces a role, user or group may read or
    /// change (`[[identity.scopes]]`, see [`crate::scope`]). Empty: everything.
    pub scopes: Vec<crate::scope::ScopeConfig>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            unknown_users: UnknownUsers::Guest,
            local_user: "local:admin".to_string(),
            local_role: Role::Admin,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            scopes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeConfig {
    /// Extra directories of Markdown runbooks, searched beside the built-in base.
    pub dirs: Vec<PathBuf>,
    /// Include the built-in Docker/Kubernetes knowledge base.
    pub builtin: bool,
    /// Minimum relevance (0..1) for an answer; below it wedock says it does not know.
    pub min_confidence: f32,
    /// How often (seconds) `dirs` are checked for changed files; 0 disables reloading.
    pub reload_secs: u64,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        Self {
            dirs: Vec::new(),
            builtin: true,
            min_confidence: 0.25,
            reload_secs: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// OpenAI-compatible base URL, e.g. `https://api.example.com/v1`.
    pub base_url: url::Url,
    pub model: String,
    pub api_key: Option<ConfigSecret>,
    /// Hard timeout; on expiry the plain knowledge answer is used.
    #[serde(default = "default_llm_timeout")]
    pub timeout_ms: u64,
    #[serde(default = "default_llm_max_tokens")]
    pub max_tokens: u32,
}

fn default_llm_timeout() -> u64 {
    8000
}
fn default_llm_max_tokens() -> u32 {
    800
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// Detect and use the local engine when no hosts are listed.
    pub enabled: bool,
    /// Disable every write command (start/stop/restart/rm/prune/...).
    pub read_only: bool,
    /// Engines; when empty, the local one (`DOCKER_HOST` or the default socket).
    pub hosts: Vec<DockerHostConfig>,
    /// `exec` is off unless enabled, and then only runs allowlisted commands.
    pub exec_enabled: bool,
    pub exec_allowlist: Vec<String>,
    /// Default `--tail` for `logs`.
    pub logs_tail: usize,
    /// Confirmation codes expire after this many seconds.
    pub confirm_timeout_secs: u64,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            read_only: false,
            hosts: Vec::new(),
            exec_enabled: false,
            exec_allowlist: Vec::new(),
            logs_tail: 50,
            confirm_timeout_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerHostConfig {
    pub name: String,
    /// `unix:///var/run/docker.sock`, `tcp://host:2376`, or `env` for `DOCKER_HOST`.
    pub endpoint: String,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WecomConfig {
    pub app: Option<WecomAppConfig>,
    pub aibot: Option<AibotConfig>,
    pub robots: Vec<RobotConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WecomAppConfig {
    pub corp_id: String,
    pub agent_id: i64,
    pub secret: ConfigSecret,
    pub token: ConfigSecret,
    pub encoding_aes_key: ConfigSecret,
    /// Passive-reply window: answers ready sooner go in the HTTP response.
    #[serde(default = "default_passive_ms")]
    pub passive_reply_ms: u64,
    /// Key rollover: the previous EncodingAESKey, still accepted (replies use whichever key
    /// opened the message). Remove it once the console shows only the new key.
    pub encoding_aes_key_previous: Option<ConfigSecret>,
    /// How replies are sent: `text` (every client, passive replies) or `markdown` (rendered
    /// by the WeCom client only; always through `message/send`, since a passive reply cannot
    /// be markdown).
    #[serde(default)]
    pub format: AppFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AppFormat {
    #[default]
    Text,
    Markdown,
}

fn default_passive_ms() -> u64 {
    3000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AibotMode {
    #[default]
    Websocket,
    Callback,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AibotConfig {
    #[serde(default)]
    pub mode: AibotMode,
    /// Long-connection mode: bot id and secret.
    pub bot_id: Option<String>,
    pub secret: Option<ConfigSecret>,
    /// Callback mode: token and EncodingAESKey.
    pub token: Option<ConfigSecret>,
    pub encoding_aes_key: Option<ConfigSecret>,
    /// Long-connection mode: application heartbeat interval (Tencent recommends 30 s).
    #[serde(default = "default_aibot_heartbeat")]
    pub heartbeat_secs: u64,
    /// Long-connection mode: first reconnect delay; doubles up to 30 s.
    #[serde(default = "default_aibot_reconnect")]
    pub reconnect_min_ms: u64,
    /// Callback mode: answers ready sooner finish the stream in the first response; later
    /// ones are delivered on WeCom's stream refresh callbacks.
    #[serde(default = "default_aibot_passive")]
    pub passive_reply_ms: u64,
    /// Long-connection mode: while a slow answer is prepared, the open reply stream is
    /// refreshed this often (the platform closes streams idle for about 6 minutes).
    #[serde(default = "default_aibot_keepalive")]
    pub stream_keepalive_ms: u64,
    /// Long-connection mode: an answer not ready this long after the stream opened finishes
    /// the stream with a note and follows as a proactive message (`aibot_send_msg`). Kept
    /// under the platform's window (6 minutes in older documents, 10 in newer ones).
    #[serde(default = "default_aibot_stream_window")]
    pub stream_window_ms: u64,
    /// Callback mode: key rollover — the previous EncodingAESKey, still accepted.
    pub encoding_aes_key_previous: Option<ConfigSecret>,
}

fn default_aibot_passive() -> u64 {
    1000
}
fn default_aibot_keepalive() -> u64 {
    240_000
}
fn default_aibot_stream_window() -> u64 {
    330_000
}

fn default_aibot_heartbeat() -> u64 {
    30
}
fn default_aibot_reconnect() -> u64 {
    1000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotConfig {
    pub name: String,
    /// The robot key, or the full webhook URL in `url`.
    pub key: Option<ConfigSecret>,
    pub url: Option<ConfigSecret>,
    /// `text`, `markdown` or `markdown_v2`.
    #[serde(default = "default_robot_format")]
    pub format: String,
    /// Messages per minute (WeCom allows 20).
    #[serde(default = "default_robot_rate")]
    pub per_minute: u32,
}

fn default_robot_format() -> String {
    "markdown".to_string()
}
fn default_robot_rate() -> u32 {
    20
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WechatConfig {
    pub mp: Option<WechatMpConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatMpConfig {
    pub app_id: String,
    pub app_secret: ConfigSecret,
    pub token: ConfigSecret,
    /// Absent: plain mode. Present: compatible/safe mode.
    pub encoding_aes_key: Option<ConfigSecret>,
    /// `plain`, `compatible` or `safe`, as chosen in the account's console; unset: `safe` when
    /// `encoding_aes_key` is set, else `plain`. See [`WechatMpConfig::mode`].
    pub mode: Option<MpMode>,
    #[serde(default = "default_mp_passive_ms")]
    pub passive_reply_ms: u64,
    /// Key rollover: the previous EncodingAESKey, still accepted (WeChat's FAQ: keep the
    /// current and the previous key; reply with whichever opened the message).
    pub encoding_aes_key_previous: Option<ConfigSecret>,
}

fn default_mp_passive_ms() -> u64 {
    4000
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    pub wechatbot: Option<WechatbotGatewayConfig>,
}

/// The `wechatbot-webhook` personal-WeChat gateway (at the user's own risk).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatbotGatewayConfig {
    /// Base URL of the gateway, e.g. `http://wxbot:3001`.
    pub base_url: url::Url,
    /// The gateway's token for `/webhook/msg/v2?token=`.
    pub token: ConfigSecret,
    /// Shared secret expected as `?token=` on our callback: required, at least
    /// [`channels::MIN_CALLBACK_TOKEN`] characters (an `Option` only so that its absence is
    /// reported by name).
    pub callback_token: Option<ConfigSecret>,
}

/// Base URLs of every Tencent API, so tests and private gateways can point elsewhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub wecom_base: url::Url,
    pub wechat_base: url::Url,
    pub robot_base: url::Url,
    pub aibot_ws_url: url::Url,
    pub ilink_base: url::Url,
    /// Accepted clock skew for callback timestamps; 0 disables the check.
    pub timestamp_window_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        let u = |s: &str| url::Url::parse(s).unwrap_or_else(|_| unreachable!("static URL"));
        Self {
            wecom_base: u("https://qyapi.weixin.qq.com"),
            wechat_base: u("https://api.weixin.qq.com"),
            robot_base: u("https://qyapi.weixin.qq.com"),
            aibot_ws_url: u("wss://openws.work.weixin.qq.com"),
            ilink_base: u("https://ilinkai.weixin.qq.com"),
            timestamp_window_secs: 600,
        }
    }
}

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
            kubernetes: KubeAlertsConfig::default(),
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

/// Personal WeChat via Tencent's official bot API (iLink), see docs/channels.md. The login
/// host is `api.ilink_base`; after a login each account uses the base URL the login returned.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeixinConfig {
    /// Poll every bound account and answer its direct messages.
    pub enabled: bool,
    /// Accounts expected to be bound (`wedock weixin login --name NAME`); accounts bound with
    /// other names at login time are served too.
    pub accounts: Vec<WeixinAccountConfig>,
    /// Bot messages allowed per user message (the server refuses the 11th with ret -2).
    pub per_inbound: u32,
    /// Replies are sent only this long after the user's last message (the server allows 24 h).
    pub window_hours: u64,
    /// Show "typing…" when an answer takes longer than this (0 = always).
    pub typing_after_ms: u64,
    /// How long the server may hold a long-poll before answering empty.
    pub long_poll_ms: u64,
    /// How often a stopped account (never bound, or session expired) looks for a new login.
    pub relogin_check_secs: u64,
    /// Where an expired session is reported (alert targets such as `robot:ops`,
    /// `wecom_app:zhangsan`).
    pub notify: Vec<String>,
}

impl Default for WeixinConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            accounts: Vec::new(),
            per_inbound: 10,
            window_hours: 23,
            typing_after_ms: 1500,
            long_poll_ms: 35_000,
            relogin_check_secs: 10,
            notify: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeixinAccountConfig {
    /// Local name of the account (`wedock weixin login --name NAME`).
    pub name: String,
}

/// Kubernetes clusters for `/kubectl` and cluster alerts (`[kubernetes]`, see
/// docs/kubernetes.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesConfig {
    pub enabled: bool,
    /// A kubeconfig file; unset = `$KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Contexts of the kubeconfig that may be used (empty = every context in it).
    pub contexts: Vec<String>,
    /// Context used when a command names none (default: the kubeconfig's current context).
    pub default_context: Option<String>,
    /// Offer the pod's own service account as context `in-cluster` (and use it by default
    /// when there is no kubeconfig).
    pub in_cluster: bool,
    /// Refuse every write command on clusters.
    pub read_only: bool,
    /// How long a destructive cluster command waits for `/confirm`.
    pub confirm_timeout_secs: u64,
    /// Longest wait for one API call of a chat command.
    pub request_timeout_secs: u64,
    /// Default `logs --tail`.
    pub logs_tail: usize,
    /// How long `drain` keeps retrying evictions a PodDisruptionBudget refuses (429) before
    /// it reports them as blocked; `drain --timeout` overrides it per command.
    pub drain_timeout_secs: u64,
    /// Pause between retries of a PDB-refused eviction (kubectl waits 5 s).
    pub eviction_retry_ms: u64,
    /// Chat role or user → Kubernetes identity to impersonate, so the cluster's RBAC has the
    /// last word. Keys: `role:viewer|operator|admin` or `user:CHANNEL:ID` (user wins).
    pub impersonate: BTreeMap<String, ImpersonateConfig>,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            kubeconfig: None,
            contexts: Vec::new(),
            default_context: None,
            in_cluster: false,
            read_only: false,
            confirm_timeout_secs: 60,
            request_timeout_secs: 15,
            logs_tail: 50,
            drain_timeout_secs: 60,
            eviction_retry_ms: 5000,
            impersonate: BTreeMap::new(),
        }
    }
}

/// A Kubernetes user (and groups) requests are made as (`Impersonate-User/Group`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct ImpersonateConfig {
    pub user: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Cluster alert watchers (`[alerts.kubernetes]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubeAlertsConfig {
    /// Watch clusters when `[kubernetes]` is enabled.
    pub enabled: bool,
    /// Contexts to watch (empty = the default context).
    pub contexts: Vec<String>,
    /// Namespaces to watch, globs (empty = all).
    pub namespaces: Vec<String>,
    /// Namespaces never alerted on, globs.
    pub exclude_namespaces: Vec<String>,
    /// Label selector for pods, deployments and jobs (`app=api,tier!=batch`).
    pub labels: Option<String>,
    /// Object names alerted on, globs (empty = all).
    pub names: Vec<String>,
    /// Alert kinds to raise: crashloop, oom, image_pull, config_error, pending, job_failed,
    /// node_not_ready, node_pressure, deployment_unavailable, event (empty = all but event).
    pub reasons: Vec<String>,
    /// A pod Pending for longer than this is reported (`5m`).
    pub pending_after: String,
    /// Warning event reasons reported as kind `event` (empty = none; events are noisy).
    pub event_reasons: Vec<String>,
}

impl Default for KubeAlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            contexts: Vec::new(),
            namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            labels: None,
            names: Vec::new(),
            reasons: Vec::new(),
            pending_after: "5m".to_string(),
            event_reasons: Vec::new(),
        }
    }
}

/// Alert kinds a Kubernetes watcher can raise.
pub const KUBE_ALERT_KINDS: &[&str] = &[
    "crashloop",
    "oom",
    "image_pull",
    "config_error",
    "pending",
    "job_failed",
    "node_not_ready",
    "node_pressure",
    "deployment_unavailable",
    "event",
];

/// A configuration error: the dotted key and why it is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "config: {}", self.reason)
        } else {
            write!(f, "config key `{}`: {}", self.key, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

fn err(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Loads the file (when given) and applies `WEDOCK_*` overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut root = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    err("", format!("cannot read config file {}: {e}", p.display()))
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    let msg = e.message().to_string();
                    let line = e
                        .span()
                        .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
                    match line {
                        Some(l) => err("", format!("{} line {l}: {msg}", p.display())),
                        None => err("", format!("{}: {msg}", p.display())),
                    }
                })?
            }
            None => toml::Table::new(),
        };
        apply_env_overrides(&mut root, env)?;
        let cfg: Config = serde_path_to_error::deserialize(toml::Value::Table(root)).map_err(
            |e: serde_path_to_error::Error<toml::de::Error>| {
                let key = e.path().to_string();
                let key = if key == "." { String::new() } else { key };
                err(key, e.inner().message().to_string())
            },
        )?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that need more than types: key formats, URLs, cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.security.validate()?;
        self.limits.validate()?;
        if self.server.body_limit_bytes < 1024 {
            return Err(err("server.body_limit_bytes", "must be at least 1024"));
        }
        self.validate_server_access()?;
        if let Some(app) = &self.wecom.app {
            check_aes_key("wecom.app.encoding_aes_key", app.encoding_aes_key.expose())?;
            if let Some(k) = &app.encoding_aes_key_previous {
                check_aes_key("wecom.app.encoding_aes_key_previous", k.expose())?;
            }
            check_token("wecom.app.token", app.token.expose())?;
            if app.corp_id.trim().is_empty() {
                return Err(err("wecom.app.corp_id", "must not be empty"));
            }
        }
        if let Some(bot) = &self.wecom.aibot {
            if bot.heartbeat_secs == 0 {
                return Err(err("wecom.aibot.heartbeat_secs", "must be at least 1"));
            }
            match bot.mode {
                AibotMode::Websocket => {
                    if bot.bot_id.as_deref().is_none_or(|s| s.trim().is_empty()) {
                        return Err(err("wecom.aibot.bot_id", "required in websocket mode"));
                    }
                    if bot.secret.is_none() {
                        return Err(err("wecom.aibot.secret", "required in websocket mode"));
                    }
                }
                AibotMode::Callback => {
                    let Some(token) = &bot.token else {
                        return Err(err("wecom.aibot.token", "required in callback mode"));
                    };
                    check_token("wecom.aibot.token", token.expose())?;
                    let Some(key) = &bot.encoding_aes_key else {
                        return Err(err(
                            "wecom.aibot.encoding_aes_key",
                            "required in callback mode",
                        ));
                    };
                    check_aes_key("wecom.aibot.encoding_aes_key", key.expose())?;
                    if let Some(k) = &bot.encoding_aes_key_previous {
                        check_aes_key("wecom.aibot.encoding_aes_key_previous", k.expose())?;
                    }
                }
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in self.wecom.robots.iter().enumerate() {
            let key = format!("wecom.robots[{i}]");
            if r.name.trim().is_empty() {
                return Err(err(format!("{key}.name"), "must not be empty"));
            }
            if !names.insert(r.name.clone()) {
                return Err(err(
                    format!("{key}.name"),
                    format!("duplicate robot name {:?}", r.name),
                ));
            }
            match (&r.key, &r.url) {
                (None, None) => return Err(err(format!("{key}.key"), "set `key` or `url`")),
                (Some(_), Some(_)) => {
                    return Err(err(format!("{key}.url"), "set only one of `key` and `url`"));
                }
                (None, Some(u)) => {
                    url::Url::parse(u.expose())
                        .map_err(|e| err(format!("{key}.url"), format!("not a valid URL: {e}")))?;
                }
                (Some(_), None) => {}
            }
            if !["text", "markdown", "markdown_v2"].contains(&r.format.as_str()) {
                return Err(err(
                    format!("{key}.format"),
                    "must be one of text, markdown, markdown_v2",
                ));
            }
            if r.per_minute == 0 {
                return Err(err(format!("{key}.per_minute"), "must be at least 1"));
            }
        }
        self.validate_wechat_channels()?;
        let mut host_names = std::collections::BTreeSet::new();
        for (i, h) in self.docker.hosts.iter().enumerate() {
            let key = format!("docker.hosts[{i}]");
            if h.name.trim().is_empty()
                || h.name.contains(char::is_whitespace)
                || h.name.starts_with('@')
                || h.name.len() > 64
            {
                return Err(err(format!("{key}.name"), "must be a non-empty word"));
            }
            if !host_names.insert(h.name.clone()) {
                return Err(err(
                    format!("{key}.name"),
                    format!("duplicate host {:?}", h.name),
                ));
            }
            let ep = h.endpoint.as_str();
            if !(ep == "env"
                || ep.starts_with("unix://")
                || ep.starts_with("tcp://")
                || ep.starts_with("http://")
                || ep.starts_with("https://"))
            {
                return Err(err(
                    format!("{key}.endpoint"),
                    "must start with unix://, tcp://, http://, https:// or be \"env\"",
                ));
            }
            let tls = [&h.tls_ca, &h.tls_cert, &h.tls_key];
            let set = tls.iter().filter(|t| t.is_some()).count();
            if set != 0 && set != 3 {
                return Err(err(
                    format!("{key}.tls_cert"),
                    "tls_ca, tls_cert and tls_key go together",
                ));
            }
        }
        if !(1..=10_000).contains(&self.docker.logs_tail) {
            return Err(err("docker.logs_tail", "must be between 1 and 10000"));
        }
        if !(1..=3600).contains(&self.docker.confirm_timeout_secs) {
            return Err(err(
                "docker.confirm_timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        for (i, entry) in self.docker.exec_allowlist.iter().enumerate() {
            if shlex::split(entry).is_none_or(|argv| argv.is_empty()) {
                return Err(err(
                    format!("docker.exec_allowlist[{i}]"),
                    "must be a command with balanced quotes, e.g. \"cat /etc/hostname\"",
                ));
            }
        }
        if let Some(llm) = &self.llm {
            if !matches!(llm.base_url.scheme(), "http" | "https") {
                return Err(err("llm.base_url", "must be an http(s) URL"));
            }
            if llm.model.trim().is_empty() {
                return Err(err("llm.model", "must not be empty"));
            }
        }
        if !(0.0..=1.0).contains(&self.knowledge.min_confidence) {
            return Err(err("knowledge.min_confidence", "must be between 0 and 1"));
        }
        if self.store.backend == StoreBackend::Postgres && self.store.postgres_url.is_none() {
            return Err(err(
                "store.postgres_url",
                "required when backend = \"postgres\"",
            ));
        }
        if self.store.leader_lease_secs < 3 {
            return Err(err("store.leader_lease_secs", "must be at least 3"));
        }
        self.validate_postgres()?;
        if !(100..=60_000).contains(&self.server.health_interval_ms) {
            return Err(err(
                "server.health_interval_ms",
                "must be between 100 and 60000",
            ));
        }
        self.validate_alerts()?;
        self.validate_weixin()?;
        self.validate_kubernetes()?;
        if !self.identity.local_user.contains(':') {
            return Err(err("identity.local_user", "must look like channel:userid"));
        }
        for k in self.identity.users.keys() {
            if !k.contains(':') {
                return Err(err(
                    format!("identity.users.{k}"),
                    "identity must look like channel:userid",
                ));
            }
        }
        for k in self.identity.groups.keys() {
            if !k.contains(':') {
                return Err(err(
                    format!("identity.groups.{k}"),
                    "group must look like channel:chatid",
                ));
            }
        }
        crate::scope::validate(&self.identity.scopes)?;
        Ok(())
    }
}

impl Config {
    fn validate_postgres(&self) -> Result<(), ConfigError> {
        let s = &self.store;
        if !(1..=1000).contains(&s.postgres_pool_size) {
            return Err(err(
                "store.postgres_pool_size",
                "must be between 1 and 1000",
            ));
        }
        if !(100..=600_000).contains(&s.postgres_connect_timeout_ms) {
            return Err(err(
                "store.postgres_connect_timeout_ms",
                "must be between 100 and 600000",
            ));
        }
        if !(100..=3_600_000).contains(&s.postgres_statement_timeout_ms) {
            return Err(err(
                "store.postgres_statement_timeout_ms",
                "must be between 100 and 3600000",
            ));
        }
        if s.backend == StoreBackend::Postgres
            && let Some(url) = &s.postgres_url
        {
            // sslmode, sslrootcert and the rest of the string, checked as `serve` will use them.
            let target =
                crate::store::pg_target(url.expose()).map_err(|e| err("store.postgres_url", e))?;
            crate::store::pg_tls_check(&target).map_err(|e| err("store.postgres_url", e))?;
        }
        Ok(())
    }

    fn validate_server_access(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if let Some(secret) = &s.console_secret
            && secret.expose().chars().count() < crate::server::console_key::MIN_SECRET_LEN
        {
            return Err(err(
                "server.console_secret",
                "must be at least 16 characters (e.g. the output of `openssl rand -hex 32`)",
            ));
        }
        for (i, h) in s.allowed_hosts.iter().flatten().enumerate() {
            if let Err(why) = crate::server::auth::HostPattern::parse(h) {
                return Err(err(format!("server.allowed_hosts[{i}]"), why));
            }
        }
        if let Some(m) = s.metrics_listen
            && m == s.listen
        {
            return Err(err(
                "server.metrics_listen",
                "must differ from server.listen (it is a second listener)",
            ));
        }
        Ok(())
    }

    fn validate_weixin(&self) -> Result<(), ConfigError> {
        let w = &self.weixin;
        if !(1..=10).contains(&w.per_inbound) {
            return Err(err("weixin.per_inbound", "must be between 1 and 10"));
        }
        if !(1..=24).contains(&w.window_hours) {
            return Err(err("weixin.window_hours", "must be between 1 and 24"));
        }
        if !(100..=60_000).contains(&w.long_poll_ms) {
            return Err(err("weixin.long_poll_ms", "must be between 100 and 60000"));
        }
        if w.relogin_check_secs == 0 {
            return Err(err("weixin.relogin_check_secs", "must be at least 1"));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, a) in w.accounts.iter().enumerate() {
            if !valid_account_name(&a.name) {
                return Err(err(
                    format!("weixin.accounts[{i}].name"),
                    "must be 1-32 characters of a-z, 0-9, - and _",
                ));
            }
            if !names.insert(a.name.clone()) {
                return Err(err(
                    format!("weixin.accounts[{i}].name"),
                    format!("duplicate account {:?}", a.name),
                ));
            }
        }
        for (i, t) in w.notify.iter().enumerate() {
            if t.trim().is_empty() {
                return Err(err(format!("weixin.notify[{i}]"), "must not be empty"));
            }
        }
        Ok(())
    }

    fn validate_kubernetes(&self) -> Result<(), ConfigError> {
        let k = &self.kubernetes;
        if !(1..=300).contains(&k.request_timeout_secs) {
            return Err(err(
                "kubernetes.request_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if !(1..=10_000).contains(&k.logs_tail) {
            return Err(err("kubernetes.logs_tail", "must be between 1 and 10000"));
        }
        if !(1..=3600).contains(&k.confirm_timeout_secs) {
            return Err(err(
                "kubernetes.confirm_timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        // Below the chat pipeline's two-minute "still processing" window, so a channel's
        // redelivery never runs a drain twice.
        if !(1..=110).contains(&k.drain_timeout_secs) {
            return Err(err(
                "kubernetes.drain_timeout_secs",
                "must be between 1 and 110",
            ));
        }
        if !(100..=60_000).contains(&k.eviction_retry_ms) {
            return Err(err(
                "kubernetes.eviction_retry_ms",
                "must be between 100 and 60000",
            ));
        }
        for key in k.impersonate.keys() {
            let ok = match key.split_once(':') {
                Some(("role", r)) => matches!(r, "viewer" | "operator" | "admin"),
                Some(("user", u)) => !u.is_empty(),
                _ => false,
            };
            if !ok {
                return Err(err(
                    format!("kubernetes.impersonate.{key}"),
                    "key must be role:viewer|operator|admin or user:CHANNEL:ID",
                ));
            }
        }
        for (key, v) in &k.impersonate {
            if v.user.trim().is_empty() {
                return Err(err(
                    format!("kubernetes.impersonate.{key}.user"),
                    "must not be empty",
                ));
            }
        }
        let a = &self.alerts.kubernetes;
        for (i, r) in a.reasons.iter().enumerate() {
            if !KUBE_ALERT_KINDS.contains(&r.as_str()) {
                return Err(err(
                    format!("alerts.kubernetes.reasons[{i}]"),
                    format!("unknown kind; use one of: {}", KUBE_ALERT_KINDS.join(", ")),
                ));
            }
        }
        match humantime::parse_duration(&a.pending_after) {
            Ok(d) if d.as_secs() >= 1 => {}
            _ => {
                return Err(err(
                    "alerts.kubernetes.pending_after",
                    "must be a duration of at least 1s, like 5m",
                ));
            }
        }
        for (i, g) in a
            .namespaces
            .iter()
            .chain(&a.exclude_namespaces)
            .chain(&a.names)
            .enumerate()
        {
            if glob::Pattern::new(g).is_err() {
                return Err(err(
                    format!("alerts.kubernetes (pattern {i})"),
                    format!("{g:?} is not a valid glob"),
                ));
            }
        }
        Ok(())
    }

    fn validate_alerts(&self) -> Result<(), ConfigError> {
        let a = &self.alerts;
        if crate::i18n::Lang::parse(&a.lang).is_none() {
            return Err(err("alerts.lang", "must be \"zh\" or \"en\""));
        }
        if a.alertmanager_basic_user.is_some() != a.alertmanager_basic_password.is_some() {
            return Err(err(
                "alerts.alertmanager_basic_password",
                "alertmanager_basic_user and alertmanager_basic_password go together",
            ));
        }
        if a.restart_loop_count < 2 {
            return Err(err("alerts.restart_loop_count", "must be at least 2"));
        }
        if a.digest_pending == 0 {
            return Err(err("alerts.digest_pending", "must be at least 1"));
        }
        if a.reconnect_min_ms == 0 || a.reconnect_max_ms < a.reconnect_min_ms {
            return Err(err(
                "alerts.reconnect_max_ms",
                "need 0 < reconnect_min_ms <= reconnect_max_ms",
            ));
        }
        let robots: Vec<&str> = self.wecom.robots.iter().map(|r| r.name.as_str()).collect();
        let check_target = |key: String, t: &str| -> Result<(), ConfigError> {
            match t.split_once(':') {
                None | Some(("robot", _)) => {
                    let name = t.strip_prefix("robot:").unwrap_or(t);
                    if !robots.contains(&name) {
                        return Err(err(key, format!("no [[wecom.robots]] named {name:?}")));
                    }
                }
                Some(("aibot" | "wecom_app" | "wechatbot" | "wechat_mp", rest))
                    if !rest.is_empty() => {}
                Some(_) => {
                    return Err(err(
                        key,
                        format!(
                            "{t:?} is not ROBOT, robot:NAME, aibot:CHATID, wecom_app:USER, wechatbot:ROOM or wechat_mp:OPENID"
                        ),
                    ));
                }
            }
            Ok(())
        };
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in a.routes.iter().enumerate() {
            let key = format!("alerts.routes[{i}]");
            if r.name.trim().is_empty() || !names.insert(r.name.clone()) {
                return Err(err(
                    format!("{key}.name"),
                    "must be a unique, non-empty name",
                ));
            }
            if r.targets.is_empty() {
                return Err(err(format!("{key}.targets"), "list at least one target"));
            }
            for (j, t) in r.targets.iter().enumerate() {
                check_target(format!("{key}.targets[{j}]"), t)?;
            }
            if let Some(tpl) = &r.template {
                minijinja::Environment::new()
                    .template_from_str(tpl)
                    .map_err(|e| {
                        err(format!("{key}.template"), format!("invalid template: {e}"))
                    })?;
            }
            if let Some(d) = &r.repeat_interval {
                humantime::parse_duration(d).map_err(|e| {
                    err(
                        format!("{key}.repeat_interval"),
                        format!("not a duration: {e}"),
                    )
                })?;
            }
            let m = &r.matches;
            for (k, g) in [
                ("source", &m.source),
                ("host", &m.host),
                ("container", &m.container),
                ("image", &m.image),
                ("project", &m.project),
            ] {
                if let Some(g) = g {
                    glob::Pattern::new(g).map_err(|e| {
                        err(format!("{key}.match.{k}"), format!("invalid glob: {e}"))
                    })?;
                }
            }
            for (k, g) in &m.labels {
                glob::Pattern::new(g).map_err(|e| {
                    err(
                        format!("{key}.match.labels.{k}"),
                        format!("invalid glob: {e}"),
                    )
                })?;
            }
        }
        for (name, h) in &a.hooks {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(err(
                    format!("alerts.hooks.{name}"),
                    "hook names are letters, digits, - and _",
                ));
            }
            for (j, t) in h.targets.iter().enumerate() {
                if a.routes.iter().any(|r| &r.name == t) {
                    continue;
                }
                check_target(format!("alerts.hooks.{name}.targets[{j}]"), t)?;
            }
        }
        Ok(())
    }
}

/// EncodingAESKey: 43 characters of base64 (trailing bits are allowed, as in real keys).
/// A personal-WeChat account name: it becomes part of store keys and outbox targets.
pub fn valid_account_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check_aes_key(key: &str, value: &str) -> Result<(), ConfigError> {
    wxcrypt::EncodingAesKey::decode(value)
        .map(|_| ())
        .map_err(|_| {
            err(
                key,
                format!(
                    "malformed EncodingAESKey: expected 43 base64 characters, got {}",
                    value.chars().count()
                ),
            )
        })
}

fn check_token(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.len() > 32 || !value.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(err(key, "must be 1-32 letters or digits"));
    }
    Ok(())
}

/// Applies `WEDOCK_A__B__C=value` as `a.b.c = value`. A value that parses as a TOML value
/// (number, bool, array, inline table) is taken as such unless the file already has a string
/// at that key; anything else is a string.
fn apply_env_overrides(
    root: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    // Variables that configure the process rather than the file.
    const NOT_KEYS: &[&str] = &["WEDOCK_CONFIG", "WEDOCK_LOG", "WEDOCK_GIT_COMMIT"];
    // Only `WEDOCK_A__B` names are config keys; other WEDOCK_* variables are left alone.
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with(ENV_PREFIX) && k.contains("__") && !NOT_KEYS.contains(&k.as_str())
        })
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let path: Vec<String> = name[ENV_PREFIX.len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if path.iter().any(|s| s.is_empty()) {
            return Err(err(
                name.clone(),
                "environment override must look like WEDOCK_SECTION__KEY",
            ));
        }
        let dotted = path.join(".");
        let mut table = &mut *root;
        for seg in &path[..path.len() - 1] {
            let entry = table
                .entry(seg.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = match entry {
                toml::Value::Table(t) => t,
                _ => return Err(err(dotted, "is not a section in the config file")),
            };
        }
        let last = &path[path.len() - 1];
        let keep_string = matches!(table.get(last), Some(toml::Value::String(_)));
        let value = if keep_string {
            toml::Value::String(raw)
        } else {
            format!("v = {raw}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(raw))
        };
        table.insert(last.clone(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(
            Some(&p),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn empty_config_gives_defaults() {
        let c = Config::load(None, std::iter::empty()).unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.store.data_dir, PathBuf::from("./wedock-data"));
    }

    #[test]
    fn unknown_key_is_named() {
        let e = load_str("[server]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n", &[]).unwrap_err();
        assert_eq!(e.key, "server.listne");
        assert!(e.reason.contains("listne"), "{e}");
    }

    #[test]
    fn docker_keys_are_checked_by_name() {
        let e = load_str("[docker]\nlogs_tail = 0\n", &[]).unwrap_err();
        assert_eq!(e.key, "docker.logs_tail");
        let e = load_str("[docker]\nexec_allowlist = [\"ok\", \"sh -c 'x\"]\n", &[]).unwrap_err();
        assert_eq!(e.key, "docker.exec_allowlist[1]");
        let e = load_str("[[docker.hosts]]\nname = \"@a\"\nendpoint = \"env\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "docker.hosts[0].name");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = load_str("[server]\nbody_limit_bytes = \"big\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "server.body_limit_bytes", "{e}");
    }

    #[test]
    fn malformed_aes_key_is_named_and_secret_not_echoed() {
        let text = "[wecom.app]\ncorp_id = \"ww1\"\nagent_id = 1\nsecret = \"SUPERSECRETVALUE\"\ntoken = \"tok\"\nencoding_aes_key = \"short\"\n";
        let e = load_str(text, &[]).unwrap_err();
        assert_eq!(e.key, "wecom.app.encoding_aes_key");
        assert!(!e.to_string().contains("SUPERSECRETVALUE"));
        assert!(!e.to_string().contains("short\""));
    }

    #[test]
    fn missing_env_secret_is_named() {
        let text = "[wecom.app]\ncorp_id = \"ww1\"\nagent_id = 1\nsecret = { env = \"WEDOCK_TEST_NOPE_9\" }\ntoken = \"tok\"\nencoding_aes_key = \"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C\"\n";
        let e = load_str(text, &[]).unwrap_err();
        assert_eq!(e.key, "wecom.app.secret");
        assert!(e.reason.contains("WEDOCK_TEST_NOPE_9"));
    }

    #[test]
    fn env_overrides_apply_with_types() {
        let c = load_str(
            "[server]\nlisten = \"127.0.0.1:1\"\n",
            &[
                ("WEDOCK_SERVER__LISTEN", "0.0.0.0:9090"),
                ("WEDOCK_DOCKER__READ_ONLY", "true"),
                ("WEDOCK_CONFIG", "/ignored"),
                ("WEDOCK_TEST_SOMETHING", "not a key"),
            ],
        )
        .unwrap();
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:9090");
        assert!(c.docker.read_only);
    }

    #[test]
    fn alert_route_errors_are_named() {
        let robot = "[[wecom.robots]]\nname = \"ops\"\nkey = \"k\"\n";
        let e = load_str(
            &format!("{robot}[[alerts.routes]]\nname = \"r\"\ntargets = [\"opz\"]\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "alerts.routes[0].targets[0]");
        assert!(e.reason.contains("opz"));
        let e = load_str(
            &format!("{robot}[[alerts.routes]]\nname = \"r\"\ntargets = [\"ops\"]\ntemplate = \"{{{{ x\"\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "alerts.routes[0].template");
        let e = load_str(
            &format!("{robot}[[alerts.routes]]\nname = \"r\"\ntargets = [\"ops\"]\n[alerts.routes.match]\nevnt = [\"die\"]\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "alerts.routes[0].match.evnt");
        let e = load_str("[alerts]\nlang = \"fr\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "alerts.lang");
        let ok = load_str(
            &format!("{robot}[[alerts.routes]]\nname = \"r\"\ntargets = [\"ops\", \"aibot:c1\"]\nrepeat_interval = \"30m\"\n[alerts.routes.match]\nevent = [\"die\"]\nexit_code = [137]\n"),
            &[],
        )
        .unwrap();
        assert_eq!(ok.alerts.routes[0].matches.exit_code, vec![137]);
    }

    #[test]
    fn bad_robot_url_is_named() {
        let e = load_str(
            "[[wecom.robots]]\nname = \"ops\"\nurl = \"not a url\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "wecom.robots[0].url");
    }

    #[test]
    fn weixin_keys_are_checked_by_name() {
        let ok = load_str(
            "[weixin]\nenabled = true\n[[weixin.accounts]]\nname = \"main\"\n",
            &[],
        );
        assert_eq!(ok.unwrap().weixin.per_inbound, 10);
        let e = load_str("[weixin]\nper_inbound = 11\n", &[]).unwrap_err();
        assert_eq!(e.key, "weixin.per_inbound");
        let e = load_str("[[weixin.accounts]]\nname = \"Main Phone\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "weixin.accounts[0].name");
        let e = load_str(
            "[[weixin.accounts]]\nname = \"a\"\n[[weixin.accounts]]\nname = \"a\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "weixin.accounts[1].name");
        let e = load_str("[[weixin.accounts]]\nname = \"a\"\ntoken = \"x\"\n", &[]).unwrap_err();
        assert!(e.key.starts_with("weixin.accounts"), "{e}");
    }
}
