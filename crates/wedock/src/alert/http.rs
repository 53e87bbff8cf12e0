//! `POST /alertmanager` (Alertmanager webhook, payload version 4) and `POST /hooks/{name}`
//! (generic JSON). Both answer 200 only once the messages are in the outbox; 503 when the
//! store fails so the sender retries; 400 with the reason for a bad payload; 401 without
//! valid credentials.

use super::{Alert, Engine, Severity};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub fn routes<S: Clone + Send + Sync + 'static>(engine: Arc<Engine>) -> axum::Router<S> {
    axum::Router::new()
        .route("/alertmanager", post(alertmanager))
        .route("/hooks/{name}", post(hook))
        .layer(Extension(engine))
}

fn reject(code: StatusCode, reason: &'static str, msg: String) -> Response {
    metrics::counter!("wedock_rejected_total", "reason" => reason).increment(1);
    tracing::warn!(reason, "{msg}");
    (code, Json(serde_json::json!({ "error": msg }))).into_response()
}

/// Constant-time comparison so the token cannot be guessed byte by byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmPayload {
    pub version: String,
    #[serde(default)]
    pub group_key: String,
    pub status: String,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub external_url: String,
    /// The route's `group_by` labels: a silence of the group matches these.
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    /// Labels equal across the notification's alerts (the silence matchers when the route
    /// has no `group_by`).
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    pub alerts: Vec<AmAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmAlert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

/// Parses and checks an Alertmanager payload; the error is the reason given in the 400.
pub fn parse_alertmanager(body: &[u8]) -> Result<Vec<Alert>, String> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let p: AmPayload = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || e.inner().is_syntax() || e.inner().is_eof() {
            format!("invalid JSON: {}", e.inner())
        } else {
            format!("invalid field `{path}`: {}", e.inner())
        }
    })?;
    if p.version != "4" {
        return Err(format!(
            "unsupported payload version {:?} (expected \"4\")",
            p.version
        ));
    }
    if !matches!(p.status.as_str(), "firing" | "resolved") {
        return Err(format!("invalid status {:?}", p.status));
    }
    if p.alerts.is_empty() {
        return Err("no alerts in the payload".into());
    }
    // Silencing one alert of a group silences the group, as Alertmanager groups them; an
    // empty set (no group_by, nothing in common) falls back to the alert's own labels.
    let group_matchers: BTreeMap<String, String> = if p.group_labels.is_empty() {
        p.common_labels.clone()
    } else {
        p.group_labels.clone()
    };
    let mut out = Vec::new();
    for (i, a) in p.alerts.into_iter().enumerate() {
        let resolved = match a.status.as_str() {
            "firing" => false,
            "resolved" => true,
            s => return Err(format!("alerts[{i}].status: invalid status {s:?}")),
        };
        let Some(name) = a.labels.get("alertname").cloned() else {
            return Err(format!("alerts[{i}].labels: missing alertname"));
        };
        let at =
            chrono::DateTime::parse_from_rfc3339(if resolved { &a.ends_at } else { &a.starts_at })
                .map(|t| t.timestamp_millis())
                .unwrap_or_else(|_| crate::store::now_ms());
        let fp = if a.fingerprint.is_empty() {
            format!("{:?}", a.labels)
        } else {
            a.fingerprint.clone()
        };
        let (kind, sev) = if resolved {
            ("resolved", Severity::Resolved)
        } else {
            (
                "firing",
                Severity::from_label(a.labels.get("severity").map(String::as_str)),
            )
        };
        let mut al = Alert::new(
            "alertmanager",
            kind,
            sev,
            format!("am|{fp}|{kind}|{}|{}", a.starts_at, a.ends_at),
        );
        al.title = Some(name);
        al.text = a
            .annotations
            .get("summary")
            .or_else(|| a.annotations.get("description"))
            .or_else(|| a.annotations.get("message"))
            .cloned();
        al.host = a.labels.get("instance").cloned();
        al.container = a.labels.get("container").cloned();
        al.project = a
            .labels
            .get("namespace")
            .or_else(|| a.labels.get("job"))
            .cloned();
        al.silence_matchers = if group_matchers.values().any(|v| !v.is_empty()) {
            group_matchers.clone()
        } else {
            a.labels.clone()
        };
        al.labels = a.labels;
        al.annotations = a.annotations;
        al.at = at;
        al.fingerprint = format!("am|{fp}");
        al.group_key = format!("am|{}|{}|{kind}", p.receiver, p.group_key);
        al.url = (!a.generator_url.is_empty()).then_some(a.generator_url);
        if al.url.is_none() && !p.external_url.is_empty() {
            al.url = Some(p.external_url.clone());
        }
        out.push(al);
    }
    Ok(out)
}

async fn alertmanager(
    Extension(engine): Extension<Arc<Engine>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app = engine.app.clone();
    let cfg = &app.config.alerts;
    let token_ok = cfg
        .receiver_token()
        .is_some_and(|t| bearer(&headers).is_some_and(|b| same(b, t.expose())));
    let basic_ok = match cfg.receiver_basic() {
        Some((u, p)) => {
            basic(&headers).is_some_and(|(bu, bp)| same(&bu, u) && same(&bp, p.expose()))
        }
        None => false,
    };
    let open = cfg.receiver_token().is_none() && cfg.receiver_basic().is_none();
    if open {
        return reject(
            StatusCode::FORBIDDEN,
            "alertmanager_not_configured",
            "set alerts.alertmanager.token (or alerts.alertmanager_token) or basic_user to accept Alertmanager webhooks".into(),
        );
    }
    if !token_ok && !basic_ok {
        return reject(
            StatusCode::UNAUTHORIZED,
            "alertmanager_auth",
            "missing or wrong credentials".into(),
        );
    }
    let alerts = match parse_alertmanager(&body) {
        Ok(a) => a,
        Err(why) => return reject(StatusCode::BAD_REQUEST, "alertmanager_payload", why),
    };
    submit(&engine, alerts).await
}

async fn submit(engine: &Arc<Engine>, alerts: Vec<Alert>) -> Response {
    let n = alerts.len();
    match engine.submit_coalesced(alerts).await {
        Ok(done) => Json(serde_json::json!({
            "accepted": n,
            "messages": done.messages,
            "suppressed": done.suppressed,
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not store alerts");
            metrics::counter!("wedock_alert_store_errors_total").increment(1);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "error": "store unavailable, retry later" })),
            )
                .into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookPayload {
    pub text: String,
    #[serde(default)]
    pub title: Option<String>,
    /// critical, warning, info or resolved.
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Same id = same alert (dedup); default: the text.
    #[serde(default)]
    pub id: Option<String>,
}

async fn hook(
    Extension(engine): Extension<Arc<Engine>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app = engine.app.clone();
    let Some(h) = app.config.alerts.hooks.get(&name) else {
        return reject(
            StatusCode::NOT_FOUND,
            "hook_unknown",
            format!("no hook named {name:?}"),
        );
    };
    let given = bearer(&headers).or(q.get("token").map(String::as_str));
    if !given.is_some_and(|g| same(g, h.token.expose())) {
        return reject(
            StatusCode::UNAUTHORIZED,
            "hook_auth",
            format!("hook {name}: missing or wrong token"),
        );
    }
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let p: HookPayload = match serde_path_to_error::deserialize(de) {
        Ok(p) => p,
        Err(e) => {
            return reject(
                StatusCode::BAD_REQUEST,
                "hook_payload",
                format!("invalid payload at `{}`: {}", e.path(), e.inner()),
            );
        }
    };
    if p.text.trim().is_empty() {
        return reject(
            StatusCode::BAD_REQUEST,
            "hook_payload",
            "`text` must not be empty".into(),
        );
    }
    let sev = match p.severity.as_deref() {
        None | Some("info") => Severity::Info,
        Some("critical") => Severity::Critical,
        Some("warning") => Severity::Warning,
        Some("resolved") => Severity::Resolved,
        Some(other) => {
            return reject(
                StatusCode::BAD_REQUEST,
                "hook_payload",
                format!("`severity` {other:?} is not critical, warning, info or resolved"),
            );
        }
    };
    let id = p.id.clone().unwrap_or_else(|| p.text.clone());
    let now = crate::store::now_ms();
    let source = format!("hook:{name}");
    let mut a = Alert::new(&source, "hook", sev, format!("{source}|{id}|{now}"));
    a.title = p.title.or(Some(name.clone()));
    a.text = Some(p.text);
    a.labels = p.labels;
    a.fingerprint = format!("{source}|{id}");
    a.direct = h.targets.clone();
    submit(&engine, vec![a]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanager_payload_errors_name_the_problem() {
        assert!(
            parse_alertmanager(b"{")
                .unwrap_err()
                .contains("invalid JSON")
        );
        let e =
            parse_alertmanager(br#"{"version":"3","status":"firing","alerts":[]}"#).unwrap_err();
        assert!(e.contains("version"), "{e}");
        let e = parse_alertmanager(
            br#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{}}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("alertname"), "{e}");
        let e = parse_alertmanager(br#"{"version":"4","status":"firing","alerts":[{"status":1}]}"#)
            .unwrap_err();
        assert!(e.contains("alerts[0].status"), "{e}");
    }
}
