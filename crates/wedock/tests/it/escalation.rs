//! Escalation (`[[alerts.escalations]]`): a critical alert nobody acknowledges goes to the
//! person on duty directly (an app card with the alert's buttons), then @all in the group;
//! an ack stops the rest; and every step fires exactly once across `kill -9` of the process
//! that leads, because the deadlines and what fired are in the store.

use crate::alert_crash::{spawn, wait_ready};
use crate::channel_wecom::{self, CORP, Peer};
use crate::support::fake_robot::{FakeRobot, Post};
use crate::support::fake_tencent::FakeTencent;
use crate::support::{TestServer, free_port};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Cards `message/send` delivered to `user`.
fn cards_to(fake: &FakeTencent, user: &str) -> Vec<Value> {
    fake.delivered("/cgi-bin/message/send")
        .into_iter()
        .filter(|v| v["touser"] == user && v["msgtype"] == "template_card")
        .collect()
}

fn mentions_all(p: &Post) -> bool {
    p.mentioned.iter().any(|m| m == "@all")
}

async fn fire(base: &str, id: &str) -> Instant {
    let r = reqwest::Client::new()
        .post(format!("{base}/hooks/ci"))
        .bearer_auth("hooktoken")
        .json(&json!({"text": format!("{id} is down"), "severity": "critical", "id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    Instant::now()
}

/// The alert id (`/ack N`) the group message about `what` names.
fn alert_id(robot: &FakeRobot, what: &str) -> String {
    let text = robot.text("K-esc");
    let line = text
        .lines()
        .skip_while(|l| !l.contains(what))
        .find(|l| l.contains("/ack "))
        .unwrap_or_else(|| panic!("no /ack hint for {what} in {text}"));
    let rest = &line[line.find("/ack ").unwrap() + 5..];
    rest.chars().take_while(char::is_ascii_digit).collect()
}

/// A wedock with the WeCom app (cards to people) and a group robot `ops` on their fakes,
/// `zhangsan` an operator on duty in schedule `primary`, alerts in English, webhook `ci`
/// sending to `hook_targets`, and `extra`.
async fn start_with_app(hook_targets: &str, extra: &str) -> (FakeTencent, FakeRobot, TestServer) {
    let fake = FakeTencent::start(CORP, channel_wecom::SECRET, "wxapp", "wxsecret").await;
    let robot = FakeRobot::start_with_limit(1000).await;
    let toml = format!(
        r#"{app}
[limits]
commands_per_minute = 0

[identity.users]
"wecom:zhangsan" = "operator"

[[wecom.robots]]
name = "ops"
key = "K-esc"
per_minute = 1000

[[oncall.schedules]]
name = "primary"
rotation = "daily"
members = ["zhangsan"]

[alerts]
lang = "en"

[alerts.hooks.ci]
token = "hooktoken"
targets = {hook_targets}
{extra}"#,
        // The app's [api] table also points the robots at their fake.
        app = channel_wecom::config(&fake, 0).replacen(
            "[api]\n",
            &format!("[api]\nrobot_base = \"{}\"\n", robot.base()),
            1
        ),
    );
    let s = TestServer::start(&toml).await;
    (fake, robot, s)
}

#[tokio::test]
async fn a_route_with_a_schedule_sends_the_person_on_duty_the_card() {
    let (fake, robot, s) = start_with_app(
        r#"["oncall-route"]"#,
        r#"
[[alerts.routes]]
name = "oncall-route"
targets = ["ops"]
oncall = "primary"
"#,
    )
    .await;
    fire(&s.url(""), "epsilon").await;
    // The group hears it with the mention; the person on duty gets the card with buttons.
    assert!(
        robot
            .wait_for("K-esc", Duration::from_secs(10), |p| p
                .iter()
                .any(|p| p.content.contains("<@zhangsan>")))
            .await
    );
    let end = Instant::now() + Duration::from_secs(10);
    while cards_to(&fake, "zhangsan").is_empty() {
        assert!(Instant::now() < end, "no card to the person on duty");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let card = &cards_to(&fake, "zhangsan")[0]["template_card"];
    assert!(
        card["button_list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["key"].as_str().unwrap_or("").starts_with("/ack ")),
        "{card}"
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn an_unacked_alert_reaches_the_person_on_duty_then_everyone_and_an_ack_stops_it() {
    let (fake, robot, s) = start_with_app(
        r#"["ops"]"#,
        r#"
[[alerts.escalations]]
after = "2s"
notify = "oncall"

[[alerts.escalations]]
after = "5s"
notify = "all"
"#,
    )
    .await;
    let peer = Peer::new(&s);
    peer.post(&channel_wecom::text_xml("zhangsan", "hello-z", "hello"))
        .await;

    let fired_a = fire(&s.url(""), "alpha").await;
    fire(&s.url(""), "beta").await;
    assert!(
        robot
            .wait_for("K-esc", Duration::from_secs(10), |p| p.len() >= 2)
            .await,
        "both alerts reach the group"
    );
    let (a, b) = (alert_id(&robot, "alpha"), alert_id(&robot, "beta"));
    assert_ne!(a, b);

    // Step 1, at 2 s: a card to the person on duty, with the alert's buttons.
    let end = Instant::now() + Duration::from_secs(10);
    while cards_to(&fake, "zhangsan").len() < 2 {
        assert!(Instant::now() < end, "the on-duty cards did not come");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = fired_a.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(5),
        "step 1 is due at 2 s, came after {waited:?}"
    );
    let cards = cards_to(&fake, "zhangsan");
    let ack_keys: Vec<String> = cards
        .iter()
        .flat_map(|c| {
            c["template_card"]["button_list"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|b| b["key"].as_str().map(str::to_string))
        .filter(|k| k.starts_with("/ack "))
        .collect();
    assert!(
        ack_keys.contains(&format!("/ack {a}")) && ack_keys.contains(&format!("/ack {b}")),
        "{cards:?}"
    );
    let title = cards[0]["template_card"]["main_title"]["desc"].to_string();
    assert!(title.contains("unacknowledged"), "{title}");

    // zhangsan acks beta before step 2.
    peer.post(&channel_wecom::text_xml(
        "zhangsan",
        "ack-b",
        &format!("/ack {b}"),
    ))
    .await;

    // Step 2, at 5 s: @all in the group for alpha only.
    assert!(
        robot
            .wait_for("K-esc", Duration::from_secs(10), |p| p
                .iter()
                .any(mentions_all))
            .await,
        "step 2 did not come"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all: Vec<Post> = robot
        .posts("K-esc")
        .into_iter()
        .filter(mentions_all)
        .collect();
    assert_eq!(all.len(), 1, "one @all, for the unacked alert: {all:?}");
    assert!(
        all[0].content.contains(&format!("#{a}")),
        "{}",
        all[0].content
    );
    assert_eq!(
        cards_to(&fake, "zhangsan").len(),
        2,
        "step 1 fired once per alert"
    );
    // `/alerts` (the console speaks Chinese) says who the unacked one went to.
    let listing = s.chat("/alerts").await;
    let listing = listing["reply"].as_str().unwrap_or_default();
    let line = listing
        .lines()
        .find(|l| l.contains(&format!("#{a} ")))
        .unwrap_or_else(|| panic!("no line for #{a}: {listing}"));
    assert!(line.contains("zhangsan, @all"), "{line}");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_fires_once_across_kill_9() {
    crate::support::init();
    let robot = FakeRobot::start_with_limit(1000).await;
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
key = "K-esc"
per_minute = 1000

[alerts]
lang = "en"

[alerts.hooks.ci]
token = "hooktoken"
targets = ["ops"]

# No app: a person without a direct channel is @-mentioned in the group.
[[alerts.escalations]]
after = "3s"
notify = "users"
users = ["lisi"]

[[alerts.escalations]]
after = 0.1   # minutes
notify = "all"
"#,
            data = dir.path().join("data").display(),
            base = robot.base()
        ),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn(&cfg);
    wait_ready(&base).await;
    fire(&base, "gamma").await;
    // Killed before step 1 is due: the restarted process still knows the deadline. (Killed
    // only once the alert's delivery is recorded: a kill between a POST and its record is
    // the at-least-once window, where a resend is the intended outcome.)
    wait_recorded_sent(&base, 1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = spawn(&cfg);
    wait_ready(&base).await;
    let to_lisi = |p: &Post| p.mentioned.iter().any(|m| m == "lisi");
    assert!(
        robot
            .wait_for("K-esc", Duration::from_secs(15), |p| p.iter().any(to_lisi))
            .await,
        "step 1 after the restart"
    );
    // Killed right after step 1 is recorded as sent: the restarted process does not send it
    // again.
    wait_recorded_sent(&base, 1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = spawn(&cfg);
    wait_ready(&base).await;
    assert!(
        robot
            .wait_for("K-esc", Duration::from_secs(15), |p| p
                .iter()
                .any(mentions_all))
            .await,
        "step 2 after the second restart"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let posts = robot.posts("K-esc");
    assert_eq!(posts.iter().filter(|p| to_lisi(p)).count(), 1, "{posts:?}");
    assert_eq!(
        posts.iter().filter(|p| mentions_all(p)).count(),
        1,
        "{posts:?}"
    );
    assert_eq!(
        posts
            .iter()
            .filter(|p| p.mentioned.is_empty() && p.content.contains("gamma is down"))
            .count(),
        1,
        "the alert itself once: {posts:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Two replicas on PostgreSQL: the leader is SIGKILLed before the first step is due and the
/// new leader after it fired; each step still reaches the group exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_fires_once_when_leaders_are_killed() {
    use crate::replicas::{FreshDb, Replica};
    crate::support::init();
    let Some(db) = FreshDb::create("esc").await else {
        return;
    };
    let robot = FakeRobot::start_with_limit(1000).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("wedock.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[api]
robot_base = "{base}"

[[wecom.robots]]
name = "ops"
key = "K-esc"
per_minute = 1000

[alerts]
lang = "en"

[alerts.hooks.ci]
token = "hooktoken"
targets = ["ops"]

[[alerts.escalations]]
after = "6s"
notify = "all"

[[alerts.escalations]]
after = "12s"
notify = "users"
users = ["lisi"]
"#,
            base = robot.base()
        ),
    )
    .unwrap();
    let start = |d: &std::path::Path| {
        let cfg = cfg.clone();
        Replica::spawn(&db.url, d, move |cmd| {
            cmd.arg("--config").arg(&cfg).arg("serve");
        })
    };
    let (da, db_dir) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&db_dir).unwrap();
    let mut a = start(&da);
    assert!(a.wait_role("leader", Duration::from_secs(15)).await);
    let mut b = start(&db_dir);
    assert!(b.wait_role("standby", Duration::from_secs(15)).await);
    fire(&format!("http://127.0.0.1:{}", b.port), "delta").await;

    // The leader dies before step 1 is due; the standby takes over and fires it.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    assert!(b.wait_role("leader", Duration::from_secs(10)).await);
    assert!(
        robot
            .wait_for("K-esc", Duration::from_secs(20), |p| p
                .iter()
                .any(mentions_all))
            .await,
        "step 1 from the new leader"
    );
    // A fresh replica joins; the leader that fired step 1 dies; step 2 comes once.
    a = start(&da);
    assert!(a.wait_role("standby", Duration::from_secs(15)).await);
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    assert!(a.wait_role("leader", Duration::from_secs(10)).await);
    let to_lisi = |p: &Post| p.mentioned.iter().any(|m| m == "lisi");
    assert!(
        robot
            .wait_for("K-esc", Duration::from_secs(20), |p| p.iter().any(to_lisi))
            .await,
        "step 2 after the second kill"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let posts = robot.posts("K-esc");
    assert_eq!(
        posts.iter().filter(|p| mentions_all(p)).count(),
        1,
        "{posts:?}"
    );
    assert_eq!(posts.iter().filter(|p| to_lisi(p)).count(), 1, "{posts:?}");
    drop(a);
    drop(b);
    db.drop().await;
}

/// Waits until this process has recorded `n` robot deliveries as sent (its
/// `wedock_deliveries_total` counter counts after the store has the result).
async fn wait_recorded_sent(base: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = match reqwest::get(format!("{base}/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let sent: f64 = text
            .lines()
            .filter(|l| {
                l.starts_with("wedock_deliveries_total{")
                    && l.contains("channel=\"robot\"")
                    && l.contains("result=\"sent\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if sent >= n as f64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{n} recorded deliveries:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
