//! wedock: a self-hosted WeChat / WeCom bot for teams that run Docker and Kubernetes.
//!
//! Every channel turns platform traffic into an [`message::Incoming`] and hands it to the one
//! [`pipeline::Pipeline`]; outgoing platform calls go through the durable [`outbox::Outbox`].

// First, so the catalog's `t!` macro is in scope in every module below.
#[macro_use]
pub mod i18n;
pub mod alert;
pub mod app;
pub mod channel;
pub mod cli;
pub mod command;
pub mod config;
pub mod diagnose;
pub mod health;
pub mod identity;
pub mod knowledge;
pub mod leader;
pub mod memory;
pub mod message;
pub mod oncall;
pub mod ops;
pub mod outbox;
pub mod pipeline;
pub mod private_fs;
pub mod ratelimit;
pub mod redact;
pub mod render;
pub mod scope;
pub mod secret;
pub mod serve;
pub mod server;
pub mod state;
pub mod store;

/// `wedock version` output: package version and the git commit it was built from.
pub fn version_string() -> String {
    format!(
        "wedock {} (commit {})",
        env!("CARGO_PKG_VERSION"),
        env!("WEDOCK_GIT_COMMIT")
    )
}
