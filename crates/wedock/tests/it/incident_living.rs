//! One living card per alert group through the WeCom self-built app (fake platform, card
//! model of wecom-template-card.md §8): an Alertmanager group's first alert is a card; the
//! next one to join updates that card in place for everyone with the code its send brought;
//! once that code is spent, the next alert to join is one new card showing the whole group; a
//! click on it keeps showing the group; the group resolving turns that card resolved. No
//! alert of the group goes out as a message of its own. The same against Debian's
//! Alertmanager 0.25, and for a compose project's containers crashing on the real engine.

use crate::channel_wecom::{self, CORP, Peer};
use crate::incident_cards::{eventually, keys};
use crate::support::TestServer;
use crate::support::alertmanager::{self, Alertmanager};
use crate::support::fake_tencent::FakeTencent;
use serde_json::{Value, json};
use std::time::Duration;

async fn start() -> (FakeTencent, TestServer, Peer) {
    start_with(&crate::support::free_port().to_string()).await
}

/// [`start`], with `am_port` named in `[alerts.alertmanager]`.
async fn start_with(am_port: &str) -> (FakeTencent, TestServer, Peer) {
    start_routes(am_port, "match = { source = \"alertmanager\" }").await
}

/// [`start`], with the app users' route matching `matcher`.
async fn start_routes(am_port: &str, matcher: &str) -> (FakeTencent, TestServer, Peer) {
    let fake = FakeTencent::start(CORP, channel_wecom::SECRET, "wxapp", "wxsecret").await;
    let toml = format!(
        r#"{}
[limits]
commands_per_minute = 0

[identity.users]
"wecom:op1" = "operator"
"wecom:viewer1" = "viewer"

[alerts]
lang = "en"
alertmanager_token = "amtoken"

[alerts.alertmanager]
url = "http://127.0.0.1:{am_port}"

[[alerts.routes]]
name = "app"
{matcher}
targets = ["wecom_app:op1|viewer1"]
"#,
        channel_wecom::config(&fake, 0)
    );
    let s = TestServer::start(&toml).await;
    let peer = Peer::new(&s);
    for u in ["op1", "viewer1"] {
        peer.post(&channel_wecom::text_xml(u, &format!("hello-{u}"), "hello"))
            .await;
    }
    (fake, s, peer)
}

/// Alertmanager's notification of group `HighLoad` with the alerts on `instances`.
async fn notify(s: &TestServer, status: &str, instances: &[&str]) {
    let alerts: Vec<Value> = instances
        .iter()
        .map(|i| {
            json!({
                "status": status,
                "labels": {"alertname": "HighLoad", "instance": i, "severity": "critical"},
                "annotations": {"summary": format!("load on {i}")},
                "startsAt": "2026-11-25T10:00:00Z",
                "endsAt": if status == "resolved" { "2026-11-25T10:05:00Z" } else { "0001-01-01T00:00:00Z" },
                "fingerprint": format!("fp-{i}"),
            })
        })
        .collect();
    let body = json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"HighLoad\"}",
        "status": status,
        "receiver": "wedock",
        "groupLabels": {"alertname": "HighLoad"},
        "commonLabels": {"alertname": "HighLoad"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    });
    let r = reqwest::Client::new()
        .post(s.url("/alertmanager"))
        .bearer_auth("amtoken")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The alert ids a card lists (`#12` rows), or its own alert's for a single card.
fn listed(card: &Value) -> Vec<String> {
    card["horizontal_content_list"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["keyname"].as_str())
                .filter(|k| k.starts_with('#'))
                .map(str::to_string)
                .chain(
                    rows.iter()
                        .filter_map(|r| r["value"].as_str())
                        .filter(|v| v.starts_with('#'))
                        .map(str::to_string),
                )
                .collect()
        })
        .unwrap_or_default()
}

fn successful_updates(fake: &FakeTencent) -> usize {
    fake.card_updates().iter().filter(|(_, c)| *c == 0).count()
}

#[tokio::test]
async fn an_alertmanager_group_is_one_card_updated_as_alerts_join_and_resolve() {
    let (fake, s, peer) = start().await;

    // The group's first alert: a card, as any alert.
    notify(&s, "firing", &["a:9100"]).await;
    let (first, users) = eventually("the group's card", || fake.cards().into_iter().next()).await;
    assert_eq!(users, vec!["op1", "viewer1"]);

    // Alertmanager sends the group again with a second alert: the same card changes for
    // everyone, with the code its send brought.
    notify(&s, "firing", &["a:9100", "b:9100"]).await;
    eventually("the card updated", || {
        (successful_updates(&fake) == 1).then_some(())
    })
    .await;
    for u in ["op1", "viewer1"] {
        let v = fake.card_view(&first, u).unwrap();
        assert_eq!(listed(&v).len(), 2, "{u}: {v}");
        let title = v["main_title"]["title"].as_str().unwrap_or("");
        assert!(title.contains("2 alerts"), "{u}: {v}");
    }
    assert_eq!(
        fake.cards().len(),
        1,
        "no second card for the joining alert"
    );

    // A third alert joins, but the first card's code is spent: one new card shows the whole
    // group and takes over.
    notify(&s, "firing", &["a:9100", "b:9100", "c:9100"]).await;
    let second = eventually("a card for the whole group", || {
        fake.cards().get(1).map(|(m, _)| m.clone())
    })
    .await;
    let v = fake.card_view(&second, "op1").unwrap();
    assert_eq!(listed(&v).len(), 3, "{v}");

    // An operator acks from it: the click's update keeps the group on the card.
    let ack = keys(&v)
        .into_iter()
        .find(|k| k.starts_with("/ack "))
        .expect("an ack button");
    let ev = fake.click(CORP, &second, "op1", &ack).unwrap();
    assert_eq!(peer.post(&ev).await.0, 200);
    eventually("the click's update", || {
        (successful_updates(&fake) == 2).then_some(())
    })
    .await;
    let v = fake.card_view(&second, "viewer1").unwrap();
    assert_eq!(listed(&v).len(), 3, "{v}");
    assert!(v.to_string().contains("acked by op1"), "{v}");

    // The group resolves: the second card turns resolved in place, with its send's code.
    notify(&s, "resolved", &["a:9100", "b:9100", "c:9100"]).await;
    eventually("the resolved card", || {
        (successful_updates(&fake) == 3).then_some(())
    })
    .await;
    for u in ["op1", "viewer1"] {
        let v = fake.card_view(&second, u).unwrap();
        let title = v["main_title"]["title"].as_str().unwrap_or("");
        assert!(title.starts_with("✅"), "{u}: {v}");
        assert_eq!(keys(&v).len(), 1, "only the greyed-out button: {v}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.cards().len(), 2, "two cards for six changes");
    assert!(
        fake.delivered("/cgi-bin/message/send")
            .iter()
            .all(|v| v["msgtype"] != "text" || v["touser"] != "op1|viewer1"),
        "no alert of the group went out as a message of its own"
    );

    // The group fires again later: a new card, not an update of the resolved one.
    notify(&s, "firing", &["d:9100"]).await;
    eventually("a new card for the new trouble", || {
        (fake.cards().len() == 3).then_some(())
    })
    .await;
    assert_eq!(successful_updates(&fake), 3);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn a_burst_in_one_notification_is_one_card_listing_all_of_it() {
    let (fake, s, _peer) = start().await;
    notify(&s, "firing", &["a:9100", "b:9100", "c:9100"]).await;
    let (card, _) = eventually("the burst's card", || fake.cards().into_iter().next()).await;
    let v = fake.card_view(&card, "op1").unwrap();
    assert_eq!(listed(&v).len(), 3, "{v}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.cards().len(), 1);
    s.stop().await.unwrap();
}

/// Texts `message/send` delivered to both users.
fn lines_to_both(fake: &FakeTencent) -> Vec<String> {
    fake.delivered("/cgi-bin/message/send")
        .into_iter()
        .filter(|v| v["touser"] == "op1|viewer1" && v["msgtype"] == "text")
        .filter_map(|v| v["text"]["content"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_real_alertmanager_group_joins_one_card_and_resolves_in_one_line() {
    if !alertmanager::available("a_real_alertmanager_group_joins_one_card_and_resolves_in_one_line")
    {
        return;
    }
    let am_port = crate::support::free_port();
    let (fake, s, _peer) = start_with(&am_port.to_string()).await;
    let am = Alertmanager::start(am_port, &s.url("/alertmanager"), "amtoken").await;
    let alert = |instance: &str, ends: Option<String>| {
        let mut a = json!({
            "labels": {"alertname": "DiskFull", "service": "db", "severity": "critical", "instance": instance},
            "annotations": {"summary": format!("disk full on {instance}")},
        });
        if let Some(t) = ends {
            a["endsAt"] = json!(t);
        }
        a
    };
    am.fire(json!([alert("db-1", None)])).await;
    let (card, _) = eventually("the group's card", || fake.cards().into_iter().next()).await;

    // The second alert of the group: Alertmanager sends the group again (both alerts) after
    // its group interval, and the card changes in place.
    am.fire(json!([alert("db-2", None)])).await;
    eventually("the card updated", || {
        (successful_updates(&fake) == 1).then_some(())
    })
    .await;
    let v = fake.card_view(&card, "viewer1").unwrap();
    assert_eq!(listed(&v).len(), 2, "{v}");

    // Both resolve: the card's code is spent, so one message says so for the group.
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    am.fire(json!([
        alert("db-1", Some(past.clone())),
        alert("db-2", Some(past))
    ]))
    .await;
    let line = eventually("the resolution line", || {
        lines_to_both(&fake).into_iter().next()
    })
    .await;
    assert_eq!(line.matches("resolved").count(), 2, "{line}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.cards().len(), 1, "one card for the group");
    assert_eq!(lines_to_both(&fake).len(), 1, "one line for its resolution");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compose_projects_crashes_on_a_real_engine_share_one_card() {
    if !crate::support::docker_available(
        "a_compose_projects_crashes_on_a_real_engine_share_one_card",
    ) {
        return;
    }
    crate::alert_docker::ensure_image();
    // Every test's server watches the shared engine: the route takes this project only.
    let project = format!("wdk-living-{}", std::process::id());
    let (fake, s, _peer) = start_routes(
        &crate::support::free_port().to_string(),
        &format!("match = {{ source = \"docker\", project = \"{project}\" }}"),
    )
    .await;
    for _ in 0..400 {
        if s.readyz().await["components"]["alerts:docker:local"]["ready"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let containers = crate::alert_docker::Containers::new("living");
    let label = format!("com.docker.compose.project={project}");
    containers.run("api", &["--label", &label], "exit 3");
    let (card, _) = eventually("the project's card", || fake.cards().into_iter().next()).await;

    // A second service of the project crashes a moment later (no grouping window): the
    // same card now shows both.
    containers.run("worker", &["--label", &label], "exit 4");
    eventually("the card updated", || {
        (successful_updates(&fake) == 1).then_some(())
    })
    .await;
    let v = fake.card_view(&card, "op1").unwrap();
    assert_eq!(listed(&v).len(), 2, "{v}");
    let text = v.to_string();
    assert!(text.contains("api") && text.contains("worker"), "{v}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.cards().len(), 1, "one card for the project's burst");
    s.stop().await.unwrap();
}
