//! `wedock serve`: start everything, serve until SIGTERM/SIGINT, then shut down in order
//! (stop accepting, finish in-flight requests, stop workers, flush the store).

use crate::app::build as build_app;
use crate::config::Config;
use crate::leader::{self, Leader};
use crate::outbox::Outbox;
use crate::pipeline::Pipeline;
use crate::server::{self, ServerState};
use crate::state::AppState;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub async fn run(config: Config) -> anyhow::Result<()> {
    // Bind first: a taken port is the most common start-up failure and should fail fast.
    let listener = server::bind(config.server.listen).await?;
    run_with(config, listener, server::shutdown_signal()).await
}

/// Serves on `listener` until `shutdown` resolves. Tests run it in-process.
pub async fn run_with(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let listen = listener.local_addr()?;
    let grace = Duration::from_millis(config.server.shutdown_grace_ms);
    for e in config.unenforceable_roles() {
        tracing::warn!(reason = "unenforceable_role", "{e}");
    }
    let metrics_listener = match config.server.metrics_listen {
        Some(addr) => Some(server::bind(addr).await?),
        None => None,
    };
    let key = server::console_key::ConsoleKey::load(&config)?;
    let auth = Arc::new(server::auth::ConsoleAuth::new(
        key,
        listen,
        config.server.allowed_hosts.as_deref(),
    ));
    let app = build_app(config).await?;
    // The knowledge base finishes loading on its own thread and logs when it is done.
    tracing::info!(
        data_dir = %app.config.store.data_dir.display(),
        "store open"
    );

    let (stop_tx, stop_rx) = watch::channel(false);

    let mut outbox = Outbox::new(app.store.clone(), app.config.outbox.clone());
    crate::channel::register_senders(&app, &mut outbox);
    let outbox = Arc::new(outbox);
    let pipeline = Pipeline::new(app.clone());
    let state = AppState {
        pipeline: pipeline.clone(),
        outbox: outbox.clone(),
    };
    let server_state = ServerState {
        shared: state.clone(),
        metrics: server::metrics_handle(),
        auth: auth.clone(),
    };

    detect_docker(&app).await;

    // Singleton work runs on the leader only; with SQLite this process leads at once: holding
    // the data directory's lock proves no other `serve` uses it, so a lease left by a process
    // that was killed (`kill -9`, OOM) is taken over now instead of after it expires.
    let _data_dir_lock = match claim_sqlite_data_dir(&app).await {
        Ok(lock) => lock,
        Err(e) => {
            tracing::warn!(error = %e, "could not take over the leader lease early");
            None
        }
    };
    let lease = Duration::from_secs(app.config.store.leader_lease_secs);
    let (leader, leader_task) = Leader::spawn(app.store.clone(), lease, stop_rx.clone());
    let _ = app.leader.set(leader.clone());
    let delivery = {
        let (outbox, l) = (outbox.clone(), leader.clone());
        leader::while_leader(leader.clone(), stop_rx.clone(), move |stop| {
            let (outbox, l) = (outbox.clone(), l.clone());
            async move { outbox.run(l, stop).await }
        })
    };
    let role_report = {
        let (app, mut leader) = (app.clone(), leader.clone());
        async move {
            loop {
                let role = if leader.is_leader() {
                    "leader"
                } else {
                    "standby"
                };
                app.health
                    .set("leader", true, false, format!("{role} ({})", leader.holder));
                if !leader.changed().await {
                    break;
                }
            }
        }
    };
    let mut tasks = vec![
        leader_task,
        tokio::spawn(delivery),
        tokio::spawn(role_report),
        tokio::spawn(crate::health::run(
            app.health.clone(),
            app.store.clone(),
            health_checks(&app.config),
            stop_rx.clone(),
        )),
    ];
    // Event sources and long connections are singletons too: two replicas watching Docker
    // would report every death twice, and two AI-bot connections kick each other off.
    let engine = crate::alert::init(&app, &state.outbox);
    let singletons = {
        let state = state.clone();
        let engine = engine.clone();
        leader::while_leader(leader.clone(), stop_rx.clone(), move |stop| {
            let (state, engine) = (state.clone(), engine.clone());
            async move {
                let (term_tx, term_rx) = watch::channel(false);
                let mut term = crate::channel::spawn(&state, term_rx.clone());
                if let Some(e) = &engine {
                    term.extend(crate::alert::spawn_sources(e, term_rx));
                }
                stop.await;
                let _ = term_tx.send(true);
                futures::future::join_all(term).await;
                crate::channel::standby(state.app());
            }
        })
    };
    tasks.push(tokio::spawn(singletons));
    // One long-poll per personal-WeChat account (the server allows one poller per token);
    // it follows leadership itself, so a new login can start a poller at any time.
    tasks.extend(crate::channel::ilink::poller::spawn(
        &state,
        leader.clone(),
        stop_rx.clone(),
    ));
    app.health
        .set("http", true, true, format!("listening on {listen}"));

    if let Some(l) = metrics_listener {
        let (router, mut stop) = (
            server::metrics_router(server_state.clone()),
            stop_rx.clone(),
        );
        tracing::info!(listen = %l.local_addr()?, "metrics listener at /metrics");
        tasks.push(tokio::spawn(async move {
            let quit = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(l, router).with_graceful_shutdown(quit).await {
                tracing::warn!("metrics listener stopped: {e}");
            }
        }));
    }
    let extra = crate::channel::routes(&app).merge(crate::alert::routes(engine.clone()));
    let router = server::router(server_state, extra);
    tracing::info!(
        %listen,
        ready_ms = started.elapsed().as_millis() as u64,
        "wedock {} ready",
        env!("CARGO_PKG_VERSION")
    );
    if app.config.server.console {
        // Like Jupyter: a fresh login link at every start (valid 24 h; `wedock console-url`
        // prints another).
        tracing::info!(
            "web console login (valid 24 h) · 控制台登录链接: {}",
            auth.key.login_url(listen)
        );
    }
    let serve = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown);
    let result = serve.await;
    let _ = stop_tx.send(true);
    let all = futures::future::join_all(tasks);
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!("background workers did not stop within the grace period");
    }
    // Answers already sent may still have their dedup records queued: write them first.
    pipeline.settle().await;
    app.store.flush().await?;
    tracing::info!("stopped");
    result.map_err(|e| anyhow::anyhow!("server error: {e}"))
}

/// The store is re-checked every `server.health_interval_ms`; a ping still unanswered well
/// after the store's own deadline (PostgreSQL: connect + statement timeout) means it is stuck.
fn health_checks(config: &Config) -> crate::health::Checks {
    let own_deadline = match config.store.backend {
        crate::config::StoreBackend::Postgres => config.store.postgres_options().call_deadline(),
        crate::config::StoreBackend::Sqlite => Duration::from_secs(10),
    };
    crate::health::Checks {
        interval: Duration::from_millis(config.server.health_interval_ms),
        wedged_after: own_deadline + Duration::from_secs(5),
    }
}

/// Looks for the configured Docker engines and says clearly in the log what it found.
async fn detect_docker(app: &crate::app::App) {
    if !app.config.docker.enabled {
        tracing::info!("Docker support disabled (docker.enabled = false)");
        return;
    }
    for host in crate::ops::docker::hosts(&app.config.docker) {
        match crate::ops::docker::connect(&host).await {
            Ok(engine) => {
                let version = engine
                    .client
                    .version()
                    .await
                    .ok()
                    .and_then(|v| v.version)
                    .unwrap_or_default();
                tracing::info!(host = %host.name, version = %version, "Docker engine found");
                app.health.set(
                    &format!("docker:{}", host.name),
                    true,
                    false,
                    format!("engine {version}"),
                );
            }
            Err(e) => {
                tracing::warn!(host = %host.name, "no Docker engine: {e}; Docker commands will report it");
                app.health
                    .set(&format!("docker:{}", host.name), false, false, e);
            }
        }
    }
}

/// With the SQLite store: locks `DATA_DIR/serve.lock` for the life of the process and, when
/// that succeeds, expires whatever leader lease is left in the store. A second `serve` on the
/// same data directory does not get the lock and campaigns as before (it waits as a standby).
async fn claim_sqlite_data_dir(app: &crate::app::App) -> anyhow::Result<Option<std::fs::File>> {
    if app.config.store.backend != crate::config::StoreBackend::Sqlite {
        return Ok(None);
    }
    let path = app.config.store.data_dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            app.store.lease_reset(crate::leader::LEASE).await?;
            Ok(Some(file))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::warn!(
                path = %path.display(),
                "another wedock serve is using this data directory; waiting as a standby"
            );
            Ok(None)
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}
