//! Chaos: two `wedock serve` replicas on a PostgreSQL server of the test's own, a steady
//! stream of webhook alerts and of chat commands through the WeCom app callback (each sent
//! to both replicas, as Tencent retries), and in turn: SIGKILL of the leader; SIGSTOP of the
//! leader for twice the lease, then SIGCONT; a PostgreSQL restart; SIGSTOP of the postmaster
//! for 10 s, then SIGCONT. Across all of it every accepted alert reaches the robot exactly
//! once, no chat command runs twice, the robot never gets more than 20 messages within a
//! minute, and both replicas are ready again after each fault. Prints a summary.

use crate::channel_wecom::{CORP, KEY, Peer, SECRET, TOKEN, text_xml};
use crate::fencing::signal;
use crate::replicas::Replica;
use crate::support::fake_robot::{FakeRobot, Post};
use crate::support::fake_tencent::FakeTencent;
use crate::support::init;
use crate::support::private_pg::PrivatePg;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `[store] leader_lease_secs` of the replicas (set by `Replica::spawn`).
const LEASE: Duration = Duration::from_secs(3);
/// `[server] health_interval_ms`.
const HEALTH_INTERVAL: Duration = Duration::from_millis(1000);

fn config(robot: &FakeRobot, tencent: &FakeTencent) -> String {
    format!(
        r#"
[server]
health_interval_ms = {interval}

[store]
postgres_connect_timeout_ms = 1000
postgres_statement_timeout_ms = 2000

[api]
robot_base = "{robot}"
wecom_base = "{tencent}"
wechat_base = "{tencent}"

[[wecom.robots]]
name = "ops"
key = "K-chaos"
per_minute = 20

[wecom.app]
corp_id = "{CORP}"
agent_id = 1000002
secret = "{SECRET}"
token = "{TOKEN}"
encoding_aes_key = "{KEY}"

[identity.users]
"wecom:chaos-op" = "operator"

[limits]
commands_per_minute = 0

[outbox]
initial_backoff_ms = 100
max_backoff_ms = 1000

[alerts]
lang = "en"
rate_limited_retry_ms = 5000

[alerts.hooks.ci]
token = "hooktoken"
targets = ["ops"]
"#,
        interval = HEALTH_INTERVAL.as_millis(),
        robot = robot.base(),
        tencent = tencent.base(),
    )
}

/// The two replica slots, their ports for the load generators, and the one to leave alone
/// while a fault is applied to it (requests to a paused process would only time out).
struct Pair {
    slots: [Option<Replica>; 2],
    ports: [Arc<AtomicU16>; 2],
    avoid: Arc<AtomicU16>,
}

impl Pair {
    fn spawn(&mut self, i: usize, url: &str, dir: &std::path::Path, config: &std::path::Path) {
        let r = Replica::spawn(url, dir, |cmd: &mut Command| {
            cmd.arg("--config").arg(config).arg("serve");
        });
        self.ports[i].store(r.port, Ordering::Relaxed);
        self.slots[i] = Some(r);
    }

    fn replica(&self, i: usize) -> &Replica {
        self.slots[i].as_ref().expect("replica running")
    }

    /// Which slot leads now, if any.
    async fn leader(&self) -> Option<usize> {
        for i in 0..2 {
            if self.replica(i).role().await.as_deref() == Some("leader") {
                return Some(i);
            }
        }
        None
    }

    /// Waits until slot `i` leads; how long that took.
    async fn wait_leader(&self, i: usize, within: Duration) -> Duration {
        let start = Instant::now();
        assert!(
            self.replica(i).wait_role("leader", within).await,
            "replica {i} must take over"
        );
        start.elapsed()
    }

    /// Waits until both answer `/readyz` with 200; how long that took.
    async fn wait_ready(&self, within: Duration) -> Option<Duration> {
        let start = Instant::now();
        let client = reqwest::Client::new();
        'poll: while start.elapsed() < within {
            for i in 0..2 {
                let url = format!("http://127.0.0.1:{}/readyz", self.replica(i).port);
                let ok = client
                    .get(url)
                    .timeout(Duration::from_millis(500))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !ok {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue 'poll;
                }
            }
            return Some(start.elapsed());
        }
        None
    }
}

/// What the load generators sent and what was accepted.
#[derive(Default)]
struct Load {
    alerts_sent: usize,
    alerts_accepted: Vec<usize>,
    chats_sent: usize,
    chats_accepted: usize,
}

/// Posts one alert every 250 ms and one chat command every 500 ms, round robin over the
/// replicas that are not under a fault, until `stop`.
fn start_load(
    pair: &Pair,
    stop: Arc<AtomicBool>,
) -> (Arc<Mutex<Load>>, tokio::task::JoinHandle<()>) {
    let load = Arc::new(Mutex::new(Load::default()));
    let (ports, avoid, l) = (pair.ports.clone(), pair.avoid.clone(), load.clone());
    let task = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut n = 0usize;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let live: Vec<u16> = ports
                .iter()
                .map(|p| p.load(Ordering::Relaxed))
                .filter(|p| *p != avoid.load(Ordering::Relaxed))
                .collect();
            let Some(&port) = live.get(n % live.len().max(1)) else {
                continue;
            };
            let r = http
                .post(format!("http://127.0.0.1:{port}/hooks/ci"))
                .bearer_auth("hooktoken")
                .json(&serde_json::json!({"text": format!("chaos-{n:05} fired"), "id": format!("chaos-{n}")}))
                .timeout(Duration::from_secs(3))
                .send()
                .await;
            {
                let mut g = l.lock().unwrap();
                g.alerts_sent += 1;
                if r.is_ok_and(|r| r.status().is_success()) {
                    g.alerts_accepted.push(n);
                }
            }
            if n.is_multiple_of(2) {
                // A command, delivered to every live replica with one MsgId: Tencent's retry.
                let mut ok = false;
                for port in &live {
                    let peer = Peer {
                        crypt: wxcrypt::MsgCrypt::from_config(TOKEN, KEY, CORP).unwrap(),
                        url: format!("http://127.0.0.1:{port}/wecom/app"),
                        http: http.clone(),
                    };
                    let xml = text_xml(
                        "chaos-op",
                        &format!("{}", 9_000_000 + n),
                        &format!("/mute nomatch-chaos-{n:05} 1m"),
                    );
                    let (q, body) = peer.envelope(&xml);
                    let r = http
                        .post(&peer.url)
                        .query(&q)
                        .body(body)
                        .timeout(Duration::from_secs(3))
                        .send()
                        .await;
                    ok |= r.is_ok_and(|r| r.status().is_success());
                }
                let mut g = l.lock().unwrap();
                g.chats_sent += 1;
                g.chats_accepted += usize::from(ok);
            }
            n += 1;
        }
    });
    (load, task)
}

/// How many times each mute command ran, from the audit log.
async fn commands_run(url: &str) -> Vec<(String, i64)> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the private PostgreSQL");
    tokio::spawn(conn);
    c.query(
        "SELECT target, COUNT(*) FROM audit WHERE target LIKE 'nomatch-chaos-%' GROUP BY target",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_survive_kills_pauses_and_database_outages() {
    init();
    let Some(pg) = PrivatePg::start("chaos test") else {
        return;
    };
    let url = pg.url();
    let robot = FakeRobot::start_with_limit(100_000).await;
    let tencent = FakeTencent::start(CORP, SECRET, "wxunused", "unused").await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("wedock.toml");
    std::fs::write(&cfg, config(&robot, &tencent)).unwrap();

    let mut pair = Pair {
        slots: [None, None],
        ports: [Arc::default(), Arc::default()],
        avoid: Arc::default(),
    };
    pair.spawn(0, &url, dir.path(), &cfg);
    pair.wait_leader(0, Duration::from_secs(20)).await;
    pair.spawn(1, &url, dir.path(), &cfg);
    assert!(
        pair.replica(1)
            .wait_role("standby", Duration::from_secs(20))
            .await
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (load, load_task) = start_load(&pair, stop.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut report: Vec<String> = Vec::new();
    let mut ready_after = Vec::new();

    // 1. SIGKILL of the leader: the standby takes over once the lease expires.
    let l = pair.leader().await.expect("a leader");
    pair.avoid.store(pair.replica(l).port, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut killed = pair.slots[l].take().unwrap();
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    pair.slots[l] = None;
    let failover = {
        let start = Instant::now();
        assert!(
            pair.replica(1 - l).wait_role("leader", LEASE * 3).await,
            "the standby takes over from a killed leader"
        );
        start.elapsed()
    };
    report.push(format!(
        "SIGKILL leader: failover {} ms",
        failover.as_millis()
    ));
    pair.spawn(l, &url, dir.path(), &cfg);
    pair.avoid.store(0, Ordering::Relaxed);
    ready_after.push((
        "SIGKILL leader",
        pair.wait_ready(Duration::from_secs(20)).await,
    ));

    // 2. SIGSTOP of the leader for twice the lease, then SIGCONT: it must step down.
    let l = pair.leader().await.expect("a leader");
    pair.avoid.store(pair.replica(l).port, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = pair.replica(l).child.id();
    signal(pid, "-STOP");
    let failover = pair.wait_leader(1 - l, LEASE * 3).await;
    tokio::time::sleep((LEASE * 2).saturating_sub(failover)).await;
    signal(pid, "-CONT");
    assert!(
        pair.replica(l).wait_role("standby", LEASE).await,
        "the resumed leader steps down"
    );
    pair.avoid.store(0, Ordering::Relaxed);
    report.push(format!(
        "SIGSTOP leader: failover {} ms",
        failover.as_millis()
    ));
    ready_after.push(("SIGSTOP leader", pair.wait_ready(HEALTH_INTERVAL * 3).await));

    // 3. A PostgreSQL restart.
    pg.ctl("restart");
    ready_after.push((
        "PostgreSQL restart",
        pair.wait_ready(HEALTH_INTERVAL * 3).await,
    ));
    let leader_back = pair.leader().await;
    report.push(format!(
        "PostgreSQL restart: leader afterwards {leader_back:?}"
    ));

    // 4. The postmaster paused for 10 s (no new connections; open ones keep working).
    let postmaster = pg.postmaster_pid();
    signal(postmaster, "-STOP");
    tokio::time::sleep(Duration::from_secs(10)).await;
    signal(postmaster, "-CONT");
    ready_after.push((
        "postmaster SIGSTOP 10 s",
        pair.wait_ready(HEALTH_INTERVAL * 3).await,
    ));

    // Let the stream run on healthy replicas for a while, then drain.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    load_task.await.unwrap();
    let (accepted, sent, chats_sent, chats_accepted) = {
        let g = load.lock().unwrap();
        (
            g.alerts_accepted.clone(),
            g.alerts_sent,
            g.chats_sent,
            g.chats_accepted,
        )
    };
    // In how many posts an alert appears (a post names it in its title and its details).
    let count = |n: &usize, posts: &[Post]| {
        let marker = format!("chaos-{n:05} fired");
        posts.iter().filter(|p| p.content.contains(&marker)).count()
    };
    let delivered_all = |posts: &[Post]| accepted.iter().all(|n| count(n, posts) >= 1);
    // The last digest may wait for the next minute of the robot's budget.
    let drained = robot
        .wait_for("K-chaos", Duration::from_secs(90), delivered_all)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let posts = robot.posts("K-chaos");
    let missing: Vec<usize> = accepted
        .iter()
        .copied()
        .filter(|n| count(n, &posts) == 0)
        .collect();
    let duplicates: Vec<usize> = (0..sent).filter(|n| count(n, &posts) > 1).collect();
    let worst = robot.worst_minute("K-chaos");
    let runs = commands_run(&url).await;
    let twice: Vec<_> = runs.iter().filter(|(_, c)| *c > 1).collect();

    eprintln!("──── chaos summary ────");
    eprintln!(
        "alerts: {sent} sent, {} accepted, {} delivered, {} missing, {} duplicated",
        accepted.len(),
        accepted.len() - missing.len(),
        missing.len(),
        duplicates.len()
    );
    eprintln!(
        "robot: {} messages, worst minute {worst} (limit 20)",
        posts.len()
    );
    eprintln!(
        "chat: {chats_sent} commands sent to both replicas, {chats_accepted} accepted, {} ran, {} ran twice",
        runs.len(),
        twice.len()
    );
    for r in &report {
        eprintln!("{r}");
    }
    for (fault, t) in &ready_after {
        match t {
            Some(t) => eprintln!(
                "{fault}: both replicas ready {} ms after it ended",
                t.as_millis()
            ),
            None => eprintln!("{fault}: NOT ready again"),
        }
    }
    eprintln!("───────────────────────");

    assert!(
        drained && missing.is_empty(),
        "accepted but never delivered: {missing:?}"
    );
    assert!(
        duplicates.is_empty(),
        "delivered more than once: {duplicates:?}"
    );
    assert!(worst <= 20, "{worst} robot messages within one minute");
    assert!(twice.is_empty(), "chat commands run twice: {twice:?}");
    assert!(
        chats_accepted > 0 && !runs.is_empty(),
        "chat commands went through"
    );
    for (fault, t) in &ready_after {
        assert!(t.is_some(), "both replicas ready again after {fault}");
    }
    drop(pair);
    drop(pg);
}
