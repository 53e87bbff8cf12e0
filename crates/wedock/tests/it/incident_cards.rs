//! Alert cards through the WeCom self-built app against the fake platform (card model of
//! wecom-template-card.md §8): a webhook alert arrives as a `button_interaction` card to two
//! users; a viewer's click is refused to the viewer only and changes no card; an operator's
//! click acknowledges and updates everyone's copy in place with the click's response code; a
//! double click acknowledges once; a click answered after the code expired falls back to a
//! short message.

use crate::channel_wecom::{self, CORP, Peer};
use crate::support::TestServer;
use crate::support::fake_tencent::FakeTencent;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

pub(crate) async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = std::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn keys(card: &Value) -> Vec<String> {
    card["button_list"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|b| b["key"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Texts `message/send` delivered to `user`.
fn texts_to(fake: &FakeTencent, user: &str) -> Vec<String> {
    fake.delivered("/cgi-bin/message/send")
        .into_iter()
        .filter(|v| v["touser"] == user && v["msgtype"] == "text")
        .filter_map(|v| v["text"]["content"].as_str().map(str::to_string))
        .collect()
}

pub async fn start() -> (FakeTencent, TestServer, Peer) {
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

[alerts.hooks.ci]
token = "hooktoken"
targets = ["wecom_app:op1|viewer1"]
"#,
        channel_wecom::config(&fake, 0)
    );
    let s = TestServer::start(&toml).await;
    let peer = Peer::new(&s);
    // Both users write English, so their replies are in English.
    for u in ["op1", "viewer1"] {
        peer.post(&channel_wecom::text_xml(u, &format!("hello-{u}"), "hello"))
            .await;
    }
    (fake, s, peer)
}

/// Fires a webhook alert and returns the card's msgid and the alert id its buttons carry.
pub async fn alert_card(fake: &FakeTencent, s: &TestServer) -> (String, String) {
    let r = reqwest::Client::new()
        .post(s.url("/hooks/ci"))
        .bearer_auth("hooktoken")
        .json(&json!({"text": "nightly backup failed", "severity": "critical", "id": "b1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (msgid, users) = eventually("a card", || fake.cards().into_iter().next()).await;
    assert_eq!(users, vec!["op1", "viewer1"]);
    let view = fake.card_view(&msgid, "op1").unwrap();
    assert_eq!(view["card_type"], "button_interaction");
    assert!(
        view["main_title"]["title"].as_str().unwrap().contains("🔴"),
        "{view}"
    );
    let k = keys(&view);
    let ack = k
        .iter()
        .find(|k| k.starts_with("/ack "))
        .expect("an ack button");
    let id = ack.trim_start_matches("/ack ").to_string();
    assert_eq!(
        k,
        vec![
            format!("/ack {id}"),
            format!("/silence {id} 1h"),
            format!("/silence {id} 4h"),
            format!("/resolve {id}"),
        ],
        "webhook alerts get 已解决, not 诊断"
    );
    (msgid, id)
}

#[tokio::test]
async fn viewer_click_is_refused_operator_click_acks_and_updates_the_card() {
    let (fake, s, peer) = start().await;
    let (msgid, id) = alert_card(&fake, &s).await;
    let before = fake.card_view(&msgid, "viewer1").unwrap();

    // The viewer's click: refused, told to the viewer only, no card changes.
    let ev = fake
        .click(CORP, &msgid, "viewer1", &format!("/ack {id}"))
        .unwrap();
    assert_eq!(peer.post(&ev).await.0, 200);
    let why = eventually("the refusal", || {
        texts_to(&fake, "viewer1")
            .into_iter()
            .find(|t| t.contains("operator"))
    })
    .await;
    assert!(why.contains("/ack"), "{why}");
    assert!(
        texts_to(&fake, "op1")
            .iter()
            .all(|t| !t.contains("operator"))
    );
    assert!(fake.card_updates().is_empty());
    assert_eq!(fake.card_view(&msgid, "viewer1").unwrap(), before);

    // The operator's click: acknowledged, everyone's copy updated with the click's code.
    let ev = fake
        .click(CORP, &msgid, "op1", &format!("/ack {id}"))
        .unwrap();
    assert_eq!(peer.post(&ev).await.0, 200);
    eventually("the card update", || {
        fake.card_updates()
            .iter()
            .any(|(_, code)| *code == 0)
            .then_some(())
    })
    .await;
    for u in ["op1", "viewer1"] {
        let v = fake.card_view(&msgid, u).unwrap();
        let sub = v["sub_title_text"].as_str().unwrap_or("");
        assert!(sub.contains("acked by op1"), "{u}: {v}");
        assert!(!keys(&v).contains(&format!("/ack {id}")), "{u}: {v}");
    }
    let (upd, _) = fake.card_updates().into_iter().next().unwrap();
    assert_eq!(upd["atall"], 1);
    assert_eq!(upd["agentid"], 1000002);
    let audit = s.chat("/audit 20").await["reply"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        audit.contains("acked") && audit.contains("wecom:op1"),
        "{audit}"
    );
    assert!(
        audit.contains("wecom:viewer1"),
        "the refusal is audited too: {audit}"
    );

    // The resolution changes everyone's card in place with the code its send brought: no
    // second card, no extra message.
    let updates_before = fake.card_updates().len();
    resolve(&s).await;
    eventually("the resolved card", || {
        (fake.card_updates().len() > updates_before).then_some(())
    })
    .await;
    let (upd, code) = fake.card_updates().pop().unwrap();
    assert_eq!((code, &upd["atall"]), (0, &json!(1)), "{upd}");
    for u in ["op1", "viewer1"] {
        let v = fake.card_view(&msgid, u).unwrap();
        let title = v["main_title"]["title"].as_str().unwrap_or("");
        assert!(title.starts_with("✅"), "{u}: {v}");
        assert!(!keys(&v).contains(&format!("/silence {id} 1h")), "{u}: {v}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        fake.delivered("/cgi-bin/message/send")
            .iter()
            .all(|v| v["msgtype"] != "text" || v["touser"] != "op1|viewer1"),
        "no resolution line when the card changed"
    );
    assert_eq!(fake.cards().len(), 1, "no second card");
    s.stop().await.unwrap();
}

/// The webhook alert of `alert_card` resolves.
async fn resolve(s: &TestServer) {
    let r = reqwest::Client::new()
        .post(s.url("/hooks/ci"))
        .bearer_auth("hooktoken")
        .json(&json!({"text": "nightly backup failed", "severity": "resolved", "id": "b1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn double_click_acks_once_and_late_update_falls_back_to_a_message() {
    let (fake, s, peer) = start().await;
    let (msgid, id) = alert_card(&fake, &s).await;
    // Two clicks before the card changed (a double tap): two events, two codes.
    let key = format!("/ack {id}");
    let e1 = fake.click(CORP, &msgid, "op1", &key).unwrap();
    let e2 = fake.click(CORP, &msgid, "op1", &key).unwrap();
    let (a, b) = tokio::join!(peer.post(&e1), peer.post(&e2));
    assert_eq!((a.0, b.0), (200, 200));
    eventually("both clicks answered", || {
        (fake.card_updates().iter().filter(|(_, c)| *c == 0).count() == 2).then_some(())
    })
    .await;
    let audit = s.chat("/audit 20").await["reply"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(audit.matches("acked").count(), 1, "{audit}");
    // The platform retrying one event (no 200 seen) does not run it again.
    assert_eq!(peer.post(&e1).await.0, 200);

    // A click whose answer comes after the code's lifetime: a short message instead.
    let e4 = fake
        .click(CORP, &msgid, "op1", &format!("/silence {id} 1h"))
        .unwrap();
    fake.advance_clock(Duration::from_secs(73 * 3600));
    assert_eq!(peer.post(&e4).await.0, 200);
    let line = eventually("the fallback line", || {
        texts_to(&fake, "op1")
            .into_iter()
            .find(|t| t.contains("silenced"))
    })
    .await;
    assert!(line.contains("op1"), "{line}");
    assert!(fake.card_updates().iter().any(|(_, c)| *c == 60140));

    // The send's code has expired too: once the silence is lifted, the resolution is one
    // short line to both.
    let lifted = s.chat(&format!("/unsilence {id}")).await;
    assert!(lifted["kind"] != "error", "{lifted}");
    resolve(&s).await;
    let line = eventually("the resolution line", || {
        fake.delivered("/cgi-bin/message/send")
            .into_iter()
            .find(|v| v["touser"] == "op1|viewer1" && v["msgtype"] == "text")
    })
    .await;
    let text = line["text"]["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("#{id}")) && text.contains("resolved"),
        "{text}"
    );
    assert_eq!(fake.cards().len(), 1, "no second card");
    s.stop().await.unwrap();
}
