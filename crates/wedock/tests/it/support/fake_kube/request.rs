//! What the fake reads from a request and the answers it shapes: `Status` bodies, the parsed
//! path, label and field selectors, patches, the impersonated user.

use super::*;

pub(super) fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response {
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

pub(super) fn json_ok(code: StatusCode, v: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

pub(super) fn plain(code: StatusCode, text: &str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

pub(super) fn not_found(r: &Res, name: &str) -> Response {
    status(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", r.qualified()),
        Some(json!({"name": name, "group": r.group, "kind": r.plural})),
    )
}

/// Parsed `/api/v1/...` or `/apis/{g}/{v}/...`.
pub(super) struct Target {
    pub(super) res: Res,
    pub(super) ns: Option<String>,
    pub(super) name: Option<String>,
    pub(super) sub: Option<String>,
}

pub(super) fn parse_path(path: &str) -> Option<Target> {
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

pub(super) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
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
pub(super) fn selector_matches(sel: &str, labels: &Value) -> Result<bool, String> {
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
pub(super) fn field_matches(plural: &str, sel: &str, obj: &Value) -> Result<bool, String> {
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

pub(super) fn with_type(r: &Res, obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("kind".into(), json!(r.kind));
        m.insert("apiVersion".into(), json!(r.api_version()));
    }
    o
}

/// RFC 7386 merge patch (strategic merge equals it for every body wedock sends).
pub(super) fn merge(target: &mut Value, patch: &Value) {
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

pub(super) fn user_of(headers: &HeaderMap) -> String {
    headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| SA_USER.to_string())
}
