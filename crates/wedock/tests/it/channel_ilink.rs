//! Personal WeChat through Tencent's bot API (iLink), end to end against the fake server of
//! `support/fake_ilink.rs`: QR login from the CLI, answers in the same chat with the latest
//! context token, roles, the ~10-per-message quota, silent loss, -14 expiry, and a restart
//! between long-polls.

use crate::support::fake_ilink::FakeIlink;
use crate::support::fake_robot::FakeRobot;
use crate::support::{TestServer, wedock_bin};
use std::path::Path;
use std::time::Duration;
use wedock::channel::ilink::{self, Account};
use wedock::store::{OutboxStatus, SqliteStore, Store};

const ALICE: &str = "o9cq80AliceAliceAliceAliceAlic@im.wechat";
const BOB: &str = "o9cq80BobBobBobBobBobBobBobBo@im.wechat";

fn config(fake: &FakeIlink, data: &Path, extra: &str) -> String {
    format!(
        r#"
[store]
data_dir = "{}"

[api]
ilink_base = "{}"

[weixin]
enabled = true
relogin_check_secs = 1
long_poll_ms = 300
{extra}

[[weixin.accounts]]
name = "main"

[identity.users]
"weixin:{ALICE}" = "admin"
"#,
        data.display(),
        fake.base()
    )
}

/// Binds a bot of the fake to `owner` as account `main`, the way a login would store it.
async fn seed(fake: &FakeIlink, data: &Path, owner: &str) -> Account {
    let (bot_id, token) = fake.add_bot(owner);
    let store = SqliteStore::open(data).unwrap();
    let acct = Account {
        name: "main".into(),
        bot_token: token,
        bot_id,
        base_url: fake.base(),
        user_id: owner.into(),
        saved_at: wedock::store::now_ms(),
        expired_at: None,
    };
    ilink::save_account(&store, &acct).await.unwrap();
    store.flush().await.unwrap();
    acct
}

async fn bound(fake: &FakeIlink, extra: &str) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(fake, &data, ALICE).await;
    let server = TestServer::start(&config(fake, &data, extra)).await;
    (server, dir)
}

/// A runbook far longer than one WeChat message (≈ 5 chunks of 4000 characters).
fn giant_runbook(dir: &Path) -> String {
    let kb = dir.join("kb");
    std::fs::create_dir_all(&kb).unwrap();
    let mut body = String::from("# zebraquux giant runbook\n\n");
    // One list item per step: answers are Markdown, where lines without a marker or a blank
    // line between them are one paragraph.
    for i in 0..180 {
        body.push_str(&format!(
            "- step {i:03}: {}\n",
            "check the zebraquux pipes ".repeat(4)
        ));
    }
    std::fs::write(kb.join("giant.md"), body).unwrap();
    format!("\n[knowledge]\ndirs = [\"{}\"]\n", kb.display())
}

async fn wait_delivered(fake: &FakeIlink, user: &str, n: usize) -> Vec<String> {
    fake.wait_for(&format!("{n} deliveries to {user}"), |f| {
        f.delivered_to(user).len() >= n
    })
    .await;
    fake.delivered_to(user)
}

#[tokio::test]
async fn cli_login_follows_expired_qr_and_redirect_then_status_and_logout() {
    crate::support::init();
    let fake = FakeIlink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("wedock.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &cfg,
        format!(
            "[store]\ndata_dir = \"{}\"\n[api]\nilink_base = \"{}\"\n",
            data.display(),
            fake.base()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        tokio::process::Command::new(wedock_bin())
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };

    let login = run(&["weixin", "login", "--name", "main"]);
    fake.wait_for("first QR", |f| f.qr_count() == 1).await;
    // The first QR dies unscanned: a new one is fetched.
    fake.expire_qr();
    fake.wait_for("second QR", |f| f.qr_count() == 2).await;
    fake.scan();
    fake.wait_for("scaned answered", |f| {
        f.status_polls().iter().any(|(_, s)| s == "scaned")
    })
    .await;
    fake.redirect();
    fake.wait_for("a poll on the redirect host", |f| {
        f.status_polls().iter().any(|(l, _)| *l == 1)
    })
    .await;
    fake.confirm(ALICE);
    let out = tokio::time::timeout(Duration::from_secs(20), login.wait_with_output())
        .await
        .expect("login finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The QR is drawn in the terminal, with the URL to open as a fallback, twice.
    assert!(stdout.contains('▀') || stdout.contains('▄'), "{stdout}");
    assert_eq!(stdout.matches("/q/fake?qrcode=").count(), 2, "{stdout}");
    assert!(
        stdout.contains("expired") && stdout.contains("bound"),
        "{stdout}"
    );
    // After the redirect every poll went to the other host.
    let polls = fake.status_polls();
    let at = polls
        .iter()
        .position(|(_, s)| s == "scaned_but_redirect")
        .expect("redirect answered");
    assert!(polls[at + 1..].iter().all(|(l, _)| *l == 1), "{polls:?}");

    let out = run(&["weixin", "status", "--json"])
        .wait_with_output()
        .await
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["name"], "main");
    assert_eq!(v["state"], "active");
    assert_eq!(v["user_id"], ALICE);
    assert!(v["bot_id"].as_str().unwrap().ends_with("@im.bot"));
    assert!(
        !line.contains("tok-"),
        "status must not print the token: {line}"
    );

    // Scanning again from this client: the server recognises the stored token.
    let again = run(&["weixin", "login", "--name", "main"]);
    fake.wait_for("third QR", |f| f.qr_count() == 3).await;
    fake.confirm(ALICE);
    let out = again.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("already bound"),
        "{stdout}"
    );

    let out = run(&["weixin", "logout", "--name", "main"])
        .wait_with_output()
        .await
        .unwrap();
    assert!(out.status.success());
    let out = run(&["weixin", "status", "--json"])
        .wait_with_output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
}

#[tokio::test]
async fn direct_messages_are_answered_in_the_same_chat_once_with_typing() {
    let fake = FakeIlink::start().await;
    let (server, _dir) = bound(&fake, "typing_after_ms = 0").await;
    fake.wait_for("polling", |f| f.polls() >= 1).await;
    assert_eq!(fake.notify_calls(), vec!["start"]);

    let first = fake.inject_text(ALICE, "/whoami", false);
    assert!(first > 1 << 53, "the fake hands out ids above 2^53");
    let got = wait_delivered(&fake, ALICE, 1).await;
    assert!(got[0].contains(&format!("weixin:{ALICE}")), "{got:?}");
    assert!(got[0].contains("admin"), "{got:?}");
    // The reply carried the newest context token (the fake refuses any other) and the
    // documented headers.
    let sent = fake.sent();
    assert_eq!(sent[0].outcome, "delivered");
    assert_eq!(sent[0].auth_type, "ilink_bot_token");
    assert!(!sent[0].uin.is_empty() && !sent[0].client_id.is_empty());
    // "typing…" was shown and cancelled.
    let typing = fake.typing();
    assert_eq!(typing.first(), Some(&(ALICE.to_string(), 1)), "{typing:?}");
    assert_eq!(typing.last(), Some(&(ALICE.to_string(), 2)), "{typing:?}");

    // An id sent as a string works the same; a redelivered message is not answered again.
    fake.inject_text(ALICE, "/ping", true);
    let got = wait_delivered(&fake, ALICE, 2).await;
    assert!(got[1].contains("pong"), "{got:?}");
    fake.redeliver(first);
    let polls = fake.polls();
    fake.wait_for("two more polls", |f| f.polls() >= polls + 2)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.delivered_to(ALICE).len(),
        2,
        "{:?}",
        fake.delivered_to(ALICE)
    );

    // A question reaches the knowledge base like on every other channel.
    fake.inject_text(ALICE, "怎么查看容器日志", false);
    let got = wait_delivered(&fake, ALICE, 3).await;
    assert!(got[2].contains("docker logs"), "{got:?}");

    let ready: serde_json::Value = server.readyz().await;
    let detail = ready["components"]["weixin:main"]["detail"]
        .as_str()
        .unwrap();
    assert!(detail.starts_with("polling"), "{ready}");
}

#[tokio::test]
async fn an_unknown_guest_is_refused_an_admin_command_and_the_admin_is_not() {
    let fake = FakeIlink::start().await;
    let (_server, _dir) = bound(&fake, "").await;
    fake.inject_text(BOB, "/audit", false);
    let got = wait_delivered(&fake, BOB, 1).await;
    assert!(
        got[0].contains("权限不足") || got[0].contains("requires"),
        "{got:?}"
    );
    assert!(got[0].contains("guest"), "{got:?}");
    fake.inject_text(ALICE, "/audit", false);
    let got = wait_delivered(&fake, ALICE, 1).await;
    assert!(!got[0].contains("权限不足"), "{got:?}");
    assert!(
        got[0].contains("审计") || got[0].contains("audit"),
        "{got:?}"
    );
}

#[tokio::test]
async fn quota_refusal_is_reported_and_the_rest_comes_after_the_next_message() {
    // The server allows 3 sends per user message; wedock thinks 10.
    let fake = FakeIlink::start_with(3, false).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&fake, &data, ALICE).await;
    let kb = giant_runbook(dir.path());
    let server = TestServer::start(&config(&fake, &data, &kb)).await;

    fake.inject_text(ALICE, "zebraquux giant runbook", false);
    fake.wait_for("a refused send", |f| {
        f.sent().iter().any(|s| s.outcome == "refused:quota")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = fake.sent();
    assert_eq!(fake.delivered_to(ALICE).len(), 3, "{sent:?}");
    // After the server said no, nothing else was tried.
    assert_eq!(
        sent.iter()
            .filter(|s| s.outcome.starts_with("refused"))
            .count(),
        1
    );
    let first_three = fake.delivered_to(ALICE).concat();
    assert!(first_three.contains("step 000"));

    // The user writes again: the refusal is reported and the rest follows, packed.
    fake.inject_text(ALICE, "/ping", false);
    fake.wait_for("pong", |f| {
        f.delivered_to(ALICE).iter().any(|t| t.contains("pong"))
    })
    .await;
    let after: Vec<String> = fake.delivered_to(ALICE)[3..].to_vec();
    assert!(
        after[0].contains("拒绝") || after[0].contains("refused"),
        "{after:?}"
    );
    let all = fake.delivered_to(ALICE).concat();
    for i in 0..180 {
        assert!(all.contains(&format!("step {i:03}")), "step {i} lost");
    }
    assert!(after.len() <= 3, "packed into the budget: {}", after.len());

    // The refused row is recorded as such, never as sent.
    let store = SqliteStore::open(&data).unwrap();
    let dead = store
        .outbox_list(Some(OutboxStatus::Dead), 50)
        .await
        .unwrap();
    assert!(
        dead.iter()
            .any(|m| m.channel == "weixin"
                && m.last_error.as_deref().unwrap_or("").contains("ret -2")),
        "{dead:?}"
    );
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("wedock_weixin_sends_total{result=\"refused\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_long_reply_is_packed_into_the_local_budget_not_dropped() {
    let fake = FakeIlink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&fake, &data, ALICE).await;
    let extra = format!("per_inbound = 2\n{}", giant_runbook(dir.path()));
    let _server = TestServer::start(&config(&fake, &data, &extra)).await;

    fake.inject_text(ALICE, "zebraquux giant runbook", false);
    let got = wait_delivered(&fake, ALICE, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.sent().len(), 2, "the budget of 2 is kept locally");
    assert!(got.iter().all(|t| t.chars().count() <= 4000));
    assert!(
        got[1].contains("send anything to continue"),
        "{}",
        &got[1][got[1].len() - 200..]
    );

    fake.inject_text(ALICE, "more", false);
    wait_delivered(&fake, ALICE, 4).await;
    fake.inject_text(ALICE, "more", false);
    fake.wait_for("the last step", |f| {
        f.delivered_to(ALICE).concat().contains("step 179")
    })
    .await;
    let all = fake.delivered_to(ALICE).concat();
    for i in 0..180 {
        assert!(all.contains(&format!("step {i:03}")), "step {i} lost");
    }
    assert!(fake.sent().iter().all(|s| s.outcome == "delivered"));
}

#[tokio::test]
async fn silent_loss_is_recorded_as_undelivered_not_sent() {
    let fake = FakeIlink::start().await;
    let (_server, dir) = bound(&fake, "").await;
    fake.silent_drop(BOB);
    fake.inject_text(BOB, "/ping", false);
    fake.wait_for("a dropped send", |f| {
        f.sent().iter().any(|s| s.outcome == "dropped")
    })
    .await;
    let store = SqliteStore::open(&dir.path().join("data")).unwrap();
    for _ in 0..100 {
        if store.outbox_counts().await.unwrap().undelivered == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let c = store.outbox_counts().await.unwrap();
    assert_eq!((c.undelivered, c.sent), (1, 0), "{c:?}");
}

#[tokio::test]
async fn session_expiry_mid_conversation_stops_reports_and_waits_for_a_login() {
    let fake = FakeIlink::start().await;
    let robot = FakeRobot::start().await;
    let extra = "notify = [\"robot:ops\"]\n\n[[wecom.robots]]\nname = \"ops\"\nkey = \"k-ops\"\n";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&fake, &data, ALICE).await;
    let toml = config(&fake, &data, extra).replace(
        "[api]\n",
        &format!("[api]\nrobot_base = \"{}\"\n", robot.base()),
    );
    let server = TestServer::start(&toml).await;

    fake.inject_text(ALICE, "/ping", false);
    wait_delivered(&fake, ALICE, 1).await;
    fake.expire_tokens();
    // Readiness names the account and what to do.
    let mut detail = String::new();
    for _ in 0..150 {
        let v: serde_json::Value = server.readyz().await;
        detail = v["components"]["weixin:main"]["detail"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if detail.contains("session expired") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        detail.contains("wedock weixin login --name main"),
        "{detail}"
    );
    // Admins on another channel are told.
    for _ in 0..150 {
        if !robot.posts("k-ops").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let posts = robot.posts("k-ops");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0].content.contains("-14") && posts[0].content.contains("main"));
    // No retry loop against a server that answers instantly: the -14 was the last call.
    let calls = fake.poll_calls();
    let polls = fake.polls();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.poll_calls(), calls, "polling continued after -14");

    // A new login resumes the account with a fresh cursor.
    seed(&fake, &data, ALICE).await;
    fake.wait_for("polling again", |f| f.polls() > polls).await;
    assert_eq!(
        fake.cursors()[polls],
        "",
        "a new binding starts from an empty cursor"
    );
    fake.inject_text(ALICE, "/ping", false);
    wait_delivered(&fake, ALICE, 2).await;
}

#[tokio::test]
async fn restart_between_long_polls_loses_nothing_and_answers_once() {
    let fake = FakeIlink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&fake, &data, ALICE).await;
    let toml = config(&fake, &data, "");

    let a = TestServer::start(&toml).await;
    let first = fake.inject_text(ALICE, "/ping", false);
    wait_delivered(&fake, ALICE, 1).await;
    a.stop().await.unwrap();
    fake.wait_for("no poll in flight", |f| f.active_polls() == 0)
        .await;
    let cursor_before = fake.cursors().last().cloned().unwrap();
    let polls = fake.polls();

    // Written while wedock is down: the server holds it for the next poll.
    fake.inject_text(ALICE, "/whoami", false);
    let b = TestServer::start(&toml).await;
    let got = wait_delivered(&fake, ALICE, 2).await;
    assert!(got[1].contains("admin"), "{got:?}");
    // The restarted process went on from the stored cursor, not from the start.
    assert_eq!(fake.cursors()[polls], cursor_before);
    assert_ne!(cursor_before, "");
    // A redelivery of the message answered before the restart is still a duplicate.
    fake.redeliver(first);
    let now = fake.polls();
    fake.wait_for("two more polls", |f| f.polls() >= now + 2)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.delivered_to(ALICE).len(),
        2,
        "{:?}",
        fake.delivered_to(ALICE)
    );
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_batch_stored_before_a_crash_is_answered_after_restart() {
    let fake = FakeIlink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&fake, &data, ALICE).await;
    // The server handed the message out; the process stored it and died before answering.
    fake.inject_text(ALICE, "/ping", false);
    let batch = fake.take_pending();
    assert_eq!(batch.len(), 1);
    {
        let store = SqliteStore::open(&data).unwrap();
        ilink::poller::stash(&store, "main", &batch).await.unwrap();
        store.flush().await.unwrap();
    }
    let _server = TestServer::start(&config(&fake, &data, "")).await;
    let got = wait_delivered(&fake, ALICE, 1).await;
    assert!(got[0].contains("pong"), "{got:?}");
    let polls = fake.polls();
    fake.wait_for("two more polls", |f| f.polls() >= polls + 2)
        .await;
    assert_eq!(fake.sent().len(), 1, "answered once");
}

#[tokio::test]
async fn an_alert_outside_the_window_is_held_and_follows_the_next_message() {
    let fake = FakeIlink::start().await;
    let (_server, dir) = bound(&fake, "").await;
    fake.inject_text(ALICE, "/ping", false);
    wait_delivered(&fake, ALICE, 1).await;
    // A day later (server clock) an alert is routed to Alice.
    fake.advance(Duration::from_secs(25 * 3600));
    let store = SqliteStore::open(&dir.path().join("data")).unwrap();
    store
        .outbox_enqueue(wedock::store::NewOutboxMessage {
            channel: "weixin".into(),
            target: format!("main/{ALICE}"),
            payload: wedock::outbox::payload::body(
                wedock::render::Format::Text,
                "web-1 died (exit 137)",
            ),
            dedup_key: None,
        })
        .await
        .unwrap();
    fake.wait_for("the window refusal", |f| {
        f.sent().iter().any(|s| s.outcome == "refused:window")
    })
    .await;
    fake.inject_text(ALICE, "/ping", false);
    let got = wait_delivered(&fake, ALICE, 2).await;
    assert!(
        got[1].contains("拒绝") || got[1].contains("refused"),
        "{got:?}"
    );
    assert!(
        got[1].contains("web-1 died (exit 137)") && got[1].contains("pong"),
        "{got:?}"
    );
}

#[tokio::test]
async fn the_console_shows_a_qr_login_and_the_new_account_is_served() {
    let fake = FakeIlink::start().await;
    // A scan for new accounts only every minute: the console's login must wake the poller
    // manager itself, or the new account would wait that long to be served.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed(&fake, &data, ALICE).await;
    let cfg = config(&fake, &data, "").replace("relogin_check_secs = 1", "relogin_check_secs = 60");
    let server = TestServer::start(&cfg).await;
    let client = server.client();
    let r = client
        .post(server.url("/api/weixin/login"))
        .json(&serde_json::json!({"name": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    fake.wait_for("a QR", |f| f.qr_count() == 1).await;
    let get = || async {
        client
            .get(server.url("/api/weixin"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let mut v = get().await;
    for _ in 0..500 {
        if v["login"]["qr_svg"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        v = get().await;
    }
    assert!(
        v["login"]["qr_svg"].as_str().unwrap().starts_with("<svg"),
        "{v}"
    );
    assert_eq!(v["login"]["name"], "phone");
    // A second login while one runs is refused.
    let r = client
        .post(server.url("/api/weixin/login"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    fake.scan();
    fake.confirm(BOB);
    for _ in 0..800 {
        v = get().await;
        if v["login"]["done"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(v["login"]["status"], "confirmed", "{v}");
    assert!(
        v["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "phone")
    );
    assert!(
        !v.to_string().contains("tok-"),
        "tokens never reach the console"
    );
    // The manager picks the new account up and answers its user.
    fake.inject_text(BOB, "/ping", false);
    let got = wait_delivered(&fake, BOB, 1).await;
    assert!(got[0].contains("pong"));
}

#[tokio::test]
async fn cli_login_asks_for_the_number_on_the_phone_until_it_is_right() {
    use tokio::io::AsyncWriteExt;
    crate::support::init();
    let fake = FakeIlink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("wedock.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\ndata_dir = \"{}\"\n[api]\nilink_base = \"{}\"\n",
            dir.path().join("data").display(),
            fake.base()
        ),
    )
    .unwrap();
    let mut login = tokio::process::Command::new(wedock_bin())
        .arg("--config")
        .arg(&cfg)
        .args(["weixin", "login", "--name", "ops-phone"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = login.stdin.take().unwrap();
    fake.wait_for("a QR", |f| f.qr_count() == 1).await;
    fake.require_code("482913");
    fake.wait_for("the code asked for", |f| {
        f.status_polls().iter().any(|(_, s)| s == "need_verifycode")
    })
    .await;
    // A wrong number: asked again on the same QR.
    stdin.write_all(b"111111\n").await.unwrap();
    fake.wait_for("asked again", |f| {
        f.status_polls()
            .iter()
            .filter(|(_, s)| s == "need_verifycode")
            .count()
            >= 2
    })
    .await;
    stdin.write_all(b"482913\n").await.unwrap();
    fake.wait_for("accepted", |f| {
        f.status_polls().iter().any(|(_, s)| s == "scaned")
    })
    .await;
    fake.confirm(BOB);
    let out = tokio::time::timeout(Duration::from_secs(20), login.wait_with_output())
        .await
        .expect("login finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("ops-phone") && stdout.contains(BOB),
        "{stdout}"
    );
    assert_eq!(fake.qr_count(), 1, "a wrong code is not a new QR");
}
