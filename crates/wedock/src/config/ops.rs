//! The sections for what wedock operates: Docker hosts and Kubernetes clusters.

use super::*;

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
