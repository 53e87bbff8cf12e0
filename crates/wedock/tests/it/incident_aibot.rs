//! Alert cards in a group through the intelligent robot (wecom-aibot-ws.md §9, §12, §13):
//! a webhook alert to `aibot:CHATID` is a `button_interaction` card; an operator's click
//! acknowledges and updates the card for everyone with `aibot_respond_update_msg` within
//! its window; a viewer's click is refused on the viewer's copy only and changes nothing;
//! a click answered after the window is told as a short message instead.

use crate::incident_cards::keys;
use crate::support::TestServer;
use crate::support::fake_tencent::aibot::FakeAibot;
use serde_json::{Value, json};
use std::time::Duration;

const BOT: &str = "aibCardBot01";
const SECRET: &str = "aibot-card-secret";
const GROUP: &str = "wrkOpsGroup";

async fn start() -> (FakeAibot, TestServer) {
    let fake = FakeAibot::start(BOT, SECRET).await;
    let toml = format!(
        r#"
[wecom.aibot]
mode = "websocket"
bot_id = "{BOT}"
secret = "{SECRET}"
heartbeat_secs = 1
reconnect_min_ms = 50

[api]
aibot_ws_url = "{url}"

[limits]
commands_per_minute = 0

[identity.users]
"aibot:op1" = "operator"
"aibot:viewer1" = "viewer"

[alerts]
lang = "en"

[alerts.hooks.ci]
token = "hooktoken"
targets = ["aibot:{GROUP}"]
"#,
        url = fake.url()
    );
    let s = TestServer::start(&toml).await;
    fake.wait_until("subscribe", |f| f.subscribes() == 1).await;
    // People have written in the group (the platform pushes only there), in English.
    for u in ["op1", "viewer1"] {
        let cb = fake.inject_text(u, Some(GROUP), "hello");
        fake.wait_until("a reply", |f| {
            f.replies_to(&cb)
                .iter()
                .any(|r| r["body"]["stream"]["finish"] == true)
        })
        .await;
    }
    (fake, s)
}

/// Fires a webhook alert and returns the card the group got.
async fn alert_card(fake: &FakeAibot, s: &TestServer) -> Value {
    let r = reqwest::Client::new()
        .post(s.url("/hooks/ci"))
        .bearer_auth("hooktoken")
        .json(&json!({"text": "nightly backup failed", "severity": "critical", "id": "b1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    fake.wait_until("a card", |f| {
        f.pushes()
            .iter()
            .any(|p| p["body"]["msgtype"] == "template_card")
    })
    .await;
    let push = fake
        .pushes()
        .into_iter()
        .find(|p| p["body"]["msgtype"] == "template_card")
        .unwrap();
    assert_eq!(push["body"]["chatid"], GROUP);
    push["body"]["template_card"].clone()
}

/// The accepted update answering click event `cb`, once it came.
async fn update_for(fake: &FakeAibot, cb: &str) -> Value {
    fake.wait_until("the card update", |f| {
        f.accepted_updates()
            .iter()
            .any(|u| u["headers"]["req_id"] == cb)
    })
    .await;
    fake.accepted_updates()
        .into_iter()
        .find(|u| u["headers"]["req_id"] == cb)
        .unwrap()
}

fn markdown_pushes(fake: &FakeAibot) -> Vec<String> {
    fake.pushes()
        .iter()
        .filter(|p| p["body"]["msgtype"] == "markdown")
        .filter_map(|p| {
            p["body"]["markdown"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test]
async fn group_card_clicks_ack_for_operators_and_are_refused_to_viewers() {
    let (fake, s) = start().await;
    let card = alert_card(&fake, &s).await;
    assert_eq!(card["card_type"], "button_interaction");
    let task = card["task_id"].as_str().unwrap().to_string();
    let k = keys(&card);
    let ack = k
        .iter()
        .find(|k| k.starts_with("/ack "))
        .expect("an ack button")
        .clone();
    let id = ack.trim_start_matches("/ack ").to_string();
    assert!(k.contains(&format!("/silence {id} 1h")), "{k:?}");

    // The viewer's click: refused on the viewer's copy only; the alert stays unacked.
    let cb = fake.inject_card_click("viewer1", Some(GROUP), &ack, &task);
    let upd = update_for(&fake, &cb).await;
    assert_eq!(upd["body"]["userids"], json!(["viewer1"]), "{upd}");
    let why = upd["body"]["template_card"]["sub_title_text"]
        .as_str()
        .unwrap();
    assert!(why.contains("operator"), "{why}");
    assert!(
        keys(&upd["body"]["template_card"]).contains(&ack),
        "nothing changed"
    );

    // The operator's click: acknowledged, the card updated for everyone, task id kept.
    let cb = fake.inject_card_click("op1", Some(GROUP), &ack, &task);
    let upd = update_for(&fake, &cb).await;
    assert!(upd["body"].get("userids").is_none(), "for everyone: {upd}");
    let card = &upd["body"]["template_card"];
    assert_eq!(card["task_id"], task.as_str());
    let state = card["sub_title_text"].as_str().unwrap();
    assert!(state.contains("acked by op1"), "{state}");
    assert!(!keys(card).contains(&ack), "no ack button once acked");

    // A double click: harmless, says who was first, acks nothing twice.
    let cb2 = fake.inject_card_click("op1", Some(GROUP), &ack, &task);
    fake.wait_until("the second answer", |f| {
        f.frames()
            .iter()
            .any(|u| u["headers"]["req_id"] == cb2.as_str())
    })
    .await;
    let audit = s.chat("/audit 20").await;
    let text = audit["reply"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        text.matches("acked").count(),
        1,
        "one ack in the audit log: {text}"
    );
}

#[tokio::test]
async fn a_click_answered_after_the_window_is_told_as_a_message() {
    let (fake, s) = start().await;
    let card = alert_card(&fake, &s).await;
    let task = card["task_id"].as_str().unwrap().to_string();
    let ack = keys(&card)
        .into_iter()
        .find(|k| k.starts_with("/ack "))
        .unwrap();
    // The platform closes the update window at once.
    fake.set_update_window(Duration::ZERO);
    fake.inject_card_click("op1", Some(GROUP), &ack, &task);
    fake.wait_until("the fallback message", |f| {
        markdown_pushes(f)
            .iter()
            .any(|m| m.contains("Acknowledged"))
    })
    .await;
    assert!(fake.accepted_updates().is_empty());
}
