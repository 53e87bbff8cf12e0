//! The server, store, identity, knowledge and LLM sections.

use super::*;

/// Shortest console secret accepted from the file or the config (the generated one has 64).
pub const MIN_CONSOLE_SECRET_LEN: usize = 16;

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
    /// change (`[[identity.scopes]]`, applied by `scope.rs`). Empty: everything.
    pub scopes: Vec<ScopeConfig>,
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
    /// Let `/diagnose` offer the model read-only tools (docker inspect/logs/events, kubectl
    /// get/describe/logs/events), run as the asker, audited, at most 6 calls.
    #[serde(default)]
    pub tools: bool,
}

fn default_llm_timeout() -> u64 {
    8000
}
fn default_llm_max_tokens() -> u32 {
    800
}
