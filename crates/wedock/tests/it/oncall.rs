//! On-call through the whole path: an alert on a route with `oncall = "primary"` reaches
//! the group robots mentioning the person on duty (markdown `<@id>`, text `mentioned_list`);
//! `/oncall` answers now and next; `/oncall swap` needs an operator, is audited, lives in
//! the store, and moves the mention to the new person.

use crate::incidents::{died, setup};
use std::time::Duration;
use wedock::message::ReplyKind;

const ROUTES: &str = r#"
[[alerts.routes]]
name = "oncall-route"
targets = ["ops", "bad"]
oncall = "primary"

[[oncall.schedules]]
name = "primary"
rotation = "daily"
handoff = "09:00"
members = ["zhangsan"]
"#;

const WAIT: Duration = Duration::from_secs(15);

async fn post_on(
    s: &crate::incidents::Setup,
    key: &str,
    pred: impl Fn(&crate::support::fake_robot::Post) -> bool,
) -> crate::support::fake_robot::Post {
    let end = std::time::Instant::now() + WAIT;
    loop {
        if let Some(p) = s.fake.posts(key).into_iter().find(|p| pred(p)) {
            return p;
        }
        assert!(std::time::Instant::now() < end, "no matching post on {key}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn routed_alerts_mention_the_person_on_duty_and_follow_a_swap() {
    let s = setup(ROUTES).await;
    s.engine.submit(vec![died("api", "e1")]).await.unwrap();
    let md = post_on(&s, "K-ops", |p| p.content.contains("api")).await;
    assert_eq!(md.msgtype, "markdown");
    assert!(md.content.contains("<@zhangsan>"), "{}", md.content);
    let text = post_on(&s, "K-bad", |p| p.content.contains("api")).await;
    assert_eq!(text.msgtype, "text");
    assert_eq!(text.mentioned, vec!["zhangsan".to_string()]);

    // Now and next: a one-member rotation has nobody next.
    let r = s.say("viewer1", "/oncall").await;
    assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
    assert!(
        r.reply.contains("primary") && r.reply.contains("zhangsan"),
        "{}",
        r.reply
    );
    assert!(r.reply.contains("nobody else"), "{}", r.reply);

    // A viewer may look but not swap; an operator's swap is audited and stored.
    let r = s.say("viewer1", "/oncall swap lisi 2h").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.reply);
    assert!(r.reply.contains("operator"), "{}", r.reply);
    let r = s.say("op1", "/oncall swap li;si 2h").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.reply);
    let r = s.say("op1", "/oncall swap lisi 2h").await;
    assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
    assert!(r.reply.contains("lisi"), "{}", r.reply);
    let r = s.say("viewer1", "/oncall primary").await;
    assert!(
        r.reply.contains("on duty now lisi (covering)"),
        "{}",
        r.reply
    );
    assert!(r.reply.contains("next zhangsan"), "{}", r.reply);
    let audit = s.say("admin1", "/audit 5").await;
    assert!(
        audit.reply.contains("wecom:op1") && audit.reply.contains("/oncall swap lisi 2h → swapped"),
        "{}",
        audit.reply
    );

    s.engine.submit(vec![died("db", "e2")]).await.unwrap();
    let md = post_on(&s, "K-ops", |p| p.content.contains("db")).await;
    assert!(md.content.contains("<@lisi>"), "{}", md.content);
    assert!(!md.content.contains("<@zhangsan>"), "{}", md.content);
    let text = post_on(&s, "K-bad", |p| p.content.contains("db")).await;
    assert_eq!(text.mentioned, vec!["lisi".to_string()]);
}

#[tokio::test]
async fn oncall_without_schedules_says_how_to_add_one() {
    let s = setup("").await;
    let r = s.say("viewer1", "/oncall").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.reply);
    assert!(r.reply.contains("[[oncall.schedules]]"), "{}", r.reply);
}
