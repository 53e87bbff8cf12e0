//! Alert cards for the channels that have buttons (WeCom self-built app `template_card`
//! `button_interaction`, the intelligent robot): the card's parts, its buttons, and the
//! mapping from a clicked button back to a command.
//!
//! A button's `key` is the command text it stands for (`/ack 12`, `/silence 12 1h`,
//! `/diagnose api-3`): a click runs exactly what typing it would, through the same role,
//! scope and audit checks. Only the verbs a card offers are accepted from a click.

use crate::i18n::Lang;
use crate::store::incidents::AlertRecord;
use serde_json::{Value, json};

/// The verbs a card button may carry.
const CARD_VERBS: &[&str] = &["ack", "silence", "unsilence", "diagnose", "resolve"];

/// The command a clicked button stands for, or `None` for a key no card of ours has.
pub fn command_of_key(key: &str) -> Option<String> {
    let k = key.trim();
    if k.len() > 256 || !k.starts_with('/') || k.contains(['\n', '\r']) {
        return None;
    }
    let verb = k[1..].split_whitespace().next()?;
    CARD_VERBS.contains(&verb).then(|| k.to_string())
}

/// The alert id a card command names (`/ack 12` → 12).
pub fn record_of(command: &str) -> Option<i64> {
    command.split_whitespace().nth(1).and_then(alert_id)
}

/// An alert id as typed: `12` or `#12`.
pub fn alert_id(word: &str) -> Option<i64> {
    let w = word.trim().trim_start_matches(['#', '＃']);
    if w.is_empty() || w.len() > 15 || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    w.parse().ok()
}

/// A time of day for state lines, in the server's time zone (`10:42`, or `12-07 10:42` when
/// not today).
pub fn clock(ms: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    let t = t.with_timezone(&chrono::Local);
    if t.date_naive() == chrono::Local::now().date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// The user part of an identity (`wecom:zhangsan` → `zhangsan`).
pub fn who(identity: &str) -> &str {
    identity
        .split_once(':')
        .map_or(identity, |(_, u)| if u.is_empty() { identity } else { u })
}

/// The state of a record in words: firing, acknowledged by whom and when, silenced until
/// when, resolved.
pub fn state_text(r: &AlertRecord, now: i64, lang: Lang) -> String {
    let mut parts = Vec::new();
    parts.push(match r.resolved_at {
        Some(t) => t!(lang, "incident.state_resolved", at = clock(t)),
        None => t!(lang, "incident.state_firing").to_string(),
    });
    if let (Some(by), Some(at)) = (&r.acked_by, r.acked_at) {
        parts.push(t!(
            lang,
            "incident.state_acked",
            who = who(by),
            at = clock(at)
        ));
    }
    if let Some(until) = r.silenced_until.filter(|u| *u > now) {
        let by = r.silenced_by.as_deref().map(who).unwrap_or("");
        parts.push(t!(
            lang,
            "incident.state_silenced",
            who = by,
            until = clock(until)
        ));
    }
    parts.join(" · ")
}

/// `desc_color` of the card's source line: red while critical and firing, green once
/// resolved, black otherwise.
fn colour(r: &AlertRecord) -> u8 {
    match (r.resolved_at, r.severity.as_str()) {
        (Some(_), _) => 3,
        (None, "critical") => 2,
        _ => 1,
    }
}

fn marker(r: &AlertRecord) -> &'static str {
    match (r.resolved_at, r.severity.as_str()) {
        (Some(_), _) => "✅",
        (None, "critical") => "🔴",
        (None, "info") => "🔵",
        _ => "🟠",
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary (card fields have byte limits;
/// the display truncates further on its own).
fn cut(s: &str, max: usize) -> String {
    let n = crate::render::floor_char_boundary(s, max);
    s[..n].to_string()
}

/// The buttons for the record's current state: ack while nobody has, silence (or lift the
/// silence), diagnose, and "resolved" for webhook alerts (nothing else will resolve them).
pub fn buttons(r: &AlertRecord, now: i64, lang: Lang) -> Vec<Value> {
    let mut b = Vec::new();
    let id = r.id;
    if r.is_firing() && r.acked_by.is_none() {
        b.push(
            json!({"text": t!(lang, "card.button_ack"), "style": 1, "key": format!("/ack {id}")}),
        );
    }
    if r.is_firing() {
        if r.silenced_at(now) {
            b.push(json!({"text": t!(lang, "card.button_unsilence"), "style": 2, "key": format!("/unsilence {id}")}));
        } else {
            b.push(json!({"text": t!(lang, "card.button_silence_1h"), "style": 2, "key": format!("/silence {id} 1h")}));
            b.push(json!({"text": t!(lang, "card.button_silence_4h"), "style": 2, "key": format!("/silence {id} 4h")}));
        }
    }
    if r.source != "alertmanager" && !r.source.starts_with("hook:") {
        b.push(json!({"text": t!(lang, "card.button_diagnose"), "style": 3, "key": format!("/diagnose {}", r.subject)}));
    }
    if r.is_firing() && r.source.starts_with("hook:") {
        b.push(json!({"text": t!(lang, "card.button_resolve"), "style": 4, "key": format!("/resolve {id}")}));
    }
    b
}

/// The `template_card` object for a record: title, severity colour, host/namespace, the
/// likely cause when known, its state line, and the buttons for its state. `what` says what
/// happened (the alert message's headline; empty: the likely cause). `task_id` must be new
/// for every card sent (the platform refuses a repeat with 42014).
pub fn template_card(r: &AlertRecord, what: &str, task_id: &str, now: i64, lang: Lang) -> Value {
    let mut fields = Vec::new();
    let mut kv = |k: &str, v: &str| {
        if !v.is_empty() && fields.len() < 6 {
            fields.push(json!({"keyname": k, "value": cut(v, 120)}));
        }
    };
    kv(t!(lang, "card.field_alert"), &format!("#{}", r.id));
    kv(t!(lang, "card.field_severity"), &r.severity);
    if let Some(h) = &r.host {
        kv(t!(lang, "card.field_host"), h);
    }
    if let Some(p) = &r.place {
        kv(t!(lang, "card.field_namespace"), p);
    }
    if let Some(c) = &r.cause {
        kv(t!(lang, "card.field_cause"), c);
    }
    let state = state_text(r, now, lang);
    let what = what.trim_start_matches(['🔴', '🟠', '🔵', '✅', ' ']);
    let desc = if what.is_empty() {
        r.cause.as_deref().unwrap_or(&r.source)
    } else {
        what
    };
    let mut card = json!({
        "card_type": "button_interaction",
        "source": {"desc": "wedock", "desc_color": colour(r)},
        "main_title": {
            "title": cut(&format!("{} {}", marker(r), r.subject), 120),
            "desc": cut(desc, 120),
        },
        "sub_title_text": cut(&state, 480),
        "horizontal_content_list": fields,
        "task_id": task_id,
    });
    let buttons = buttons(r, now, lang);
    if buttons.is_empty() || !r.is_firing() {
        // A resolved card is done: one button (a button card needs one), greyed out with
        // the card's state.
        card["button_list"] = json!([{"text": t!(lang, "card.button_resolved"), "style": 1, "key": format!("/alerts #{}", r.id)}]);
        card["replace_text"] = json!(cut(&state, 120));
    } else {
        card["button_list"] = Value::Array(buttons);
    }
    card
}

/// Rows of a group card: one per alert, at most the six a card shows.
const GROUP_ROWS: usize = 6;

/// The `template_card` of a living group card: every alert of one Alertmanager group or
/// compose project's burst with its state, in the order they joined. The buttons act on the
/// group's first firing alert (for Alertmanager its silence covers the group's labels); once
/// none fires, the card is done like a resolved single card. One record is a plain
/// [`template_card`].
pub fn group_card(records: &[AlertRecord], task_id: &str, now: i64, lang: Lang) -> Option<Value> {
    let rep = records.iter().find(|r| r.is_firing()).or(records.first())?;
    if records.len() == 1 {
        return Some(template_card(rep, "", task_id, now, lang));
    }
    let mut card = template_card(rep, "", task_id, now, lang);
    let firing = records.iter().filter(|r| r.is_firing()).count();
    let critical = records
        .iter()
        .any(|r| r.is_firing() && r.severity == "critical");
    let (mark, colour) = match (firing, critical) {
        (0, _) => ("✅", 3),
        (_, true) => ("🔴", 2),
        _ => ("🟠", 1),
    };
    card["source"]["desc_color"] = json!(colour);
    card["main_title"] = json!({
        "title": cut(&format!("{mark} {}", t!(lang, "card.group_title", subject = rep.subject, n = records.len())), 120),
        "desc": cut(&t!(lang, "card.group_desc", firing = firing, resolved = records.len() - firing), 120),
    });
    let shown = if records.len() > GROUP_ROWS {
        GROUP_ROWS - 1
    } else {
        records.len()
    };
    let mut rows: Vec<Value> = records[..shown]
        .iter()
        .map(|r| {
            let value = format!("{} {} · {}", marker(r), r.subject, state_text(r, now, lang));
            json!({"keyname": format!("#{}", r.id), "value": cut(&value, 120)})
        })
        .collect();
    if shown < records.len() {
        rows.push(json!({"keyname": "…", "value": t!(lang, "card.group_more", n = records.len() - shown)}));
    }
    card["horizontal_content_list"] = Value::Array(rows);
    if firing > 0 {
        let state = format!(
            "{} · {}",
            t!(lang, "card.group_buttons", id = rep.id),
            state_text(rep, now, lang)
        );
        card["sub_title_text"] = json!(cut(&state, 480));
    }
    Some(card)
}

/// The record a card's task id names (`wd-RECORD-…`, see [`new_task_id`]).
pub fn record_of_task(task: &str) -> Option<i64> {
    task.strip_prefix("wd-")?.split('-').next()?.parse().ok()
}

/// A task id for a new card: unique per send, within `[0-9A-Za-z_-@]` and 128 bytes.
pub fn new_task_id(record: i64) -> String {
    format!(
        "wd-{record}-{}-{}",
        crate::store::now_ms(),
        hex::encode(rand::random::<[u8; 3]>())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(source: &str) -> AlertRecord {
        AlertRecord {
            source: source.into(),
            place: Some("shop".into()),
            cause: Some("exit 137".into()),
            ..AlertRecord::sample()
        }
    }

    fn keys(c: &Value) -> Vec<String> {
        c["button_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["key"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn buttons_follow_the_state_and_map_back_to_commands() {
        let mut r = rec("docker");
        let c = template_card(&r, "容器退出", &new_task_id(12), 0, Lang::Zh);
        assert_eq!(
            keys(&c),
            [
                "/ack 12",
                "/silence 12 1h",
                "/silence 12 4h",
                "/diagnose api-3"
            ]
        );
        assert_eq!(c["source"]["desc_color"], 2);
        for k in keys(&c) {
            assert_eq!(command_of_key(&k).as_deref(), Some(k.as_str()));
        }
        r.acked_by = Some("wecom:zhang".into());
        r.acked_at = Some(0);
        r.silenced_until = Some(10);
        let c = template_card(&r, "x", "t", 5, Lang::En);
        assert_eq!(keys(&c), ["/unsilence 12", "/diagnose api-3"]);
        assert!(c["sub_title_text"].as_str().unwrap().contains("zhang"));
        let h = template_card(&rec("hook:ci"), "x", "t", 0, Lang::Zh);
        assert!(keys(&h).contains(&"/resolve 12".to_string()));
        r.resolved_at = Some(9);
        let done = template_card(&r, "x", "t", 20, Lang::Zh);
        assert_eq!(done["button_list"].as_array().unwrap().len(), 1);
        assert!(done["replace_text"].is_string());
    }

    #[test]
    fn a_group_card_lists_its_alerts_and_acts_on_the_first_firing_one() {
        let rows = |c: &Value| c["horizontal_content_list"].as_array().unwrap().clone();
        let mut records: Vec<AlertRecord> = (1..=8)
            .map(|i| AlertRecord {
                id: i,
                subject: format!("node-{i}"),
                ..AlertRecord::sample()
            })
            .collect();
        records[0].resolved_at = Some(5);
        let c = group_card(&records, "t", 10, Lang::En).unwrap();
        assert_eq!(keys(&c)[0], "/ack 2", "the first firing alert");
        let title = c["main_title"]["title"].as_str().unwrap();
        assert!(
            title.starts_with("🔴") && title.contains("8 alerts"),
            "{title}"
        );
        assert_eq!(c["main_title"]["desc"], "7 firing · 1 resolved");
        let r = rows(&c);
        assert_eq!(r.len(), GROUP_ROWS, "six rows, the last counts the rest");
        assert_eq!(r[0]["keyname"], "#1");
        assert!(r[0]["value"].as_str().unwrap().starts_with("✅ node-1"));
        assert!(r[5]["value"].as_str().unwrap().starts_with('3'), "{}", r[5]);
        for r in &mut records {
            r.resolved_at = Some(9);
        }
        let done = group_card(&records, "t", 10, Lang::Zh).unwrap();
        assert!(
            done["main_title"]["title"]
                .as_str()
                .unwrap()
                .starts_with("✅")
        );
        assert_eq!(done["source"]["desc_color"], 3);
        assert_eq!(keys(&done).len(), 1, "done: one greyed-out button");
        let one = group_card(&records[..1], "t", 10, Lang::Zh).unwrap();
        assert_eq!(one, template_card(&records[0], "", "t", 10, Lang::Zh));
        assert_eq!(group_card(&[], "t", 10, Lang::Zh), None);
    }

    #[test]
    fn task_ids_name_their_record() {
        assert_eq!(record_of_task(&new_task_id(42)), Some(42));
        assert_eq!(record_of_task("other-1"), None);
        assert_eq!(record_of_task("wd-x-1"), None);
    }

    #[test]
    fn only_card_verbs_come_back_from_clicks() {
        for bad in [
            "/docker rm -f x",
            "ack 1",
            "/k delete pod x",
            "/ack 1\n/docker rm x",
            "",
        ] {
            assert_eq!(command_of_key(bad), None, "{bad:?}");
        }
        let long = format!("/ack {}", "1".repeat(300));
        assert_eq!(command_of_key(&long), None);
    }
}
