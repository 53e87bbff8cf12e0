//! The services every part of wedock shares, built once at start-up from the config.

use crate::config::Config;
use crate::identity::Policy;
use crate::knowledge::Knowledge;
use crate::store::{Fence, Store, StoreError, StoreResult};
use std::sync::Arc;
use std::time::Instant;

pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub policy: Policy,
    pub knowledge: Arc<Knowledge>,
    pub started_at: Instant,
    /// Channels and workers report here; `/readyz` reads it.
    pub health: crate::health::Health,
    /// Docker engines by name, connected on first use.
    pub docker: crate::ops::docker::Engines,
    /// Kubernetes clusters by context, clients made on first use.
    pub kube: crate::ops::kube::Clusters,
    /// State channels share between their callbacks, senders and background tasks.
    pub channels: crate::channel::Shared,
    /// The alert engine, once `alert::init` has built it.
    pub alerts: std::sync::OnceLock<Arc<crate::alert::Engine>>,
    /// Removes secrets from command output and alerts before they reach a channel.
    pub redactor: crate::redact::Redactor,
    /// Per-identity rate limits (`[limits]`).
    pub limits: crate::ratelimit::Limits,
    /// This process's campaign for the leader lease, once `serve` started it.
    pub leader: std::sync::OnceLock<crate::leader::Leader>,
}

impl App {
    pub fn new(config: Config, store: Arc<dyn Store>, knowledge: Arc<Knowledge>) -> Self {
        Self {
            policy: Policy::new(config.identity.clone()),
            redactor: crate::redact::Redactor::new(&config.security),
            limits: crate::ratelimit::Limits::new(&config.limits, config.llm.is_some()),
            docker: crate::ops::docker::Engines::new(&config.docker),
            kube: crate::ops::kube::Clusters::new(&config.kubernetes),
            config,
            store,
            knowledge,
            started_at: Instant::now(),
            health: crate::health::Health::default(),
            channels: crate::channel::Shared::default(),
            alerts: std::sync::OnceLock::new(),
            leader: std::sync::OnceLock::new(),
        }
    }

    /// Saves leader-only bookkeeping (a watcher's event cursor or reported-problem set) with
    /// the leader's fencing token, so a replica that lost the lease cannot move it. Without a
    /// campaign (tools, tests: the process is alone on its store) it is a plain write.
    pub async fn save_as_leader(&self, key: &str, value: &str) -> StoreResult<()> {
        match self.leader_fence()? {
            Some(f) => self.store.kv_set_fenced(&f, key, value).await,
            None => self.store.kv_set(key, value, None).await,
        }
    }

    /// The fence a leader-only write carries: `None` without a campaign (the process is
    /// alone on its store), [`StoreError::Fenced`] while a campaign exists but this replica
    /// cannot prove it leads.
    pub fn leader_fence(&self) -> StoreResult<Option<Fence>> {
        let Some(leader) = self.leader.get() else {
            return Ok(None);
        };
        match leader.fence() {
            Some(f) => Ok(Some(f)),
            None => Err(StoreError::Fenced(format!(
                "{} (not leading)",
                leader.holder
            ))),
        }
    }
}
