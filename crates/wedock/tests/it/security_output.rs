//! What leaves wedock is safe to show: secrets in container output are redacted, hostile
//! text from containers or Alertmanager cannot format a robot message, and one identity
//! cannot flood commands or answers.

use crate::docker::{Bot, Scope, base_config, ensure_image, wait_for};
use crate::support::TestServer;
use crate::support::docker_available;
use crate::support::fake_robot::FakeRobot;
use serde_json::json;
use std::time::Duration;
use wedock::message::ReplyKind;

/// The issue's hostile log line: closes a fence, mentions everyone, adds a phishing link
/// and a colour.
pub const HOSTILE: &str =
    "```` <@all> [点此处理](http://phish.example) <font color=\"warning\">x</font>";

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJyb290In0.kL9vQ2m3n4b5v6c7x8z9a0s1d2f3g4h5j6k7l8";

/// Asserts that untrusted text in `content` (a robot message) cannot format it: no mention,
/// no link, no colour from the text, and every code fence's body holds no backtick run as
/// long as its fence.
pub fn assert_inert(content: &str) {
    assert!(!content.contains("<@"), "a mention got through:\n{content}");
    assert!(!content.contains("]("), "a link got through:\n{content}");
    assert!(
        !content.contains("<font color=\"warning\">x"),
        "a colour got through:\n{content}"
    );
    let mut open: Option<usize> = None;
    for line in content.lines() {
        let t = line.trim();
        let fence = t.len() >= 3 && t.bytes().all(|b| b == b'`');
        match open {
            None if fence => open = Some(t.len()),
            None => {}
            Some(n) if fence && t.len() >= n => open = None,
            Some(n) => {
                let longest = line.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                assert!(longest < n, "the fence is closed from inside:\n{content}");
            }
        }
    }
    assert!(open.is_none(), "a fence is left open:\n{content}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_logs_and_inspect_replies_carry_no_secrets() {
    if !docker_available("docker_logs_and_inspect_replies_carry_no_secrets") {
        return;
    }
    ensure_image();
    let s = Scope::new("redact");
    let script = format!(
        "echo 'starting'; echo DB_PASSWORD=hunter2; echo 'auth ok token {JWT}'; \
         echo 'connecting to postgres://app:s3cr3tpw@db:5432/shop'; \
         echo '-----BEGIN RSA PRIVATE KEY-----'; \
         echo 'MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2Alq7t8k3XkAcJ5G9m1w6uN8s4Lz'; \
         echo 'q0F1Wc9e2rH8JbY6tK3xP5v7nD0aS4fG2hJ9kL1mN3bV5cX7zQ8wE0rT2yU4iO6p'; \
         echo '-----END RSA PRIVATE KEY-----'; echo 'password reset email sent'; echo done"
    );
    let name = s.run(
        "leaky",
        &["-e", "API_TOKEN=tok-9f8e7d6c5b4a"],
        &["sh", "-c", &script],
    );
    wait_for(&name, "{{.State.Status}}", "exited");
    let bot = Bot::new(&base_config("")).await;

    let r = bot.say("viewer1", &format!("/docker logs {name}")).await;
    assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
    let t = &r.reply;
    for secret in [
        "hunter2",
        JWT,
        "s3cr3tpw",
        "MIIEpAIBAAKCAQEA",
        "q0F1Wc9e2rH8",
    ] {
        assert!(!t.contains(secret), "{secret} leaked:\n{t}");
    }
    assert!(t.contains("DB_PASSWORD=***"), "{t}");
    assert!(t.contains("postgres://app:***@db:5432/shop"), "{t}");
    // Ordinary lines stay as they are.
    assert!(
        t.contains("password reset email sent") && t.contains("done"),
        "{t}"
    );

    // A tail that starts inside the key block (its BEGIN cut off) still shows no key.
    let r = bot
        .say("viewer1", &format!("/docker logs {name} --tail 4"))
        .await;
    assert!(!r.reply.contains("q0F1Wc9e2rH8"), "{}", r.reply);
    assert!(
        r.reply.contains("-----END RSA PRIVATE KEY-----"),
        "{}",
        r.reply
    );

    // inspect shows the environment: values of secret-named variables are masked.
    let r = bot.say("viewer1", &format!("/docker inspect {name}")).await;
    assert!(!r.reply.contains("tok-9f8e7d6c5b4a"), "{}", r.reply);
}

fn robots_config(fake: &FakeRobot) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    format!(
        r#"
[docker]
enabled = false

[api]
robot_base = "{base}"

[[wecom.robots]]
name = "md"
key = "K-md"

[[wecom.robots]]
name = "v2"
key = "K-v2"
format = "markdown_v2"

[[wecom.robots]]
name = "txt"
key = "K-txt"
format = "text"

[alerts]
lang = "zh"
alertmanager_token = "amtoken"

[[alerts.routes]]
name = "everyone"
targets = ["md", "v2", "txt"]
"#,
        base = fake.base()
    )
}

#[tokio::test]
async fn hostile_alertmanager_annotations_reach_the_robot_inert_and_redacted() {
    let fake = FakeRobot::start().await;
    let s = TestServer::start(&robots_config(&fake)).await;
    let body = json!({
        "version": "4",
        "status": "firing",
        "receiver": "wedock",
        "alerts": [{
            "status": "firing",
            "labels": {
                "alertname": "DiskFull [urgent](http://phish.example)",
                "severity": "critical",
                "instance": "<@all> node-a:9100",
            },
            "annotations": {
                "summary": format!("{HOSTILE} DB_PASSWORD=hunter2 token={JWT}"),
                "description": format!("{HOSTILE}\n# 紧急\nDB_PASSWORD=hunter2 Authorization: Bearer {JWT}"),
            },
            "startsAt": "2026-12-06T07:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "fp-hostile",
        }],
    });
    let r = reqwest::Client::new()
        .post(s.url("/alertmanager"))
        .bearer_auth("amtoken")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    for key in ["K-md", "K-v2", "K-txt"] {
        assert!(
            fake.wait_for(key, Duration::from_secs(15), |p| !p.is_empty())
                .await,
            "nothing reached {key}"
        );
        let content = fake.text(key);
        assert!(content.contains("DiskFull"), "{key}: {content}");
        assert!(
            !content.contains("hunter2") && !content.contains(JWT),
            "{key}: {content}"
        );
        assert!(content.contains("DB_PASSWORD=***"), "{key}: {content}");
        assert!(!content.contains("<@all>"), "{key}: {content}");
        assert!(
            !content.contains("<font color=\"warning\">x"),
            "{key}: {content}"
        );
        if key != "K-txt" {
            // Plain text shows links as text anyway; markdown must not make one.
            assert_inert(&content);
            assert!(
                !content.contains("\n# 紧急"),
                "{key}: a heading got through: {content}"
            );
        }
    }
    s.stop().await.unwrap();
}

/// A pipeline with `[limits]` over a store in a temp dir.
async fn limited_bot(limits: &str) -> Bot {
    Bot::new(&format!(
        "[docker]\nenabled = false\n\n[limits]\n{limits}\n"
    ))
    .await
}

#[tokio::test]
async fn commands_per_minute_are_limited_per_identity_with_a_polite_reply() {
    let bot = limited_bot("commands_per_minute = 3").await;
    for _ in 0..3 {
        let r = bot.say("alice", "/ping").await;
        assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
    }
    let r = bot.say("alice", "/ping").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.reply);
    assert!(
        r.reply.contains("操作太频繁") && r.reply.contains("秒后再试"),
        "{}",
        r.reply
    );
    let secs: u64 = r
        .reply
        .split("请 ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("seconds in the reply");
    assert!((1..=20).contains(&secs), "{}", r.reply);
    // Someone else is not affected; the local console is exempt.
    assert_eq!(bot.say("bob", "/ping").await.kind, ReplyKind::Command);
    for _ in 0..10 {
        assert_eq!(bot.admin("/ping").await.kind, ReplyKind::Command);
    }
    // 0 disables the limit.
    let free = limited_bot("commands_per_minute = 0").await;
    for _ in 0..30 {
        assert_eq!(free.say("alice", "/ping").await.kind, ReplyKind::Command);
    }
}

#[tokio::test]
async fn answers_per_hour_are_limited_in_the_users_language() {
    let bot = limited_bot("answers_per_hour = 2").await;
    for _ in 0..2 {
        let r = bot.say("carol", "what does exit code 137 mean").await;
        assert_ne!(r.kind, ReplyKind::Error, "{}", r.reply);
    }
    let r = bot.say("carol", "what does exit code 137 mean").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.reply);
    assert!(
        r.reply.contains("Too many questions") && r.reply.contains("try again in"),
        "{}",
        r.reply
    );
    // Commands have their own budget.
    assert_eq!(bot.say("carol", "/ping").await.kind, ReplyKind::Command);
}

#[tokio::test]
async fn bad_limits_and_patterns_are_refused_by_check_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, key) in [
        (
            "[security]\nredact_patterns = [\"ok\", \"(unclosed\"]\n",
            "security.redact_patterns[1]",
        ),
        (
            "[limits]\ncommands_per_minute = 99999999\n",
            "limits.commands_per_minute",
        ),
        (
            "[limits]\nanswers_per_hour = -1\n",
            "limits.answers_per_hour",
        ),
    ] {
        let p = dir.path().join("wedock.toml");
        std::fs::write(&p, toml).unwrap();
        let out = std::process::Command::new(crate::support::wedock_bin())
            .args(["check", "--config"])
            .arg(&p)
            .output()
            .expect("run wedock check");
        let err = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{toml}: {err}");
        assert!(err.contains(key), "{toml}: {err}");
    }
}

#[tokio::test]
async fn a_wecom_user_over_the_command_limit_is_told_when_to_try_again() {
    use crate::channel_wecom::{Peer, config, text_xml};
    use crate::support::fake_tencent::FakeTencent;
    let fake = FakeTencent::start(
        crate::channel_wecom::CORP,
        crate::channel_wecom::SECRET,
        "wxunused",
        "unused",
    )
    .await;
    let toml = format!(
        "{}\n[limits]\ncommands_per_minute = 2\n",
        config(&fake, 3000)
    );
    let server = TestServer::start(&toml).await;
    let peer = Peer::new(&server);
    let ask = async |user: &str, id: &str| {
        let (status, body) = peer.post(&text_xml(user, id, "/ping")).await;
        assert_eq!(status, 200, "{body}");
        peer.open_reply(&body)["Content"].clone()
    };
    assert!(ask("zhangsan", "9001").await.contains("pong"));
    assert!(ask("zhangsan", "9002").await.contains("pong"));
    // Tencent retrying a message is not a new command.
    assert!(ask("zhangsan", "9002").await.contains("pong"));
    let refused = ask("zhangsan", "9003").await;
    assert!(
        refused.contains("操作太频繁") && refused.contains("秒后再试"),
        "{refused}"
    );
    assert!(ask("lisi", "9004").await.contains("pong"));
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Other tests in this process count too: at least this refusal.
    let counted = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("wedock_rate_limited_total{kind=\"commands\"} "))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .any(|v| v >= 1.0);
    assert!(counted, "{metrics}");
}
