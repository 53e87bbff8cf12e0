//! Who is speaking and what they may do: identities `channel:userid`, roles, and the policy
//! that maps one to the other from config.

use crate::config::IdentityConfig;
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

/// Resolves roles from the `[identity]` config section.
#[derive(Debug, Clone)]
pub struct Policy {
    cfg: IdentityConfig,
}

impl Policy {
    pub fn new(cfg: IdentityConfig) -> Self {
        Self { cfg }
    }

    pub fn local_user(&self) -> &str {
        &self.cfg.local_user
    }

    pub fn local_role(&self) -> Role {
        self.cfg.local_role
    }

    /// The role of `user` (a `channel:userid`), speaking in `chat` (a `channel:chatid`) if any.
    /// `None` means the user is to be ignored.
    pub fn role_of(&self, user: &str, chat: Option<&str>) -> Option<Role> {
        let by_user = self.cfg.users.get(user).copied();
        let by_group = chat.and_then(|c| self.cfg.groups.get(c).copied());
        match (by_user, by_group) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => match self.cfg.unknown_users {
                UnknownUsers::Guest => Some(Role::Guest),
                UnknownUsers::Viewer => Some(Role::Viewer),
                UnknownUsers::Ignore => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_role_raises_and_unknown_follows_config() {
        let mut cfg = IdentityConfig::default();
        cfg.users.insert("wecom:alice".into(), Role::Operator);
        cfg.groups.insert("wecom:ops".into(), Role::Admin);
        let p = Policy::new(cfg.clone());
        assert_eq!(p.role_of("wecom:alice", None), Some(Role::Operator));
        assert_eq!(
            p.role_of("wecom:alice", Some("wecom:ops")),
            Some(Role::Admin)
        );
        assert_eq!(p.role_of("wecom:bob", None), Some(Role::Guest));
        cfg.unknown_users = UnknownUsers::Viewer;
        assert_eq!(
            Policy::new(cfg.clone()).role_of("wecom:bob", None),
            Some(Role::Viewer)
        );
        cfg.unknown_users = UnknownUsers::Ignore;
        assert_eq!(Policy::new(cfg).role_of("wecom:bob", None), None);
        assert!(
            Role::Guest < Role::Viewer
                && Role::Viewer < Role::Operator
                && Role::Operator < Role::Admin
        );
    }
}
