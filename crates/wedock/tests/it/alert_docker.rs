//! Alerts from the real Docker engine: containers built from a local busybox image exit
//! non-zero, get OOM-killed and turn unhealthy, and the fake group robot gets the right
//! messages; a wedock restart while containers die reports them from the persisted cursor.
//!
//! The tests drive the engine with the blocking `docker` CLI while wedock runs in the same
//! process, so they use a multi-threaded runtime: on a single thread every `docker run`
//! would freeze wedock too, and under load long enough for its leader lease to lapse.

use crate::support::docker_available;
use crate::support::fake_robot::FakeRobot;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use wedock::config::Config;

pub const IMAGE: &str = "wedock-test/alerts-busybox:latest";

/// Builds the test image once (FROM scratch + static busybox); a no-op when it exists.
pub fn ensure_image() {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let exists = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if exists {
        return;
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static is installed (apt-get install busybox-static)");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(busybox, dir.path().join("busybox")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", IMAGE])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Containers of one test, labelled so they are removed even when the test fails.
pub struct Containers {
    label: String,
}

impl Containers {
    pub fn new(test: &str) -> Containers {
        let c = Containers {
            label: format!("wedock-test={test}-{}", std::process::id()),
        };
        c.cleanup();
        c
    }

    pub fn name(&self, what: &str) -> String {
        format!("wdk-{}-{what}", std::process::id())
    }

    /// `docker run -d` with the label; returns the container name.
    pub fn run(&self, what: &str, opts: &[&str], cmd: &str) -> String {
        let name = self.name(what);
        let out = Command::new("docker")
            .args(["run", "-d", "--name", &name, "--label", &self.label])
            .args(opts)
            .args([IMAGE, "sh", "-c", cmd])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        name
    }

    fn cleanup(&self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={}", self.label)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn config(fake: &FakeRobot) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    format!(
        r#"
[api]
robot_base = "{}"

[[wecom.robots]]
name = "ops"
key = "K-docker"
format = "markdown_v2"

[alerts]
lang = "en"
log_lines = 5
# Every test's server sees every test's containers on the shared engine; keep their alerts
# as whole messages (digest folding is tested in alerts.rs).
digest_pending = 100
"#,
        fake.base()
    )
}

/// A wedock server on a given data directory (so a second one continues from the first).
struct Server {
    addr: std::net::SocketAddr,
    /// Signed in: the watcher's readiness detail needs a console login.
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    async fn start(toml: &str, dir: &Path) -> Server {
        let p = dir.join("wedock.toml");
        std::fs::write(&p, toml).unwrap();
        let env = vec![(
            "WEDOCK_STORE__DATA_DIR".to_string(),
            format!("\"{}\"", dir.join("data").display()),
        )];
        let cfg = Config::load(Some(&p), env).unwrap();
        let client = crate::support::console_client(&cfg);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(wedock::serve::run_with(cfg, listener, async move {
            let _ = rx.await;
        }));
        let s = Server {
            addr,
            client,
            stop,
            task,
        };
        s.wait_watching().await;
        s
    }

    /// Waits until the Docker event watcher is connected.
    async fn wait_watching(&self) {
        let url = format!("http://{}/readyz", self.addr);
        for _ in 0..400 {
            if let Ok(r) = self.client.get(&url).send().await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["components"]["alerts:docker:local"]["ready"] == true
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the Docker event watcher did not connect");
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

// Generous: every test's server watches every test's containers on one shared, busy engine.
const WAIT: Duration = Duration::from_secs(90);

/// Waits (up to 10 s) until `docker inspect -f FORMAT NAME` prints `want`.
async fn wait_inspect(name: &str, format: &str, want: &str) {
    for _ in 0..400 {
        let o = Command::new("docker")
            .args(["inspect", "-f", format, name])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&o.stdout).trim() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Exactly one robot message names `container`.
fn assert_reported_once(fake: &FakeRobot, container: &str) {
    let n = fake
        .posts("K-docker")
        .iter()
        .filter(|p| p.content.contains(container))
        .count();
    assert_eq!(n, 1, "{}", fake.text("K-docker"));
}

/// Waits (up to [`WAIT`]) for a robot post that mentions every one of `words`; fails naming
/// `what` and showing what the robot did receive.
async fn expect_report(fake: &FakeRobot, words: &[&str], what: &str) {
    assert!(
        fake.wait_for("K-docker", WAIT, |p| mentions(p, words))
            .await,
        "{what} not reported: {}",
        fake.text("K-docker")
    );
}

fn mentions(posts: &[crate::support::fake_robot::Post], all: &[&str]) -> bool {
    posts
        .iter()
        .any(|p| all.iter().all(|s| p.content.contains(s)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_containers_that_die_oom_and_turn_unhealthy_are_reported() {
    if !docker_available("real_containers_that_die_oom_and_turn_unhealthy_are_reported") {
        return;
    }
    ensure_image();
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&config(&fake), dir.path()).await;
    let c = Containers::new("alerts-e2e");

    let died = c.run("die", &[], "echo hello-from-die; echo second-line; exit 3");
    let oom = c.run(
        "oom",
        &["--memory", "8m", "--memory-swap", "8m"],
        "echo filling-memory; x=aaaaaaaa; while true; do x=$x$x; done",
    );
    let sick = c.run(
        "sick",
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        "echo sick-logs; sleep 120",
    );
    let stopped = c.run("stopped", &[], "sleep 120");
    let _ = Command::new("docker")
        .args(["stop", "-t", "1", &stopped])
        .output();

    expect_report(
        &fake,
        &["Container exited", &died, "exit 3", "hello-from-die", "```"],
        "die",
    )
    .await;
    expect_report(
        &fake,
        &["out of memory (OOM)", &oom, "exit 137", "filling-memory"],
        "OOM",
    )
    .await;
    expect_report(
        &fake,
        &["Container unhealthy", &sick, "sick-logs"],
        "unhealthy",
    )
    .await;
    // A container stopped by someone is not an incident (default route).
    assert!(!fake.text("K-docker").contains(&stopped));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deaths_while_wedock_is_down_are_reported_after_restart() {
    if !docker_available("deaths_while_wedock_is_down_are_reported_after_restart") {
        return;
    }
    ensure_image();
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&config(&fake), dir.path()).await;
    s.stop().await;

    let c = Containers::new("alerts-cursor");
    let name = c.run("while-down", &[], "echo died-while-down; exit 4");
    // Wait until it has exited before wedock comes back.
    wait_inspect(&name, "{{.State.Status}}", "exited").await;
    let s = Server::start(&config(&fake), dir.path()).await;
    expect_report(
        &fake,
        &[&name, "exit 4", "died-while-down"],
        "death while down",
    )
    .await;
    // Found both in the container's state and in the replayed events: reported once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_reported_once(&fake, &name);
    s.stop().await;
}

/// Whether the engine's in-memory event history still has the `die` event of `name` after
/// `since` (seconds).
async fn engine_remembers_death(name: &str, since: i64) -> bool {
    use futures::StreamExt;
    let docker = bollard::Docker::connect_with_local_defaults().unwrap();
    let mut filters = std::collections::HashMap::new();
    filters.insert("container".to_string(), vec![name.to_string()]);
    filters.insert("event".to_string(), vec!["die".to_string()]);
    let now = chrono::Utc::now().timestamp();
    let mut s = docker.events(Some(bollard::query_parameters::EventsOptions {
        since: Some(since.to_string()),
        until: Some((now + 1).to_string()),
        filters: Some(filters),
    }));
    let mut found = false;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), s.next()).await {
        if ev.is_ok() {
            found = true;
        }
    }
    found
}

/// One pause/unpause pair, retried a few times: under a loaded engine (other tests starting
/// and removing containers) a single API call can fail transiently, which says nothing about
/// wedock.
async fn pause_and_unpause(docker: &bollard::Docker, name: &str) {
    let mut last = String::new();
    for _ in 0..5 {
        let paused = docker.pause_container(name).await;
        let unpaused = docker.unpause_container(name).await;
        match (paused, unpaused) {
            (_, Ok(())) => return,
            (p, Err(e)) => last = format!("pause: {p:?}, unpause: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not pause/unpause {name}: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deaths_the_engine_no_longer_remembers_are_found_from_container_state() {
    if !docker_available("deaths_the_engine_no_longer_remembers_are_found_from_container_state") {
        return;
    }
    ensure_image();
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&config(&fake), dir.path()).await;
    s.stop().await;
    let since = chrono::Utc::now().timestamp() - 1;

    let c = Containers::new("alerts-forgotten");
    let name = c.run("forgotten", &[], "echo forgotten-death; exit 6");
    let busy = c.run("busy", &[], "sleep 600");
    wait_inspect(&name, "{{.State.Status}}", "exited").await;
    // The engine keeps a short in-memory event history (256 events); push the death out of
    // it with pause/unpause events, as a busy host or an engine restart would.
    let docker = bollard::Docker::connect_with_local_defaults().unwrap();
    let mut pushed = 0;
    while engine_remembers_death(&name, since).await {
        for _ in 0..100 {
            pause_and_unpause(&docker, &busy).await;
        }
        pushed += 200;
        assert!(
            pushed <= 4000,
            "the engine's event history did not roll over"
        );
    }

    let s = Server::start(&config(&fake), dir.path()).await;
    expect_report(
        &fake,
        &[&name, "exit 6", "forgotten-death"],
        "a death missing from the event history",
    )
    .await;
    // Reported once, not again by a replay or a second look.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_reported_once(&fake, &name);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_turned_unhealthy_while_wedock_was_down_is_reported_once() {
    if !docker_available("a_container_that_turned_unhealthy_while_wedock_was_down_is_reported_once")
    {
        return;
    }
    ensure_image();
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&config(&fake), dir.path()).await;
    s.stop().await;

    let c = Containers::new("alerts-sick-while-down");
    let sick = c.run(
        "sick-while-down",
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        "echo sick-while-down-logs; sleep 120",
    );
    wait_inspect(&sick, "{{.State.Health.Status}}", "unhealthy").await;
    let s = Server::start(&config(&fake), dir.path()).await;
    expect_report(
        &fake,
        &["Container unhealthy", &sick, "sick-while-down-logs"],
        "unhealthy while down",
    )
    .await;
    // Neither the engine's replay nor the next restart reports it again.
    s.stop().await;
    let s = Server::start(&config(&fake), dir.path()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_reported_once(&fake, &sick);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_reported_once() {
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("no-engine.sock");
    let toml = format!(
        r#"{}
reconnect_min_ms = 20
reconnect_max_ms = 50

[[docker.hosts]]
name = "gone"
endpoint = "unix://{}"
"#,
        config(&fake),
        sock.display()
    );
    let p = dir.path().join("wedock.toml");
    std::fs::write(&p, toml).unwrap();
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.path().join("data").display()),
    )];
    let cfg = Config::load(Some(&p), env).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(wedock::serve::run_with(cfg, listener, async move {
        let _ = rx.await;
    }));
    expect_report(
        &fake,
        &["Docker engine unreachable", "gone"],
        "unreachable engine",
    )
    .await;
    // Retries keep failing (with backoff) but the group hears it once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.posts("K-docker").len(), 1);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_log_line_in_a_death_alert_reaches_the_robot_inert_and_redacted() {
    if !docker_available("a_hostile_log_line_in_a_death_alert_reaches_the_robot_inert_and_redacted")
    {
        return;
    }
    ensure_image();
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&config(&fake), dir.path()).await;
    let c = Containers::new("alerts-hostile");
    let name = c.run(
        "hostile",
        &[],
        &format!(
            "echo '{}'; echo DB_PASSWORD=hunter2; echo hostile-done; exit 3",
            crate::security_output::HOSTILE
        ),
    );
    expect_report(&fake, &[&name, "exit 3", "hostile-done"], "hostile death").await;
    let post = fake
        .posts("K-docker")
        .into_iter()
        .find(|p| p.content.contains(&name))
        .expect("the death alert");
    assert!(!post.content.contains("hunter2"), "{}", post.content);
    assert!(post.content.contains("DB_PASSWORD=***"), "{}", post.content);
    crate::security_output::assert_inert(&post.content);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_death_alert_carries_its_likely_cause_and_the_diagnose_hint() {
    if !docker_available("a_death_alert_carries_its_likely_cause_and_the_diagnose_hint") {
        return;
    }
    ensure_image();
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&config(&fake), dir.path()).await;
    let c = Containers::new("alerts-cause");
    let name = c.run(
        "dep",
        &[],
        "echo starting; echo 'panic: dial tcp 10.0.0.5:5432: connect: connection refused'; exit 1",
    );
    expect_report(
        &fake,
        &[
            &name,
            "Likely cause: A dependency refused the connection (10.0.0.5:5432)",
            "/diagnose",
        ],
        "likely cause",
    )
    .await;
    s.stop().await;
}
