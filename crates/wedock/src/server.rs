//! The HTTP server: web console, health, readiness, metrics, and the channel callbacks.

pub mod auth;
pub mod console_key;

use crate::app::App;
use crate::message::Incoming;
use crate::state::{AppState, RejectionCounted};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// The server's own handlers' state: the routes' shared state plus what only the server uses.
#[derive(Clone)]
pub struct ServerState {
    pub shared: AppState,
    pub metrics: PrometheusHandle,
    /// Who may use the console and `/api/*`.
    pub auth: Arc<auth::ConsoleAuth>,
}

impl ServerState {
    pub fn app(&self) -> &Arc<App> {
        self.shared.app()
    }
}

/// The process-wide Prometheus recorder (installed once, even when tests build many servers).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .unwrap_or_else(|_| metrics_exporter_prometheus::PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(h) => {
                    spawn_upkeep(h.clone());
                    h
                }
                // Another recorder is installed (only possible in tests): build a detached one.
                Err(_) => metrics_exporter_prometheus::PrometheusBuilder::new()
                    .build_recorder()
                    .handle(),
            }
        })
        .clone()
}

/// Histogram samples wait in the recorder until they are folded into their buckets, which
/// happens on a scrape or an upkeep. Without this thread a server nobody scrapes would keep
/// every latency sample it ever recorded (8 bytes a message, without bound). Every second, not
/// every five: at 25,000 messages a second five seconds of samples were a megabyte held
/// (docs/performance.md), and an upkeep over that costs well under a millisecond.
fn spawn_upkeep(handle: PrometheusHandle) {
    let upkeep = move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            handle.run_upkeep();
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("wedock-metrics-upkeep".into())
        .spawn(upkeep)
    {
        tracing::warn!("metrics upkeep thread not started: {e}");
    }
}

/// The whole HTTP surface: the server's own routes, and `extra` — the channels' and alert
/// sources' routes, which know only the shared [`AppState`] — behind one auth guard and the
/// body and time limits.
pub fn router(state: ServerState, extra: Router<AppState>) -> Router {
    let cfg = &state.app().config.server;
    let body_limit = cfg.body_limit_bytes;
    let timeout = Duration::from_millis(cfg.request_timeout_ms.max(100));
    let mut r = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    // With `metrics_listen` the metrics have their own listener (see `metrics_router`).
    if cfg.metrics_listen.is_none() {
        r = r.route("/metrics", get(metrics));
    }
    if cfg.console {
        r = r
            .route("/", get(console_page))
            .route("/api/chat", post(console_chat));
    }
    r.merge(extra.with_state(state.shared.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(axum::middleware::map_response(note_oversize))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(state)
}

/// `/metrics` alone, for `[server] metrics_listen`.
pub fn metrics_router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Bodies over `server.body_limit_bytes` are refused by the limit layer before any handler
/// runs: give them the same log line and metric as every other rejection.
async fn note_oversize(res: Response) -> Response {
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE
        && res.extensions().get::<RejectionCounted>().is_none()
    {
        tracing::warn!(
            reason = "oversize_body",
            "request rejected: body over server.body_limit_bytes"
        );
        metrics::counter!("wedock_rejected_total", "reason" => "oversize_body").increment(1);
    }
    res
}

async fn healthz(State(s): State<ServerState>) -> Response {
    match s.app().health.liveness() {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "wedged", "reason": reason})),
        )
            .into_response(),
    }
}

/// Readiness. Without a console session or bearer only `{"ready": bool}`: the component
/// details name accounts and hosts. The store's state comes from the health task
/// (`health::run`), re-checked every `server.health_interval_ms`: a probe does not touch the
/// database.
async fn readyz(State(s): State<ServerState>, headers: HeaderMap) -> Response {
    let app = s.app();
    let components = app.health.snapshot();
    let ready = app.health.is_ready();
    let reason: Vec<String> = components
        .iter()
        .filter(|(_, c)| c.required && !c.ready)
        .map(|(n, c)| format!("{n}: {}", c.detail))
        .collect();
    let body = if s.auth.authenticated(&headers) {
        serde_json::json!({
            "ready": ready,
            "reason": if ready { serde_json::Value::Null } else { reason.join("; ").into() },
            "components": components,
        })
    } else {
        serde_json::json!({ "ready": ready })
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn metrics(State(s): State<ServerState>) -> Response {
    if let Ok(c) = s.app().store.outbox_counts().await {
        metrics::gauge!("wedock_outbox_depth").set(c.pending as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn console_page() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Html(include_str!("console.html")),
    )
}

#[derive(Deserialize)]
struct ChatRequest {
    text: String,
}

/// The console's message endpoint: the same pipeline as every chat platform. Only signed-in
/// console users reach it (see `auth::guard`); they act as the configured local user.
async fn console_chat(
    State(s): State<ServerState>,
    session: Option<axum::Extension<auth::ConsoleSession>>,
    body: Result<Json<ChatRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if session.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => {
            metrics::counter!("wedock_rejected_total", "reason" => "bad_json").increment(1);
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": e.body_text()})),
            )
                .into_response();
        }
    };
    let app = s.app();
    let msg = Incoming::local(
        "console",
        app.policy.local_user(),
        app.policy.local_role(),
        req.text,
    );
    match s.shared.pipeline.handle(msg).await {
        // The `ask --json` fields, plus the reply rendered for the page: escaped HTML in which
        // Markdown answers show bold, code blocks and links, and command output stays `<pre>`.
        Some(reply) => {
            let html = reply.rendered(crate::render::Target::Html);
            let mut v = serde_json::to_value(&reply).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("html".into(), html.into());
            }
            Json(v).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// Binds the listener, with a one-line error when the port is taken.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("cannot listen on {addr}: the port is already in use (set server.listen or WEDOCK_SERVER__LISTEN)")
        } else {
            anyhow::anyhow!("cannot listen on {addr}: {e}")
        }
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
