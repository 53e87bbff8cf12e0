//! Realistic objects, shaped like the recorded ones in specs/kubernetes-api.md §7.

use serde_json::{Value, json};

pub fn running_pod(ns: &str, name: &str, app: &str, node: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app, "pod-template-hash": "7d4b8c9f6"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d4b8c9f6"),
                "uid": "5b1c0000-0000-0000-0000-000000000001", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"nodeName": node, "restartPolicy": "Always", "serviceAccountName": "default",
            "containers": [{"name": "app", "image": format!("registry.local/{app}:1.4"),
                "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5}}]},
        "status": {"phase": "Running", "podIP": "10.244.1.7", "hostIP": "10.0.0.11", "startTime": "2025-03-01T10:00:01Z", "qosClass": "Burstable",
            "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-03-01T10:00:05Z"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "started": true,
                "image": format!("registry.local/{app}:1.4"), "imageID": "registry.local/web@sha256:ab12",
                "containerID": "containerd://91aa", "state": {"running": {"startedAt": "2025-03-01T10:00:02Z"}}, "lastState": {}}]}
    })
}

/// §7.1: CrashLoopBackOff with the last termination in lastState.
pub fn crashloop_pod(
    ns: &str,
    name: &str,
    app: &str,
    restarts: i64,
    last_reason: &str,
    exit: i64,
) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app, "pod-template-hash": "7d4b8c9f6"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d4b8c9f6"),
                "uid": "5b1c0000-0000-0000-0000-000000000002", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"nodeName": "node-2", "restartPolicy": "Always", "serviceAccountName": "default",
            "containers": [{"name": "app", "image": "registry.local/api:2.3.1",
                "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3}}]},
        "status": {"phase": "Running", "hostIP": "10.0.0.12", "podIP": "10.244.2.31", "startTime": "2025-03-01T09:12:44Z", "qosClass": "Burstable",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-03-01T09:12:46Z"},
                {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-03-01T09:12:44Z"},
                {"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2025-03-01T09:20:03Z",
                 "reason": "ContainersNotReady", "message": "containers with unready status: [app]"},
                {"type": "ContainersReady", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2025-03-01T09:20:03Z",
                 "reason": "ContainersNotReady", "message": "containers with unready status: [app]"},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-03-01T09:12:44Z"}],
            "containerStatuses": [{"name": "app", "ready": false, "started": false, "restartCount": restarts,
                "image": "registry.local/api:2.3.1", "imageID": "registry.local/api@sha256:9f2e",
                "containerID": "containerd://4be1",
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                    "message": format!("back-off 5m0s restarting failed container=app pod={name}_{ns}(0d3a9a52-5b0e-4c1e-9d0a-2f7f1c9e0b11)")}},
                "lastState": {"terminated": {"exitCode": exit, "reason": last_reason,
                    "startedAt": "2025-03-01T09:19:58Z", "finishedAt": format!("2025-03-01T09:20:{:02}Z", restarts % 60),
                    "containerID": "containerd://4be1"}}}]}
    })
}

pub fn deployment(ns: &str, name: &str, replicas: i64, ready: i64) -> Value {
    let mut status = json!({"observedGeneration": 7, "replicas": replicas, "updatedReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": if ready >= replicas {"True"} else {"False"},
             "reason": if ready >= replicas {"MinimumReplicasAvailable"} else {"MinimumReplicasUnavailable"},
             "message": if ready >= replicas {"Deployment has minimum availability."} else {"Deployment does not have minimum availability."},
             "lastUpdateTime": "2025-03-01T09:20:03Z", "lastTransitionTime": "2025-03-01T09:20:03Z"}]});
    // Zero counters are absent, as Go's omitempty leaves them.
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(ready);
    }
    if replicas > ready {
        status["unavailableReplicas"] = json!(replicas - ready);
    }
    json!({
        "metadata": {"name": name, "namespace": ns, "generation": 7, "labels": {"app": name},
            "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": replicas, "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": format!("registry.local/{name}:2.0")}]}}},
        "status": status
    })
}

pub fn node(name: &str, ready: bool) -> Value {
    let (status, reason, msg) = if ready {
        ("True", "KubeletReady", "kubelet is posting ready status")
    } else {
        (
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        )
    };
    json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "node-role.kubernetes.io/worker": ""}},
        "spec": {"podCIDR": "10.244.3.0/24"},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": if ready {"False"} else {"Unknown"}, "reason": if ready {"KubeletHasSufficientMemory"} else {"NodeStatusUnknown"},
                 "message": if ready {"kubelet has sufficient memory available"} else {"Kubelet stopped posting node status."},
                 "lastHeartbeatTime": "2025-03-01T10:59:55Z", "lastTransitionTime": "2025-03-01T11:00:41Z"},
                {"type": "Ready", "status": status, "reason": reason, "message": msg,
                 "lastHeartbeatTime": "2025-03-01T10:59:55Z", "lastTransitionTime": "2025-03-01T11:00:41Z"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.13"}, {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "4", "memory": "16374208Ki", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "16271808Ki", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.33.1", "containerRuntimeVersion": "containerd://2.0.4",
                "osImage": "Debian GNU/Linux 12 (bookworm)", "kernelVersion": "6.1.0-31-amd64", "architecture": "amd64",
                "operatingSystem": "linux", "machineID": "m", "systemUUID": "s", "bootID": "b", "kubeProxyVersion": ""}}
    })
}

pub fn warning_event(
    ns: &str,
    name: &str,
    pod: &str,
    reason: &str,
    message: &str,
    count: i64,
) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": "0d3a9a52", "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
        "reason": reason, "message": message, "type": "Warning", "count": count,
        "source": {"component": "kubelet", "host": "node-2"},
        "firstTimestamp": "2025-03-01T09:13:00Z", "lastTimestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "reportingComponent": "kubelet", "reportingInstance": "node-2"
    })
}
