//! Alertmanager both ways, against the real Debian 0.25 binary: an alert it sends names an
//! id; `/silence ID` creates a real silence with the group's labels as matchers and the
//! sender as creator; `/silences` lists it; `/unsilence` expires it; an unknown silence id
//! (0.25 answers 500) is reported as unknown, not as a failure.

use crate::support::alertmanager::{self, Alertmanager};
use crate::support::fake_robot::FakeRobot;
use crate::support::{TestServer, free_port};
use serde_json::{Value, json};
use std::time::Duration;

async fn chat(s: &TestServer, text: &str) -> (String, String) {
    let v = s.chat(text).await;
    (
        v["reply"].as_str().unwrap_or_default().to_string(),
        v["kind"].as_str().unwrap_or_default().to_string(),
    )
}

fn active(list: &[Value]) -> Vec<&Value> {
    list.iter()
        .filter(|s| s["status"]["state"] == "active")
        .collect()
}

#[tokio::test]
async fn silence_from_chat_is_a_real_alertmanager_silence() {
    if !alertmanager::available("silence_from_chat_is_a_real_alertmanager_silence") {
        return;
    }
    let fake = FakeRobot::start().await;
    let am_port = free_port();
    let toml = crate::alerts::config(
        &fake,
        &format!("[alerts.alertmanager]\nurl = \"http://127.0.0.1:{am_port}\"\n"),
        "[limits]\ncommands_per_minute = 0\n",
    );
    let s = TestServer::start(&toml).await;
    // Commands answer in the language the user last wrote in: English here.
    chat(&s, "hello").await;
    let am = Alertmanager::start(am_port, &s.url("/alertmanager"), "amtoken").await;
    am.fire(json!([{
        "labels": {"alertname": "HighLatency", "service": "api", "severity": "critical", "instance": "a:9100"},
        "annotations": {"summary": "p99 > 1s"}
    }]))
    .await;
    assert!(
        fake.wait_for("K-ops", Duration::from_secs(20), |p| p
            .iter()
            .any(
                |p| p.content.contains("HighLatency") && p.content.contains("/ack ")
            ))
        .await,
        "Alertmanager's notification never reached the robot"
    );
    let post = fake
        .posts("K-ops")
        .into_iter()
        .find(|p| p.content.contains("HighLatency"))
        .unwrap();
    let id = crate::incidents::id_in(&post.content);

    let (t, _) = chat(&s, &format!("/silence {id} 1h rolling out a fix")).await;
    assert!(t.contains("Alertmanager silence"), "{t}");
    let list = am.silences().await;
    let act = active(&list);
    assert_eq!(act.len(), 1, "{list:?}");
    let sil = act[0];
    let mut matchers: Vec<(String, String)> = sil["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["isRegex"], false);
            (
                m["name"].as_str().unwrap().to_string(),
                m["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    matchers.sort();
    assert_eq!(
        matchers,
        vec![
            ("alertname".to_string(), "HighLatency".to_string()),
            ("service".to_string(), "api".to_string())
        ],
        "the group's labels are the matchers"
    );
    let creator = sil["createdBy"].as_str().unwrap().to_string();
    assert!(!creator.is_empty());
    assert!(
        sil["comment"].as_str().unwrap().contains(&format!("#{id}"))
            && sil["comment"]
                .as_str()
                .unwrap()
                .contains("rolling out a fix"),
        "{sil}"
    );
    let sid = sil["id"].as_str().unwrap().to_string();
    assert!(t.contains(&sid), "{t}");

    // The silence works in Alertmanager: the alert is suppressed there.
    let alerts: Vec<Value> = reqwest::get(am.url("/api/v2/alerts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alerts[0]["status"]["state"], "suppressed", "{alerts:?}");

    let (t, _) = chat(&s, "/silences").await;
    let who = creator.rsplit(':').next().unwrap();
    assert!(
        t.contains(&sid) && t.contains(who) && t.contains("alertname="),
        "{t}"
    );
    let (t, _) = chat(&s, "/alerts").await;
    assert!(
        t.contains(&format!("#{id}")) && t.contains("silenced"),
        "{t}"
    );

    let (t, _) = chat(&s, &format!("/unsilence {id}")).await;
    assert!(t.contains("lifted") && t.contains(&sid), "{t}");
    let list = am.silences().await;
    assert!(active(&list).is_empty(), "{list:?}");
    assert!(
        list.iter()
            .any(|x| x["id"] == sid.as_str() && x["status"]["state"] == "expired")
    );

    // An id Alertmanager does not know: 0.25 answers 500; wedock says it is unknown.
    let (t, kind) = chat(&s, "/unsilence 0b0b0b0b-0000-4000-8000-000000000000").await;
    assert_eq!(kind, "error");
    assert!(t.contains("no active silence"), "{t}");

    // Label silences go to Alertmanager too, with who made them.
    let (t, _) = chat(&s, "/silence alertname=DiskFull instance=b:9100 2h").await;
    assert!(t.contains("Alertmanager silence"), "{t}");
    let list = am.silences().await;
    assert_eq!(active(&list).len(), 1, "{list:?}");
    assert_eq!(active(&list)[0]["createdBy"], creator.as_str());
    drop(am);
    s.stop().await.unwrap();
}
