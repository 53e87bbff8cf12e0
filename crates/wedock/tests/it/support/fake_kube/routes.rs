//! The fake's verbs: one fallback handler dispatching GET/LIST/WATCH, PATCH (objects and
//! `/scale`), DELETE, evictions and the metrics API.

use super::request::*;
use super::*;

pub(super) async fn handle(
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

pub(super) fn key_of(t: &Target) -> (String, String, String) {
    (
        t.res.plural.to_string(),
        t.ns.clone().unwrap_or_default(),
        t.name.clone().unwrap_or_default(),
    )
}

/// The objects a LIST returns, or the reason for a 400.
pub(super) fn filtered(
    i: &Inner,
    t: &Target,
    query: &[(String, String)],
) -> Result<Vec<Value>, String> {
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

pub(super) fn list(fake: &FakeKube, t: &Target, query: &[(String, String)]) -> Response {
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

pub(super) fn get(fake: &FakeKube, t: &Target, query: &[(String, String)]) -> Response {
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

pub(super) fn scale_of(obj: &Value) -> Value {
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

pub(super) fn patch(fake: &FakeKube, t: &Target, headers: &HeaderMap, body: &Bytes) -> Response {
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

pub(super) fn delete(fake: &FakeKube, t: &Target) -> Response {
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

pub(super) fn evict(fake: &FakeKube, t: &Target, body: &Bytes) -> Response {
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

pub(super) fn metrics_api(fake: &FakeKube, path: &str) -> Response {
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

pub(super) fn watch_matches(t: &Target, query: &[(String, String)], ev: &WatchEvent) -> bool {
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

pub(super) fn line(v: &Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

pub(super) fn watch_stream(fake: &FakeKube, t: &Target, query: &[(String, String)]) -> Response {
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
