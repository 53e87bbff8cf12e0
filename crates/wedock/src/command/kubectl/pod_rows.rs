//! `get pods` decodes only what its table shows. A full k8s-openapi `Pod` builds every
//! label, owner reference, container spec (image, resources, probes), condition and
//! timestamp of every pod, then drops them again; over 2,000 pods that decoding and freeing
//! was about four fifths of the command's time. [`PodRow`] reads the same LIST response
//! (same URL, same query) into a `Pod` holding just the fields the table reads, so every
//! helper that renders a `Pod` renders a row identically, and skips the rest unbuilt.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

/// A pod as `get pods` sees it: a `Pod` with only name, namespace, creation and deletion
/// time, resourceVersion and uid; the number of containers and the node; phase, reason, pod
/// IP and, per (init) container, its name, readiness, restart count and state reasons.
#[derive(Debug, Clone)]
pub struct PodRow(pub Pod);

impl kube::Resource for PodRow {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;
    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.0.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

#[derive(Deserialize)]
struct WirePod {
    #[serde(default)]
    metadata: WireMeta,
    spec: Option<WireSpec>,
    status: Option<WireStatus>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSpec {
    /// Counted, not read: the READY column's total.
    containers: Option<Vec<IgnoredAny>>,
    node_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStatus {
    phase: Option<String>,
    reason: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    container_statuses: Option<Vec<WireContainer>>,
    init_container_statuses: Option<Vec<WireContainer>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireContainer {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    restart_count: i32,
    state: Option<WireState>,
}

#[derive(Deserialize)]
struct WireState {
    waiting: Option<WireReason>,
    terminated: Option<WireTerminated>,
    running: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct WireReason {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTerminated {
    reason: Option<String>,
    #[serde(default)]
    exit_code: i32,
}

impl From<WireContainer> for ContainerStatus {
    fn from(c: WireContainer) -> ContainerStatus {
        ContainerStatus {
            name: c.name,
            ready: c.ready,
            restart_count: c.restart_count,
            state: c.state.map(|s| ContainerState {
                waiting: s.waiting.map(|w| ContainerStateWaiting {
                    reason: w.reason,
                    ..ContainerStateWaiting::default()
                }),
                terminated: s.terminated.map(|t| ContainerStateTerminated {
                    reason: t.reason,
                    exit_code: t.exit_code,
                    ..ContainerStateTerminated::default()
                }),
                running: s.running.map(|_| ContainerStateRunning::default()),
            }),
            ..ContainerStatus::default()
        }
    }
}

impl<'de> Deserialize<'de> for PodRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PodRow, D::Error> {
        let w = WirePod::deserialize(d)?;
        let statuses =
            |v: Option<Vec<WireContainer>>| v.map(|v| v.into_iter().map(Into::into).collect());
        Ok(PodRow(Pod {
            metadata: ObjectMeta {
                name: w.metadata.name,
                namespace: w.metadata.namespace,
                uid: w.metadata.uid,
                resource_version: w.metadata.resource_version,
                creation_timestamp: w.metadata.creation_timestamp,
                deletion_timestamp: w.metadata.deletion_timestamp,
                ..ObjectMeta::default()
            },
            spec: w.spec.map(|s| PodSpec {
                containers: vec![Container::default(); s.containers.map_or(0, |c| c.len())],
                node_name: s.node_name,
                ..PodSpec::default()
            }),
            status: w.status.map(|s| PodStatus {
                phase: s.phase,
                reason: s.reason,
                pod_ip: s.pod_ip,
                container_statuses: statuses(s.container_statuses),
                init_container_statuses: statuses(s.init_container_statuses),
                ..PodStatus::default()
            }),
        }))
    }
}

/// A LIST response's items as rows.
#[derive(Deserialize)]
pub struct PodRowList {
    pub items: Vec<PodRow>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    /// Pods in every state the table distinguishes, decoded both ways, render the same.
    #[test]
    fn rows_render_like_full_pods() {
        let pods = serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
            {"metadata": {"name": "web-1", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                "creationTimestamp": "2025-03-01T10:00:00Z", "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d", "uid": "rs", "controller": true}]},
             "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "web:1"}, {"name": "side", "image": "s:1"}]},
             "status": {"phase": "Running", "podIP": "10.0.0.7", "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "app", "ready": true, "restartCount": 2, "image": "web:1", "imageID": "x", "state": {"running": {"startedAt": "2025-03-01T10:00:02Z"}}},
                    {"name": "side", "ready": false, "restartCount": 5, "image": "s:1", "imageID": "y",
                     "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}},
            {"metadata": {"name": "init-1", "namespace": "ops", "creationTimestamp": "2025-03-01T09:00:00Z"},
             "spec": {"containers": [{"name": "app"}], "initContainers": [{"name": "migrate"}]},
             "status": {"phase": "Pending",
                "initContainerStatuses": [{"name": "migrate", "ready": false, "restartCount": 1, "image": "m", "imageID": "",
                    "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}},
            {"metadata": {"name": "gone-1", "namespace": "ops", "creationTimestamp": "2025-03-01T09:00:00Z",
                "deletionTimestamp": "2025-03-01T11:00:00Z"},
             "spec": {"containers": [{"name": "app"}]}, "status": {"phase": "Running"}},
            {"metadata": {"name": "evicted-1", "namespace": "ops"},
             "spec": {"containers": [{"name": "app"}]},
             "status": {"phase": "Failed", "reason": "Evicted",
                "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "image": "a", "imageID": "",
                    "state": {"terminated": {"exitCode": 137}}}]}},
            {"metadata": {"name": "bare"}}
        ]});
        let body = serde_json::to_vec(&pods).unwrap();
        #[derive(Deserialize)]
        struct Full {
            items: Vec<Pod>,
        }
        let full = serde_json::from_slice::<Full>(&body).unwrap().items;
        let rows: Vec<Pod> = serde_json::from_slice::<PodRowList>(&body)
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.0)
            .collect();
        let now = 1_740_830_400;
        for (all, wide) in [(true, true), (false, false), (true, false)] {
            for lang in [Lang::En, Lang::Zh] {
                assert_eq!(
                    super::super::pods_reply("prod", "all", &rows, all, wide, now, lang),
                    super::super::pods_reply("prod", "all", &full, all, wide, now, lang),
                );
            }
        }
        for (r, f) in rows.iter().zip(&full) {
            assert_eq!(super::super::pod_status(r), super::super::pod_status(f));
        }
    }
}
