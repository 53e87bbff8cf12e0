//! Who is speaking and what they may do: identities `channel:userid`, roles, and the policy
//! that maps one to the other from config.

use crate::config::IdentityConfig;
pub use crate::config::{Role, UnknownUsers};

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
