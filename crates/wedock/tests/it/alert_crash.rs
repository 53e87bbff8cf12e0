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

/// `wedock serve` with `config`, its output discarded.
pub(crate) fn spawn(config: &std::path::Path) -> Child {
    Command::new(wedock_bin())
        .args(["serve", "--config"])
        .arg(config)
        .env("WEDOCK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn wedock")
}

pub(crate) async fn wait_ready(base: &str) {
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

/// A config for one wedock with its state in `dir`, a webhook `ci` routed to robot `ops`
/// (webhook key `key`, `per_minute`), and `store_extra` lines in `[store]`. Returns the
/// config file and the base URL.
fn write_config(
    dir: &std::path::Path,
    robot: &FakeRobot,
    key: &str,
    per_minute: u32,
    store_extra: &str,
) -> (std::path::PathBuf, String) {
    let port = free_port();
    let cfg = dir.join("wedock.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"

[store]
data_dir = "{data}"
{store_extra}

[docker]
enabled = false

[api]
robot_base = "{base}"

[[wecom.robots]]
name = "ops"
key = "{key}"
per_minute = {per_minute}

[alerts]
lang = "en"

[alerts.hooks.ci]
token = "hooktoken"
targets = ["ops"]
"#,
            data = dir.join("data").display(),
            base = robot.base()
        ),
    )
    .unwrap();
    (cfg, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_then_restart_delivers_everything_accepted() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeRobot::start_with_limit(100_000).await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, base) = write_config(dir.path(), &fake, "K-crash", 100_000, "");
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

/// The robot's 20-a-minute budget is computed from the durable send log, so a `kill -9` and
/// a restart do not hand out a fresh budget: the robot (which here accepts everything, to
/// count what wedock sends) never gets more than 20 messages within a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_keep_the_robot_budget() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeRobot::start_with_limit(100_000).await;
    let dir = tempfile::tempdir().unwrap();
    // The killed process does not release its lease: the restarted one leads once it expires.
    let (cfg, base) = write_config(dir.path(), &fake, "K-budget", 20, "leader_lease_secs = 3");
    let mut child = spawn(&cfg);
    wait_ready(&base).await;

    // 150 distinct alerts, one request each: the process is killed half-way, once the first
    // minute's budget went out, and the second half goes to the restarted process.
    let client = reqwest::Client::new();
    let post = |i: usize| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let r = client
                .post(format!("{base}/hooks/ci"))
                .bearer_auth("hooktoken")
                .json(&serde_json::json!({"text": format!("build-{i:03} failed"), "id": format!("build-{i}")}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "alert {i}: {}", r.status());
        }
    };
    for i in 0..75 {
        post(i).await;
    }
    assert!(
        fake.wait_for("K-budget", Duration::from_secs(10), |p| p.len() >= 20)
            .await,
        "the first minute's budget goes out: {} posts",
        fake.posts("K-budget").len()
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = fake.posts("K-budget").len();

    let mut child = spawn(&cfg);
    wait_ready(&base).await;
    for i in 75..150 {
        post(i).await;
    }
    // Time for the restarted process to take the expired lease and, with a fresh budget,
    // to spend it.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let _ = child.kill();
    let _ = child.wait();
    let after = fake.posts("K-budget").len() - before;
    let worst = fake.worst_minute("K-budget");
    eprintln!(
        "budget across kill -9: {before} posts before the kill, {after} after the restart, worst minute {worst}"
    );
    assert!(
        worst <= 20,
        "{worst} robot messages within one minute ({before} before the kill, {after} after)"
    );
}

/// The role `/readyz` reports (`leader` or `standby`); its details need the console secret
/// the first process wrote into the data directory.
async fn role(base: &str, dir: &std::path::Path) -> Option<String> {
    let secret = std::fs::read_to_string(dir.join("data/console.secret")).ok()?;
    let v: serde_json::Value = crate::support::bearer_client(secret.trim())
        .get(format!("{base}/readyz"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let detail = v["components"]["leader"]["detail"].as_str()?;
    detail.split_whitespace().next().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_kill_9_leads_at_once_on_sqlite() {
    crate::support::init();
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A long lease: waiting for the dead process's lease to expire would take a minute.
    let (cfg, base) = write_config(dir.path(), &fake, "K-lead", 20, "leader_lease_secs = 60");
    let mut child = spawn(&cfg);
    wait_ready(&base).await;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while role(&base, dir.path()).await.as_deref() != Some("leader") {
        assert!(std::time::Instant::now() < until, "the first process leads");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The data directory's lock proves the old holder is gone: no wait for its lease.
    let mut child = spawn(&cfg);
    wait_ready(&base).await;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while role(&base, dir.path()).await.as_deref() != Some("leader") {
        assert!(
            std::time::Instant::now() < until,
            "still {:?} 10 s after the restart",
            role(&base, dir.path()).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A second serve on the same data directory stays a standby.
    let port2 = free_port();
    let cfg2 = dir.path().join("second.toml");
    std::fs::write(
        &cfg2,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace(&base.replace("http://", ""), &format!("127.0.0.1:{port2}")),
    )
    .unwrap();
    let base2 = format!("http://127.0.0.1:{port2}");
    let mut second = spawn(&cfg2);
    wait_ready(&base2).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(role(&base2, dir.path()).await.as_deref(), Some("standby"));
    assert_eq!(role(&base, dir.path()).await.as_deref(), Some("leader"));
    for c in [&mut child, &mut second] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}
