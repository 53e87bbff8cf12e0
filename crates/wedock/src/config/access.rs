//! Who may do what: roles, what unknown users get, and `[[identity.scopes]]` (the rules that
//! apply them live in `identity.rs` and `scope.rs`).

use super::ConfigError;
use serde::{Deserialize, Serialize};

/// Roles are ordered: a higher role can do everything a lower one can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Knowledge answers, `/quiz`, `/help`, `/ping`, `/whoami`: what anyone who can reach the
    /// bot may do. The default for unknown users and the cap for unauthenticated channels.
    Guest,
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownUsers {
    /// Unknown users may ask questions and practise, nothing that reads the infrastructure.
    #[default]
    Guest,
    /// Unknown users may read (ask questions, `ps`, `logs`): an explicit opt-in for private
    /// deployments where everyone who can reach the bot is a colleague.
    Viewer,
    /// Unknown users get no reply at all.
    Ignore,
}

/// What an entry allows: reading, or reading and changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    #[default]
    Read,
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One `[[identity.scopes]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    /// Every sender with exactly this role.
    pub role: Option<Role>,
    /// Senders by identity `channel:userid`.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group chats `channel:chatid`: everyone writing there.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Docker host names (as `@host` names them), globs.
    pub docker_hosts: Option<Vec<String>>,
    /// Container name globs.
    pub containers: Option<Vec<String>>,
    /// Kubernetes context names, globs.
    pub kube_contexts: Option<Vec<String>>,
    /// Namespace globs.
    pub namespaces: Option<Vec<String>>,
    #[serde(default)]
    pub access: Access,
}

impl ScopeConfig {
    pub fn mentions_docker(&self) -> bool {
        self.docker_hosts.is_some() || self.containers.is_some()
    }

    pub fn mentions_kube(&self) -> bool {
        self.kube_contexts.is_some() || self.namespaces.is_some()
    }
}

/// Checks `[[identity.scopes]]`; each error names the entry and key.
pub fn validate_scopes(scopes: &[ScopeConfig]) -> Result<(), ConfigError> {
    let err = |i: usize, key: &str, reason: String| ConfigError {
        key: format!("identity.scopes[{i}].{key}"),
        reason,
    };
    for (i, s) in scopes.iter().enumerate() {
        if s.role.is_none() && s.users.is_empty() && s.groups.is_empty() {
            return Err(err(
                i,
                "role",
                "say whom the scope is for: role, users or groups".into(),
            ));
        }
        if !s.mentions_docker() && !s.mentions_kube() {
            return Err(err(
                i,
                "docker_hosts",
                "a scope needs docker_hosts/containers or kube_contexts/namespaces".into(),
            ));
        }
        for (key, list) in [("users", &s.users), ("groups", &s.groups)] {
            if let Some(bad) = list.iter().find(|u| !u.contains(':')) {
                return Err(err(i, key, format!("{bad:?} must look like channel:id")));
            }
        }
        for (key, list) in [
            ("docker_hosts", &s.docker_hosts),
            ("containers", &s.containers),
            ("kube_contexts", &s.kube_contexts),
            ("namespaces", &s.namespaces),
        ] {
            let Some(list) = list else { continue };
            if list.is_empty() {
                return Err(err(
                    i,
                    key,
                    "an empty list allows nothing; leave the key out for \"*\"".into(),
                ));
            }
            if let Some(bad) = list.iter().find(|g| glob::Pattern::new(g).is_err()) {
                return Err(err(i, key, format!("{bad:?} is not a valid glob")));
            }
        }
    }
    Ok(())
}
