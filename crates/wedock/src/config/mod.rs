//! Typed configuration: a TOML file (optional — wedock runs with none) plus environment
//! overrides `WEDOCK_SECTION__KEY=value`. Every error names the offending key and says why.
//!
//! Each section is a struct with `deny_unknown_fields`, so a typo is an error, not a silently
//! ignored setting. `config.example.toml` at the repository root documents every key.
//!
//! One file per area: `general` (server, store, identity, knowledge, LLM), `platforms` (chat
//! channels), `ops` (Docker, Kubernetes), `alerts` (outbox, alerts), `channels` and `validate`
//! (cross-field checks). This module loads the file and applies environment overrides.

use crate::secret::ConfigSecret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod access;
mod alerts;
mod channels;
mod escalation;
mod general;
mod hosts;
mod limits;
mod oncall;
mod ops;
mod platforms;
mod validate;

pub use access::*;
pub use alerts::*;
pub use channels::MpMode;
pub use escalation::*;
pub use general::*;
pub use hosts::HostPattern;
pub use limits::*;
pub use oncall::*;
pub use ops::*;
pub use platforms::*;

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
    pub security: SecurityConfig,
    pub limits: LimitsConfig,
    /// `[[oncall.schedules]]`: who is on duty (docs/alerts.md).
    pub oncall: OncallConfig,
}

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
        self.validate_oncall()?;
        self.validate_escalations()?;
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
        validate_scopes(&self.identity.scopes)?;
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
mod tests;
