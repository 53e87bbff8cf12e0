//! A fake Kubernetes API server (plain HTTP on 127.0.0.1) that speaks the REST and watch
//! protocol the way a real one does for what wedock uses (specs/kubernetes-api.md): typed
//! paths for core and grouped kinds, LIST envelopes with a list resourceVersion, label and
//! field selectors, `limit`/`continue` paging, WATCH streams (one JSON event per line,
//! BOOKMARKs with `kind`/`apiVersion`, a too-old resourceVersion answered with HTTP 200 and an
//! in-stream `ERROR` Status of code 410), pod logs as text/plain with the kubelet's 400s,
//! merge / strategic / JSON patches on objects and on `/scale`, pod deletion returning the
//! object, evictions, the metrics API (absent = plain-text 404, down = plain-text 503), and
//! `Status` bodies that always carry `code` and `reason` (kube's is_* checks read the reason only).
//!
//! Tests script it: put objects (every write bumps one global resourceVersion and emits a watch
//! event), forbid verbs per resource and user (403 with the real message), expire the watch
//! history (the next watch gets 410), drop live watches, send bookmarks, and read the request
//! log (method, URI, headers, body) to assert on what wedock sent.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

pub mod objects;
mod request;
mod routes;

use routes::handle;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// What the fake knows about a resource type.
#[derive(Debug, Clone, Copy)]
struct Res {
    plural: &'static str,
    /// "" for core.
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    namespaced: bool,
}

const RESOURCES: &[Res] = &[
    Res {
        plural: "pods",
        group: "",
        version: "v1",
        kind: "Pod",
        namespaced: true,
    },
    Res {
        plural: "services",
        group: "",
        version: "v1",
        kind: "Service",
        namespaced: true,
    },
    Res {
        plural: "events",
        group: "",
        version: "v1",
        kind: "Event",
        namespaced: true,
    },
    Res {
        plural: "nodes",
        group: "",
        version: "v1",
        kind: "Node",
        namespaced: false,
    },
    Res {
        plural: "namespaces",
        group: "",
        version: "v1",
        kind: "Namespace",
        namespaced: false,
    },
    Res {
        plural: "deployments",
        group: "apps",
        version: "v1",
        kind: "Deployment",
        namespaced: true,
    },
    Res {
        plural: "statefulsets",
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        namespaced: true,
    },
    Res {
        plural: "daemonsets",
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        namespaced: true,
    },
    Res {
        plural: "replicasets",
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        namespaced: true,
    },
    Res {
        plural: "ingresses",
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        namespaced: true,
    },
    Res {
        plural: "persistentvolumeclaims",
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        namespaced: true,
    },
    Res {
        plural: "jobs",
        group: "batch",
        version: "v1",
        kind: "Job",
        namespaced: true,
    },
    Res {
        plural: "horizontalpodautoscalers",
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        namespaced: true,
    },
];

fn res(plural: &str) -> Option<Res> {
    RESOURCES.iter().copied().find(|r| r.plural == plural)
}

impl Res {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// `pods`, `deployments.apps`: how Status messages name the resource.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

#[derive(Debug, Clone)]
struct WatchEvent {
    rv: u64,
    plural: String,
    kind: &'static str,
    object: Value,
}

/// How the metrics API behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metrics {
    /// No APIService registered: plain-text 404.
    Absent,
    /// Registered but metrics-server down: plain-text 503 from the aggregator.
    Down,
    /// Serves what `set_pod_metrics` stored.
    Up,
}

struct Inner {
    rv: u64,
    /// (plural, namespace, name) → object (without kind/apiVersion, as list items are).
    objects: BTreeMap<(String, String, String), Value>,
    history: Vec<WatchEvent>,
    /// Watches from a resourceVersion below this get 410.
    oldest: u64,
    requests: Vec<Recorded>,
    /// (user or "*", verb, resource) → forbidden.
    forbidden: HashSet<(String, String, String)>,
    /// (ns, pod, container) → (current log, previous log).
    logs: HashMap<(String, String, String), (String, Option<String>)>,
    metrics: Metrics,
    pod_metrics: Vec<Value>,
    /// Pods whose eviction a PodDisruptionBudget blocks → how many more attempts it refuses
    /// (`None` = every attempt).
    pdb_blocked: HashMap<(String, String), Option<u32>>,
    /// Bumped to end every live watch.
    epoch: u64,
}

#[derive(Clone)]
pub struct FakeKube {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    events: broadcast::Sender<Option<WatchEvent>>,
}

const SA_USER: &str = "system:serviceaccount:ops:wedock";

impl FakeKube {
    pub async fn start() -> FakeKube {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake kube");
        let addr = listener.local_addr().expect("addr");
        let (events, _) = broadcast::channel(4096);
        let fake = FakeKube {
            addr,
            inner: Arc::new(Mutex::new(Inner {
                rv: 1000,
                objects: BTreeMap::new(),
                history: Vec::new(),
                oldest: 0,
                requests: Vec::new(),
                forbidden: HashSet::new(),
                logs: HashMap::new(),
                metrics: Metrics::Absent,
                pod_metrics: Vec::new(),
                pdb_blocked: HashMap::new(),
                epoch: 0,
            })),
            events,
        };
        let app = Router::new().fallback(handle).with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig with one context per name, all pointing here with a token user; the first
    /// is current. Each context's namespace is `default`.
    pub fn kubeconfig(&self, contexts: &[&str]) -> String {
        let mut s = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        s.push_str(&format!(
            "- name: fake\n  cluster:\n    server: \"{}\"\n",
            self.url()
        ));
        s.push_str("contexts:\n");
        for c in contexts {
            s.push_str(&format!(
                "- name: {c}\n  context:\n    cluster: fake\n    user: tester\n    namespace: default\n"
            ));
        }
        s.push_str(&format!(
            "current-context: {}\nusers:\n- name: tester\n  user:\n    token: test-token\n",
            contexts.first().copied().unwrap_or("fake")
        ));
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or replaces an object (ADDED or MODIFIED), filling the metadata a real server
    /// sets. Returns the stored object.
    pub fn put(&self, plural: &str, mut obj: Value) -> Value {
        let r = res(plural).expect("known resource");
        let mut i = self.lock();
        i.rv += 1;
        let rv = i.rv;
        let ns = if r.namespaced {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        let name = obj["metadata"]["name"].as_str().expect("name").to_string();
        let key = (plural.to_string(), ns.clone(), name.clone());
        let existed = i.objects.get(&key).cloned();
        if let Some(m) = obj["metadata"].as_object_mut() {
            if r.namespaced {
                m.insert("namespace".into(), json!(ns));
            }
            m.insert("resourceVersion".into(), json!(rv.to_string()));
            let uid = existed
                .as_ref()
                .and_then(|e| e["metadata"]["uid"].as_str().map(str::to_string))
                .unwrap_or_else(|| format!("uid-{plural}-{ns}-{name}"));
            m.entry("uid").or_insert(json!(uid));
            m.entry("creationTimestamp").or_insert(json!(
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
            ));
        }
        if let Some(o) = obj.as_object_mut() {
            o.remove("kind");
            o.remove("apiVersion");
        }
        i.objects.insert(key, obj.clone());
        let ev = WatchEvent {
            rv,
            plural: plural.to_string(),
            kind: if existed.is_some() {
                "MODIFIED"
            } else {
                "ADDED"
            },
            object: obj.clone(),
        };
        i.history.push(ev.clone());
        drop(i);
        let _ = self.events.send(Some(ev));
        obj
    }

    pub fn get(&self, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&(plural.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Deletes an object (DELETED event with a new resourceVersion).
    pub fn remove(&self, plural: &str, ns: &str, name: &str) -> Option<Value> {
        let mut i = self.lock();
        let mut obj = i
            .objects
            .remove(&(plural.to_string(), ns.to_string(), name.to_string()))?;
        i.rv += 1;
        let rv = i.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let ev = WatchEvent {
            rv,
            plural: plural.to_string(),
            kind: "DELETED",
            object: obj.clone(),
        };
        i.history.push(ev.clone());
        drop(i);
        let _ = self.events.send(Some(ev));
        Some(obj)
    }

    /// Forbids `verb` (get, list, watch, patch, delete, create) on `resource` (`pods`,
    /// `pods/log`, `deployments/scale`, `pods/eviction`) for `user` (`None` = everyone).
    pub fn forbid(&self, user: Option<&str>, verb: &str, resource: &str) {
        self.lock().forbidden.insert((
            user.unwrap_or("*").to_string(),
            verb.to_string(),
            resource.to_string(),
        ));
    }

    pub fn set_logs(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        current: &str,
        previous: Option<&str>,
    ) {
        self.lock().logs.insert(
            (ns.into(), pod.into(), container.into()),
            (current.into(), previous.map(str::to_string)),
        );
    }

    pub fn set_metrics(&self, m: Metrics, pod_metrics: Vec<Value>) {
        let mut i = self.lock();
        i.metrics = m;
        i.pod_metrics = pod_metrics;
    }

    /// A PodDisruptionBudget that refuses every eviction of the pod (429).
    pub fn block_eviction(&self, ns: &str, pod: &str) {
        self.lock()
            .pdb_blocked
            .insert((ns.into(), pod.into()), None);
    }

    /// A PodDisruptionBudget that refuses the next `attempts` evictions of the pod (429), as
    /// when another replica is becoming ready meanwhile, then allows it.
    pub fn block_eviction_times(&self, ns: &str, pod: &str, attempts: u32) {
        self.lock()
            .pdb_blocked
            .insert((ns.into(), pod.into()), Some(attempts));
    }

    /// Forgets the watch history (as etcd compaction does): every watch that resumes from an
    /// older resourceVersion gets the in-stream 410, and live watches are ended so they must
    /// resume.
    pub fn expire_history(&self) {
        let mut i = self.lock();
        // Every resourceVersion handed out so far is now too old; a fresh LIST gets the new one.
        i.rv += 1;
        i.oldest = i.rv;
        i.history.clear();
        i.epoch += 1;
        drop(i);
        let _ = self.events.send(None);
    }

    /// Ends every live watch cleanly, as the server does at its own timeouts.
    pub fn drop_watches(&self) {
        self.lock().epoch += 1;
        let _ = self.events.send(None);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Waits until a request matching `pred` has arrived.
    pub async fn wait_request(&self, timeout: Duration, pred: impl Fn(&Recorded) -> bool) -> bool {
        let end = tokio::time::Instant::now() + timeout;
        loop {
            if self.requests().iter().any(&pred) {
                return true;
            }
            if tokio::time::Instant::now() > end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
