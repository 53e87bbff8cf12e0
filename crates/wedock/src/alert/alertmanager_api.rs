//! The other direction of Alertmanager: wedock calls its API v2 to create, expire and list
//! silences (`[alerts.alertmanager] url`). Written against Alertmanager 0.25 (Debian), whose
//! quirks matter here: deleting an unknown silence answers 500 "silence not found" (404 from
//! 0.26 on), error bodies are JSON strings, expired silences stay listed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// A client for one Alertmanager.
#[derive(Clone)]
pub struct AmApi {
    base: String,
    http: reqwest::Client,
}

/// Why a call failed, with Alertmanager's own reason when it gave one.
#[derive(Debug, thiserror::Error)]
pub enum AmError {
    #[error("Alertmanager is unreachable: {0}")]
    Unreachable(String),
    #[error("Alertmanager refused: HTTP {status}: {reason}")]
    Refused { status: u16, reason: String },
    #[error("Alertmanager answered something unreadable: {0}")]
    BadAnswer(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceStatus {
    pub state: String,
}

/// A silence as Alertmanager lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub status: SilenceStatus,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub created_by: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub matchers: Vec<Matcher>,
}

impl Silence {
    pub fn is_active(&self) -> bool {
        self.status.state == "active" || self.status.state == "pending"
    }

    /// `name="value", name=~"regex"` for lists.
    pub fn matchers_text(&self) -> String {
        self.matchers
            .iter()
            .map(|m| {
                let op = match (m.is_regex, m.is_equal) {
                    (false, true) => "=",
                    (false, false) => "!=",
                    (true, true) => "=~",
                    (true, false) => "!~",
                };
                format!("{}{op}{:?}", m.name, m.value)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What expiring a silence did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Expired now, or it had already expired (Alertmanager answers 200 to both).
    Done,
    /// Alertmanager does not know the id (0.25: 500 "silence not found"; 0.26+: 404).
    Unknown,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

impl AmApi {
    /// A client for `base` (e.g. `http://alertmanager:9093`, a path prefix is kept).
    pub fn new(base: &url::Url, timeout: Duration) -> AmApi {
        let _ = rustls::crypto::ring::default_provider().install_default();
        AmApi {
            base: base.as_str().trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .build()
                .unwrap_or_default(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v2/{path}", self.base)
    }

    /// Creates a silence of `matchers` (all equality matchers) from now until `ends_at`;
    /// returns its id. Refuses an empty matcher set here: Alertmanager would reject it too.
    pub async fn create(
        &self,
        matchers: &BTreeMap<String, String>,
        ends_at: DateTime<Utc>,
        created_by: &str,
        comment: &str,
    ) -> Result<String, AmError> {
        if matchers.values().all(|v| v.is_empty()) {
            return Err(AmError::Refused {
                status: 400,
                reason: "at least one matcher must not match the empty string".into(),
            });
        }
        let matchers: Vec<Matcher> = matchers
            .iter()
            .map(|(k, v)| Matcher {
                name: k.clone(),
                value: v.clone(),
                is_regex: false,
                is_equal: true,
            })
            .collect();
        let body = serde_json::json!({
            "matchers": matchers,
            "startsAt": Utc::now().to_rfc3339(),
            "endsAt": ends_at.to_rfc3339(),
            "createdBy": created_by,
            "comment": comment,
        });
        let r = self
            .http
            .post(self.url("silences"))
            .json(&body)
            .send()
            .await
            .map_err(|e| AmError::Unreachable(without_url(e)))?;
        let r = checked(r).await?;
        let c: Created = r
            .json()
            .await
            .map_err(|e| AmError::BadAnswer(without_url(e)))?;
        Ok(c.silence_id)
    }

    /// Expires silence `id`. Unknown ids are [`Expired::Unknown`], not an error, on both
    /// 0.25 (500 "silence not found") and later versions (404).
    pub async fn expire(&self, id: &str) -> Result<Expired, AmError> {
        // Silence ids are UUIDs; anything else cannot name one (and must not shape the path).
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Ok(Expired::Unknown);
        }
        let r = self
            .http
            .delete(self.url(&format!("silence/{id}")))
            .send()
            .await
            .map_err(|e| AmError::Unreachable(without_url(e)))?;
        match checked(r).await {
            Ok(_) => Ok(Expired::Done),
            Err(AmError::Refused { status: 404, .. }) => Ok(Expired::Unknown),
            Err(AmError::Refused {
                status: 500,
                reason,
            }) if reason.contains("not found") => Ok(Expired::Unknown),
            Err(e) => Err(e),
        }
    }

    /// Every silence Alertmanager still lists (expired ones included).
    pub async fn list(&self) -> Result<Vec<Silence>, AmError> {
        let r = self
            .http
            .get(self.url("silences"))
            .send()
            .await
            .map_err(|e| AmError::Unreachable(without_url(e)))?;
        let r = checked(r).await?;
        r.json()
            .await
            .map_err(|e| AmError::BadAnswer(without_url(e)))
    }
}

/// The response when it is a success, else its status and reason (0.25 sends reasons as
/// JSON strings, schema errors as `{"code","message"}`).
async fn checked(r: reqwest::Response) -> Result<reqwest::Response, AmError> {
    let status = r.status();
    if status.is_success() {
        return Ok(r);
    }
    let text = r.text().await.unwrap_or_default();
    let reason = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => v["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| text.trim().to_string()),
        Err(_) => text.trim().to_string(),
    };
    let cut = crate::render::floor_char_boundary(&reason, 300);
    Err(AmError::Refused {
        status: status.as_u16(),
        reason: reason[..cut].to_string(),
    })
}

/// A transport error without the URL (it may carry credentials in userinfo).
fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_read_like_alertmanager_writes_them() {
        let s: Silence = serde_json::from_str(
            r#"{"id":"x","status":{"state":"active"},"createdBy":"wecom:zhang","comment":"",
                "startsAt":"2026-12-06T06:33:16Z","endsAt":"2026-12-06T07:33:16Z",
                "updatedAt":"2026-12-06T06:33:16Z",
                "matchers":[{"name":"alertname","value":"HighLatency","isRegex":false,"isEqual":true},
                            {"name":"service","value":"a.*","isRegex":true}]}"#,
        )
        .unwrap();
        assert!(s.is_active());
        assert_eq!(
            s.matchers_text(),
            r#"alertname="HighLatency", service=~"a.*""#
        );
    }
}
