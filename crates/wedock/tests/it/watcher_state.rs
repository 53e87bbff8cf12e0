//! A watcher's alerts and its bookkeeping are one fact. A crash injected in the store right
//! before the Kubernetes reported-problem set is written (a SQLite trigger aborts that write,
//! as a `kill -9` at that moment would lose it) must not leave the alert queued without the
//! bookkeeping: after a restart, with the problem changed meanwhile (one more restart of the
//! pod), the robot gets the alert once, not twice.

use crate::kube::Cluster;
use crate::support::TestServer;
use crate::support::fake_kube::objects;
use crate::support::fake_robot::FakeRobot;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

const CRASH: &str = "
    CREATE TRIGGER crash_before_state_insert BEFORE INSERT ON kv
        WHEN NEW.key LIKE 'alerts:k8s:%'
        BEGIN SELECT RAISE(ABORT, 'injected crash before the bookkeeping'); END;
    CREATE TRIGGER crash_before_state_update BEFORE UPDATE ON kv
        WHEN NEW.key LIKE 'alerts:k8s:%'
        BEGIN SELECT RAISE(ABORT, 'injected crash before the bookkeeping'); END;";

const RECOVER: &str = "
    DROP TRIGGER crash_before_state_insert;
    DROP TRIGGER crash_before_state_update;";

fn on_db(data: &std::path::Path, sql: &str) {
    let c = rusqlite::Connection::open(data.join("wedock.sqlite3")).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c.execute_batch(sql).unwrap();
}

#[tokio::test]
async fn crash_before_the_reported_set_does_not_alert_twice() {
    let c = Cluster::start().await;
    let robot = FakeRobot::start().await;
    let state = tempfile::tempdir().unwrap();
    let data = state.path().join("data");
    let toml = c.config(&format!(
        r#"
[api]
robot_base = "{}"

[[wecom.robots]]
name = "ops"
key = "K-txn"
format = "markdown_v2"

[alerts]
lang = "en"

[store]
data_dir = "{}"
"#,
        robot.base(),
        data.display()
    ));
    let server = TestServer::start(&toml).await;
    assert!(
        c.fake
            .wait_request(WAIT, |r| r.path == "/api/v1/pods"
                && r.param("watch") == Some("true"))
            .await
    );
    on_db(&data, CRASH);
    c.fake.put(
        "pods",
        objects::crashloop_pod("shop", "api-1", "api", 7, "Error", 1),
    );
    // The watcher saw the problem (it fetches the log tail before it hands the alert over),
    // then the store "crashes" on the bookkeeping.
    assert!(
        c.fake
            .wait_request(WAIT, |r| r.path.contains("/pods/api-1/log"))
            .await
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.stop().await.unwrap();
    on_db(&data, RECOVER);

    // Meanwhile the pod restarted once more; the restarted wedock sees it.
    c.fake.put(
        "pods",
        objects::crashloop_pod("shop", "api-1", "api", 8, "Error", 1),
    );
    let server = TestServer::start(&toml).await;
    let about_api = |p: &[crate::support::fake_robot::Post]| {
        p.iter().filter(|p| p.content.contains("api-1/app")).count()
    };
    assert!(
        robot.wait_for("K-txn", WAIT, |p| about_api(p) > 0).await,
        "{}",
        robot.text("K-txn")
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        about_api(&robot.posts("K-txn")),
        1,
        "one problem, one alert: {}",
        robot.text("K-txn")
    );
    server.stop().await.unwrap();
}
