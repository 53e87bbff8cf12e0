//! More `/diagnose` scenarios against the fake API server: liveness and readiness probes
//! failing, evictions for ephemeral storage and for memory, a volume that cannot be mounted,
//! a Job past its backoffLimit, and a Deployment whose HPA cannot read its metric.

use crate::kube::Cluster;
use crate::support::fake_kube::objects;
use serde_json::{Value, json};
use wedock::message::ReplyKind;

fn verdict(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// A Running pod of `app` on node-2 whose container is not ready, restarted `restarts` times.
fn unready_pod(ns: &str, name: &str, restarts: i64, last_exit: Option<i64>) -> Value {
    let mut p = objects::running_pod(ns, name, "api", "node-2");
    p["spec"]["containers"][0]["livenessProbe"] = json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10, "failureThreshold": 3});
    p["spec"]["containers"][0]["readinessProbe"] =
        json!({"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5});
    p["status"]["conditions"] = json!([
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [app]"},
        {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
        {"type": "PodScheduled", "status": "True"}]);
    let cs = &mut p["status"]["containerStatuses"][0];
    cs["ready"] = json!(false);
    cs["restartCount"] = json!(restarts);
    if let Some(code) = last_exit {
        cs["lastState"] = json!({"terminated": {"exitCode": code, "reason": "Error",
            "startedAt": "2025-03-01T09:19:58Z", "finishedAt": "2025-03-01T09:20:40Z"}});
    }
    p
}

fn event(ns: &str, name: &str, obj_kind: &str, obj: &str, reason: &str, message: &str) -> Value {
    let mut e = objects::warning_event(ns, name, obj, reason, message, 12);
    e["involvedObject"]["kind"] = json!(obj_kind);
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_evictions_and_mounts() {
    let c = Cluster::start().await;
    let f = &c.fake;
    f.put("nodes", objects::node("node-2", true));

    // Liveness: restarted by the kubelet (exit 137 after the probe failed).
    f.put("pods", unready_pod("shop", "live-1", 6, Some(137)));
    f.put(
        "events",
        event(
            "shop",
            "live-1.1",
            "Pod",
            "live-1",
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
        ),
    );
    f.put(
        "events",
        event(
            "shop",
            "live-1.2",
            "Pod",
            "live-1",
            "Killing",
            "Container app failed liveness probe, will be restarted",
        ),
    );
    // Readiness: running, never restarted, out of the Service.
    f.put("pods", unready_pod("shop", "ready-1", 0, None));
    f.put("events", event("shop", "ready-1.1", "Pod", "ready-1", "Unhealthy",
        "Readiness probe failed: Get \"http://10.244.2.31:8080/ready\": dial tcp 10.244.2.31:8080: connect: connection refused"));

    // Evicted for ephemeral storage, and for memory.
    let evicted = |name: &str, message: &str| {
        let mut p = objects::running_pod("shop", name, "api", "node-2");
        p["status"] = json!({"phase": "Failed", "reason": "Evicted", "message": message,
            "startTime": "2025-03-01T09:12:44Z"});
        p
    };
    f.put(
        "pods",
        evicted(
            "ev-disk",
            "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. ",
        ),
    );
    f.put("pods", evicted("ev-mem", "The node was low on resource: memory. Threshold quantity: 100Mi, available: 72080Ki. Container app was using 1532Mi, request is 256Mi, has larger consumption of memory. "));

    // A ConfigMap volume that does not exist: stuck in ContainerCreating.
    let mut m = objects::running_pod("shop", "mount-1", "api", "node-2");
    m["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "image": "registry.local/api:2.0", "imageID": "",
            "state": {"waiting": {"reason": "ContainerCreating"}}}]});
    f.put("pods", m);
    f.put(
        "events",
        event(
            "shop",
            "mount-1.1",
            "Pod",
            "mount-1",
            "FailedMount",
            "MountVolume.SetUp failed for volume \"config\" : configmap \"api-config\" not found",
        ),
    );

    let bot = c.bot("").await;
    let ask = |pod: &str| format!("/diagnose pod/{pod} -n shop");

    let r = bot.say("viewer1", &ask("live-1")).await;
    assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
    assert!(verdict(&r.reply).contains("Liveness"), "{}", r.reply);
    assert!(
        r.reply.contains("statuscode: 500"),
        "the event quoted: {}",
        r.reply
    );

    let r = bot.say("viewer1", &ask("ready-1")).await;
    assert!(verdict(&r.reply).contains("Readiness"), "{}", r.reply);
    assert!(!verdict(&r.reply).contains("healthy"), "{}", r.reply);

    let r = bot.say("viewer1", &ask("ev-disk")).await;
    assert!(
        verdict(&r.reply).contains("ephemeral storage"),
        "{}",
        r.reply
    );
    let r = bot.say("viewer1", &ask("ev-mem")).await;
    assert!(verdict(&r.reply).contains("memory pressure"), "{}", r.reply);

    let r = bot.say("viewer1", &ask("mount-1")).await;
    assert!(verdict(&r.reply).contains("FailedMount"), "{}", r.reply);
    assert!(
        r.reply.contains("api-config"),
        "names the ConfigMap: {}",
        r.reply
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_past_their_backoff_limit_and_hpas_without_metrics() {
    let c = Cluster::start().await;
    let f = &c.fake;
    f.put("nodes", objects::node("node-2", true));

    // A Job that failed three times: its last pod, owned by the Job.
    f.put("jobs", json!({
        "metadata": {"name": "nightly", "namespace": "shop", "uid": "a1b2c3d4-0000-0000-0000-00000000000j"},
        "spec": {"backoffLimit": 3, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "app", "image": "registry.local/etl:1.0"}]}}},
        "status": {"failed": 4, "startTime": "2025-03-01T09:00:00Z",
            "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
                "lastProbeTime": "2025-03-01T09:09:00Z", "lastTransitionTime": "2025-03-01T09:09:00Z"}]}
    }));
    let mut p = objects::running_pod("shop", "nightly-x7k2p", "etl", "node-2");
    p["metadata"]["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "nightly",
        "uid": "a1b2c3d4-0000-0000-0000-00000000000j", "controller": true}]);
    p["spec"]["restartPolicy"] = json!("Never");
    p["status"] = json!({"phase": "Failed", "startTime": "2025-03-01T09:08:00Z",
        "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "image": "registry.local/etl:1.0", "imageID": "",
            "state": {"terminated": {"exitCode": 2, "reason": "Error",
                "startedAt": "2025-03-01T09:08:01Z", "finishedAt": "2025-03-01T09:08:30Z"}}}]});
    f.put("pods", p);

    // A healthy Deployment whose HPA cannot read CPU (no metrics-server).
    f.put("deployments", objects::deployment("shop", "web", 2, 2));
    f.put(
        "pods",
        objects::running_pod("shop", "web-1", "web", "node-2"),
    );
    f.put(
        "pods",
        objects::running_pod("shop", "web-2", "web", "node-2"),
    );
    f.put("horizontalpodautoscalers", json!({
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": {"currentReplicas": 2, "desiredReplicas": 2,
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "the HPA controller was able to get the target's current scale"},
                {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                 "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"}]}
    }));
    // A healthy Deployment without an HPA stays healthy.
    f.put("deployments", objects::deployment("shop", "plain", 1, 1));
    f.put(
        "pods",
        objects::running_pod("shop", "plain-1", "plain", "node-2"),
    );

    let bot = c.bot("").await;
    let r = bot
        .say("viewer1", "/diagnose pod/nightly-x7k2p -n shop")
        .await;
    assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
    assert!(verdict(&r.reply).contains("backoffLimit"), "{}", r.reply);
    assert!(
        r.reply.contains("job/nightly"),
        "names the Job: {}",
        r.reply
    );

    let r = bot.say("viewer1", "/diagnose deploy/web -n shop").await;
    assert!(verdict(&r.reply).contains("HPA"), "{}", r.reply);
    assert!(r.reply.contains("hpa/web"), "names the HPA: {}", r.reply);

    let r = bot.say("viewer1", "/diagnose deploy/plain -n shop").await;
    assert!(verdict(&r.reply).contains("healthy"), "{}", r.reply);
}
