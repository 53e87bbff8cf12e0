//! Alert records: the durable state of each alert people can act on (firing, acknowledged by
//! whom and when, silenced until when and by which silence, resolved). Kept in their own
//! table and their own schema part, beside the core tables, so the record can change without
//! touching the message path.

use super::StoreResult;
use async_trait::async_trait;
use serde::Serialize;

/// One alert as a source reported it, reduced to what the record keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertObservation {
    /// Identity of the problem (same as the engine's dedup fingerprint).
    pub fingerprint: String,
    /// `docker`, `alertmanager`, `kubernetes`, `hook:NAME`.
    pub source: String,
    /// What it is about: container, alert name or title.
    pub subject: String,
    /// `critical`, `warning`, `info` (the firing severity; a resolution keeps the old one).
    pub severity: String,
    /// Docker host, Alertmanager instance.
    pub host: Option<String>,
    /// Compose project, Kubernetes namespace or job.
    pub place: Option<String>,
    /// The likely cause, when the source knows it (exit code meaning, OOM, summary).
    pub cause: Option<String>,
    /// The alert's labels as a JSON object (for `/silence LABEL=VALUE` and silences).
    pub labels: String,
    /// The matchers a silence of this alert uses, as a JSON object (Alertmanager: the group
    /// labels); `{}` when wedock's own mutes apply.
    pub matchers: String,
    /// The source's group (Alertmanager `groupKey`), for one living card per group.
    pub group_key: String,
    /// False for a resolution.
    pub firing: bool,
    pub at: i64,
}

/// The durable record of one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    /// Short number people type: `/ack 12`.
    pub id: i64,
    pub fingerprint: String,
    pub source: String,
    pub subject: String,
    pub severity: String,
    pub host: Option<String>,
    pub place: Option<String>,
    pub cause: Option<String>,
    pub labels: String,
    pub matchers: String,
    pub group_key: String,
    pub first_at: i64,
    pub last_at: i64,
    pub resolved_at: Option<i64>,
    pub acked_by: Option<String>,
    pub acked_at: Option<i64>,
    pub silenced_by: Option<String>,
    pub silenced_until: Option<i64>,
    /// The wedock mute id (`m…`) or the Alertmanager silence id (a UUID).
    pub silence_id: Option<String>,
}

impl AlertRecord {
    pub fn is_firing(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// Whether a silence set on it still holds at `now`.
    pub fn silenced_at(&self, now: i64) -> bool {
        self.silenced_until.is_some_and(|u| u > now)
    }

    /// A firing critical Docker alert `#12 api-3 @prod-1` nobody has touched, for unit tests
    /// to adjust with struct update syntax.
    #[cfg(test)]
    pub fn sample() -> AlertRecord {
        AlertRecord {
            id: 12,
            fingerprint: "f".into(),
            source: "docker".into(),
            subject: "api-3".into(),
            severity: "critical".into(),
            host: Some("prod-1".into()),
            place: None,
            cause: None,
            labels: "{}".into(),
            matchers: "{}".into(),
            group_key: String::new(),
            first_at: 0,
            last_at: 0,
            resolved_at: None,
            acked_by: None,
            acked_at: None,
            silenced_by: None,
            silenced_until: None,
            silence_id: None,
        }
    }
}

/// A silence to record on an alert, or its removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceMark {
    pub by: String,
    pub until: i64,
    pub silence_id: String,
}

/// What acknowledging did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// This call acknowledged it.
    Acked(AlertRecord),
    /// It was acknowledged before (by the record's `acked_by`); nothing changed.
    Already(AlertRecord),
    NotFound,
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Records a batch: a firing observation updates the open record of its fingerprint (last
    /// seen, severity, subject, cause) or opens a new one; a resolution closes the open record
    /// and returns it, or `None` when no record is open. One answer per observation, in order.
    async fn alert_observe(
        &self,
        batch: Vec<AlertObservation>,
    ) -> StoreResult<Vec<Option<AlertRecord>>>;
    async fn alert_get(&self, id: i64) -> StoreResult<Option<AlertRecord>>;
    /// The most recently seen records, newest first.
    async fn alert_recent(&self, limit: usize) -> StoreResult<Vec<AlertRecord>>;
    /// Firing, unacknowledged records first seen at or after `since`, oldest first (the
    /// escalation steps' candidates).
    async fn alert_unacked(&self, since: i64, limit: usize) -> StoreResult<Vec<AlertRecord>>;
    /// Acknowledges once: the first caller wins, later ones see [`AckOutcome::Already`].
    async fn alert_ack(&self, id: i64, by: &str, at: i64) -> StoreResult<AckOutcome>;
    /// Sets (or with `None` clears) the silence shown on the records `ids`; returns them.
    async fn alert_silence(
        &self,
        ids: Vec<i64>,
        mark: Option<SilenceMark>,
    ) -> StoreResult<Vec<AlertRecord>>;
    /// Records whose silence is `silence_id`.
    async fn alert_by_silence(&self, silence_id: &str) -> StoreResult<Vec<AlertRecord>>;
}

/// The columns read into an [`AlertRecord`], in its field order.
pub(crate) const RECORD_COLS: &str = "id, fingerprint, source, subject, severity, host, place, cause, labels, matchers, group_key, first_at, last_at, resolved_at, acked_by, acked_at, silenced_by, silenced_until, silence_id";
