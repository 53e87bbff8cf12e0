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

fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    });
    if let Some(d) = details {
        body["details"] = d;
    }
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json_ok(code: StatusCode, v: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn plain(code: StatusCode, text: &str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

fn not_found(r: &Res, name: &str) -> Response {
    status(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", r.qualified()),
        Some(json!({"name": name, "group": r.group, "kind": r.plural})),
    )
}

/// Parsed `/api/v1/...` or `/apis/{g}/{v}/...`.
struct Target {
    res: Res,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match segs.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _g, _v, rest @ ..] => rest,
        _ => return None,
    };
    let (ns, rest) = match rest {
        // `/api/v1/namespaces` and `/api/v1/namespaces/{name}` are the Namespace kind itself.
        ["namespaces", ns, plural, tail @ ..] => (Some(ns.to_string()), {
            let mut v = vec![*plural];
            v.extend_from_slice(tail);
            v
        }),
        other => (None, other.to_vec()),
    };
    let plural = *rest.first()?;
    let r = res(plural)?;
    let want_group = match segs.as_slice() {
        ["apis", g, ..] => *g,
        _ => "",
    };
    if r.group != want_group {
        return None;
    }
    Some(Target {
        res: r,
        ns,
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Label selector semantics: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a)`.
fn selector_matches(sel: &str, labels: &Value) -> Result<bool, String> {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut cur = String::new();
    for c in sel.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            return Err(format!("unable to parse requirement: {sel:?}"));
        }
        let ok = if let Some(k) = p.strip_prefix('!') {
            get(k.trim()).is_none()
        } else if let Some((k, v)) = p.split_once("!=") {
            get(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
            get(k.trim()) == Some(v.trim())
        } else if let Some((k, set)) = p.split_once(" notin ") {
            let set: Vec<&str> = set
                .trim()
                .trim_matches(['(', ')'])
                .split(',')
                .map(str::trim)
                .collect();
            !get(k.trim()).is_some_and(|v| set.contains(&v))
        } else if let Some((k, set)) = p.split_once(" in ") {
            let set: Vec<&str> = set
                .trim()
                .trim_matches(['(', ')'])
                .split(',')
                .map(str::trim)
                .collect();
            get(k.trim()).is_some_and(|v| set.contains(&v))
        } else {
            get(p).is_some()
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The field selectors the real server supports for the kinds used here; others are a 400.
fn field_matches(plural: &str, sel: &str, obj: &Value) -> Result<bool, String> {
    for p in sel.split(',') {
        let (k, v, neg) = if let Some((k, v)) = p.split_once("!=") {
            (k, v, true)
        } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
            (k, v, false)
        } else {
            return Err(format!("invalid field selector: {p}"));
        };
        let ptr = match (plural, k) {
            (_, "metadata.name") => "/metadata/name",
            (_, "metadata.namespace") => "/metadata/namespace",
            ("pods", "spec.nodeName") => "/spec/nodeName",
            ("pods", "status.phase") => "/status/phase",
            ("nodes", "spec.unschedulable") => "/spec/unschedulable",
            ("events", "involvedObject.name") => "/involvedObject/name",
            ("events", "involvedObject.kind") => "/involvedObject/kind",
            ("events", "involvedObject.namespace") => "/involvedObject/namespace",
            ("events", "involvedObject.uid") => "/involvedObject/uid",
            ("events", "reason") => "/reason",
            ("events", "type") => "/type",
            _ => return Err(format!("field label not supported: {k}")),
        };
        let have = match obj.pointer(ptr) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if (have == v) == neg {
            return Ok(false);
        }
    }
    Ok(true)
}

fn with_type(r: &Res, obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("kind".into(), json!(r.kind));
        m.insert("apiVersion".into(), json!(r.api_version()));
    }
    o
}

/// RFC 7386 merge patch (strategic merge equals it for every body wedock sends).
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Some(t) = target.as_object_mut() {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn user_of(headers: &HeaderMap) -> String {
    headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| SA_USER.to_string())
}

async fn handle(
    State(fake): State<FakeKube>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = query_pairs(&uri);
    let rec = Recorded {
        method: method.to_string(),
        uri: uri.to_string(),
        path: uri.path().to_string(),
        query: query.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).to_string(),
    };
    fake.lock().requests.push(rec);
    let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let path = uri.path();
    if path == "/version" {
        return json_ok(
            StatusCode::OK,
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "platform": "linux/amd64"}),
        );
    }
    if path.starts_with("/apis/metrics.k8s.io/") {
        return metrics_api(&fake, path);
    }
    let Some(t) = parse_path(path) else {
        return plain(StatusCode::NOT_FOUND, "404 page not found");
    };
    let watch = matches!(q("watch").as_deref(), Some("true" | "1" | "t"));
    let verb = match (&method, &t.name, &t.sub) {
        (&Method::GET, None, _) if watch => "watch",
        (&Method::GET, None, _) => "list",
        (&Method::GET, Some(_), _) => "get",
        (&Method::PATCH, ..) => "patch",
        (&Method::PUT, ..) => "update",
        (&Method::DELETE, ..) => "delete",
        (&Method::POST, ..) => "create",
        _ => "unknown",
    };
    let resource = match &t.sub {
        Some(s) => format!("{}/{s}", t.res.plural),
        None => t.res.plural.to_string(),
    };
    let user = user_of(&headers);
    let denied = {
        let i = fake.lock();
        i.forbidden
            .contains(&(user.clone(), verb.to_string(), resource.clone()))
            || i.forbidden
                .contains(&("*".to_string(), verb.to_string(), resource.clone()))
    };
    if denied {
        let group = if t.res.group.is_empty() {
            ""
        } else {
            t.res.group
        };
        let subject = match &t.name {
            Some(n) => format!("{} \"{n}\" is forbidden", t.res.qualified()),
            None => format!("{} is forbidden", t.res.qualified()),
        };
        let scope = match &t.ns {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        let msg = format!(
            "{subject}: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"
        );
        // Like the real server, `name` is left out for collection requests.
        let mut details = json!({"group": t.res.group, "kind": t.res.plural});
        if let Some(n) = &t.name {
            details["name"] = json!(n);
        }
        return status(403, "Forbidden", &msg, Some(details));
    }
    match verb {
        "watch" => watch_stream(&fake, &t, &query),
        "list" => list(&fake, &t, &query),
        "get" => get(&fake, &t, &query),
        "patch" => patch(&fake, &t, &headers, &body),
        "delete" => delete(&fake, &t),
        "create" if t.sub.as_deref() == Some("eviction") => evict(&fake, &t, &body),
        _ => status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            None,
        ),
    }
}

fn key_of(t: &Target) -> (String, String, String) {
    (
        t.res.plural.to_string(),
        t.ns.clone().unwrap_or_default(),
        t.name.clone().unwrap_or_default(),
    )
}

/// The objects a LIST returns, or the reason for a 400.
fn filtered(i: &Inner, t: &Target, query: &[(String, String)]) -> Result<Vec<Value>, String> {
    let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let mut out = Vec::new();
    for ((plural, ns, _), obj) in &i.objects {
        if plural != t.res.plural {
            continue;
        }
        if let Some(want) = &t.ns
            && want != ns
        {
            continue;
        }
        if let Some(sel) = q("labelSelector") {
            match selector_matches(&sel, &obj["metadata"]["labels"]) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => return Err(e),
            }
        }
        if let Some(sel) = q("fieldSelector") {
            match field_matches(t.res.plural, &sel, obj) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => return Err(e),
            }
        }
        out.push(obj.clone());
    }
    Ok(out)
}

fn list(fake: &FakeKube, t: &Target, query: &[(String, String)]) -> Response {
    let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let i = fake.lock();
    let items = match filtered(&i, t, query) {
        Ok(v) => v,
        Err(e) => return status(400, "BadRequest", &e, None),
    };
    let start: usize = match q("continue") {
        Some(c) => match c.strip_prefix("offset:").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    None,
                );
            }
        },
        None => 0,
    };
    let limit: usize = q("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(items.len());
    let page: Vec<Value> = items
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut meta = json!({"resourceVersion": i.rv.to_string()});
    if end < items.len() {
        meta["continue"] = json!(format!("offset:{end}"));
        meta["remainingItemCount"] = json!(items.len() - end);
    }
    json_ok(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", t.res.kind),
            "apiVersion": t.res.api_version(),
            "metadata": meta,
            "items": page,
        }),
    )
}

fn get(fake: &FakeKube, t: &Target, query: &[(String, String)]) -> Response {
    let i = fake.lock();
    let Some(obj) = i.objects.get(&key_of(t)).cloned() else {
        return not_found(&t.res, t.name.as_deref().unwrap_or(""));
    };
    match t.sub.as_deref() {
        None => json_ok(StatusCode::OK, &with_type(&t.res, &obj)),
        Some("scale") => json_ok(StatusCode::OK, &scale_of(&obj)),
        Some("log") => {
            let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
            let pod = t.name.clone().unwrap_or_default();
            let containers: Vec<String> = obj["spec"]["containers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let container = match q("container") {
                Some(c) if containers.contains(&c) => c,
                Some(c) => {
                    return status(
                        400,
                        "BadRequest",
                        &format!("container {c} is not valid for pod {pod}"),
                        None,
                    );
                }
                None if containers.len() == 1 => containers[0].clone(),
                None => {
                    return status(
                        400,
                        "BadRequest",
                        &format!(
                            "a container name must be specified for pod {pod}, choose one of: [{}]",
                            containers.join(" ")
                        ),
                        None,
                    );
                }
            };
            let ns = t.ns.clone().unwrap_or_default();
            let previous = matches!(q("previous").as_deref(), Some("true"));
            let stored = i.logs.get(&(ns, pod.clone(), container.clone())).cloned();
            let text = match (previous, stored) {
                (true, Some((_, Some(p)))) => p,
                (true, _) => {
                    return status(
                        400,
                        "BadRequest",
                        &format!(
                            "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                        ),
                        None,
                    );
                }
                (false, Some((c, _))) => c,
                (false, None) => String::new(),
            };
            let text = match q("tailLines").and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => {
                    let lines: Vec<&str> = text.lines().collect();
                    let from = lines.len().saturating_sub(n);
                    let mut s = lines[from..].join("\n");
                    if !s.is_empty() {
                        s.push('\n');
                    }
                    s
                }
                None => text,
            };
            plain(StatusCode::OK, &text)
        }
        Some(other) => plain(
            StatusCode::NOT_FOUND,
            &format!("404 page not found: {other}"),
        ),
    }
}

fn scale_of(obj: &Value) -> Value {
    let m = &obj["metadata"];
    let sel = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
                      "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": sel}
    })
}

fn patch(fake: &FakeKube, t: &Target, headers: &HeaderMap, body: &Bytes) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let Some(cur) = fake.get(
        t.res.plural,
        &t.ns.clone().unwrap_or_default(),
        t.name.as_deref().unwrap_or(""),
    ) else {
        return not_found(&t.res, t.name.as_deref().unwrap_or(""));
    };
    let Ok(p) = serde_json::from_slice::<Value>(body) else {
        return status(
            400,
            "BadRequest",
            "the body of the request was in an unknown format",
            None,
        );
    };
    let mut next = cur.clone();
    match (ct.as_str(), t.sub.as_deref()) {
        ("application/merge-patch+json" | "application/strategic-merge-patch+json", None) => {
            merge(&mut next, &p)
        }
        (
            "application/merge-patch+json" | "application/strategic-merge-patch+json",
            Some("scale"),
        ) => {
            let Some(r) = p["spec"]["replicas"].as_i64() else {
                return status(
                    422,
                    "Invalid",
                    "Scale.autoscaling \"x\" is invalid: spec.replicas: Required value",
                    None,
                );
            };
            next["spec"]["replicas"] = json!(r);
        }
        ("application/json-patch+json", None) => {
            let ops: json_patch::Patch = match serde_json::from_value(p) {
                Ok(o) => o,
                Err(e) => return status(400, "BadRequest", &e.to_string(), None),
            };
            if let Err(e) = json_patch::patch(&mut next, &ops) {
                return status(422, "Invalid", &e.to_string(), None);
            }
        }
        _ => {
            return status(
                415,
                "UnsupportedMediaType",
                &format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got {ct}"
                ),
                None,
            );
        }
    }
    if next.get("spec") != cur.get("spec") {
        let g = cur["metadata"]["generation"].as_i64().unwrap_or(1);
        next["metadata"]["generation"] = json!(g + 1);
    }
    let stored = fake.put(t.res.plural, next);
    if t.sub.as_deref() == Some("scale") {
        let mut s = scale_of(&stored);
        // The answer's status still shows the replicas before the controller acts.
        s["status"]["replicas"] = json!(cur["status"]["replicas"].as_i64().unwrap_or(0));
        return json_ok(StatusCode::OK, &s);
    }
    json_ok(StatusCode::OK, &with_type(&t.res, &stored))
}

fn delete(fake: &FakeKube, t: &Target) -> Response {
    let (p, ns, name) = key_of(t);
    match fake.remove(&p, &ns, &name) {
        // Pods answer with the deleted object; other kinds with a Success Status.
        Some(obj) if t.res.plural == "pods" => json_ok(StatusCode::OK, &with_type(&t.res, &obj)),
        Some(obj) => json_ok(
            StatusCode::OK,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": t.res.group, "kind": t.res.plural, "uid": obj["metadata"]["uid"]}}),
        ),
        None => not_found(&t.res, &name),
    }
}

fn evict(fake: &FakeKube, t: &Target, body: &Bytes) -> Response {
    let (_, ns, name) = key_of(t);
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if v["metadata"]["name"].as_str() != Some(name.as_str()) {
        return status(
            400,
            "BadRequest",
            "name in URL does not match name in Eviction object",
            None,
        );
    }
    let blocked = {
        let mut i = fake.lock();
        match i.pdb_blocked.get_mut(&(ns.clone(), name.clone())) {
            None | Some(Some(0)) => false,
            Some(None) => true,
            Some(Some(n)) => {
                *n -= 1;
                true
            }
        }
    };
    if blocked {
        return status(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
            Some(
                json!({"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"}]}),
            ),
        );
    }
    match fake.remove("pods", &ns, &name) {
        Some(_) => json_ok(
            StatusCode::CREATED,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        ),
        None => not_found(&t.res, &name),
    }
}

fn metrics_api(fake: &FakeKube, path: &str) -> Response {
    let i = fake.lock();
    match i.metrics {
        Metrics::Absent => plain(StatusCode::NOT_FOUND, "404 page not found"),
        Metrics::Down => plain(StatusCode::SERVICE_UNAVAILABLE, "service unavailable"),
        Metrics::Up => {
            let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
            let ns = match segs.as_slice() {
                [_, _, _, "namespaces", ns, "pods"] => Some(*ns),
                _ => None,
            };
            let items: Vec<Value> = i
                .pod_metrics
                .iter()
                .filter(|m| ns.is_none_or(|n| m["metadata"]["namespace"].as_str() == Some(n)))
                .cloned()
                .collect();
            json_ok(
                StatusCode::OK,
                &json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}),
            )
        }
    }
}

fn watch_matches(t: &Target, query: &[(String, String)], ev: &WatchEvent) -> bool {
    if ev.plural != t.res.plural {
        return false;
    }
    if let Some(ns) = &t.ns
        && ev.object["metadata"]["namespace"].as_str() != Some(ns)
    {
        return false;
    }
    let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    if let Some(sel) = q("labelSelector")
        && !selector_matches(&sel, &ev.object["metadata"]["labels"]).unwrap_or(false)
    {
        return false;
    }
    if let Some(sel) = q("fieldSelector")
        && !field_matches(t.res.plural, &sel, &ev.object).unwrap_or(false)
    {
        return false;
    }
    true
}

fn line(v: &Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

fn watch_stream(fake: &FakeKube, t: &Target, query: &[(String, String)]) -> Response {
    let q = |k: &str| query.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let bookmarks = q("allowWatchBookmarks").as_deref() == Some("true");
    let timeout: u64 = q("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(290)
        .min(600);
    let from: u64 = q("resourceVersion")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, std::convert::Infallible>>();
    let mut sub = fake.events.subscribe();
    let (replay, oldest, epoch, now_rv) = {
        let i = fake.lock();
        let replay: Vec<WatchEvent> = i
            .history
            .iter()
            .filter(|e| e.rv > from && watch_matches(t, query, e))
            .cloned()
            .collect();
        (replay, i.oldest, i.epoch, i.rv)
    };
    let r = t.res;
    if from != 0 && from < oldest {
        // The real apiserver accepts the watch and reports the expiry inside the stream.
        let _ = tx.unbounded_send(Ok(line(&json!({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {from} ({})", oldest - 1),
            "reason": "Expired", "code": 410}}))));
        drop(tx);
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(rx))
            .unwrap_or_default();
    }
    let t_ns = t.ns.clone();
    let t_query = query.to_vec();
    let fake2 = fake.clone();
    tokio::spawn(async move {
        let target = Target {
            res: r,
            ns: t_ns,
            name: None,
            sub: None,
        };
        let mut last = from;
        for e in replay {
            last = e.rv;
            if tx
                .unbounded_send(Ok(line(
                    &json!({"type": e.kind, "object": with_type(&r, &e.object)}),
                )))
                .is_err()
            {
                return;
            }
        }
        let _ = now_rv;
        let end = tokio::time::Instant::now() + Duration::from_secs(timeout);
        loop {
            tokio::select! {
                m = sub.recv() => match m {
                    Ok(Some(e)) if e.rv > last && watch_matches(&target, &t_query, &e) => {
                        last = e.rv;
                        if tx.unbounded_send(Ok(line(&json!({"type": e.kind, "object": with_type(&r, &e.object)})))).is_err() {
                            return;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        if fake2.lock().epoch != epoch {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tokio::time::sleep_until(end) => break,
            }
        }
        if bookmarks {
            let rv = fake2.lock().rv;
            let _ = tx.unbounded_send(Ok(line(&json!({"type": "BOOKMARK", "object": {
                "kind": r.kind, "apiVersion": r.api_version(),
                "metadata": {"resourceVersion": rv.to_string(), "creationTimestamp": null}}}))));
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(rx))
        .unwrap_or_default()
}

/// Realistic objects, shaped like the recorded ones in specs/kubernetes-api.md §7.
pub mod objects {
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
}
