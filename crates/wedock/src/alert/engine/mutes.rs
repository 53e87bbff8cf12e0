//! Mutes typed in chat (`/mute`, `/unmute`): stored with their expiry in the key-value table.

use super::*;

/// A mute from chat: alerts whose container, project, host or name match `target` (a glob)
/// are not sent until `until`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mute {
    pub id: String,
    pub target: String,
    pub by: String,
    pub until: i64,
    pub created: i64,
    /// Only the alert with this fingerprint (`/silence ID` of a Docker or webhook alert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Only alerts whose labels all equal these (`/silence LABEL=VALUE…`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Why, as given to `/silence`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// What a mute from `/silence` matches: one alert, or labels; `target` is how it reads.
#[derive(Debug, Clone, Default)]
pub struct MuteSpec {
    pub target: String,
    pub fingerprint: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub reason: String,
}

impl Mute {
    pub fn matches(&self, a: &Alert) -> bool {
        if let Some(fp) = &self.fingerprint {
            return &a.fingerprint == fp;
        }
        if !self.labels.is_empty() {
            return self.labels.iter().all(|(k, v)| a.labels.get(k) == Some(v));
        }
        if self.target == "*" {
            return true;
        }
        let Ok(p) = glob::Pattern::new(&self.target) else {
            return false;
        };
        [
            a.container.as_deref(),
            a.project.as_deref(),
            a.host.as_deref(),
            a.title.as_deref(),
            a.labels.get("alertname").map(String::as_str),
        ]
        .into_iter()
        .flatten()
        .any(|v| p.matches(v))
    }
}

/// Mutes that have not expired.
pub async fn active_mutes(store: &dyn Store) -> StoreResult<Vec<Mute>> {
    let now = now_ms();
    Ok(store
        .kv_scan(MUTE_PREFIX)
        .await?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_str::<Mute>(&v).ok())
        .filter(|m| m.until > now)
        .collect())
}

/// Adds a mute; the id is short so it can be typed in `/unmute ID`.
pub async fn add_mute(
    store: &dyn Store,
    target: &str,
    duration: Duration,
    by: &str,
) -> StoreResult<Mute> {
    let spec = MuteSpec {
        target: target.to_string(),
        ..MuteSpec::default()
    };
    add_mute_spec(store, spec, duration, by).await
}

/// Adds a mute of one alert or of labels (`/silence`).
pub async fn add_mute_spec(
    store: &dyn Store,
    spec: MuteSpec,
    duration: Duration,
    by: &str,
) -> StoreResult<Mute> {
    let now = now_ms();
    let id = format!("m{}", hex::encode(rand::random::<[u8; 3]>()));
    let m = Mute {
        id: id.clone(),
        target: spec.target,
        by: by.to_string(),
        until: now + duration.as_millis() as i64,
        created: now,
        fingerprint: spec.fingerprint,
        labels: spec.labels,
        reason: spec.reason,
    };
    let v = serde_json::to_string(&m).unwrap_or_default();
    store
        .kv_set(&format!("{MUTE_PREFIX}{id}"), &v, Some(duration))
        .await?;
    Ok(m)
}

/// Removes a mute; false when no such mute exists.
pub async fn remove_mute(store: &dyn Store, id: &str) -> StoreResult<bool> {
    let key = format!("{MUTE_PREFIX}{id}");
    let exists = store.kv_get(&key).await?.is_some();
    if exists {
        store.kv_delete(&key).await?;
    }
    Ok(exists)
}
