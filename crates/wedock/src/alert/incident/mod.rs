//! Alerts people act on: every routed alert gets a durable record with a short id (store:
//! `store/incidents.rs`), and the same actions work from every channel — `/ack ID`,
//! `/silence ID|LABEL=VALUE… DURATION [reason]`, `/unsilence ID`, `/silences` — and from card
//! buttons, which map to those command texts.
//!
//! Silences: an alert that came from Alertmanager, when `[alerts.alertmanager] url` is set,
//! is silenced in Alertmanager itself (`alert/alertmanager_api.rs`); every other alert (Docker,
//! Kubernetes, webhooks) with wedock's own mutes (`alert/engine`), matched on the alert's
//! fingerprint or labels.
//!
//! - `command/incident.rs`: the chat handlers (with the other commands).
//! - `silence.rs`: what a `/silence` names, and creating/expiring/listing silences.
//! - `render/card.rs` (below the channels, which draw and read cards): alert cards with
//!   buttons, clicked buttons back to commands, and the state words they share.
//! - `escalate.rs`: `[[alerts.escalations]]`, steps for alerts nobody acknowledges.

pub mod escalate;
pub mod silence;

use crate::alert::{Alert, Severity};
use crate::i18n::Lang;
use crate::render::Format;
use crate::store::incidents::{AlertObservation, AlertRecord};
use crate::store::{Store, StoreResult};
use std::collections::BTreeMap;

/// Records `alerts` (firing ones open or refresh their record, resolutions close it) and
/// writes each record's id into its alert, so messages can name it (`/ack 12`).
pub async fn observe(store: &dyn Store, alerts: &mut [Alert]) -> StoreResult<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let batch = alerts.iter().map(observation).collect();
    let records = store.alert_observe(batch).await?;
    for (a, r) in alerts.iter_mut().zip(records) {
        a.record_id = r.as_ref().map(|r| r.id);
        a.record = r.map(Box::new);
    }
    Ok(())
}

/// The record-worthy part of an alert.
pub fn observation(a: &Alert) -> AlertObservation {
    AlertObservation {
        fingerprint: a.fingerprint.clone(),
        source: a.source.clone(),
        subject: a.subject(),
        severity: a.severity.as_str().to_string(),
        host: a.host.clone(),
        place: a.project.clone(),
        cause: likely_cause(a),
        labels: serde_json::to_string(&a.labels).unwrap_or_else(|_| "{}".into()),
        matchers: serde_json::to_string(&a.silence_matchers).unwrap_or_else(|_| "{}".into()),
        group_key: a.group_key.clone(),
        firing: !a.is_resolution(),
        at: a.at,
    }
}

/// A resolution of the record's alert, as a source would report it.
pub fn observation_of(r: &AlertRecord) -> AlertObservation {
    AlertObservation {
        fingerprint: r.fingerprint.clone(),
        source: r.source.clone(),
        subject: r.subject.clone(),
        severity: r.severity.clone(),
        host: r.host.clone(),
        place: r.place.clone(),
        cause: r.cause.clone(),
        labels: r.labels.clone(),
        matchers: r.matchers.clone(),
        group_key: r.group_key.clone(),
        firing: false,
        at: r.last_at,
    }
}

/// What most likely caused it, in a few words, when the source says (kept in English-free
/// form where possible: exit codes are explained in the alert's own message).
fn likely_cause(a: &Alert) -> Option<String> {
    if a.kind == "oom" {
        return Some("OOM".into());
    }
    if let Some(c) = a.exit_code {
        return Some(format!("exit {c}"));
    }
    let text = a.text.as_deref()?.lines().next()?.trim();
    if text.is_empty() {
        return None;
    }
    let cut = crate::render::floor_char_boundary(text, 120);
    Some(text[..cut].to_string())
}

/// The labels of a record (empty when unreadable).
pub fn labels_of(r: &AlertRecord) -> BTreeMap<String, String> {
    serde_json::from_str(&r.labels).unwrap_or_default()
}

/// The silence matchers of a record (empty: wedock mutes apply).
pub fn matchers_of(r: &AlertRecord) -> BTreeMap<String, String> {
    serde_json::from_str(&r.matchers).unwrap_or_default()
}

pub use crate::render::card::{clock, state_text, who};

/// One line of `/alerts`: `#12 🔴 api-3 @prod-1 — firing · acked by zhang 10:42`.
pub fn record_line(r: &AlertRecord, now: i64, lang: Lang) -> String {
    let marker = if r.resolved_at.is_some() {
        Severity::Resolved.marker()
    } else {
        match r.severity.as_str() {
            "critical" => Severity::Critical.marker(),
            "info" => Severity::Info.marker(),
            _ => Severity::Warning.marker(),
        }
    };
    let place = match (&r.host, &r.place) {
        (Some(h), Some(p)) => format!(" @{h}/{p}"),
        (Some(h), None) => format!(" @{h}"),
        (None, Some(p)) => format!(" @{p}"),
        _ => String::new(),
    };
    format!(
        "#{} {marker} {}{place} — {}",
        r.id,
        r.subject,
        state_text(r, now, lang)
    )
}

/// The commands to type under an alert message, for channels without buttons (group
/// robots): `/ack 12` · `/silence 12 1h`. Empty when no alert has a record or all resolved.
pub fn command_hint(alerts: &[Alert], format: Format, lang: Lang) -> Option<String> {
    let ids: Vec<i64> = alerts
        .iter()
        .filter(|a| !a.is_resolution())
        .filter_map(|a| a.record_id)
        .collect();
    let first = *ids.first()?;
    let code = |s: String| match format {
        Format::Text => s,
        _ => format!("`{s}`"),
    };
    let q = if format == Format::Text { "" } else { "> " };
    let ack = code(format!("/ack {first}"));
    let silence = code(format!("/silence {first} 1h"));
    let more = if ids.len() > 1 {
        let rest: Vec<String> = ids[1..].iter().map(|i| format!("#{i}")).collect();
        t!(lang, "incident.hint_more", ids = rest.join(" "))
    } else {
        String::new()
    };
    let hint = t!(
        lang,
        "incident.hint",
        id = first,
        more = more,
        ack = ack,
        silence = silence
    );
    Some(format!("{q}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> AlertRecord {
        AlertRecord::sample()
    }

    #[test]
    fn state_names_who_acked_and_until_when_silenced() {
        let mut r = rec();
        assert_eq!(
            record_line(&r, 0, Lang::En),
            "#12 🔴 api-3 @prod-1 — firing"
        );
        r.acked_by = Some("wecom:zhangsan".into());
        r.acked_at = Some(1);
        r.silenced_by = Some("wecom:lisi".into());
        r.silenced_until = Some(10);
        let zh = state_text(&r, 5, Lang::Zh);
        assert!(zh.contains("zhangsan") && zh.contains("认领"), "{zh}");
        assert!(zh.contains("lisi 静默至"), "{zh}");
        // An expired silence is not shown.
        assert!(!state_text(&r, 11, Lang::En).contains("silenced"));
        r.resolved_at = Some(3);
        assert!(record_line(&r, 11, Lang::En).starts_with("#12 ✅"));
    }

    #[test]
    fn hint_shows_the_commands_to_type() {
        let mut a = Alert::new("docker", "die", Severity::Critical, "e".into());
        assert_eq!(command_hint(&[a.clone()], Format::Markdown, Lang::Zh), None);
        a.record_id = Some(12);
        let h = command_hint(&[a.clone()], Format::Markdown, Lang::Zh).unwrap();
        assert!(
            h.contains("`/ack 12`") && h.contains("`/silence 12 1h`"),
            "{h}"
        );
        let t = command_hint(&[a], Format::Text, Lang::En).unwrap();
        assert!(t.contains("/ack 12") && !t.contains('`'), "{t}");
    }
}
