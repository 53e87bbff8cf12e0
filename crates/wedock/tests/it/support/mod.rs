//! Shared helpers: an in-process wedock server on a free port with its own data directory,
//! the path of the built binary, and the Docker-availability gate.

#![allow(dead_code)]

pub mod alertmanager;
pub mod fake_cards;
pub mod fake_ilink;
pub mod fake_kube;
pub mod fake_llm;
pub mod fake_llm_tools;
pub mod fake_robot;
pub mod fake_tencent;
pub mod private_pg;

use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::oneshot;
use wedock::config::Config;
use wedock::server::console_key::{ConsoleKey, Kind, now_secs};

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    /// The console secret the server signs logins with.
    pub key: ConsoleKey,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Starts wedock with `toml` as its config file (data dir forced into a temp dir).
    pub async fn start(toml: &str) -> TestServer {
        init();
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg_path = dir.path().join("wedock.toml");
        std::fs::write(&cfg_path, toml).expect("write config");
        let data = dir.path().join("data");
        let mut env = Vec::new();
        if !toml.contains("data_dir") {
            env.push((
                "WEDOCK_STORE__DATA_DIR".to_string(),
                format!("\"{}\"", data.display()),
            ));
        }
        let config = Config::load(Some(&cfg_path), env).expect("valid test config");
        // Reads (or creates) the same secret the server is about to use.
        let key = ConsoleKey::load(&config).expect("console secret");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(wedock::serve::run_with(config, listener, async move {
            let _ = rx.await;
        }));
        let server = TestServer {
            addr,
            dir,
            key,
            stop: Some(tx),
            task: Some(task),
        };
        server.wait_ready().await;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("server did not become ready");
    }

    /// Graceful stop: waits for the server task to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(t) => t.await.expect("server task"),
            None => Ok(()),
        }
    }

    /// A fresh console login token (what the login URL carries).
    pub fn token(&self) -> String {
        self.key.mint(Kind::Login, now_secs())
    }

    /// An HTTP client signed in to the console (`Authorization: Bearer`).
    pub fn client(&self) -> reqwest::Client {
        bearer_client(&self.token())
    }

    /// Readiness with the component details (they need a console login).
    pub async fn readyz(&self) -> serde_json::Value {
        self.client()
            .get(self.url("/readyz"))
            .send()
            .await
            .expect("readyz request")
            .json()
            .await
            .expect("readyz json")
    }

    /// Sends a message through the console endpoint and returns the reply JSON.
    pub async fn chat(&self, text: &str) -> serde_json::Value {
        self.client()
            .post(self.url("/api/chat"))
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .expect("chat request")
            .json()
            .await
            .expect("chat json")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A client signed in to the console of a server started with `config` (same secret).
pub fn console_client(config: &Config) -> reqwest::Client {
    let key = ConsoleKey::load(config).expect("console secret");
    bearer_client(&key.mint(Kind::Login, now_secs()))
}

/// A client that sends `Authorization: Bearer <credential>` with every request.
pub fn bearer_client(credential: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {credential}")
            .parse()
            .expect("header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Installs the TLS crypto provider reqwest needs (the binary does this in `cli::main`).
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The `wedock` binary built for these tests.
pub fn wedock_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wedock"))
}

/// Whether a Docker engine answers. Under `CI=true` its absence is a failure, elsewhere the
/// caller skips with a visible notice.
pub fn docker_available(test: &str) -> bool {
    let ok = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: CI=true but no Docker engine is reachable");
        }
        eprintln!("SKIPPED {test}: no Docker engine reachable (set CI=true to make this fatal)");
    }
    ok
}

/// Serves `app` on a free local port in the background; returns the address.
pub async fn serve_local(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}
