//! A real Alertmanager (Debian's `prometheus-alertmanager`, 0.25) on a free loopback port,
//! with a temp storage path and a webhook receiver pointing at wedock. Killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = "/usr/bin/prometheus-alertmanager";

pub struct Alertmanager {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

/// Whether the binary is installed. Under `CI=true` its absence is a failure, elsewhere the
/// caller skips with a visible notice.
pub fn available(test: &str) -> bool {
    let ok = std::path::Path::new(BIN).exists();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: CI=true but {BIN} is not installed (.ci/run installs it)");
        }
        eprintln!("SKIPPED {test}: {BIN} not installed (apt-get install prometheus-alertmanager)");
    }
    ok
}

impl Alertmanager {
    /// Starts Alertmanager on `port`, sending every group (by alertname and service) to
    /// `webhook` with the bearer token `token`, without waiting to group.
    pub async fn start(port: u16, webhook: &str, token: &str) -> Alertmanager {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg: PathBuf = dir.path().join("alertmanager.yml");
        std::fs::write(
            &cfg,
            format!(
                r#"route:
  receiver: wedock
  group_by: ['alertname', 'service']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: wedock
    webhook_configs:
      - url: "{webhook}"
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: "{token}"
"#
            ),
        )
        .expect("write alertmanager config");
        let child = Command::new(BIN)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-alertmanager");
        let am = Alertmanager {
            port,
            child,
            _dir: dir,
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client.get(am.url("/-/ready")).send().await
                && r.status().is_success()
            {
                return am;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("alertmanager did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Posts alerts the way Prometheus does.
    pub async fn fire(&self, alerts: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(self.url("/api/v2/alerts"))
            .json(&alerts)
            .send()
            .await
            .expect("post alerts");
        assert!(r.status().is_success(), "{}", r.status());
    }

    pub async fn silences(&self) -> Vec<serde_json::Value> {
        reqwest::Client::new()
            .get(self.url("/api/v2/silences"))
            .send()
            .await
            .expect("list silences")
            .json()
            .await
            .expect("silences json")
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
