//! Acting on alerts from chat: every routed alert gets an id its message names (`/ack 12`,
//! `/silence 12 1h`); `/ack` and `/silence` need an operator and are audited; a second ack
//! changes nothing; a silence of a Docker alert is a wedock mute of that alert only;
//! `/unsilence` lifts it; `/alerts` shows each alert's state.

use crate::alerts::config;
use crate::support::fake_robot::FakeRobot;
use std::sync::Arc;
use std::time::Duration;
use wedock::alert::{Alert, Engine, Severity};
use wedock::config::Config;
use wedock::message::{Incoming, Reply, ReplyKind};
use wedock::outbox::Outbox;
use wedock::pipeline::Pipeline;

const WAIT: Duration = Duration::from_secs(15);

const USERS: &str = r#"
[limits]
commands_per_minute = 0

[identity.users]
"wecom:viewer1" = "viewer"
"wecom:op1" = "operator"
"wecom:admin1" = "admin"
"#;

pub struct Setup {
    pub engine: Arc<Engine>,
    pub pipeline: Pipeline,
    pub fake: FakeRobot,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

/// An app with its alert engine (chat mutes reach it through the app's mute epoch), the outbox worker
/// delivering to a fake group robot, and a pipeline for chat as WeCom users.
pub async fn setup(alerts_extra: &str) -> Setup {
    let fake = FakeRobot::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wedock.toml");
    std::fs::write(&p, config(&fake, alerts_extra, USERS)).unwrap();
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.path().join("data").display()),
    )];
    let cfg = Config::load(Some(&p), env).unwrap();
    let app = wedock::cli::build_app(cfg).await.unwrap();
    let mut outbox = Outbox::new(app.store.clone(), app.config.outbox.clone());
    wedock::channel::register_senders(&app, &mut outbox);
    let outbox = Arc::new(outbox);
    let engine = Arc::new(Engine::new(app.clone(), outbox.clone()));
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let leader = wedock::leader::Leader::solo(app.store.clone()).await;
    tokio::spawn(outbox.clone().run(leader, async move {
        let _ = stop_rx.await;
    }));
    let s = Setup {
        engine,
        pipeline: Pipeline::new(app),
        fake,
        _stop: stop,
        _dir: dir,
    };
    // Commands answer in the language the user last wrote in: English for these users.
    for u in ["viewer1", "op1", "admin1"] {
        s.say(u, "hello").await;
    }
    s
}

impl Setup {
    pub async fn say(&self, user: &str, text: &str) -> Reply {
        let msg = Incoming {
            channel: "wecom".into(),
            user: user.into(),
            chat: None,
            text: text.into(),
            msg_id: None,
            granted_role: None,
            role_cap: None,
        };
        self.pipeline.handle(msg).await.expect("a reply")
    }

    /// The robot posts so far, waiting until `pred` holds for one of them.
    pub async fn robot_post(&self, pred: impl Fn(&str) -> bool) -> String {
        let end = std::time::Instant::now() + WAIT;
        loop {
            if let Some(p) = self
                .fake
                .posts("K-ops")
                .into_iter()
                .find(|p| pred(&p.content))
            {
                return p.content;
            }
            assert!(std::time::Instant::now() < end, "no matching robot post");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn died(container: &str, event: &str) -> Alert {
    let mut a = Alert::new("docker", "die", Severity::Critical, event.into());
    a.host = Some("local".into());
    a.container = Some(container.into());
    a.exit_code = Some(137);
    a.fingerprint = format!("docker|local|{container}|die");
    a
}

/// The alert id a robot message names in its `/ack N` hint.
pub fn id_in(content: &str) -> String {
    content
        .split("/ack ")
        .nth(1)
        .and_then(|s| {
            s.split(|c: char| !c.is_ascii_digit())
                .next()
                .filter(|d| !d.is_empty())
        })
        .unwrap_or_else(|| panic!("no /ack hint in {content}"))
        .to_string()
}

fn ok(r: &Reply) -> &str {
    assert_eq!(r.kind, ReplyKind::Command, "expected success: {}", r.reply);
    &r.reply
}

fn failed(r: &Reply) -> &str {
    assert_eq!(r.kind, ReplyKind::Error, "expected an error: {}", r.reply);
    &r.reply
}

#[tokio::test]
async fn ack_and_silence_need_an_operator_and_show_in_alerts() {
    // Repeats are allowed at once, so only the silence keeps the second alert away.
    let s = setup("dedup_window_secs = 0").await;
    s.engine.submit(vec![died("api-3", "e1")]).await.unwrap();
    let post = s.robot_post(|c| c.contains("api-3")).await;
    assert!(post.contains("`/silence "), "{post}");
    let id = id_in(&post);

    // A viewer may look, not act.
    let t = failed(&s.say("viewer1", &format!("/ack {id}")).await).to_string();
    assert!(t.contains("operator"), "{t}");
    let t = failed(&s.say("viewer1", &format!("/silence {id} 1h")).await).to_string();
    assert!(t.contains("operator"), "{t}");

    let t = ok(&s.say("op1", &format!("/ack {id}")).await).to_string();
    assert!(t.contains(&format!("#{id}")) && t.contains("op1"), "{t}");
    // A second ack (double click, someone else) changes nothing and names the first.
    let t = ok(&s.say("admin1", &format!("/ack {id}")).await).to_string();
    assert!(t.contains("already") && t.contains("op1"), "{t}");
    let t = failed(&s.say("op1", "/ack 99999").await).to_string();
    assert!(t.contains("99999"), "{t}");
    let t = failed(&s.say("op1", "/ack abc").await).to_string();
    assert!(t.contains("number"), "{t}");

    let t = ok(&s.say("viewer1", "/alerts").await).to_string();
    assert!(
        t.contains(&format!("#{id}")) && t.contains("firing") && t.contains("acked by op1"),
        "{t}"
    );

    // Silencing this alert: later occurrences of it are not sent; another container's are.
    let t = ok(&s.say("op1", &format!("/silence {id} 1h deploying")).await).to_string();
    assert!(t.contains("silenced") && t.contains("wedock"), "{t}");
    let done = s.engine.submit(vec![died("api-3", "e2")]).await.unwrap();
    assert_eq!((done.messages, done.suppressed), (0, 1), "{done:?}");
    let done = s.engine.submit(vec![died("db-1", "e3")]).await.unwrap();
    assert!(done.messages >= 1, "{done:?}");
    // Silencing again for no longer is harmless (a double click on the button).
    let t = ok(&s.say("op1", &format!("/silence {id} 1h")).await).to_string();
    assert!(t.contains("already silenced"), "{t}");

    let t = ok(&s.say("viewer1", "/silences").await).to_string();
    assert!(t.contains("op1") && t.contains("deploying"), "{t}");
    let t = ok(&s.say("viewer1", "/alerts").await).to_string();
    assert!(t.contains("silenced by op1 until"), "{t}");

    let t = failed(&s.say("viewer1", &format!("/unsilence {id}")).await).to_string();
    assert!(t.contains("operator"), "{t}");
    let t = ok(&s.say("op1", &format!("/unsilence {id}")).await).to_string();
    assert!(t.contains("lifted"), "{t}");
    let done = s.engine.submit(vec![died("api-3", "e4")]).await.unwrap();
    assert!(done.messages >= 1, "{done:?}");
    let t = failed(&s.say("op1", &format!("/unsilence {id}")).await).to_string();
    assert!(t.contains("no active silence"), "{t}");

    // Resolution shows in the state.
    let mut back = died("api-3", "e5");
    back.kind = "recovered".into();
    back.severity = Severity::Resolved;
    s.engine.submit(vec![back]).await.unwrap();
    let t = ok(&s.say("viewer1", "/alerts").await).to_string();
    assert!(
        t.contains(&format!("#{id} ✅")) && t.contains("resolved"),
        "{t}"
    );

    // Every change is audited with who did it.
    let t = ok(&s.say("admin1", "/audit 20").await).to_string();
    for what in ["acked", "silenced as", "unsilenced"] {
        assert!(t.contains(what), "{what}: {t}");
    }
}

#[tokio::test]
async fn label_silences_mute_matching_alerts_until_lifted() {
    let s = setup("dedup_window_secs = 0").await;
    let mut a = died("web-1", "l1");
    a.labels.insert("team".into(), "shop".into());
    let t = failed(&s.say("op1", "/silence team=shop").await).to_string();
    assert!(t.contains("Usage"), "{t}");
    let t = ok(&s.say("op1", "/silence team=shop 30m").await).to_string();
    let mute_id = t
        .split("Undo: /unsilence ")
        .nth(1)
        .expect("an undo hint")
        .trim()
        .to_string();
    let done = s.engine.submit(vec![a.clone()]).await.unwrap();
    assert_eq!(done.messages, 0, "{done:?}");
    let mut other = died("web-2", "l2");
    other.labels.insert("team".into(), "ops".into());
    assert!(s.engine.submit(vec![other]).await.unwrap().messages >= 1);
    ok(&s.say("op1", &format!("/unsilence {mute_id}")).await);
    a.event_id = "l3".into();
    assert!(s.engine.submit(vec![a]).await.unwrap().messages >= 1);
}
