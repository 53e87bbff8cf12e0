//! `/diagnose pod/… deploy/… node/…` against the fake API server (support/fake_kube/),
//! with objects shaped like the recorded ones in the spec (§7): CrashLoopBackOff with a
//! refused dependency in the previous log, OOMKilled, ImagePullBackOff not found, Pending
//! for memory, an unbound PVC, a missing ConfigMap, a node NotReady, a stalled rollout, an
//! init container stuck, a healthy pod and an unknown name.

use crate::kube::Cluster;
use crate::support::fake_kube::objects;
use serde_json::json;
use wedock::message::ReplyKind;

fn verdict(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn pending_pod(
    ns: &str,
    name: &str,
    status: serde_json::Value,
    spec_extra: serde_json::Value,
) -> serde_json::Value {
    let mut spec = json!({"restartPolicy": "Always", "containers": [{"name": "app", "image": "registry.local/api:9.9.9"}]});
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"metadata": {"name": name, "namespace": ns, "labels": {"app": "api"}}, "spec": spec, "status": status})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_diagnosed_from_their_state_events_and_previous_logs() {
    let c = Cluster::start().await;
    let f = &c.fake;
    f.put("nodes", objects::node("node-2", true));
    f.put(
        "pods",
        objects::crashloop_pod("shop", "api-7d4b8c9f6-x2x9q", "api", 7, "Error", 1),
    );
    f.set_logs(
        "shop",
        "api-7d4b8c9f6-x2x9q",
        "app",
        "",
        Some("2026-03-02T10:00:01Z INFO starting api v2.3.1\n2026-03-02T10:00:02Z ERROR Error: connect ECONNREFUSED 10.96.0.15:5432\n"),
    );
    f.put(
        "events",
        objects::warning_event(
            "shop",
            "api.1",
            "api-7d4b8c9f6-x2x9q",
            "BackOff",
            "Back-off restarting failed container app in pod api-7d4b8c9f6-x2x9q_shop(0d3a9a52)",
            41,
        ),
    );
    f.put(
        "pods",
        objects::crashloop_pod("shop", "worker-5c9-abcde", "worker", 3, "OOMKilled", 137),
    );
    f.put(
        "pods",
        pending_pod(
            "shop",
            "api-9-pull",
            json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "started": false,
                "image": "registry.local/api:9.9.9", "imageID": "",
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"registry.local/api:9.9.9\""}}, "lastState": {}}]}),
            json!({"imagePullSecrets": [{"name": "regcred"}], "nodeName": "node-2"}),
        ),
    );
    f.put(
        "events",
        objects::warning_event(
            "shop",
            "api-9-pull.1",
            "api-9-pull",
            "Failed",
            "Failed to pull image \"registry.local/api:9.9.9\": rpc error: code = NotFound desc = failed to pull and unpack image \"registry.local/api:9.9.9\": failed to resolve reference \"registry.local/api:9.9.9\": registry.local/api:9.9.9: not found",
            3,
        ),
    );
    f.put(
        "pods",
        objects::running_pod("shop", "web-1", "web", "node-2"),
    );
    let bot = c.bot("").await;

    let r = bot
        .say("viewer1", "/diagnose pod/api-7d4b8c9f6-x2x9q -n shop")
        .await;
    assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
    let t = &r.reply;
    assert!(verdict(t).contains("refused"), "{t}");
    assert!(t.contains("10.96.0.15:5432"), "names the address: {t}");
    assert!(
        t.contains("CrashLoopBackOff") && t.contains("last: Error, exit 1"),
        "{t}"
    );
    assert!(t.contains("BackOff ×41"), "the event: {t}");
    assert!(t.contains("liveness http /healthz"), "probe settings: {t}");
    assert!(
        t.contains("/k logs api-7d4b8c9f6-x2x9q -n shop --previous"),
        "{t}"
    );
    // The previous log was asked for.
    assert!(
        f.requests()
            .iter()
            .any(|q| q.path.ends_with("/log") && q.param("previous") == Some("true")),
        "previous logs were read"
    );

    let r = bot
        .say("viewer1", "/diagnose pod/worker-5c9-abcde -n shop")
        .await;
    assert!(verdict(&r.reply).contains("OOMKilled"), "{}", r.reply);
    assert!(r.reply.contains("memory=256Mi"), "limits: {}", r.reply);

    let r = bot.say("viewer1", "/diagnose pod/api-9-pull -n shop").await;
    assert!(verdict(&r.reply).contains("Image not found"), "{}", r.reply);
    assert!(r.reply.contains("regcred"), "imagePullSecrets: {}", r.reply);

    let r = bot.say("viewer1", "/diagnose pod/web-1 -n shop").await;
    assert!(verdict(&r.reply).contains("looks healthy"), "{}", r.reply);

    let r = bot.say("viewer1", "/diagnose pod/web-2 -n shop").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.reply);
    assert!(
        r.reply.contains("Did you mean") && r.reply.contains("web-1"),
        "{}",
        r.reply
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_config_mounts_init_and_terminating() {
    let c = Cluster::start().await;
    let f = &c.fake;
    f.put(
        "pods",
        pending_pod(
            "shop",
            "big-1",
            json!({"phase": "Pending", "qosClass": "Burstable",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastProbeTime": null,
                "lastTransitionTime": "2025-03-01T10:02:00Z",
                "message": "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."}]}),
            json!({}),
        ),
    );
    f.put(
        "pods",
        pending_pod(
            "shop",
            "db-0",
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."}]}),
            json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}]}),
        ),
    );
    f.put(
        "persistentvolumeclaims",
        json!({"metadata": {"name": "data-db-0", "namespace": "shop"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}},
            "status": {"phase": "Pending"}}),
    );
    f.put(
        "pods",
        pending_pod(
            "shop",
            "cfg-1",
            json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                "image": "registry.local/api:9.9.9", "imageID": "",
                "state": {"waiting": {"reason": "CreateContainerConfigError", "message": "configmap \"app-config\" not found"}}}]}),
            json!({"nodeName": "node-2"}),
        ),
    );
    f.put(
        "pods",
        pending_pod(
            "shop",
            "init-1",
            json!({"phase": "Pending",
                "initContainerStatuses": [{"name": "wait-db", "ready": false, "restartCount": 4, "image": "busybox", "imageID": "",
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container=wait-db"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2025-03-01T09:19:58Z", "finishedAt": "2025-03-01T09:20:01Z"}}}],
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "image": "registry.local/api:9.9.9", "imageID": "",
                    "state": {"waiting": {"reason": "PodInitializing"}}}]}),
            json!({"initContainers": [{"name": "wait-db", "image": "busybox"}]}),
        ),
    );
    let mut gone = objects::running_pod("shop", "old-1", "old", "node-2");
    gone["metadata"]["deletionTimestamp"] = json!("2025-03-01T09:00:00Z");
    gone["metadata"]["deletionGracePeriodSeconds"] = json!(30);
    gone["metadata"]["finalizers"] = json!(["example.com/cleanup"]);
    f.put("pods", gone);
    let bot = c.bot("").await;

    let r = bot.say("viewer1", "/diagnose pod/big-1 -n shop").await;
    assert!(
        verdict(&r.reply).contains("not enough resources"),
        "{}",
        r.reply
    );
    assert!(r.reply.contains("memory"), "{}", r.reply);

    let r = bot.say("viewer1", "/diagnose pod/db-0 -n shop").await;
    assert!(
        verdict(&r.reply).contains("PersistentVolumeClaim"),
        "{}",
        r.reply
    );
    assert!(r.reply.contains("PVC data-db-0: Pending"), "{}", r.reply);

    let r = bot.say("viewer1", "/diagnose pod/cfg-1 -n shop").await;
    assert!(
        verdict(&r.reply).contains("CreateContainerConfigError"),
        "{}",
        r.reply
    );
    assert!(
        r.reply.contains("configmap \"app-config\" not found"),
        "{}",
        r.reply
    );

    let r = bot.say("viewer1", "/diagnose pod/init-1 -n shop").await;
    assert!(verdict(&r.reply).contains("init container"), "{}", r.reply);

    let r = bot.say("viewer1", "/diagnose pod/old-1 -n shop").await;
    assert!(verdict(&r.reply).contains("Terminating"), "{}", r.reply);
    assert!(r.reply.contains("example.com/cleanup"), "{}", r.reply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_and_deployments() {
    let c = Cluster::start().await;
    let f = &c.fake;
    f.put("nodes", objects::node("node-3", false));
    f.put("nodes", objects::node("node-1", true));
    let mut d = objects::deployment("shop", "checkout", 3, 1);
    d["status"]["conditions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet \"checkout-7d4b8c9f6\" has timed out progressing.",
            "lastUpdateTime": "2025-03-01T09:30:05Z", "lastTransitionTime": "2025-03-01T09:30:05Z"}));
    f.put("deployments", d);
    let bot = c.bot("").await;

    let r = bot.say("viewer1", "/diagnose node/node-3").await;
    assert!(verdict(&r.reply).contains("NotReady"), "{}", r.reply);
    assert!(
        r.reply.contains("Kubelet stopped posting node status"),
        "{}",
        r.reply
    );
    let r = bot.say("viewer1", "/diagnose node/node-1").await;
    assert!(verdict(&r.reply).contains("looks healthy"), "{}", r.reply);

    let r = bot
        .say("viewer1", "/diagnose deploy/checkout -n shop")
        .await;
    assert!(verdict(&r.reply).contains("Rollout stuck"), "{}", r.reply);
    assert!(
        r.reply.contains("exceeded its progress deadline"),
        "{}",
        r.reply
    );

    // A guest may not read the cluster; an unknown kind is explained.
    let r = bot.say("guest9", "/diagnose node/node-3").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.reply);
    let r = bot.say("viewer1", "/diagnose svc/x -n shop").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.reply);
}
