//! Alerts: sources (Docker events, Alertmanager, webhooks) → routes → noise control → outbox.

use crate::app::App;
use crate::outbox::Outbox;
use crate::server::AppState;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// `POST /alertmanager`, `POST /hooks/{name}`.
pub fn routes(_app: &App) -> axum::Router<AppState> {
    axum::Router::new()
}

/// Registers the senders alerts are delivered through (group robots).
pub fn register_senders(_app: &Arc<App>, _outbox: &mut Outbox) {}

/// Starts the event sources; they stop when `shutdown` flips to true.
pub fn spawn(
    _state: &AppState,
    _shutdown: tokio::sync::watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    Vec::new()
}
