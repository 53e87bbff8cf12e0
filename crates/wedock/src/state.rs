//! The state the HTTP routes of channels and alert sources, and the channels' background
//! tasks, share: the message path and the outbox. It lives below `server.rs` so those modules
//! never import the server that composes their routes; the server keeps its own state (the
//! console's auth, the metrics handle) beside this one.

use crate::app::App;
use crate::outbox::Outbox;
use crate::pipeline::Pipeline;
use std::sync::Arc;

/// What a route handler below the server may use.
#[derive(Clone)]
pub struct AppState {
    pub pipeline: Pipeline,
    pub outbox: Arc<Outbox>,
}

impl AppState {
    pub fn app(&self) -> &Arc<App> {
        self.pipeline.app()
    }
}

/// Marks a response whose rejection was already logged and counted by its handler, so the
/// server's oversize-body layer does not count it again.
#[derive(Clone, Copy)]
pub struct RejectionCounted;
