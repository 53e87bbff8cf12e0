//! The payloads services queue without knowing the channel, and what a channel tells them
//! about its shape.
//!
//! Every sender reads the shared JSON shape `{"msgtype": "text"|"markdown"|"markdown_v2",
//! "<msgtype>": {"content": "…"}}` (a group robot POSTs it as it is; the others take its
//! content). Alerts, digests and escalations are written in it, and each channel's
//! [`Sender`](super::Sender) says through its `alert_*` methods how alert messages take its
//! form: the markup, mentions, cards with buttons, direct messages, bursts folded into
//! digests. The alert engine and escalation ask the outbox's senders, never a channel module.

use crate::i18n::Lang;
use crate::render::{Format, split_by_bytes};
use crate::store::incidents::AlertRecord;

/// The JSON bodies that carry `content`: one per part of at most the format's byte limit,
/// split at line boundaries (see [`split_by_bytes`]). Nothing is dropped.
pub fn bodies(format: Format, content: &str) -> Vec<String> {
    split_by_bytes(content, format.limit())
        .into_iter()
        .map(|part| body(format, &part))
        .collect()
}

/// One JSON body; `content` must already fit the limit.
pub fn body(format: Format, content: &str) -> String {
    let t = format.msgtype();
    serde_json::json!({ "msgtype": t, t: { "content": content } }).to_string()
}

/// A `text` body with `users` in its `mentioned_list` (other bodies are returned as they
/// are: only text messages have the list).
pub fn with_mentions(payload: &str, users: &[&str]) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(payload) else {
        return payload.to_string();
    };
    match v.get_mut("text").and_then(|t| t.as_object_mut()) {
        Some(text) if payload.contains("\"msgtype\":\"text\"") => {
            text.insert("mentioned_list".into(), serde_json::json!(users));
            v.to_string()
        }
        _ => payload.to_string(),
    }
}

/// The `content` of a body built by [`body`], if it has one.
pub fn content_of(payload: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let t = v.get("msgtype")?.as_str()?;
    Some(v.get(t)?.get("content")?.as_str()?.to_string())
}

/// The channel a bare name in a route or notify list means: a group robot.
pub const GROUP_ROBOT: &str = "robot";

/// Where a message goes: an outbox channel and its target id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub channel: String,
    pub id: String,
}

impl Target {
    /// `NAME` / `robot:NAME` → robot; `aibot:ID`, `wecom_app:USER`, `wechatbot:ROOM`, ….
    pub fn parse(s: &str) -> Target {
        match s.split_once(':') {
            Some((ch, id)) => Target {
                channel: ch.to_string(),
                id: id.to_string(),
            },
            None => Target {
                channel: GROUP_ROBOT.to_string(),
                id: s.to_string(),
            },
        }
    }
    pub fn label(&self) -> String {
        format!("{}:{}", self.channel, self.id)
    }
}

/// One alert message as a channel with buttons may show it. The card itself is built by
/// the incident module (it knows the buttons and their commands); a channel only wraps it
/// in its own send body.
pub struct AlertCard<'a> {
    /// The `template_card` object for the alert whose buttons act for the message (the
    /// first firing alert with a record, else the first alert's record); `None`: no alert
    /// of the message has a record, so there is nothing to click.
    pub card: Option<&'a serde_json::Value>,
    /// Whether any alert of the message is firing (a card about resolutions only is no
    /// use where it cannot be changed later).
    pub any_firing: bool,
    /// The records of the alerts when every alert of the message is a resolution of one
    /// that had a card: channels that can change a sent card turn those cards resolved.
    pub resolved: Vec<&'a AlertRecord>,
    /// The alerts' records, in message order.
    pub records: Vec<&'a AlertRecord>,
    /// The group whose alerts share one card, updated in place as alerts join or resolve,
    /// when every alert of the message belongs to it (see `Alert::living_key`).
    pub living: Option<String>,
    /// The message as text in the channel's [`alert format`](super::Sender::alert_format).
    pub content: &'a str,
    pub lang: Lang,
}

/// How a channel reaches one person directly (escalation steps, the on-duty card).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// The id's shape says it belongs to this channel (`…@im.wechat` for personal WeChat).
    ByIdShape,
    /// Any user id: the channel addresses people by the id the schedules use (WeCom app).
    AnyUser,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_split_at_the_format_limit_and_keep_everything() {
        let line = "容器 api-1 退出，退出码 137（被 SIGKILL 杀死）";
        let content: String = (0..300).map(|i| format!("{i} {line}\n")).collect();
        for f in [Format::Text, Format::Markdown, Format::MarkdownV2] {
            let parts = bodies(f, &content);
            assert!(parts.len() > 1);
            let mut joined = Vec::new();
            for p in &parts {
                let v: serde_json::Value = serde_json::from_str(p).unwrap();
                assert_eq!(v["msgtype"], f.msgtype());
                let c = content_of(p).unwrap();
                assert!(c.len() <= f.limit(), "{} > {}", c.len(), f.limit());
                joined.push(c);
            }
            assert_eq!(joined.join("\n"), content);
        }
    }

    #[test]
    fn mentions_go_only_into_text_bodies() {
        let text = body(Format::Text, "hi");
        let v: serde_json::Value =
            serde_json::from_str(&with_mentions(&text, &["zhangsan", "@all"])).unwrap();
        assert_eq!(v["text"]["mentioned_list"][1], "@all");
        let md = body(Format::Markdown, "hi");
        assert_eq!(with_mentions(&md, &["zhangsan"]), md);
    }
}
