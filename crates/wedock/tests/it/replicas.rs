//! Several replicas on one PostgreSQL database: one leader at a time, and a standby takes
//! over within the lease after the leader is killed with SIGKILL (no clean release). The
//! AI-bot long connection is held by the leader only, so replicas never kick each other off.

use crate::support::fake_tencent::aibot::FakeAibot;
use crate::support::{free_port, init, wedock_bin};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Replica {
    child: Child,
    port: u16,
}

impl Replica {
    fn start(pg_url: &str, dir: &std::path::Path, aibot_url: &str) -> Replica {
        let port = free_port();
        let child = Command::new(wedock_bin())
            .arg("serve")
            .env("WEDOCK_WECOM__AIBOT__MODE", "websocket")
            .env("WEDOCK_WECOM__AIBOT__BOT_ID", "aibReplicaBot")
            .env("WEDOCK_WECOM__AIBOT__SECRET", "replica-secret")
            .env("WEDOCK_WECOM__AIBOT__RECONNECT_MIN_MS", "50")
            .env("WEDOCK_API__AIBOT_WS_URL", aibot_url)
            .current_dir(dir)
            .env("WEDOCK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("WEDOCK_STORE__BACKEND", "postgres")
            .env("WEDOCK_STORE__POSTGRES_URL", pg_url)
            .env("WEDOCK_STORE__LEADER_LEASE_SECS", "3")
            .env("WEDOCK_DOCKER__ENABLED", "false")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn wedock");
        Replica { child, port }
    }

    async fn role(&self) -> Option<String> {
        let r = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/readyz", self.port))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        let v: serde_json::Value = r.json().await.ok()?;
        let detail = v["components"]["leader"]["detail"].as_str()?.to_string();
        detail.split_whitespace().next().map(str::to_string)
    }

    async fn wait_role(&self, want: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.role().await.as_deref() == Some(want) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_takes_over_after_the_leader_is_killed() {
    init();
    let Ok(admin) = std::env::var("WEDOCK_TEST_PG_URL") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but WEDOCK_TEST_PG_URL is not set");
        }
        eprintln!("SKIPPED replicas test: set WEDOCK_TEST_PG_URL to run it");
        return;
    };
    let name = format!("wedock_r_{}", std::process::id());
    let (c, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();

    let aibot = FakeAibot::start("aibReplicaBot", "replica-secret").await;
    let mut a = Replica::start(&url, dir.path(), &aibot.url());
    assert!(
        a.wait_role("leader", Duration::from_secs(15)).await,
        "first replica must lead"
    );
    let b = Replica::start(&url, dir.path(), &aibot.url());
    assert!(
        b.wait_role("standby", Duration::from_secs(15)).await,
        "second replica must wait"
    );
    // Both serve HTTP; only one leads, and only the leader holds the AI-bot connection.
    assert_eq!(a.role().await.as_deref(), Some("leader"));
    aibot
        .wait_until("the leader's subscribe", |f| f.subscribes() >= 1)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(aibot.subscribes(), 1, "the standby must not connect");

    a.child.kill().unwrap(); // SIGKILL: the lease is not released, it must expire.
    a.child.wait().unwrap();
    assert!(
        b.wait_role("leader", Duration::from_secs(10)).await,
        "standby must take over within the lease"
    );
    aibot
        .wait_until("the new leader's subscribe", |f| f.subscribes() == 2)
        .await;
    drop(b);
    let _ = c
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}
