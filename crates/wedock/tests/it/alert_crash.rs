//! `kill -9` of the real wedock binary in the middle of a burst of alerts, then a restart:
//! every alert that was accepted (HTTP 200) reaches the group robot.

use crate::support::fake_robot::FakeRobot;
use crate::support::wedock_bin;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(config: &std::path::Path) -> Child {
    Command::new(wedock_bin())
        .args(["serve", "--config"])
        .arg(config)
        .env("WEDOCK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn wedock")
}

async fn wait_ready(base: &str) {
    for _ in 0..400 {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("wedock did not become ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_then_restart_delivers_everything_accepted() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeRobot::start_with_limit(100_000).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("wedock.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"

[store]
data_dir = "{data}"

[docker]
enabled = false

[api]
robot_base = "{base}"

[[wecom.robots]]
name = "ops"
key = "K-crash"
per_minute = 100000

[alerts]
lang = "en"

[alerts.hooks.ci]
token = "hooktoken"
targets = ["ops"]
"#,
            data = dir.path().join("data").display(),
            base = fake.base()
        ),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(&cfg);
    wait_ready(&base).await;

    // Four senders post jobs; the process is killed after 150 are accepted.
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
    let mut senders = Vec::new();
    for w in 0..4 {
        let accepted = accepted.clone();
        let base = base.clone();
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in (w..400).step_by(4) {
                let r = client
                    .post(format!("{base}/hooks/ci"))
                    .bearer_auth("hooktoken")
                    .json(&serde_json::json!({"text": format!("job-{i:04} finished"), "id": format!("job-{i}")}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => accepted.lock().unwrap().push(i),
                    _ => break, // the server is gone
                }
            }
        }));
    }
    loop {
        if accepted.lock().unwrap().len() >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let before = fake.posts("K-crash").len();
    assert!(accepted.len() >= 150);

    let mut child = spawn(&cfg);
    wait_ready(&base).await;
    let all = |posts: &[crate::support::fake_robot::Post]| {
        let text: String = posts.iter().map(|p| p.content.as_str()).collect();
        accepted
            .iter()
            .all(|i| text.contains(&format!("job-{i:04} finished")))
    };
    let ok = fake.wait_for("K-crash", Duration::from_secs(30), all).await;
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "kill -9 test: {} accepted, {} robot posts before the kill, {} after the restart",
        accepted.len(),
        before,
        fake.posts("K-crash").len()
    );
    assert!(
        ok,
        "accepted {} ({} posts before the kill, {} after); missing: {:?}",
        accepted.len(),
        before,
        fake.posts("K-crash").len(),
        accepted
            .iter()
            .filter(|i| !fake
                .text("K-crash")
                .contains(&format!("job-{i:04} finished")))
            .take(10)
            .collect::<Vec<_>>()
    );
}
