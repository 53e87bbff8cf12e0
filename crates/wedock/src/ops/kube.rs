//! Kubernetes clusters: one kube client per kubeconfig context (or the pod's own service
//! account), optionally impersonating a configured identity, shared by `/kubectl` and the
//! cluster alert watchers.
//!
//! Clients are built with `default_retry = false`: kube otherwise retries 429/503/504 up to 15
//! times over about five minutes, so a PDB-blocked eviction or a dead metrics-server would
//! leave a chat user waiting instead of getting an answer. Callers put their own timeout on
//! user-facing calls; watchers pace themselves with kube-runtime's backoff.

use crate::config::{ImpersonateConfig, KubernetesConfig};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::collections::HashMap;
use std::sync::Arc;

/// The context name of the pod's own service account.
pub const IN_CLUSTER: &str = "in-cluster";

/// Why no client could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    Disabled,
    UnknownContext {
        name: String,
        known: Vec<String>,
    },
    /// The kubeconfig or in-cluster environment could not be read or is unusable.
    Config(String),
}

impl ClusterError {
    pub fn kind(&self) -> &'static str {
        match self {
            ClusterError::Disabled => "disabled",
            ClusterError::UnknownContext { .. } => "unknown_context",
            ClusterError::Config(_) => "config",
        }
    }
}

/// A client for one context.
#[derive(Clone)]
pub struct Cluster {
    pub context: String,
    pub client: kube::Client,
    /// The context's namespace (`default` when it names none).
    pub namespace: String,
}

type Key = (String, Option<ImpersonateConfig>);

/// Every configured cluster, clients made on first use and kept.
pub struct Clusters {
    cfg: KubernetesConfig,
    clients: tokio::sync::Mutex<HashMap<Key, Cluster>>,
}

impl Clusters {
    pub fn new(cfg: &KubernetesConfig) -> Clusters {
        Clusters {
            cfg: cfg.clone(),
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.cfg.enabled
    }

    /// The kubeconfig, read fresh so an edited file takes effect without a restart; `None`
    /// when there is none and in-cluster config is allowed.
    fn kubeconfig(&self) -> Result<Option<Kubeconfig>, ClusterError> {
        let read = match &self.cfg.kubeconfig {
            Some(p) => Kubeconfig::read_from(p)
                .map_err(|e| ClusterError::Config(format!("{}: {e}", p.display()))),
            None => Kubeconfig::read().map_err(|e| ClusterError::Config(e.to_string())),
        };
        match read {
            Ok(kc) => Ok(Some(kc)),
            Err(_) if self.cfg.in_cluster && self.cfg.kubeconfig.is_none() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The contexts commands may name, in kubeconfig order.
    pub fn contexts(&self) -> Result<Vec<String>, ClusterError> {
        if !self.cfg.enabled {
            return Err(ClusterError::Disabled);
        }
        let mut out: Vec<String> = match self.kubeconfig()? {
            Some(kc) => kc
                .contexts
                .iter()
                .map(|c| c.name.clone())
                .filter(|n| self.cfg.contexts.is_empty() || self.cfg.contexts.contains(n))
                .collect(),
            None => Vec::new(),
        };
        if self.cfg.in_cluster {
            out.push(IN_CLUSTER.to_string());
        }
        Ok(out)
    }

    /// The context used when none is named.
    pub fn default_context(&self) -> Result<String, ClusterError> {
        if let Some(d) = &self.cfg.default_context {
            return Ok(d.clone());
        }
        let kc = self.kubeconfig()?;
        let current = kc.as_ref().and_then(|k| k.current_context.clone());
        let allowed = self.contexts()?;
        match current {
            Some(c) if allowed.contains(&c) => Ok(c),
            _ => allowed.into_iter().next().ok_or_else(|| {
                ClusterError::Config("the kubeconfig has no usable context".to_string())
            }),
        }
    }

    /// A client for `context` (default when `None`), acting as `who` when given.
    pub async fn get(
        &self,
        context: Option<&str>,
        who: Option<&ImpersonateConfig>,
    ) -> Result<Cluster, ClusterError> {
        if !self.cfg.enabled {
            return Err(ClusterError::Disabled);
        }
        let name = match context {
            Some(c) => c.to_string(),
            None => self.default_context()?,
        };
        let key = (name.clone(), who.cloned());
        if let Some(c) = self.clients.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let known = self.contexts()?;
        if !known.contains(&name) {
            return Err(ClusterError::UnknownContext { name, known });
        }
        let mut config = if name == IN_CLUSTER {
            kube::Config::incluster()
                .map_err(|e| ClusterError::Config(format!("in-cluster config: {e}")))?
        } else {
            let kc = self
                .kubeconfig()?
                .ok_or_else(|| ClusterError::Config("no kubeconfig".to_string()))?;
            let opts = KubeConfigOptions {
                context: Some(name.clone()),
                cluster: None,
                user: None,
            };
            kube::Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(|e| ClusterError::Config(format!("context {name}: {e}")))?
        };
        config.default_retry = false;
        if let Some(w) = who {
            config.auth_info.impersonate = Some(w.user.clone());
            config.auth_info.impersonate_groups = (!w.groups.is_empty()).then(|| w.groups.clone());
        }
        let namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config)
            .map_err(|e| ClusterError::Config(format!("context {name}: {e}")))?;
        let cluster = Cluster {
            context: name,
            client,
            namespace,
        };
        let mut map = self.clients.lock().await;
        // Bounded: contexts × configured identities; clear if a config edit ever piles up more.
        if map.len() > 256 {
            map.clear();
        }
        map.insert(key, cluster.clone());
        Ok(cluster)
    }

    /// The identity a chat user acts as: a `user:` entry wins over a `role:` entry.
    pub fn impersonation(&self, identity: &str, role: &str) -> Option<&ImpersonateConfig> {
        self.cfg
            .impersonate
            .get(&format!("user:{identity}"))
            .or_else(|| self.cfg.impersonate.get(&format!("role:{role}")))
    }
}

/// How a failed API call reads: the status code and reason when the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The API server answered with a Status (or a plain-text error body).
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    /// No answer: connection refused, TLS, timeout, undecodable body.
    Transport(String),
}

impl CallError {
    pub fn from_kube(e: &kube::Error) -> CallError {
        match e {
            kube::Error::Api(s) => CallError::Api {
                code: s.code,
                reason: s.reason.clone(),
                message: s.message.clone(),
            },
            other => CallError::Transport(other.to_string()),
        }
    }

    /// Matches on the code as well as the reason: kube's `is_not_found()` looks at the
    /// reason only, and a plain-text 404 (an API group nobody serves) has none.
    pub fn code(&self) -> Option<u16> {
        match self {
            CallError::Api { code, .. } => Some(*code),
            CallError::Transport(_) => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.code() {
            Some(403) => "forbidden",
            Some(404) => "not_found",
            Some(409) => "conflict",
            Some(429) => "too_many_requests",
            Some(400) => "bad_request",
            Some(401) => "unauthorized",
            Some(c) if c >= 500 => "server",
            Some(_) => "api",
            None => "transport",
        }
    }
}

/// Shared handle type for the App.
pub type SharedClusters = Arc<Clusters>;

/// `app=api,tier!=batch`: checks a label selector's syntax before it is sent, so a typo gets
/// a readable reason instead of a 400 from the server.
pub fn validate_selector(s: &str) -> Result<(), String> {
    if s.len() > 512 || s.chars().any(char::is_control) {
        return Err("label selector is too long or has control characters".into());
    }
    for part in split_selector(s) {
        let p = part.trim();
        if p.is_empty() {
            return Err(format!("empty term in label selector {s:?}"));
        }
        let key = if let Some(k) = p.strip_prefix('!') {
            k
        } else if let Some((k, _)) = p.split_once("!=") {
            k
        } else if let Some((k, _)) = p.split_once("==") {
            k
        } else if let Some((k, _)) = p.split_once('=') {
            k
        } else if let Some((k, rest)) = p.split_once(" in ").or_else(|| p.split_once(" notin ")) {
            let r = rest.trim();
            if !(r.starts_with('(') && r.ends_with(')')) {
                return Err(format!("{p:?}: a set needs parentheses, like env in (a,b)"));
            }
            k
        } else {
            p
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        {
            return Err(format!("{p:?} is not a label selector term"));
        }
    }
    Ok(())
}

/// Splits on commas outside parentheses.
fn split_selector(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Kubernetes object names: DNS-1123 subdomain characters, at most 253 bytes.
pub fn validate_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err(format!("{s:?} is not a valid object name"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    {
        return Err(format!(
            "{s:?} is not a valid object name (lower-case letters, digits, '-' and '.')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_names_are_checked() {
        assert!(validate_selector("app=api").is_ok());
        assert!(validate_selector("app=api,tier!=batch,!canary,env in (a,b)").is_ok());
        assert!(validate_selector("app.kubernetes.io/name==web").is_ok());
        assert!(validate_selector("app=api,").is_err());
        assert!(validate_selector("env in a,b").is_err());
        assert!(validate_selector("a b=c").is_err());
        assert!(validate_name("api-7d4b8c9f6-x2j9k").is_ok());
        assert!(validate_name("Api").is_err());
        assert!(validate_name("../etc").is_err());
        assert!(validate_name("").is_err());
    }

    #[test]
    fn impersonation_user_wins_over_role() {
        let mut cfg = KubernetesConfig::default();
        cfg.impersonate.insert(
            "role:viewer".into(),
            ImpersonateConfig {
                user: "chat-viewer".into(),
                groups: vec![],
            },
        );
        cfg.impersonate.insert(
            "user:wecom:alice".into(),
            ImpersonateConfig {
                user: "alice".into(),
                groups: vec!["dev".into()],
            },
        );
        let c = Clusters::new(&cfg);
        assert_eq!(
            c.impersonation("wecom:alice", "viewer")
                .map(|i| i.user.as_str()),
            Some("alice")
        );
        assert_eq!(
            c.impersonation("wecom:bob", "viewer")
                .map(|i| i.user.as_str()),
            Some("chat-viewer")
        );
        assert!(c.impersonation("wecom:bob", "admin").is_none());
    }
}
