//! The watcher's translation of events into alerts.

use super::*;

fn pod(v: serde_json::Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

fn crash(restarts: i64, reason: &str, exit: i64, finished: &str) -> Pod {
    pod(serde_json::json!({
        "metadata": {"name": "api-1", "namespace": "prod", "uid": "u1", "labels": {"app": "api"}},
        "spec": {"containers": [{"name": "app", "image": "api:1"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": restarts,
            "image": "api:1", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
            "lastState": {"terminated": {"exitCode": exit, "reason": reason, "finishedAt": finished}}}]}
    }))
}

fn healthy() -> Pod {
    pod(serde_json::json!({
        "metadata": {"name": "api-1", "namespace": "prod", "uid": "u1"},
        "spec": {"containers": [{"name": "app", "image": "api:1"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 9,
            "image": "api:1", "imageID": "", "state": {"running": {}}}]}
    }))
}

#[test]
fn crashloop_alerts_once_across_updates_and_relists() {
    let mut t = Tracker::new("prod", &KubeAlertsConfig::default());
    let f = t.apply_pod(&crash(3, "Error", 1, "2025-03-01T09:20:02Z"), 1);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].alert.kind, "crashloop");
    assert_eq!(f[0].alert.exit_code, Some(1));
    assert!(matches!(f[0].logs, LogsOf::Container(_, _, _, true)));
    // More restarts, a re-list: nothing new.
    assert!(
        t.apply_pod(&crash(4, "Error", 1, "2025-03-01T09:21:02Z"), 2)
            .is_empty()
    );
    t.init("pod");
    assert!(
        t.apply_pod(&crash(5, "Error", 1, "2025-03-01T09:22:02Z"), 3)
            .is_empty()
    );
    t.init_done("pod");
    // State survives a restart through the store.
    let saved = t.take_dirty().unwrap();
    let mut t2 = Tracker::new("prod", &KubeAlertsConfig::default());
    t2.restore(&saved);
    assert!(
        t2.apply_pod(&crash(6, "Error", 1, "2025-03-01T09:23:02Z"), 4)
            .is_empty()
    );
    // Healthy again, then crashing again: a new episode.
    assert!(t2.apply_pod(&healthy(), 5).is_empty());
    assert_eq!(t2.active_len(), 0);
    assert_eq!(
        t2.apply_pod(&crash(10, "Error", 1, "2025-03-01T09:40:02Z"), 6)
            .len(),
        1
    );
}

#[test]
fn oom_kills_are_occurrences_and_win_over_crashloop() {
    let mut t = Tracker::new("prod", &KubeAlertsConfig::default());
    let f = t.apply_pod(&crash(3, "OOMKilled", 137, "2025-03-01T09:30:44Z"), 1);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].alert.kind, "oom");
    assert_eq!(f[0].alert.exit_code, Some(137));
    assert!(
        t.apply_pod(&crash(3, "OOMKilled", 137, "2025-03-01T09:30:44Z"), 2)
            .is_empty()
    );
    let f = t.apply_pod(&crash(4, "OOMKilled", 137, "2025-03-01T09:31:44Z"), 3);
    assert_eq!(f.len(), 1, "a second kill is a new occurrence");
}

#[test]
fn filters_and_relist_deletions() {
    let cfg = KubeAlertsConfig {
        exclude_namespaces: vec!["kube-*".into()],
        reasons: vec!["oom".into()],
        ..KubeAlertsConfig::default()
    };
    let mut t = Tracker::new("c", &cfg);
    assert!(
        t.apply_pod(&crash(3, "Error", 1, "2025-03-01T09:20:02Z"), 1)
            .is_empty(),
        "crashloop not enabled"
    );
    let mut p = crash(3, "OOMKilled", 137, "2025-03-01T09:30:44Z");
    p.metadata.namespace = Some("kube-system".into());
    assert!(t.apply_pod(&p, 1).is_empty(), "namespace excluded");
    let f = t.apply_pod(&crash(3, "OOMKilled", 137, "2025-03-01T09:30:44Z"), 1);
    assert_eq!(f.len(), 1);
    // A re-list without the pod forgets it.
    t.init("pod");
    t.init_done("pod");
    assert_eq!(t.active_len(), 0);
    assert_eq!(t.tracked_len(), 0);
}

#[test]
fn nodes_recover_and_pending_waits_for_the_threshold() {
    let mut t = Tracker::new("c", &KubeAlertsConfig::default());
    let node = |status: &str| -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "node-3"},
            "status": {"conditions": [{"type": "Ready", "status": status, "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status."}]}
        }))
        .unwrap()
    };
    let f = t.apply_node(&node("Unknown"), 1);
    assert_eq!(f[0].alert.kind, "node_not_ready");
    assert!(t.apply_node(&node("Unknown"), 2).is_empty());
    let f = t.apply_node(&node("True"), 3);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].alert.kind, "recovered");
    assert_eq!(f[0].alert.severity, Severity::Resolved);

    let pending = pod(serde_json::json!({
        "metadata": {"name": "w", "namespace": "a", "uid": "p1", "creationTimestamp": "1970-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Pending"}
    }));
    assert!(t.apply_pod(&pending, 1_000).is_empty());
    assert!(t.tick(200_000).is_empty());
    let f = t.tick(300_000);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].alert.kind, "pending");
    assert!(t.tick(400_000).is_empty());
}
