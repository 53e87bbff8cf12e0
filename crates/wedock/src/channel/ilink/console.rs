//! The web console's personal-WeChat block: account states and a QR login started from the
//! browser. Signed-in console users only (`server::auth::guard` covers every `/api/*` path):
//! whoever scans the QR binds their WeChat to this bot.

use super::login::{self, Event, LoginView, Outcome};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::Ordering;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/weixin", get(status))
        .route("/api/weixin/login", post(start_login))
}

async fn status(State(s): State<AppState>) -> Response {
    let app = s.app();
    // The login first: it says "confirmed" only after the account is stored, so the accounts
    // read after it include that account (read the other way round, one answer could say
    // confirmed without listing it).
    let view = crate::channel::shared(app)
        .weixin
        .login
        .lock()
        .ok()
        .and_then(|v| v.clone());
    let health = app.health.snapshot();
    let accounts: Vec<_> = super::list_accounts(app.store.as_ref())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            let detail = health
                .get(&super::health_name(&a.name))
                .map(|c| c.detail.clone())
                .unwrap_or_default();
            json!({
                "name": a.name, "bot_id": a.bot_id, "user_id": a.user_id,
                "state": if a.expired_at.is_some() { "expired" } else { "active" },
                "detail": detail,
            })
        })
        .collect();
    Json(json!({"accounts": accounts, "login": view})).into_response()
}

#[derive(Deserialize)]
struct LoginRequest {
    #[serde(default)]
    name: Option<String>,
}

async fn start_login(State(s): State<AppState>, body: Option<Json<LoginRequest>>) -> Response {
    let name = body
        .and_then(|b| b.0.name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "main".to_string());
    if !crate::config::valid_account_name(&name) {
        return super::super::reject(
            super::CHANNEL,
            "bad_account_name",
            StatusCode::BAD_REQUEST,
            &"name must be 1-32 characters of a-z, 0-9, - and _",
        );
    }
    let app = s.app().clone();
    let shared = &crate::channel::shared(&app).weixin;
    if shared.login_running.swap(true, Ordering::SeqCst) {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": "a login is already running"})),
        )
            .into_response();
    }
    let view = LoginView {
        name: name.clone(),
        status: "starting".into(),
        updated_at: crate::store::now_ms(),
        ..LoginView::default()
    };
    if let Ok(mut v) = shared.login.lock() {
        *v = Some(view.clone());
    }
    let base = crate::channel::token::base_str(&app.config.api.ilink_base);
    tokio::spawn(async move {
        let update = |f: &dyn Fn(&mut LoginView)| {
            if let Ok(mut v) = crate::channel::shared(&app).weixin.login.lock()
                && let Some(v) = v.as_mut()
            {
                f(v);
            }
        };
        let mut on_event = |e: &Event| update(&|v| v.apply(e));
        let result = login::login(&base, app.store.as_ref(), &name, &mut on_event, None).await;
        update(&|v| {
            v.done = true;
            v.qr_svg = None;
            v.qr_url = None;
            match &result {
                Ok(Outcome::Bound(a)) => {
                    v.status = "confirmed".into();
                    v.detail = format!("bound: bot {} for {}", a.bot_id, a.user_id);
                }
                Ok(Outcome::AlreadyBound(a)) => {
                    v.status = "binded_redirect".into();
                    v.detail = format!("already bound: bot {}", a.bot_id);
                }
                Err(e) => {
                    v.status = "failed".into();
                    v.detail = e.to_string();
                }
            }
        });
        match &result {
            Ok(_) => crate::channel::shared(&app)
                .weixin
                .accounts_changed
                .notify_waiters(),
            Err(e) => tracing::warn!(error = %e, "weixin: console login failed"),
        }
        crate::channel::shared(&app)
            .weixin
            .login_running
            .store(false, Ordering::SeqCst);
    });
    (StatusCode::ACCEPTED, Json(view)).into_response()
}
