//! Scopes: which Docker hosts and containers, which Kubernetes contexts and namespaces a role,
//! user or group may read or change (`[[identity.scopes]]`, docs/security.md).
//!
//! The rules, per command family (Docker, Kubernetes):
//! - An entry applies to a sender when its `role` equals the sender's role, or `users` names
//!   the sender, or `groups` names the chat the message came from.
//! - An entry speaks about Docker when it sets `docker_hosts` or `containers`, about
//!   Kubernetes when it sets `kube_contexts` or `namespaces`; a key it leaves out means "*".
//! - When no applying entry speaks about a family, that family is unrestricted for the sender
//!   (the behaviour without any scope). Otherwise a target is in scope only when one of those
//!   entries covers it with enough access (`write` implies `read`).
//! - Host-wide Docker commands (`prune`) need an entry whose `containers` include `"*"`;
//!   cluster-wide Kubernetes objects (nodes, cordon, drain, `top nodes`) need `"*"` in
//!   `namespaces`.

pub use crate::config::{Access, ScopeConfig, validate_scopes as validate};
use crate::identity::Role;

/// The scope entries that apply to one sender, for one command.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    entries: Vec<ScopeConfig>,
}

/// Globs that match `name`; a missing list is "*".
fn covers(globs: Option<&Vec<String>>, name: &str) -> bool {
    match globs {
        None => true,
        Some(list) => list.iter().any(|g| {
            glob::Pattern::new(g)
                .map(|p| p.matches(name))
                .unwrap_or(false)
        }),
    }
}

/// Whether a glob list allows every name (missing, or containing `"*"`).
fn covers_all(globs: Option<&Vec<String>>) -> bool {
    globs.is_none_or(|l| l.iter().any(|g| g == "*"))
}

impl Scopes {
    /// The entries of `all` applying to `user` (a `channel:userid`) with `role`, speaking in
    /// `chat` (a `channel:chatid`).
    pub fn for_sender(all: &[ScopeConfig], user: &str, role: Role, chat: Option<&str>) -> Scopes {
        let entries = all
            .iter()
            .filter(|s| {
                s.role == Some(role)
                    || s.users.iter().any(|u| u == user)
                    || chat.is_some_and(|c| s.groups.iter().any(|g| g == c))
            })
            .cloned()
            .collect();
        Scopes { entries }
    }

    fn docker(&self) -> impl Iterator<Item = &ScopeConfig> {
        self.entries.iter().filter(|s| s.mentions_docker())
    }

    fn kube(&self) -> impl Iterator<Item = &ScopeConfig> {
        self.entries.iter().filter(|s| s.mentions_kube())
    }

    /// Whether scopes restrict Docker for this sender at all.
    pub fn docker_restricted(&self) -> bool {
        self.docker().next().is_some()
    }

    /// Whether scopes restrict Kubernetes for this sender at all.
    pub fn kube_restricted(&self) -> bool {
        self.kube().next().is_some()
    }

    /// Unrestricted, or one of the sender's Docker entries with `access` passes `covers`.
    fn docker_any(&self, access: Access, covers: impl Fn(&ScopeConfig) -> bool) -> bool {
        !self.docker_restricted() || self.docker().any(|s| s.access >= access && covers(s))
    }

    /// Unrestricted, or one of the sender's Kubernetes entries with `access` passes `covers`.
    fn kube_any(&self, access: Access, covers: impl Fn(&ScopeConfig) -> bool) -> bool {
        !self.kube_restricted() || self.kube().any(|s| s.access >= access && covers(s))
    }

    /// Some container of `host` may be touched with `access`.
    pub fn docker_host(&self, host: &str, access: Access) -> bool {
        self.docker_any(access, |s| covers(s.docker_hosts.as_ref(), host))
    }

    /// Container `name` on `host` may be touched with `access`.
    pub fn container(&self, host: &str, name: &str, access: Access) -> bool {
        self.docker_any(access, |s| {
            covers(s.docker_hosts.as_ref(), host) && covers(s.containers.as_ref(), name)
        })
    }

    /// Every container of `host` may be touched with `access` (host-wide commands).
    pub fn docker_host_wide(&self, host: &str, access: Access) -> bool {
        self.docker_any(access, |s| {
            covers(s.docker_hosts.as_ref(), host) && covers_all(s.containers.as_ref())
        })
    }

    /// Something in context `context` may be touched with `access`.
    pub fn kube_context(&self, context: &str, access: Access) -> bool {
        self.kube_any(access, |s| covers(s.kube_contexts.as_ref(), context))
    }

    /// Objects in `namespace` of `context` may be touched with `access`.
    pub fn namespace(&self, context: &str, namespace: &str, access: Access) -> bool {
        self.kube_any(access, |s| {
            covers(s.kube_contexts.as_ref(), context) && covers(s.namespaces.as_ref(), namespace)
        })
    }

    /// Cluster-wide objects (nodes) and every namespace of `context`.
    pub fn cluster_wide(&self, context: &str, access: Access) -> bool {
        self.kube_any(access, |s| {
            covers(s.kube_contexts.as_ref(), context) && covers_all(s.namespaces.as_ref())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(toml_text: &str) -> ScopeConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn no_entry_means_everything_and_entries_narrow_their_family_only() {
        let none = Scopes::for_sender(&[], "wecom:a", Role::Operator, None);
        assert!(none.namespace("prod", "kube-system", Access::Write));
        assert!(none.docker_host_wide("local", Access::Write));

        let all = vec![entry(
            "role = \"operator\"\nnamespaces = [\"team-a-*\"]\naccess = \"write\"",
        )];
        let op = Scopes::for_sender(&all, "wecom:a", Role::Operator, None);
        assert!(op.namespace("prod", "team-a-web", Access::Write));
        assert!(!op.namespace("prod", "team-b", Access::Read));
        assert!(!op.cluster_wide("prod", Access::Read));
        // Docker is not mentioned: unrestricted.
        assert!(op.container("local", "anything", Access::Write));
        // Other roles are not affected.
        let admin = Scopes::for_sender(&all, "wecom:b", Role::Admin, None);
        assert!(admin.namespace("prod", "team-b", Access::Write));
    }

    #[test]
    fn read_entries_do_not_allow_writes_and_users_groups_match() {
        let all = vec![
            entry(
                "users = [\"wecom:zs\"]\ndocker_hosts = [\"local\"]\ncontainers = [\"api-*\", \"web\"]\naccess = \"write\"",
            ),
            entry("groups = [\"aibot:g1\"]\ncontainers = [\"*\"]"),
        ];
        let zs = Scopes::for_sender(&all, "wecom:zs", Role::Viewer, None);
        assert!(zs.container("local", "api-1", Access::Write));
        assert!(!zs.container("second", "api-1", Access::Read));
        assert!(!zs.container("local", "db", Access::Read));
        assert!(!zs.docker_host_wide("local", Access::Write));
        let in_group = Scopes::for_sender(&all, "aibot:x", Role::Operator, Some("aibot:g1"));
        assert!(in_group.container("second", "db", Access::Read));
        assert!(!in_group.container("second", "db", Access::Write));
        assert!(in_group.docker_host_wide("local", Access::Read));
    }

    #[test]
    fn validation_names_the_key() {
        let bad = [
            ("containers = [\"*\"]", "identity.scopes[0].role"),
            ("role = \"operator\"", "identity.scopes[0].docker_hosts"),
            (
                "role = \"operator\"\nnamespaces = [\"[\"]",
                "identity.scopes[0].namespaces",
            ),
            (
                "role = \"operator\"\nnamespaces = []",
                "identity.scopes[0].namespaces",
            ),
            (
                "users = [\"zs\"]\nnamespaces = [\"a\"]",
                "identity.scopes[0].users",
            ),
        ];
        for (text, key) in bad {
            let e = validate(&[entry(text)]).unwrap_err();
            assert_eq!(e.key, key, "{text}");
        }
        assert!(validate(&[entry("role = \"viewer\"\ncontainers = [\"api-*\"]")]).is_ok());
    }
}
