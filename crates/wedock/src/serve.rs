//! `wedock serve`: start everything, serve until SIGTERM/SIGINT, then shut down in order
//! (stop accepting, finish in-flight requests, stop workers, flush the store).

use crate::cli::build_app;
use crate::config::Config;
use crate::leader::{self, Leader};
use crate::outbox::Outbox;
use crate::pipeline::Pipeline;
use crate::server::{self, AppState};
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
    let app = build_app(config).await?;
    // The knowledge base finishes loading on its own thread and logs when it is done.
    tracing::info!(
        data_dir = %app.config.store.data_dir.display(),
        "store open"
    );

    let (stop_tx, stop_rx) = watch::channel(false);

    let mut outbox = Outbox::new(app.store.clone(), app.config.outbox.clone());
    crate::channel::register_senders(&app, &mut outbox);
    crate::alert::register_senders(&app, &mut outbox);
    let outbox = Arc::new(outbox);
    let pipeline = Pipeline::new(app.clone());
    let state = AppState {
        pipeline: pipeline.clone(),
        metrics: server::metrics_handle(),
        outbox: outbox.clone(),
    };

    detect_docker(&app).await;

    // Singleton work runs on the leader only; with SQLite this process leads at once.
    let lease = Duration::from_secs(app.config.store.leader_lease_secs);
    let (leader, leader_task) = Leader::spawn(app.store.clone(), lease, stop_rx.clone());
    let delivery = {
        let outbox = outbox.clone();
        leader::while_leader(leader.clone(), stop_rx.clone(), move |stop| {
            let outbox = outbox.clone();
            async move { outbox.run(stop).await }
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
    ];
    // Event sources and long connections are singletons too: two replicas watching Docker
    // would report every death twice, and two AI-bot connections kick each other off.
    let engine = crate::alert::init(&state);
    let singletons = {
        let state = state.clone();
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

    let extra = crate::channel::routes(&app).merge(crate::alert::routes(&app));
    let router = server::router(state, extra);
    tracing::info!(
        %listen,
        ready_ms = started.elapsed().as_millis() as u64,
        "wedock {} ready — open http://{listen}/",
        env!("CARGO_PKG_VERSION")
    );
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
    app.store.flush().await?;
    tracing::info!("stopped");
    result.map_err(|e| anyhow::anyhow!("server error: {e}"))
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
