//! Fenced leadership with real processes: a leader paused with SIGSTOP for longer than its
//! lease, resumed while the replica that took over is working through a backlog, delivers
//! nothing — its claims carry a stale lease epoch that the database refuses, and its local
//! deadline has passed — so every alert reaches the robot exactly once.

use crate::replicas::{FreshDb, Replica};
use crate::support::fake_robot::FakeRobot;
use crate::support::init;
use std::process::Command;
use std::time::{Duration, Instant};

/// Sends SIGSTOP or SIGCONT to a process.
pub(crate) fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// Posts alerts `range` to a replica's `/hooks/ci`; returns the numbers it accepted.
async fn post_alerts(port: u16, range: std::ops::Range<usize>) -> Vec<usize> {
    let client = reqwest::Client::new();
    let mut accepted = Vec::new();
    for i in range {
        let r = client
            .post(format!("http://127.0.0.1:{port}/hooks/ci"))
            .bearer_auth("hooktoken")
            .json(
                &serde_json::json!({"text": format!("alert-{i:05} fired"), "id": format!("a-{i}")}),
            )
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if r.is_ok_and(|r| r.status().is_success()) {
            accepted.push(i);
        }
    }
    accepted
}

/// In how many robot posts each accepted alert appears (a post names an alert in its title
/// and again in its details).
fn deliveries(robot: &FakeRobot, key: &str, accepted: &[usize]) -> Vec<(usize, usize)> {
    let posts = robot.posts(key);
    accepted
        .iter()
        .map(|i| {
            let marker = format!("alert-{i:05} fired");
            (
                *i,
                posts.iter().filter(|p| p.content.contains(&marker)).count(),
            )
        })
        .collect()
}

/// Waits until every alert of `accepted` reached the robot; false after `within`.
async fn wait_delivered(robot: &FakeRobot, accepted: &[usize], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if deliveries(robot, "K-fence", accepted)
            .iter()
            .all(|(_, n)| *n >= 1)
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_that_wakes_up_after_a_takeover_delivers_nothing() {
    init();
    let Some(db) = FreshDb::create("rf").await else {
        return;
    };
    let robot = FakeRobot::start_with_limit(100_000).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wedock.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[api]
robot_base = "{}"

[[wecom.robots]]
name = "ops"
key = "K-fence"
per_minute = 100000

[alerts]
lang = "en"

[alerts.hooks.ci]
token = "hooktoken"
targets = ["ops"]
"#,
            robot.base()
        ),
    )
    .unwrap();
    let serve = |cmd: &mut Command| {
        cmd.arg("--config").arg(&config).arg("serve");
    };
    let a = Replica::spawn(&db.url, dir.path(), serve);
    assert!(a.wait_role("leader", Duration::from_secs(15)).await);
    let b = Replica::spawn(&db.url, dir.path(), serve);
    assert!(b.wait_role("standby", Duration::from_secs(15)).await);

    // A delivers a first batch and goes quiet (nothing in flight when it is paused).
    let mut accepted = post_alerts(b.port, 0..20).await;
    assert!(
        wait_delivered(&robot, &accepted, Duration::from_secs(15)).await,
        "the first leader delivers"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    signal(a.child.id(), "-STOP");
    let paused = Instant::now();
    accepted.extend(post_alerts(b.port, 20..60).await);
    assert!(
        b.wait_role("leader", Duration::from_secs(10)).await,
        "the standby takes over from the paused leader"
    );
    let failover = paused.elapsed();
    // A wakes up while B works through a burst: A still believes it leads until it looks.
    let burst = {
        let port = b.port;
        tokio::spawn(async move {
            let (x, y) = tokio::join!(post_alerts(port, 60..160), post_alerts(port, 160..260));
            x.into_iter().chain(y).collect::<Vec<_>>()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    signal(a.child.id(), "-CONT");
    accepted.extend(burst.await.unwrap());
    accepted.extend(post_alerts(b.port, 260..300).await);
    assert!(
        a.wait_role("standby", Duration::from_secs(5)).await,
        "the resumed leader steps down"
    );

    wait_delivered(&robot, &accepted, Duration::from_secs(30)).await;
    // Time for a late duplicate from the old leader to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = deliveries(&robot, "K-fence", &accepted);
    let missing: Vec<_> = counts.iter().filter(|(_, n)| *n == 0).collect();
    let twice: Vec<_> = counts.iter().filter(|(_, n)| *n > 1).collect();
    eprintln!(
        "fencing: {} accepted, {} robot posts, failover {} ms, {} missing, {} duplicated",
        accepted.len(),
        robot.posts("K-fence").len(),
        failover.as_millis(),
        missing.len(),
        twice.len()
    );
    if let Some((n, _)) = twice.first() {
        let marker = format!("alert-{n:05} fired");
        for p in robot
            .posts("K-fence")
            .iter()
            .filter(|p| p.content.contains(&marker))
        {
            eprintln!("post with {marker}:\n{}\n", p.content);
        }
    }
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    drop(a);
    drop(b);
    db.drop().await;
}
