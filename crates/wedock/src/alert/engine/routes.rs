//! Which routes an alert takes and the small helpers of rendering it for them.

use super::*;

pub(super) fn suppress(done: &mut Submitted, reason: &'static str) {
    done.suppressed += 1;
    metrics::counter!("wedock_alerts_suppressed_total", "reason" => reason).increment(1);
}

pub(super) fn source_label(s: &str) -> String {
    if s.starts_with("hook:") {
        "hook".into()
    } else {
        s.to_string()
    }
}

/// Strips markup from a line so digests stay compact.
pub(super) fn plain(line: &str) -> String {
    let mut s = line.replace("**", "").replace("</font>", "");
    while let Some(start) = s.find("<font") {
        match s[start..].find('>') {
            Some(end) => s.replace_range(start..start + end + 1, ""),
            None => break,
        }
    }
    s.trim_start_matches("> ").to_string()
}

/// Built-in routing when no routes are configured: problems and their resolution, not
/// planned stops or clean exits.
pub fn default_applies(a: &Alert) -> bool {
    match a.kind.as_str() {
        "die" => a.exit_code != Some(0),
        "stop" => false,
        _ => true,
    }
}

pub(super) fn glob_ok(pattern: &Option<String>, value: Option<&str>) -> bool {
    match pattern {
        None => true,
        Some(p) => match (glob::Pattern::new(p), value) {
            (Ok(p), Some(v)) => p.matches(v),
            _ => false,
        },
    }
}

pub fn route_matches(m: &RouteMatch, a: &Alert) -> bool {
    glob_ok(&m.source, Some(&a.source))
        && glob_ok(&m.host, a.host.as_deref())
        && glob_ok(&m.container, a.container.as_deref())
        && glob_ok(&m.image, a.image.as_deref())
        && glob_ok(&m.project, a.project.as_deref())
        && (m.event.is_empty() || m.event.iter().any(|e| e == &a.kind))
        && (m.exit_code.is_empty() || a.exit_code.is_some_and(|c| m.exit_code.contains(&c)))
        && (m.severity.is_empty() || m.severity.iter().any(|s| s == a.severity.as_str()))
        && m.labels
            .iter()
            .all(|(k, p)| glob_ok(&Some(p.clone()), a.labels.get(k).map(String::as_str)))
}

/// The outbox payloads for `content` on a channel: robot bodies, or the same JSON shape
/// (`msgtype` + content) for the other channels' senders.
pub fn payloads(_channel: &str, format: Format, content: &str) -> Vec<String> {
    robot::bodies(format, content)
}

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
                channel: robot::CHANNEL.to_string(),
                id: s.to_string(),
            },
        }
    }
    pub fn label(&self) -> String {
        format!("{}:{}", self.channel, self.id)
    }
}

#[derive(Clone, Copy)]
pub(super) enum RouteRef {
    Configured(usize),
    Default,
    Direct,
}

impl RouteRef {
    pub(super) fn index(self) -> usize {
        match self {
            RouteRef::Configured(i) => i,
            RouteRef::Default => usize::MAX,
            RouteRef::Direct => usize::MAX - 1,
        }
    }
}

/// A group robot message that @-mentions the person on duty: markdown carries `<@userid>`
/// in its text; a text message names them and lists them in `mentioned_list`, the only
/// way a text message notifies. Returns the content and, for text, its bodies.
pub(super) fn mention_on_duty(
    content: String,
    format: Format,
    user: &str,
    lang: Lang,
) -> (String, Option<Vec<String>>) {
    match format {
        Format::Text => {
            let content = format!(
                "{content}\n{}",
                t!(lang, "oncall.mention_line", user = user)
            );
            let bodies = robot::bodies(format, &content)
                .into_iter()
                .map(|b| robot::with_mentions(&b, &[user]))
                .collect();
            (content, Some(bodies))
        }
        Format::Markdown | Format::MarkdownV2 => {
            let mention = format!("<@{user}>");
            let line = t!(lang, "oncall.mention_line", user = mention);
            (format!("{content}\n{line}"), None)
        }
    }
}

impl Engine {
    /// With the WeCom app configured, the person on duty also gets the alert's card with its
    /// buttons in their own app conversation (group robots have none); `None` when there is
    /// no app or the route already sends to them there.
    pub(super) fn on_duty_card(&self, user: &str, targets: &[Target]) -> Option<Target> {
        let app = crate::channel::wecom_app::SENDER;
        if self.app.config.wecom.app.is_none() || !self.outbox.has_sender(app) {
            return None;
        }
        let already = targets
            .iter()
            .any(|t| t.channel == app && t.id.split('|').any(|u| u == user));
        (!already).then(|| Target {
            channel: app.to_string(),
            id: user.to_string(),
        })
    }

    /// The person on duty in the route's schedule, if it names one. A store failure costs
    /// the mention, never the alert.
    pub(super) async fn on_duty(&self, schedule: Option<&str>) -> Option<String> {
        let name = schedule?;
        match crate::oncall::swap::on_duty(&self.app, name).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(schedule = name, "on-call lookup failed: {e}");
                None
            }
        }
    }
}
