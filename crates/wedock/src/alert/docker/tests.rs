//! The watcher's translation of events into alerts.

use super::*;
use bollard::models::EventActor;

fn ev(id: &str, action: &str, secs: i64, attrs: &[(&str, &str)]) -> EventMessage {
    let mut a: HashMap<String, String> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    a.insert("name".into(), format!("{id}-name"));
    a.insert("image".into(), "busybox".into());
    EventMessage {
        action: Some(action.into()),
        actor: Some(EventActor {
            id: Some(id.into()),
            attributes: Some(a),
        }),
        time_nano: Some(secs * 1_000_000_000),
        ..Default::default()
    }
}

fn kinds(t: &mut Tracker, e: EventMessage) -> Vec<String> {
    t.translate(&e).into_iter().map(|x| x.alert.kind).collect()
}

#[test]
fn replayed_history_of_a_reconciled_death_is_skipped() {
    let mut t = Tracker::new("local", 3, Duration::from_secs(600));
    // What reconcile feeds: the death as found in the container's state at t=100 s.
    assert_eq!(
        kinds(&mut t, ev("c", "die", 100, &[("exitCode", "6")])),
        ["die"]
    );
    t.reconciled.insert("c".into(), 100 * 1_000_000_000);
    // The engine then replays what it still remembers: its start, and the same death.
    assert!(kinds(&mut t, ev("c", "start", 99, &[])).is_empty());
    assert!(kinds(&mut t, ev("c", "die", 100, &[("exitCode", "6")])).is_empty());
    assert!(t.reconciled.is_empty());
    // Live events afterwards count as usual: the container coming back is a recovery.
    assert_eq!(kinds(&mut t, ev("c", "start", 130, &[])), ["recovered"]);
}

#[test]
fn deaths_ooms_kills_loops_and_recoveries() {
    let mut t = Tracker::new("local", 3, Duration::from_secs(600));
    let die1 = [("exitCode", "1"), (PROJECT_LABEL, "shop")];
    let out = t.translate(&ev("a", "die", 1, &die1));
    assert_eq!(out[0].alert.kind, "die");
    assert_eq!(out[0].alert.project.as_deref(), Some("shop"));
    assert_eq!(out[0].alert.exit_code, Some(1));
    assert!(out[0].logs_of.is_some());
    assert_eq!(kinds(&mut t, ev("a", "start", 2, &[])), vec!["recovered"]);
    assert_eq!(
        kinds(&mut t, ev("a", "start", 3, &[])),
        Vec::<String>::new()
    );
    assert_eq!(kinds(&mut t, ev("a", "die", 4, &die1)), vec!["die"]);
    assert_eq!(
        kinds(&mut t, ev("a", "die", 5, &die1)),
        vec!["die", "restart_loop"]
    );
    // OOM then die → one OOM alert.
    assert!(kinds(&mut t, ev("b", "oom", 10, &[])).is_empty());
    assert_eq!(
        kinds(&mut t, ev("b", "die", 10, &[("exitCode", "137")])),
        vec!["oom"]
    );
    // kill then die → stopped by someone, no recovery later.
    assert!(kinds(&mut t, ev("c", "kill", 20, &[("signal", "15")])).is_empty());
    let out = t.translate(&ev("c", "die", 20, &[("exitCode", "143")]));
    assert_eq!(out[0].alert.kind, "stop");
    assert_eq!(out[0].alert.signal.as_deref(), Some("SIGTERM (15)"));
    assert!(kinds(&mut t, ev("c", "start", 30, &[])).is_empty());
    // Health.
    assert!(kinds(&mut t, ev("d", "health_status: healthy", 40, &[])).is_empty());
    assert_eq!(
        kinds(&mut t, ev("d", "health_status: unhealthy", 41, &[])),
        vec!["unhealthy"]
    );
    assert!(kinds(&mut t, ev("d", "health_status: unhealthy", 42, &[])).is_empty());
    assert_eq!(
        kinds(&mut t, ev("d", "health_status: healthy", 43, &[])),
        vec!["healthy"]
    );
    // Events without an actor are ignored, not a panic.
    assert!(t.translate(&EventMessage::default()).is_empty());
}
