//! Channel adapters: each platform turns its wire format into [`crate::message::Incoming`]
//! and delivers [`crate::message::Reply`] back, passively or through the outbox.

use crate::app::App;
use crate::outbox::Outbox;
use crate::server::AppState;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// HTTP callback routes of every enabled channel.
pub fn routes(_app: &App) -> axum::Router<AppState> {
    axum::Router::new()
}

/// Registers the outbox senders of every enabled channel.
pub fn register_senders(_app: &Arc<App>, _outbox: &mut Outbox) {}

pub mod robot;

/// Starts background tasks (long connections, pollers) of enabled channels; they stop when
/// `shutdown` flips to true.
pub fn spawn(
    _state: &AppState,
    _shutdown: tokio::sync::watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    Vec::new()
}
