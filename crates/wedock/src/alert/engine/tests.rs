//! Routing, dedup, repeat control and digest folding.

use super::*;

fn alert() -> Alert {
    let mut a = Alert::new("docker", "die", Severity::Critical, "e1".into());
    a.host = Some("prod-1".into());
    a.container = Some("api-3".into());
    a.image = Some("registry.example.com/api:1".into());
    a.project = Some("shop".into());
    a.exit_code = Some(137);
    a.labels.insert("team".into(), "payments".into());
    a
}

#[test]
fn route_conditions_all_have_to_hold() {
    let a = alert();
    let mut m = RouteMatch {
        source: Some("docker".into()),
        host: Some("prod-*".into()),
        container: Some("api-*".into()),
        image: Some("registry.example.com/*".into()),
        project: Some("shop".into()),
        event: vec!["die".into(), "oom".into()],
        exit_code: vec![137],
        severity: vec!["critical".into()],
        labels: [("team".to_string(), "pay*".to_string())].into(),
    };
    assert!(route_matches(&m, &a));
    m.labels.insert("tier".into(), "*".into());
    assert!(!route_matches(&m, &a), "a missing label does not match");
    m.labels.remove("tier");
    m.exit_code = vec![1];
    assert!(!route_matches(&m, &a));
    assert!(route_matches(&RouteMatch::default(), &a));
}

#[test]
fn defaults_skip_clean_exits_and_planned_stops() {
    let mut a = alert();
    assert!(default_applies(&a));
    a.exit_code = Some(0);
    assert!(!default_applies(&a));
    a.kind = "stop".into();
    assert!(!default_applies(&a));
}

#[test]
fn mutes_match_globs_on_names() {
    let m = Mute {
        id: "m1".into(),
        target: "api-*".into(),
        by: "wecom:zhang".into(),
        until: i64::MAX,
        created: 0,
        fingerprint: None,
        labels: BTreeMap::new(),
        reason: String::new(),
    };
    assert!(m.matches(&alert()));
    let m = Mute {
        target: "shop".into(),
        ..m
    };
    assert!(m.matches(&alert()));
    let m = Mute {
        target: "db-*".into(),
        ..m
    };
    assert!(!m.matches(&alert()));
}

#[test]
fn targets_parse() {
    assert_eq!(Target::parse("ops").label(), "robot:ops");
    assert_eq!(Target::parse("aibot:CHAT1").channel, "aibot");
}

#[test]
fn silences_match_one_alert_or_all_their_labels() {
    let one = Mute {
        id: "m2".into(),
        target: "#12 api-3".into(),
        by: "wecom:op1".into(),
        until: i64::MAX,
        created: 0,
        fingerprint: Some("fp-api".into()),
        labels: BTreeMap::new(),
        reason: String::new(),
    };
    let mut a = alert();
    a.fingerprint = "fp-api".into();
    assert!(one.matches(&a));
    a.fingerprint = "fp-other".into();
    assert!(!one.matches(&a), "another alert of the same container");
    let by_labels = Mute {
        fingerprint: None,
        labels: [("team".to_string(), "payments".to_string())].into(),
        ..one
    };
    assert!(by_labels.matches(&a));
    a.labels.insert("team".into(), "search".into());
    assert!(!by_labels.matches(&a));
}
