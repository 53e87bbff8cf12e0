//! Silences from chat: what `/silence` names (an alert id or `LABEL=VALUE` matchers), and
//! where the silence lives — in Alertmanager (API v2) for alerts that came from it when
//! `[alerts.alertmanager] url` is set, else in wedock's own mutes.

use crate::alert::alertmanager_api::{AmApi, Expired};
use crate::alert::engine::{self, Mute, MuteSpec};
use crate::app::App;
use crate::i18n::Lang;
use crate::store::incidents::{AlertRecord, SilenceMark};
use crate::store::now_ms;
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest silence from chat.
pub const MAX_SILENCE: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a `/silence` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SilenceTarget {
    /// An alert record, `12` or `#12`.
    Alert(i64),
    /// Every alert whose labels equal these.
    Labels(BTreeMap<String, String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRequest {
    pub target: SilenceTarget,
    pub duration: Duration,
    pub reason: String,
}

pub use crate::render::card::alert_id;

/// Parses `ID|LABEL=VALUE… DURATION [reason…]`; the error is the sentence to show.
pub fn parse(words: &[String], lang: Lang) -> Result<SilenceRequest, String> {
    let usage = t!(lang, "incident.silence_usage");
    let first = words.first().ok_or_else(|| usage.to_string())?;
    let (target, rest) = if let Some(id) = alert_id(first) {
        (SilenceTarget::Alert(id), &words[1..])
    } else {
        let mut labels = BTreeMap::new();
        let mut n = 0;
        for w in words {
            let Some((k, v)) = w.split_once('=') else {
                break;
            };
            let k = k.trim();
            if !valid_label_name(k) {
                return Err(t!(lang, "incident.bad_label", name = format!("{k:?}")));
            }
            labels.insert(k.to_string(), v.trim_matches('"').to_string());
            n += 1;
        }
        if labels.is_empty() {
            return Err(usage.to_string());
        }
        if labels.values().all(|v| v.is_empty()) {
            return Err(t!(lang, "incident.empty_labels").to_string());
        }
        (SilenceTarget::Labels(labels), &words[n..])
    };
    let Some(d) = rest.first() else {
        return Err(usage.to_string());
    };
    let duration = match humantime::parse_duration(d) {
        Ok(x) if x.as_secs() >= 60 && x <= MAX_SILENCE => x,
        _ => {
            return Err(t!(
                lang,
                "incident.bad_duration",
                duration = format!("{d:?}")
            ));
        }
    };
    let reason = rest[1..].join(" ");
    let cut = crate::render::floor_char_boundary(&reason, 200);
    Ok(SilenceRequest {
        target,
        duration,
        reason: reason[..cut].to_string(),
    })
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn valid_label_name(k: &str) -> bool {
    let mut b = k.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && k.len() <= 100
}

/// The Alertmanager API client, when `[alerts.alertmanager] url` is set.
pub fn am_api(app: &App) -> Option<AmApi> {
    let am = &app.config.alerts.alertmanager;
    am.url.as_ref().map(|u| {
        AmApi::new(
            u,
            Duration::from_millis(am.api_timeout_ms.clamp(100, 60_000)),
        )
    })
}

/// A silence that was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The Alertmanager silence id, or the wedock mute id (`m…`).
    pub id: String,
    pub in_alertmanager: bool,
    pub until: i64,
    /// What it matches, for the reply.
    pub what: String,
    /// The records it was written on.
    pub records: Vec<AlertRecord>,
}

/// Why a silence could not be made, already worded.
pub type Failed = String;

fn matchers_text(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Makes the silence `req` asks for, by `by`, and marks the alert records it covers.
pub async fn make(
    app: &App,
    req: &SilenceRequest,
    record: Option<&AlertRecord>,
    by: &str,
    lang: Lang,
) -> Result<Made, Failed> {
    let now = now_ms();
    let until = now + req.duration.as_millis() as i64;
    let store_err = |e: crate::store::StoreError| e.to_string();
    let api = am_api(app);
    // Alertmanager owns the silence when the alert came from it (or labels were named and
    // an Alertmanager is configured); wedock's mutes otherwise.
    let (matchers, to_am) = match (&req.target, record) {
        (SilenceTarget::Alert(_), Some(r)) => {
            let mut m = super::matchers_of(r);
            if m.is_empty() {
                m = super::labels_of(r);
            }
            (m, r.source == "alertmanager" && api.is_some())
        }
        (SilenceTarget::Labels(m), _) => (m.clone(), api.is_some()),
        (SilenceTarget::Alert(_), None) => return Err("no such alert".into()),
    };
    let comment = match (record, req.reason.is_empty()) {
        (Some(r), true) => format!("wedock alert #{} {}", r.id, r.subject),
        (Some(r), false) => format!("wedock alert #{} {}: {}", r.id, r.subject, req.reason),
        (None, _) => req.reason.clone(),
    };
    let (id, what) = if to_am {
        let Some(api) = api else {
            return Err("no Alertmanager".into());
        };
        let ends = chrono::DateTime::from_timestamp_millis(until).unwrap_or_else(chrono::Utc::now);
        let id = api
            .create(&matchers, ends, by, &comment)
            .await
            .map_err(|e| t!(lang, "incident.am_silence_failed", error = e))?;
        (id, matchers_text(&matchers))
    } else {
        let spec = match (&req.target, record) {
            (SilenceTarget::Alert(_), Some(r)) => MuteSpec {
                target: format!("#{} {}", r.id, r.subject),
                fingerprint: Some(r.fingerprint.clone()),
                labels: BTreeMap::new(),
                reason: req.reason.clone(),
            },
            _ => MuteSpec {
                target: matchers_text(&matchers),
                fingerprint: None,
                labels: matchers.clone(),
                reason: req.reason.clone(),
            },
        };
        let m: Mute = engine::add_mute_spec(&*app.store, spec, req.duration, by)
            .await
            .map_err(store_err)?;
        app.mutes_changed();
        (m.id, m.target)
    };
    // The records it covers: the named one, or the open ones whose labels match.
    let ids: Vec<i64> = match (&req.target, record) {
        (SilenceTarget::Alert(_), Some(r)) => vec![r.id],
        _ => app
            .store
            .alert_recent(500)
            .await
            .map_err(store_err)?
            .into_iter()
            .filter(|r| r.is_firing())
            .filter(|r| {
                let l = super::labels_of(r);
                matchers.iter().all(|(k, v)| l.get(k) == Some(v))
            })
            .map(|r| r.id)
            .collect(),
    };
    let records = app
        .store
        .alert_silence(
            ids,
            Some(SilenceMark {
                by: by.to_string(),
                until,
                silence_id: id.clone(),
            }),
        )
        .await
        .map_err(store_err)?;
    Ok(Made {
        id,
        in_alertmanager: to_am,
        until,
        what,
        records,
    })
}

/// What `/unsilence` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifted {
    /// Expired (or it had already ended); the records it was shown on.
    Done {
        id: String,
        records: Vec<AlertRecord>,
    },
    /// Nothing known by that id.
    Unknown,
}

/// Lifts the silence named by `word`: an alert id (its silence), a wedock mute id or an
/// Alertmanager silence id.
pub async fn lift(app: &App, word: &str, lang: Lang) -> Result<Lifted, Failed> {
    let store_err = |e: crate::store::StoreError| e.to_string();
    let id = match alert_id(word) {
        Some(n) => match app.store.alert_get(n).await.map_err(store_err)? {
            Some(r) => match r.silence_id {
                Some(s) if r.silenced_at(now_ms()) => s,
                _ => return Ok(Lifted::Unknown),
            },
            None => return Ok(Lifted::Unknown),
        },
        None => word.trim().to_string(),
    };
    let mut known = engine::remove_mute(&*app.store, &id)
        .await
        .map_err(store_err)?;
    if known {
        app.mutes_changed();
    } else if let Some(api) = am_api(app) {
        known = match api.expire(&id).await {
            Ok(Expired::Done) => true,
            Ok(Expired::Unknown) => false,
            Err(e) => {
                return Err(t!(lang, "incident.am_expire_failed", error = e));
            }
        };
    }
    let marked = app.store.alert_by_silence(&id).await.map_err(store_err)?;
    if !known && marked.is_empty() {
        return Ok(Lifted::Unknown);
    }
    let ids = marked.iter().map(|r| r.id).collect();
    let records = app
        .store
        .alert_silence(ids, None)
        .await
        .map_err(store_err)?;
    Ok(Lifted::Done { id, records })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn an_id_or_matchers_then_a_duration_then_a_reason() {
        let r = parse(&w("12 1h"), Lang::En).unwrap();
        assert_eq!(r.target, SilenceTarget::Alert(12));
        assert_eq!(r.duration, Duration::from_secs(3600));
        assert_eq!(r.reason, "");
        let r = parse(&w("#7 4h deploy in progress"), Lang::En).unwrap();
        assert_eq!(r.target, SilenceTarget::Alert(7));
        assert_eq!(r.reason, "deploy in progress");
        let r = parse(&w("alertname=HighLatency service=api 2h"), Lang::En).unwrap();
        let SilenceTarget::Labels(l) = r.target else {
            panic!("labels expected")
        };
        assert_eq!(l.len(), 2);
        assert_eq!(l["service"], "api");
    }

    #[test]
    fn bad_input_is_explained() {
        for bad in [
            "",
            "12",
            "12 forever",
            "12 10s",
            "12 90d",
            "foo 1h",
            "1x=a 1h",
            "a= 1h",
        ] {
            assert!(parse(&w(bad), Lang::En).is_err(), "{bad:?} accepted");
        }
        assert_eq!(alert_id("＃12"), Some(12));
        assert_eq!(alert_id("99999999999999999999"), None);
    }
}
