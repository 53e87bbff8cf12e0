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
    pub health: Arc<crate::health::Health>,
    /// Docker engines by name, connected on first use.
    pub docker: crate::ops::docker::Engines,
    /// Kubernetes clusters by context, clients made on first use.
    pub kube: crate::ops::kube::Clusters,
    /// The channel layer's shared state (live connections, logins), made on first use by
    /// `channel::shared`; App does not know its type, so it depends on no channel.
    pub channel_state: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>,
    /// Bumped whenever this process adds or removes a mute: the alert engine re-reads its
    /// cached mutes when it changed, so a mute set here applies to the very next alert.
    mute_epoch: std::sync::atomic::AtomicU64,
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
            health: Arc::default(),
            channel_state: std::sync::OnceLock::new(),
            mute_epoch: Default::default(),
            leader: std::sync::OnceLock::new(),
        }
    }

    /// Says a mute was added or removed (see `mute_epoch`).
    pub fn mutes_changed(&self) {
        self.mute_epoch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn mute_epoch(&self) -> u64 {
        self.mute_epoch.load(std::sync::atomic::Ordering::Relaxed)
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

/// Opens the configured store and loads the knowledge base: the app every command and
/// `serve` start from.
pub async fn build(config: Config) -> anyhow::Result<Arc<App>> {
    let store: Arc<dyn Store> = match config.store.backend {
        crate::config::StoreBackend::Sqlite => {
            Arc::new(crate::store::SqliteStore::open(&config.store.data_dir)?)
        }
        crate::config::StoreBackend::Postgres => {
            let url = config
                .store
                .postgres_url
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("store.postgres_url is required"))?;
            Arc::new(
                crate::store::PostgresStore::open_with(
                    url.expose(),
                    config.store.postgres_options(),
                )
                .await?,
            )
        }
    };
    let knowledge = Arc::new(Knowledge::load(&config.knowledge)?);
    let app = Arc::new(App::new(config, store, knowledge));
    app.health.set("store", true, true, "open");
    Ok(app)
}
